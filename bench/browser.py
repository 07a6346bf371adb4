"""Benchmark: a browser check of index.php (mybb_server_request with `browser`) beside a plain
mybb_server_request of the same page.

    python bench/browser.py [--reps N] [--json FILE]

MyBB 1.8.37 installed by the product's own installer (SQLite), served by the service on an ephemeral
loopback port. Cold: the first browser check after `start` (Chromium's files may be in the page cache
from an earlier run; PHP's OPcache is empty). Warm: the median of the next N checks, each interleaved
with a plain request of the same page. Each check starts Chromium, loads the page as guest, waits for it
to settle, takes the screenshot, reads the logs and leaves no process behind (checked after the run).
Targets: cold <= 2 s, warm <= 600 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
COLD_TARGET_S = 2.0
WARM_TARGET_S = 0.6


def archive_path() -> Path:
    configured = os.environ.get("MYBB_TEST_ARCHIVE", "")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "mybb" / "mybb_1837.tar.gz"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT / "mybb_mcp"))
    from mybb_mcp.config import Config
    from mybb_mcp.forum.install import InstallRequest, install_forum
    from mybb_mcp.forum.requests import PageRequest
    from mybb_mcp.orchestration import ServerOrchestrationService
    from mybb_mcp.workbench.chromium import find_chromium

    php = os.environ.get("MYBB_PHP", "php")
    archive = archive_path()
    if not archive.is_file():
        print(f"no MyBB archive at {archive} (set MYBB_TEST_ARCHIVE)", file=sys.stderr)
        return 2
    executable = find_chromium()
    out: dict[str, Any] = {"chromium": executable}
    with tempfile.TemporaryDirectory(prefix="mybb-bench-browser-") as tmp:
        port = free_port()
        installed = install_forum(InstallRequest(source=archive, root=Path(tmp) / "repo" / "TestForum",
                                                 bburl=f"http://127.0.0.1:{port}", php=php))
        service = ServerOrchestrationService(Config(mybb_root=installed.root, php=php, port=port))
        assert service.start().success
        try:
            began = time.perf_counter()
            first = service.request_page(PageRequest("index.php", browser=True))
            cold = time.perf_counter() - began
            assert first.browser is not None, first.failure
            out["version"] = first.browser.version
            browser: list[float] = []
            plain: list[float] = []
            phases: dict[str, list[float]] = {}
            for _ in range(args.reps):
                began = time.perf_counter()
                result = service.request_page(PageRequest("index.php"))
                plain.append(time.perf_counter() - began)
                assert result.response is not None
                began = time.perf_counter()
                result = service.request_page(PageRequest("index.php", browser=True))
                browser.append(time.perf_counter() - began)
                assert result.browser is not None and not result.browser.problems, result.failure
                for name, seconds in result.browser.timings.items():
                    phases.setdefault(name, []).append(seconds)
        finally:
            service.stop(force=True)
    out["phases_median_s"] = {name: statistics.median(values) for name, values in phases.items()}
    out.update({"cold_s": cold, "warm_median_s": statistics.median(browser), "warm_min_s": min(browser),
                "warm_max_s": max(browser), "plain_median_s": statistics.median(plain), "n": args.reps})
    print(f"| index.php as guest ({out['version']}) | median | min | max | n |")
    print("|---|---|---|---|---|")
    print(f"| plain mybb_server_request | {out['plain_median_s'] * 1000:.0f} ms | {min(plain) * 1000:.0f} ms | "
          f"{max(plain) * 1000:.0f} ms | {len(plain)} |")
    print(f"| browser check, cold (first after start) | {cold * 1000:.0f} ms | | | 1 |")
    print(f"| browser check, warm | {out['warm_median_s'] * 1000:.0f} ms | {out['warm_min_s'] * 1000:.0f} ms | "
          f"{out['warm_max_s'] * 1000:.0f} ms | {len(browser)} |")
    print("\nwarm, where the time goes (median): " + ", ".join(
        f"{name} {seconds * 1000:.0f} ms" for name, seconds in out["phases_median_s"].items()))
    print("(start: Chromium up and answering; setup: tab, interception, cookies; load: navigation to the load event; "
          "settle: quiet network; collect: bodies, JSON, selector; close: processes ended, profile removed)")
    cold_ok, warm_ok = cold <= COLD_TARGET_S, out["warm_median_s"] <= WARM_TARGET_S
    print(f"\ntargets: cold <= {COLD_TARGET_S:.0f} s: {'met' if cold_ok else 'MISSED'}; warm <= "
          f"{WARM_TARGET_S * 1000:.0f} ms: {'met' if warm_ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2), "utf-8")
    return 0 if cold_ok and warm_ok else 1


if __name__ == "__main__":
    sys.exit(main())
