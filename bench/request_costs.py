"""Benchmark: what `queries` and `profile` add to a page request, on a fresh MyBB 1.8.37 (SQLite), in one run.

    python bench/request_costs.py [--reps 15] [--json FILE]

index.php over HTTP from the running php -S (5 small plugins active, with hooks), loaded four ways, interleaved
(one round = one load of each, in turn; the first round warms up), median of `--reps` each:

- raw: no workbench headers at all (what a browser gets): the page's own time;
- plain: the headers mybb_server_request sends without either option (the output watch that judges JSON answers
  is always on): "without either, nothing changes";
- queries: `queries: true`; profile: `profile: true`.

Targets: queries <= +15 %, profile <= +25 % over plain (and the output watch within noise of raw).
MyBB is installed once by the product's installer from MYBB_TEST_ARCHIVE (else
<repo>/../shared/mybb/mybb_1837.tar.gz). Everything started is stopped before it exits.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archive import archive_path  # bench/archive.py (bench/ is first on sys.path for a script)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "mybb_mcp"))
sys.path.insert(0, str(REPO_ROOT))  # the tests' fixture: plugins activated by the Admin CP's own click

PLUGIN = """<?php
if(!defined("IN_MYBB")) {{ die("direct access"); }}
$plugins->add_hook("global_start", "c{n}_global");
$plugins->add_hook("index_start", "c{n}_index");
$plugins->add_hook("pre_output_page", "c{n}_output");
function c{n}_info() {{ return array("name" => "Bench {n}", "description" => "bench", "version" => "1",
    "author" => "bench", "compatibility" => "18*"); }}
function c{n}_global() {{ }}
function c{n}_index() {{ global $db; $db->simple_select("users", "uid", "uid='1'"); }}
function c{n}_output($page) {{ return $page; }}
"""

WAYS = ("raw", "plain", "queries", "profile")


def summary(samples: list[float]) -> dict[str, Any]:
    return {"median_ms": statistics.median(samples) * 1000, "min_ms": min(samples) * 1000,
            "max_ms": max(samples) * 1000, "n": len(samples)}


def get(port: int, headers: dict[str, str]) -> float:
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/index.php", headers={"Connection": "close", **headers})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
    finally:
        connection.close()
    return time.perf_counter() - began


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench(reps: int, php: str, log: Callable[[str], None]) -> dict[str, Any]:
    from mybb_mcp.config import Config
    from mybb_mcp.forum.install import InstallRequest, install_forum
    from mybb_mcp.orchestration import ServerOrchestrationService
    from mybb_mcp.workbench import request_trace
    from tests.fixtures.real_mybb import activate_plugin

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mybb-bench-costs-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                                     else None) as tmp:
        installed = install_forum(InstallRequest(source=archive_path(), root=Path(tmp) / "repo" / "forum",
                                                 bburl="http://127.0.0.1:8022", php=php))
        root = installed.root
        for n in range(5):
            (root / "inc" / "plugins" / f"c{n}.php").write_text(PLUGIN.format(n=n), "utf-8")
            activate_plugin(root, f"c{n}", php=php)
        port = _free_port()
        service = ServerOrchestrationService(Config(mybb_root=root, php=php, port=port))
        assert service.start().success
        samples: dict[str, list[float]] = {way: [] for way in WAYS}
        try:
            config = service.config
            folder = request_trace.workbench_dir(config)
            for round_ in range(reps + 1):
                for way in WAYS:
                    work = request_trace.begin(config, False, None, queries=way == "queries",
                                               profile=way == "profile")
                    assert work is not None
                    seconds = get(port, {} if way == "raw" else work.headers)
                    for leftover in folder.glob(f"trace-{work.id}-*.json"):
                        if way in ("queries", "profile") and round_ == 0:
                            costs = json.loads(leftover.read_text()).get("costs") or {}
                            assert costs.get("wrapped") == "DB_SQLite", costs  # the option really ran
                        leftover.unlink()
                    if round_:  # the first round warms up
                        samples[way].append(seconds)
        finally:
            service.stop(force=True)
    for way in WAYS:
        out[way] = summary(samples[way])
    plain = out["plain"]["median_ms"]
    out["watch_overhead_pct"] = (plain / out["raw"]["median_ms"] - 1) * 100
    out["queries_overhead_pct"] = (out["queries"]["median_ms"] / plain - 1) * 100
    out["profile_overhead_pct"] = (out["profile"]["median_ms"] / plain - 1) * 100
    log(" ".join(f"{way} {out[way]['median_ms']:.1f} ms" for way in WAYS))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--json")
    args = parser.parse_args()
    php = os.environ.get("MYBB_PHP") or shutil.which("php") or "php"
    if not archive_path().is_file():
        print(f"no MyBB archive at {archive_path()} (set MYBB_TEST_ARCHIVE)", file=sys.stderr)
        return 1
    result = bench(args.reps, php, lambda m: print(f"[bench] {m}", file=sys.stderr))
    labels = {"raw": "index.php, no workbench headers (the page's own time)",
              "plain": "index.php as mybb_server_request sends it, no option (output watch on)",
              "queries": "index.php with queries", "profile": "index.php with profile"}
    print("| measurement | median ms | min ms | max ms | n | × page |")
    print("|---|---|---|---|---|---|")
    for way in WAYS:
        r = result[way]
        print(f"| {labels[way]} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['max_ms']:.1f} | {r['n']} | "
              f"{r['median_ms'] / result['raw']['median_ms']:.2f} |")
    checks = [("queries adds <= 15 % to the page", result["queries_overhead_pct"], 15),
              ("profile adds <= 25 % to the page", result["profile_overhead_pct"], 25)]
    print()
    print(f"output watch (always on): {result['watch_overhead_pct']:+.1f} % over the raw page")
    for name, measured, limit in checks:
        print(f"{name}: {measured:+.1f} % {'PASS' if measured <= limit else 'FAIL'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if all(measured <= limit for _, measured, limit in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
