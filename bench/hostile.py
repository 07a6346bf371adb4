"""A visitor's log: memory and time of queries on what eleven large POSTs leave in the server log.

    .venv/bin/python bench/hostile.py [--posts 11] [--mb 8] [--port N] [--json FILE]

Starts the real php -S (through the service) on a temporary forum with a page that uses a request
field as an array key, as forum code does; each POST sends a field of --mb megabytes made of short
lines, so PHP writes one "Undefined array key" warning of millions of lines, verbatim (issue 12,
item 7: 92 MB, 2.3 GB and 7.9 s for one errors-only query before the bounds in logs/bounds.py).
Then each query runs in a fresh child process: peak RSS growth (VmHWM reset first, as bench/run.py
does), time, answer size; and four errors-only queries at once in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES: dict[str, dict[str, Any]] = {
    "errors_only (default call)": {"errors_only": True},
    "default (tail 50)": {},
    "errors_only, limit 1000": {"errors_only": True, "limit": 1000},
    "keyword 'line', limit 1000": {"filter_keyword": "line", "limit": 1000},
    "since 5 min, errors, head": {"since_minutes": 5, "errors_only": True, "tail": False},
}


def _kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(spec: dict[str, Any]) -> dict[str, Any]:
    import threading

    from mybb_mcp.answers.logs import render_log_query
    from mybb_mcp.config import Config
    from mybb_mcp.orchestration import LogQueryOptions, ServerOrchestrationService

    service = ServerOrchestrationService(Config(mybb_root=Path(spec["forum"])))
    before = _kib("VmRSS") or 0
    precise = _reset_peak()
    if not precise:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    answers: list[str] = []

    def one() -> None:
        answers.append(render_log_query(service.logs.search_logs(LogQueryOptions(**spec["options"]))))

    threads = [threading.Thread(target=one) for _ in range(spec["parallel"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    after = (_kib("VmHWM") if precise else None) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if os.environ.get("HOSTILE_SHOW"):
        print(answers[0][:3000], file=sys.stderr)
    return {"seconds": round(elapsed, 2), "rss_growth_mib": round((after - before) / 1024, 1),
            "answer_kib": round(max(len(a.encode()) for a in answers) / 1024, 1)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port: int, megabytes: float) -> None:
    lines = b"\n".join(b"%d PHP [4 - forged line" % n for n in range(int(megabytes * 1024 * 1024 / 24)))
    body = b"k=" + lines.replace(b"%", b"%25").replace(b"\n", b"%0A").replace(b" ", b"+").replace(b"[", b"%5B")
    head = (f"POST /key.php HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded"
            f"\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head + body)
        while sock.recv(65536):
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=11)
    parser.add_argument("--mb", type=float, default=8.0, help="megabytes of lines per POST")
    parser.add_argument("--port", type=int, default=0, help="port for php -S (default: a free one)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    from dataclasses import replace

    from mybb_mcp.config import Config
    from mybb_mcp.orchestration import ServerOrchestrationService
    from tests.fixtures.docroot import write_docroot

    with tempfile.TemporaryDirectory() as tmp:
        forum = write_docroot(Path(tmp) / "repo" / "forum")
        (forum / "key.php").write_text("<?php\n$a = [];\necho $a[$_REQUEST['k'] ?? ''];\necho 'keyed';\n")
        config = Config(mybb_root=forum, port=args.port or free_port())
        config = replace(config, php_settings=(*config.php_settings, "post_max_size=64M", "memory_limit=512M"),
                         log_max_mb=100_000)
        service = ServerOrchestrationService(config)
        started = service.start()
        if not started.success:
            print(started.message, file=sys.stderr)
            return 1
        try:
            for n in range(args.posts):
                post(config.port, args.mb)
                print(f"POST {n + 1}/{args.posts}", file=sys.stderr)
            deadline = time.monotonic() + 30
            size = -1
            while time.monotonic() < deadline and size != config.log_file.stat().st_size:
                size = config.log_file.stat().st_size
                time.sleep(0.5)  # until PHP has written it all
        finally:
            service.stop(force=True)
        size_mb = config.log_file.stat().st_size / 1e6
        rows = []
        for name, options in [*QUERIES.items(), ("4 x errors_only at once", {"errors_only": True})]:
            spec = {"forum": str(forum), "options": options, "parallel": 4 if name.startswith("4 x") else 1}
            done = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                                  text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "mybb_mcp")})
            if done.returncode:
                print(done.stderr, file=sys.stderr)
                return 1
            if os.environ.get("HOSTILE_SHOW"):
                print(done.stderr, file=sys.stderr)
            rows.append({"query": name, **json.loads(done.stdout)})
    print(f"Log: {size_mb:.1f} MB from {args.posts} POSTs of {args.mb} MB of lines (real php -S)\n")
    print("| query | time (s) | peak RSS growth (MiB) | answer (KiB) |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['query']} | {row['seconds']} | {row['rss_growth_mib']} | {row['answer_kib']} |")
    if args.json:
        args.json.write_text(json.dumps({"log_mb": size_mb, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
