"""Benchmark: the plugin workbench on a fresh MyBB 1.8.37 (SQLite), beside the raw tools.

    python bench/plugins.py [--reps N]

- `list` of 50 plugins (`workbench/plugins.py`), beside booting MyBB in PHP CLI doing nothing
  (run_mybb_php with an empty snippet: the floor any MyBB-code answer pays).
- one lifecycle action (install, then uninstall: each creates or drops a table, a setting and a template),
  a click on the Admin CP's plugins page run by the tool, beside the same boot and beside the Admin CP's
  own pages over HTTP (the plugins page, and the same install and uninstall clicked there as the admin).
- `check` of one plugin (loaded in the Admin CP and as a page, held against the forum's hook index).
- `trace`: index.php over HTTP from the running php -S (5 of the 50 plugins active, with hooks), plain
  vs with the workbench headers asking for a trace (what mybb_server_request sends): the page's own time
  and what the trace adds. Interleaved, median of N each, after a warm-up.

MyBB is installed once by the product's installer from MYBB_TEST_ARCHIVE (else
<repo>/../shared/mybb/mybb_1837.tar.gz). Everything started is stopped before it exits.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from archive import archive_path  # bench/archive.py (bench/ is first on sys.path for a script)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "mybb_mcp"))
sys.path.insert(0, str(REPO_ROOT))  # the tests' own Admin CP client, for the Admin CP's pages over HTTP

PLUGIN = """<?php
if(!defined("IN_MYBB")) {{ die("direct access"); }}
$plugins->add_hook("global_start", "p{n}_global");
$plugins->add_hook("index_start", "p{n}_index");
$plugins->add_hook("pre_output_page", "p{n}_output");
function p{n}_info() {{ return array("name" => "Bench {n}", "description" => "bench", "version" => "1.{n}",
    "author" => "bench", "compatibility" => "18*"); }}
function p{n}_install() {{
    global $db;
    $db->write_query("CREATE TABLE IF NOT EXISTS ".TABLE_PREFIX."p{n}_rows (id INTEGER PRIMARY KEY, v TEXT)");
    $db->insert_query("settings", array("name" => "p{n}_on", "title" => "on", "description" => "",
        "optionscode" => "yesno", "value" => "1", "disporder" => 1, "gid" => 1));
    rebuild_settings();
}}
function p{n}_is_installed() {{ global $mybb; return isset($mybb->settings["p{n}_on"]); }}
function p{n}_uninstall() {{
    global $db;
    // No drop_table: on SQLite the Admin CP's own page cannot drop a table ("database table is locked").
    $db->delete_query("p{n}_rows");
    $db->delete_query("settings", "name='p{n}_on'");
    rebuild_settings();
}}
function p{n}_activate() {{
    global $db;
    $db->insert_query("templates", array("title" => "p{n}_box", "template" => "<b>{n}</b>", "sid" => -1,
        "version" => "1800", "dateline" => TIME_NOW));
}}
function p{n}_deactivate() {{ global $db; $db->delete_query("templates", "title='p{n}_box'"); }}
function p{n}_global() {{ }}
function p{n}_index() {{ }}
function p{n}_output($page) {{ return $page; }}
"""


def summary(samples: list[float]) -> dict[str, Any]:
    return {"median_ms": statistics.median(samples) * 1000, "min_ms": min(samples) * 1000,
            "max_ms": max(samples) * 1000, "n": len(samples)}


def timed(samples: list[float], work: Callable[[], Any]) -> Any:
    began = time.perf_counter()
    value = work()
    samples.append(time.perf_counter() - began)
    return value


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


def bench(reps: int, php: str, log: Callable[[str], None]) -> dict[str, Any]:
    from mybb_mcp.config import Config
    from mybb_mcp.forum.install import InstallRequest, install_forum
    from mybb_mcp.forum.php import run_mybb_php
    from mybb_mcp.orchestration import ServerOrchestrationService
    from mybb_mcp.workbench import plugins as workbench
    from mybb_mcp.workbench import request_trace

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mybb-bench-plugins-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                                     else None) as tmp:
        installed = install_forum(InstallRequest(source=archive_path(), root=Path(tmp) / "repo" / "forum",
                                                 bburl="http://127.0.0.1:8022", php=php))
        root = installed.root
        for n in range(50):
            (root / "inc" / "plugins" / f"p{n}.php").write_text(PLUGIN.format(n=n), "utf-8")
        boot: list[float] = []
        listing: list[float] = []
        install: list[float] = []
        uninstall: list[float] = []
        run_mybb_php(root, "$result = 1;", php=php)
        assert len(workbench.run(root, "list", php=php).plugins) == 51  # + MyBB's hello
        for i in range(reps):
            timed(boot, lambda: run_mybb_php(root, "$result = 1;", php=php))
            timed(listing, lambda: workbench.run(root, "list", php=php))
            done = timed(install, lambda: workbench.run(root, "install", "p49", php=php))
            assert done.ok, done.problems
            done = timed(uninstall, lambda: workbench.run(root, "uninstall", "p49", php=php))
            assert done.ok, done.problems
        checking: list[float] = []
        for i in range(reps):
            done = timed(checking, lambda: workbench.run(root, "check", "p48", php=php))
            assert done.ok, done.hooks
        out.update(boot=summary(boot), list50=summary(listing), install=summary(install),
                   uninstall=summary(uninstall), check=summary(checking))
        log(f"boot {out['boot']['median_ms']:.0f} ms, list {out['list50']['median_ms']:.0f} ms, install "
            f"{out['install']['median_ms']:.0f} ms, uninstall {out['uninstall']['median_ms']:.0f} ms")

        for n in range(5):
            assert workbench.run(root, "install", f"p{n}", php=php).ok
        port = _free_port()
        service = ServerOrchestrationService(Config(mybb_root=root, php=php, port=port))
        assert service.start().success
        try:
            config = service.config
            plain: list[float] = []
            traced: list[float] = []
            for i in range(reps * 6 + 1):
                work = request_trace.begin(config, True, None)
                assert work is not None
                plain_s = get(port, {})
                traced_s = get(port, work.headers)
                for leftover in request_trace.workbench_dir(config).glob(f"trace-{work.id}-*.json"):
                    leftover.unlink()
                if i:  # the first pair warms up
                    plain.append(plain_s)
                    traced.append(traced_s)
            out.update(page_plain=summary(plain), page_traced=summary(traced))
            from tests.workbench.admin_cp_twin import AdminBrowser

            browser = AdminBrowser(f"http://127.0.0.1:{port}", installed.admin_user, installed.admin_password)
            admin_page: list[float] = []
            admin_install: list[float] = []
            admin_uninstall: list[float] = []
            for i in range(reps):
                timed(admin_page, lambda: browser.request("module=config-plugins"))
                timed(admin_install, lambda: browser.click("install", "p47"))
                timed(admin_uninstall, lambda: browser.click("uninstall", "p47"))
            out.update(admin_page=summary(admin_page), admin_install=summary(admin_install),
                       admin_uninstall=summary(admin_uninstall))
            ratio = out["page_traced"]["median_ms"] / out["page_plain"]["median_ms"]
            out["trace_overhead_pct"] = (ratio - 1) * 100
            log(f"index.php {out['page_plain']['median_ms']:.1f} ms plain, {out['page_traced']['median_ms']:.1f} ms "
                f"traced (+{out['trace_overhead_pct']:.1f} %)")
        finally:
            service.stop(force=True)
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    php = os.environ.get("MYBB_PHP") or shutil.which("php") or "php"
    if not archive_path().is_file():
        print(f"no MyBB archive at {archive_path()} (set MYBB_TEST_ARCHIVE)", file=sys.stderr)
        return 1
    result = bench(args.reps, php, lambda m: print(f"[bench] {m}", file=sys.stderr))
    rows = [("booting MyBB in PHP CLI, empty snippet (reference)", "boot"),
            ("`list` of 51 plugins (50 + hello)", "list50"),
            ("`install` (_install + _activate, table + setting + template)", "install"),
            ("`uninstall` (_deactivate + _uninstall: rows, setting, template)", "uninstall"),
            ("`check` of one plugin (Admin CP + front end, hook index)", "check"),
            ("the Admin CP's plugins page over HTTP, as admin (reference)", "admin_page"),
            ("the Admin CP's Install & Activate click over HTTP (its page + the link)", "admin_install"),
            ("the Admin CP's Uninstall click over HTTP (its page + the link)", "admin_uninstall"),
            ("index.php over HTTP, plain (the page's own time)", "page_plain"),
            ("index.php over HTTP, with trace", "page_traced")]
    print("| measurement | median ms | min ms | max ms | n | × reference |")
    print("|---|---|---|---|---|---|")
    for label, key in rows:
        r = result[key]
        reference = result["page_plain" if key.startswith("page") else "admin_page" if key.startswith("admin")
                           else "boot"]["median_ms"]
        print(f"| {label} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['max_ms']:.1f} | {r['n']} | "
              f"{r['median_ms'] / reference:.2f} |")
    checks = [("trace adds <= 20 % to the page", f"{result['trace_overhead_pct']:+.1f} %",
               result["trace_overhead_pct"] <= 20),
              ("list of 50 plugins <= 200 ms", f"{result['list50']['median_ms']:.0f} ms",
               result["list50"]["median_ms"] <= 200),
              ("a lifecycle action <= 1 s (SQLite)",
               f"{max(result['install']['median_ms'], result['uninstall']['median_ms']):.0f} ms",
               max(result["install"]["median_ms"], result["uninstall"]["median_ms"]) <= 1000),
              ("check <= 1 s", f"{result['check']['median_ms']:.0f} ms", result["check"]["median_ms"] <= 1000)]
    print()
    for name, measured, ok in checks:
        print(f"{name}: {measured} {'PASS' if ok else 'FAIL'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
