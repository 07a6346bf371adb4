"""Benchmark: a browser check of index.php (mybb_server_request with `browser`) beside a plain
mybb_server_request of the same page, cold (Chromium started for the call, as the CLI does) and warm (the MCP
server's Chromium kept per forum), in one run.

    python bench/browser.py [--reps N] [--json FILE]

MyBB 1.8.37 installed by the product's own installer (SQLite), served by the service on an ephemeral
loopback port. Cold: the first browser check after `start` (Chromium's files may be in the page cache
from an earlier run; PHP's OPcache is empty), then the median of N more, each starting Chromium, loading
the page as guest, waiting for it to settle, taking the screenshot, reading the logs and leaving no process
behind. Warm: over MCP (the SDK's client on the MCP server, in this process), the median of N checks that
reuse the forum's warm Chromium (a fresh browser context each), each interleaved with a plain request over
MCP (back to back), then N more each 1 s after the previous call (as an agent reading the answer leaves
time: the browser's cleanup and next tab are done by then); the time is the whole tool call, answer
included. No browser process is left after `stop` (checked).
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

import anyio
from archive import archive_path  # bench/archive.py (bench/ is first on sys.path for a script)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
COLD_TARGET_S = 2.0
WARM_TARGET_S = 0.6
PAUSE_S = 1.0  # between calls, for the warm checks "after a pause"


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
        os.environ.update({"MYBB_ROOT": str(installed.root), "MYBB_PORT": str(port), "MYBB_PHP": php})
        service = ServerOrchestrationService(Config(mybb_root=installed.root, php=php, port=port))
        assert service.start().success
        try:
            began = time.perf_counter()
            first = service.forum.request_page(PageRequest("index.php", browser=True))
            cold = time.perf_counter() - began
            assert first.browser is not None, first.failure
            out["version"] = first.browser.version
            cold_runs: list[float] = []
            for _ in range(args.reps):
                began = time.perf_counter()
                result = service.forum.request_page(PageRequest("index.php", browser=True))
                cold_runs.append(time.perf_counter() - began)
                assert result.browser is not None and not result.browser.warm, result.failure
            browser, plain, paused = anyio.run(over_mcp, args.reps)
            service.forum.keep_browser_warm = True  # where a warm check's time goes (the MCP server's path, no MCP)
            phases: dict[str, list[float]] = {}
            for _ in range(args.reps):
                result = service.forum.request_page(PageRequest("index.php", browser=True))
                assert result.browser is not None and result.browser.warm, result.failure
                for name, seconds in result.browser.timings.items():
                    phases.setdefault(name, []).append(seconds)
        finally:
            service.stop(force=True)
        left = chromiums_left()
    out["left_after_stop"] = left
    out["phases_median_s"] = {name: statistics.median(values) for name, values in phases.items()}
    out.update({"cold_s": cold, "cold_median_s": statistics.median(cold_runs), "warm_median_s":
                statistics.median(browser), "warm_min_s": min(browser), "warm_max_s": max(browser),
                "plain_median_s": statistics.median(plain), "n": args.reps,
                "warm_paused_median_s": statistics.median(paused)})
    print(f"| index.php as guest ({out['version']}) | median | min | max | n |")
    print("|---|---|---|---|---|")
    print(f"| plain mybb_server_request over MCP | {out['plain_median_s'] * 1000:.0f} ms | "
          f"{min(plain) * 1000:.0f} ms | {max(plain) * 1000:.0f} ms | {len(plain)} |")
    print(f"| browser check, cold (first after start) | {cold * 1000:.0f} ms | | | 1 |")
    print(f"| browser check, cold (Chromium started per call, as the CLI) | {out['cold_median_s'] * 1000:.0f} ms | "
          f"{min(cold_runs) * 1000:.0f} ms | {max(cold_runs) * 1000:.0f} ms | {len(cold_runs)} |")
    print(f"| browser check, warm over MCP | {out['warm_median_s'] * 1000:.0f} ms | "
          f"{out['warm_min_s'] * 1000:.0f} ms | {out['warm_max_s'] * 1000:.0f} ms | {len(browser)} |")
    print(f"| browser check, warm over MCP, {PAUSE_S:.0f} s after the previous call | "
          f"{out['warm_paused_median_s'] * 1000:.0f} ms | {min(paused) * 1000:.0f} ms | {max(paused) * 1000:.0f} ms | "
          f"{len(paused)} |")
    print("\nwarm, where the time goes (median): " + ", ".join(
        f"{name} {seconds * 1000:.0f} ms" for name, seconds in out["phases_median_s"].items()))
    print("(start: Chromium up and answering, or the warm one taken, and a fresh context; setup: tab, interception, "
          "cookies; load: navigation to the load event; settle: quiet network; collect: bodies, JSON, selector; "
          "close: the context disposed)")
    print(f"browser processes left after stop: {left}")
    cold_ok, warm_ok = cold <= COLD_TARGET_S, out["warm_median_s"] <= WARM_TARGET_S
    paused_ok = out["warm_paused_median_s"] <= WARM_TARGET_S
    print(f"\ntargets: cold <= {COLD_TARGET_S:.0f} s: {'met' if cold_ok else 'MISSED'}; warm <= "
          f"{WARM_TARGET_S * 1000:.0f} ms: back to back {'met' if warm_ok else 'MISSED'}, "
          f"{PAUSE_S:.0f} s after the previous call {'met' if paused_ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2), "utf-8")
    return 0 if cold_ok and warm_ok and paused_ok and not left else 1


async def over_mcp(reps: int) -> tuple[list[float], list[float], list[float]]:
    """Warm browser checks and plain requests over MCP, interleaved (the first browser call warms it up);
    then checks after a pause, as an agent reading the previous answer leaves one."""
    from mcp import Client

    from mybb_mcp.server import server
    from mybb_mcp.workbench import browser_pool

    browser: list[float] = []
    plain: list[float] = []
    async with Client(server) as client:
        await client.call_tool("mybb_server_request", {"path": "index.php", "browser": True})
        pid = next(iter(browser_pool.warm_pids().values()))
        for _ in range(reps):
            began = time.perf_counter()
            await client.call_tool("mybb_server_request", {"path": "index.php"})
            plain.append(time.perf_counter() - began)
            began = time.perf_counter()
            answer = await client.call_tool("mybb_server_request", {"path": "index.php", "browser": True})
            browser.append(time.perf_counter() - began)
            assert not answer.is_error and "warm)" in str(answer.content[0]), answer
            assert pid in browser_pool.warm_pids().values()  # the same Chromium every time
        paused: list[float] = []
        for _ in range(reps):
            await anyio.sleep(PAUSE_S)
            began = time.perf_counter()
            answer = await client.call_tool("mybb_server_request", {"path": "index.php", "browser": True})
            paused.append(time.perf_counter() - began)
            assert not answer.is_error and pid in browser_pool.warm_pids().values(), answer
    return browser, plain, paused


def chromiums_left() -> int:
    """Our Chromium processes still running (their profiles carry the tool's prefix)."""
    import psutil

    from mybb_mcp.workbench.chromium import PROFILE_PREFIX

    count = 0
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE and any(PROFILE_PREFIX in p for p in process.cmdline()):
                count += 1
        except psutil.Error:
            continue
    return count


if __name__ == "__main__":
    sys.exit(main())
