"""Benchmark: what the request wrapper costs a plain page request (no trace, no plugins switch), beside the
page's own time: the templates it saw, their sets looked up once at the end, a template in no set named.

    python bench/template_lookup.py [--rounds 15] [--page index.php]

MyBB 1.8.37 installed by the product's own installer (SQLite), served by the service. Each round loads the
page twice, back to back, through the same php -S: as a visitor (no workbench header: MyBB's own classes,
the page's own time) and with this server's workbench secret and plain options (the wrapper on, as every
mybb_server_request has it). After 5 warm-up rounds, N timed rounds; the answer is both medians and the
median of the rounds' paired differences (a busy moment weighs on both sides of its own round).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import run  # bench/run.py: free_port (bench/ is first on sys.path: Python puts a script's folder there)
from archive import archive_path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "mybb_mcp"))  # this checkout's code, imported in bench()


def bench(rounds: int, page: str, php: str) -> dict[str, float]:
    from mybb_mcp.config import Config
    from mybb_mcp.forum.install import InstallRequest, install_forum
    from mybb_mcp.orchestration import ServerOrchestrationService
    from mybb_mcp.workbench import request_trace

    with tempfile.TemporaryDirectory(prefix="mybb-bench-tpl-") as tmp:
        port = run.free_port()
        installed = install_forum(InstallRequest(source=archive_path(), root=Path(tmp) / "repo" / "TestForum",
                                                 bburl=f"http://127.0.0.1:{port}", php=php))
        config = Config(mybb_root=installed.root, php=php, port=port)
        service = ServerOrchestrationService(config)
        started = service.start()
        if not started.success:
            raise SystemExit(f"start failed: {started.message}")
        folder = request_trace.workbench_dir(config)
        url = f"http://127.0.0.1:{port}/{page}"
        # A browser keeps MyBB's guest session cookie; without it every GET writes a new session row.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())

        def load(wrapped: bool) -> float:
            headers = {}
            if wrapped:
                workbench = request_trace.begin(config, False, None)
                assert workbench is not None, "the server has no workbench"
                headers = workbench.headers
            began = time.perf_counter()
            with opener.open(urllib.request.Request(url, headers=headers), timeout=30) as response:
                response.read()
            took = time.perf_counter() - began
            for leftover in folder.glob("trace-*.json"):
                leftover.unlink(missing_ok=True)
            return took

        own: list[float] = []
        wrapper: list[float] = []
        try:
            for _ in range(5):
                load(False)
                load(True)
            for _ in range(rounds):
                own.append(load(False))
                wrapper.append(load(True))
        finally:
            service.stop(force=True)
    return {"rounds": rounds, "own_ms": 1000 * statistics.median(own),
            "wrapped_ms": 1000 * statistics.median(wrapper),
            "paired_difference_ms": 1000 * statistics.median(w - o for w, o in zip(wrapper, own))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--page", default="index.php")
    args = parser.parse_args()
    result = bench(args.rounds, args.page, os.environ.get("MYBB_PHP", "php"))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
