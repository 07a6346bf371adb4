"""Benchmarks: log queries on 10 MB / 100 MB / 1 GB php -S logs, server lifecycle, one MCP call, snapshots.

    python bench/run.py                 # all three sizes (first run generates ~1.1 GB under bench/.data/)
    python bench/run.py --quick         # 10 MB only, well under a minute
    python bench/run.py --sizes 10,100 --reps 7 --json results.json

Every number is the median of N timed runs after one untimed warm-up, so the page cache holds the
log (the same holds for the `tail`/`grep` references). Log queries run through the real service
path, `ServerOrchestrationService.search_logs(LogQueryOptions(...))`, each in a fresh child process
that also reports its peak RSS growth (peak RSS during its first query minus RSS before it). Lifecycle
timings use a real `php -S` on a temporary fixture forum on 127.0.0.1 and an ephemeral port;
everything started is stopped in `finally` blocks. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

# bench/ is first on sys.path (Python puts a script's folder there): its other modules import as they are.
import loggen
import page_requests as requests_bench
import snapshots

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / ".data"
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(REPO_ROOT))  # tests.fixtures.docroot

DEFAULT_SIZES = (10, 100, 1000)
MIB = 1024 * 1024
SLOW_RUN_S = 2.0  # a query slower than this gets fewer repetitions (bounded run time)
# Fast measurements repeat beyond --reps until this much time is spent (at most MAX_REPS runs):
# a median of a few ms over 5 runs on a shared 2-core machine is mostly noise.
MIN_TIME_S = 0.3
MAX_REPS = 50
CHILD_TIMEOUT_S = 600

# name -> (label, LogQueryOptions fields). Everything not named keeps LogQueryOptions' default;
# exclude_static is off except where it is the point, so each row measures one thing.
QUERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "tail": ("tail 50 (newest 50 entries)", {"limit": 50, "tail": True, "exclude_static": False}),
    "errors_only": ("errors_only, 50", {"limit": 50, "errors_only": True, "exclude_static": False}),
    "exclude_static": ("exclude_static, 50", {"limit": 50, "exclude_static": True}),
    "since": ("since_minutes=5, 50", {"limit": 50, "since_minutes": 5, "exclude_static": False}),
    "keyword": ("keyword = early marker (full scan)", {"limit": 50, "filter_keyword": loggen.MARKER,
                                                       "exclude_static": False}),
    "head": ("head 50 (oldest 50 entries)", {"limit": 50, "tail": False, "exclude_static": False}),
}
NEAR_END = ("tail", "errors_only", "since", "exclude_static")


# ------------------------------------------------------------------------------- helpers


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "median_ms": round(median_ms(samples), 3),
        "min_ms": round(min(samples) * 1000.0, 3),
        "max_ms": round(max(samples) * 1000.0, 3),
        "n": len(samples),
        "samples_ms": [round(s * 1000.0, 3) for s in samples],
    }


def size_label(size_mb: int) -> str:
    return f"{size_mb // 1000} GB" if size_mb >= 1000 and size_mb % 1000 == 0 else f"{size_mb} MB"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers_http(port: int, timeout: float = 0.5) -> bool:
    """A minimal HTTP GET to 127.0.0.1:port; True once any HTTP status line comes back."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"GET /__bench_probe HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return sock.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def write_forum(root: Path) -> Path:
    try:
        from tests.fixtures.docroot import write_docroot
    except ImportError:  # run from outside the repository: the minimum a MyBB root needs here
        root.mkdir(parents=True, exist_ok=True)
        (root / "index.php").write_text("<?php\necho 'forum index';\n")
        return root
    return write_docroot(root)


def find_php() -> str:
    php = os.environ.get("MYBB_PHP") or shutil.which("php")
    if not php:
        sys.exit("php is not on PATH (set MYBB_PHP): the lifecycle benchmarks need a real php -S")
    return php


def php_version(php: str) -> str:
    try:
        out = subprocess.run([php, "-v"], capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    sep = "|" + "|".join(("-" * (w + 2)) if i == 0 else ("-" * (w + 1) + ":") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


# ------------------------------------------------------------------------------- log queries (child)


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _reset_peak_rss() -> bool:
    """Linux: make the peak RSS (VmHWM) restart from the current RSS (`clear_refs` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def child_query(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: peak RSS growth of the first query, then `reps` timed runs.

    Growth = peak RSS during the query minus RSS just before it. On Linux the kernel's peak
    (VmHWM) is reset first, so the peak reached while importing does not hide the query's;
    elsewhere it falls back to the ru_maxrss delta (a lower bound).
    """
    from mybb_mcp.config import Config
    from mybb_mcp.orchestration import LogQueryOptions, ServerOrchestrationService

    service = ServerOrchestrationService(Config(mybb_root=Path(spec["forum"])))
    options = LogQueryOptions(**spec["options"])
    rss_kib = _proc_status_kib("VmRSS")
    precise = rss_kib is not None and _reset_peak_rss()
    before_kib = rss_kib if precise else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    result = service.logs.search_logs(options)  # warm-up: also the memory measurement
    first = time.perf_counter() - began
    after_kib = (_proc_status_kib("VmHWM") if precise else None) or resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss
    reps = spec["reps"]
    if first > SLOW_RUN_S * 10:
        reps = 1
    elif first > SLOW_RUN_S:
        reps = min(reps, 2)
    samples: list[float] = []
    while len(samples) < reps or (sum(samples) < MIN_TIME_S and len(samples) < MAX_REPS and first < SLOW_RUN_S):
        began = time.perf_counter()
        result = service.logs.search_logs(options)
        samples.append(time.perf_counter() - began)
    texts = ["\n".join([e.message, e.path or "", *e.continuation]) for e in result.entries]
    marker = spec.get("marker")
    return {
        **summary(samples),
        "first_ms": round(first * 1000.0, 3),
        "rss_before_mib": round(before_kib / 1024, 2),
        "rss_method": "VmRSS before -> VmHWM after (peak reset)" if precise else "ru_maxrss delta",
        "rss_growth_mib": round((after_kib - before_kib) / 1024, 2),
        "shown": result.shown,
        "matched": result.matched,
        "matched_exact": result.matched_exact,
        "has_more": result.has_more,
        "bytes_scanned": result.bytes_scanned,
        "problem": result.problem,
        "marker_found": bool(marker) and any(marker in t for t in texts),
        "oldest_shown": min((e.timestamp for e in result.entries if e.timestamp), default=None).__str__(),
        "since": str(result.since) if result.since else None,
    }


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_S} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1],
                "stderr": proc.stderr[-4000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------- references


def time_command(argv: list[str], reps: int) -> dict[str, Any]:
    """Median wall time of a command (stdout captured, as a user would read it), after a warm-up."""
    subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    samples: list[float] = []
    out = b""
    while len(samples) < reps or (sum(samples) < MIN_TIME_S and len(samples) < MAX_REPS):
        began = time.perf_counter()
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False).stdout
        samples.append(time.perf_counter() - began)
    return {**summary(samples), "output_tail": out[-200:].decode("utf-8", "replace")}


def raw_php_start(php: str, docroot: Path, log_path: Path, avoid: int, timeout: float = 10.0) -> float:
    """Seconds from spawning `php -S 127.0.0.1:PORT -t DOCROOT` to its first HTTP answer; then kill it."""
    port = free_port()
    while port == avoid:  # never the service's port: the kernel may hand the same free port out again
        port = free_port()
    with open(log_path, "ab") as log:
        began = time.perf_counter()
        proc = subprocess.Popen([php, "-S", f"127.0.0.1:{port}", "-t", str(docroot)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = began + timeout
        while not answers_http(port):
            if proc.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"raw php -S did not answer on port {port} (exit {proc.poll()})")
            time.sleep(0.001)
        return time.perf_counter() - began
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


# ------------------------------------------------------------------------------- sections


def bench_queries(sizes: list[int], seed: int, reps: int, log: Callable[[str], None]) -> dict[int, dict[str, Any]]:
    results: dict[int, dict[str, Any]] = {}
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        info, generated = loggen.ensure_log(DATA_DIR, size, seed, log=log)
        with tempfile.TemporaryDirectory(prefix="mybb-bench-q-") as tmp:
            repo = Path(tmp)
            forum = write_forum(repo / "forum")
            (repo / "logs").mkdir()
            (repo / "logs" / "server.log").symlink_to(info.path)
            loggen.refresh_tail(info)  # the log's last line is "now"
            size_bytes = info.path.stat().st_size
            log(f"{size_label(size)}: {info.path.name} ({size_bytes / MIB:.0f} MiB"
                f"{', generated in %.1f s' % info.gen_seconds if generated else ', cached'}); "
                f"marker at byte {info.marker_offset} ({100 * info.marker_offset / size_bytes:.2f}%)")
            entry: dict[str, Any] = {"file": str(info.path), "bytes": size_bytes, "generated": generated,
                                     "gen_seconds": round(info.gen_seconds, 2) if generated else None,
                                     "marker_offset": info.marker_offset, "counts": info.counts,
                                     "tail_bytes": info.tail_bytes, "last_5_min": info.last_5_min,
                                     "queries": {}, "refs": {}}
            for name, (label, fields) in QUERIES.items():
                spec = {"forum": str(forum), "options": fields, "reps": reps, "marker": info.marker}
                res = run_child(spec)
                entry["queries"][name] = res
                if "error" in res:
                    log(f"  {label}: ERROR {res['error']}")
                else:
                    log(f"  {label}: {res['median_ms']:.2f} ms (n={res['n']}), +{res['rss_growth_mib']:.1f} MiB, "
                        f"{res['shown']} shown, {res['bytes_scanned'] / MIB:.2f} MiB scanned")
            entry["refs"]["tail"] = time_command(["tail", "-n", "50", str(info.path)], reps)
            entry["refs"]["grep"] = time_command(["grep", "-c", info.marker, str(info.path)], reps)
            grep_count = entry["refs"]["grep"]["output_tail"].strip()
            log(f"  tail -n 50: {entry['refs']['tail']['median_ms']:.2f} ms; grep -c: "
                f"{entry['refs']['grep']['median_ms']:.1f} ms (count {grep_count})")
        results[size] = entry
    return results


def bench_lifecycle(reps: int, log: Callable[[str], None]) -> dict[str, Any]:
    from mybb_mcp.config import Config
    from mybb_mcp.orchestration import ServerOrchestrationService

    php = find_php()
    out: dict[str, Any] = {"php": php_version(php)}
    raw: list[float] = []
    start: list[float] = []
    restart: list[float] = []
    stop: list[float] = []
    status_running: list[float] = []
    status_stopped: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mybb-bench-life-") as tmp:
        forum = write_forum(Path(tmp) / "repo" / "forum")
        raw_root = write_forum(Path(tmp) / "raw" / "docroot")
        raw_log = Path(tmp) / "raw" / "php.log"
        config = Config(mybb_root=forum, php=php, port=free_port())
        service = ServerOrchestrationService(config)
        try:
            raw_php_start(php, raw_root, raw_log, config.port)  # warm-up: php binary and docroot in the page cache
            first = service.start()
            if not first.success:
                raise RuntimeError(f"service.start failed: {first.message} {first.reason or ''}")
            service.stop()
            for i in range(reps):
                raw.append(raw_php_start(php, raw_root, raw_log, config.port))
                began = time.perf_counter()
                res = service.start()
                start.append(time.perf_counter() - began)
                if not res.success or not answers_http(config.port):
                    raise RuntimeError(f"start #{i} failed: {res.message}")
                for _ in range(3):
                    began = time.perf_counter()
                    st = service.get_status()
                    status_running.append(time.perf_counter() - began)
                    assert st.running, "status says stopped while the server runs"
                began = time.perf_counter()
                res = service.restart()
                restart.append(time.perf_counter() - began)
                if not res.success or not answers_http(config.port):
                    raise RuntimeError(f"restart #{i} failed: {res.message}")
                began = time.perf_counter()
                res = service.stop()
                stop.append(time.perf_counter() - began)
                if not res.success:
                    raise RuntimeError(f"stop #{i} failed: {res.message}")
                began = time.perf_counter()
                st = service.get_status()
                status_stopped.append(time.perf_counter() - began)
                assert not st.running
            out["raw_php_start"] = summary(raw)
            out["start"] = summary(start)
            out["restart"] = summary(restart)
            out["stop"] = summary(stop)
            out["status_running"] = summary(status_running)
            out["status_stopped"] = summary(status_stopped)
            log(f"raw php -S start {out['raw_php_start']['median_ms']:.1f} ms; start {out['start']['median_ms']:.1f}; "
                f"restart {out['restart']['median_ms']:.1f}; stop {out['stop']['median_ms']:.1f}; status "
                f"{out['status_running']['median_ms']:.2f} (running) / "
                f"{out['status_stopped']['median_ms']:.2f} (stopped)")

            # One MCP tool call through the SDK's in-process client (the call only, not the client setup).
            res = service.start()
            if not res.success:
                raise RuntimeError(f"start for the MCP call failed: {res.message}")
            out["mcp_status"] = asyncio.run(_mcp_status_calls(config, reps))
            log(f"MCP mybb_server_status: {out['mcp_status']['median_ms']:.1f} ms")
        except Exception as exc:  # report what was measured and why the rest is missing
            out["error"] = f"{type(exc).__name__}: {exc}"
            log(f"lifecycle benchmark failed: {out['error']}")
        finally:
            service.stop(force=True)
    return out


async def _mcp_status_calls(config: Any, reps: int) -> dict[str, Any]:
    saved = {k: os.environ.get(k) for k in ("MYBB_ROOT", "MYBB_PORT", "MYBB_PHP", "MYBB_HOST")}
    os.environ.update({"MYBB_ROOT": str(config.mybb_root), "MYBB_PORT": str(config.port), "MYBB_PHP": config.php,
                       "MYBB_HOST": config.host})
    try:
        import warnings

        from mcp import Client

        import mybb_mcp.server

        warnings.filterwarnings("ignore", module="mcp")
        samples = []
        async with Client(mybb_mcp.server.server) as client:
            result = await client.call_tool("mybb_server_status", {})  # warm-up
            text = result.content[0].text if result.content else ""
            if "Running" not in text.splitlines()[0]:
                raise RuntimeError(f"mybb_server_status did not report a running server: {text[:300]!r}")
            for _ in range(reps):
                began = time.perf_counter()
                result = await client.call_tool("mybb_server_status", {})
                samples.append(time.perf_counter() - began)
        return {**summary(samples), "heading": text.splitlines()[0]}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def default_archive() -> Path:
    """The MyBB release archive init is timed with: MYBB_ARCHIVE, else ../shared/mybb/mybb_1837.tar.gz."""
    configured = os.environ.get("MYBB_ARCHIVE", "")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "mybb" / "mybb_1837.tar.gz"


def bench_init(reps: int, log: Callable[[str], None]) -> dict[str, Any]:
    """`init` from a local archive until MyBB's own index page answers (its board name in it), against
    raw php -S start-to-answering; each run a fresh folder, stopped and deleted afterwards."""
    from mybb_mcp.config import Config
    from mybb_mcp.orchestration import ServerOrchestrationService
    from mybb_mcp.orchestration.init import InitOptions

    archive = default_archive()
    if not archive.is_file():
        return {"error": f"no MyBB archive at {archive} (set MYBB_ARCHIVE)"}
    php = find_php()
    runs: list[float] = []
    installer: list[float] = []
    raw: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mybb-bench-init-") as tmp:
        raw_root = write_forum(Path(tmp) / "raw" / "docroot")
        raw_log = Path(tmp) / "raw" / "php.log"
        raw_php_start(php, raw_root, raw_log, 0)  # warm-up
        for i in range(reps):
            raw.append(raw_php_start(php, raw_root, raw_log, 0))
            service = ServerOrchestrationService(Config(mybb_root=Path(tmp) / f"run{i}" / "TestForum", php=php,
                                                        port=free_port()))
            try:
                began = time.perf_counter()
                result = service.init_forum(InitOptions(source=str(archive)))
                if not result.success:
                    raise RuntimeError(f"init #{i} failed at {result.failed_step}: {result.message}")
                page = _get(f"{result.url}/index.php")
                runs.append(time.perf_counter() - began)
                if "<title>MyBB Test Forum</title>" not in page:
                    raise RuntimeError(f"init #{i}: the index page does not show the board name")
                installer.append(result.install_seconds or 0.0)
            finally:
                service.stop(force=True)
            shutil.rmtree(Path(tmp) / f"run{i}", ignore_errors=True)
    out = {"archive": str(archive), "init": summary(runs), "installer": summary(installer),
           "raw_php_start": summary(raw)}
    log(f"init to index answering {out['init']['median_ms']:.0f} ms (install "
        f"{out['installer']['median_ms']:.0f} ms) = {out['init']['median_ms'] / out['raw_php_start']['median_ms']:.0f}"
        f" x raw php -S start ({out['raw_php_start']['median_ms']:.1f} ms)")
    return out


def _get(url: str) -> str:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        return response.read().decode("utf-8", "replace")


# ------------------------------------------------------------------------------- report


def evaluate(queries: dict[int, dict[str, Any]], life: dict[str, Any] | None,
             init: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []

    def add(name: str, measured: str, ok: bool | None) -> None:
        targets.append({"target": name, "measured": measured,
                        "result": "n/a" if ok is None else ("PASS" if ok else "FAIL")})

    def med(size: int, q: str) -> float | None:
        r = queries.get(size, {}).get("queries", {}).get(q)
        return None if not r or "error" in r else r["median_ms"]

    big = 1000 if 1000 in queries else (max(queries) if queries else None)
    for q in NEAR_END:
        label = QUERIES[q][0]
        if big is not None:
            v = med(big, q)
            if big == 1000:
                add(f"{label}: < 100 ms on 1 GB", f"{fmt_ms(v)} ms" if v is not None else "error",
                    v is not None and v < 100)
            else:
                add(f"{label}: < 100 ms on 1 GB", f"not run (largest: {size_label(big)}, {fmt_ms(v)} ms)", None)
        if 10 in queries and 1000 in queries:
            a, b = med(10, q), med(1000, q)
            ok = a is not None and b is not None and b <= 2 * a
            add(f"{label}: 1 GB within 2x of 10 MB",
                f"{fmt_ms(b)} / {fmt_ms(a)} ms = {b / a:.2f}x" if a and b else "error", ok)
    for size, entry in sorted(queries.items()):
        v = med(size, "keyword")
        grep = entry["refs"]["grep"]["median_ms"]
        found = entry["queries"].get("keyword", {}).get("marker_found")
        ok = v is not None and found and v <= 3 * grep
        add(f"keyword (full scan) within 3x of grep -c, {size_label(size)}",
            f"{fmt_ms(v)} / {fmt_ms(grep)} ms = {v / grep:.2f}x{'' if found else ', MARKER NOT FOUND'}"
            if v is not None else "error", ok)
    worst = None
    for size, entry in queries.items():
        for q, r in entry["queries"].items():
            if "error" not in r and (worst is None or r["rss_growth_mib"] > worst[0]):
                worst = (r["rss_growth_mib"], size, q)
    if worst:
        add("peak memory growth < 100 MiB, any query, any size",
            f"max {worst[0]:.1f} MiB ({QUERIES[worst[2]][0]}, {size_label(worst[1])})", worst[0] < 100)
    if life and "start" in life:
        raw = life["raw_php_start"]["median_ms"]
        s, r = life["start"]["median_ms"], life["restart"]["median_ms"]
        add("start-to-answering <= raw php -S + 150 ms", f"{fmt_ms(s)} ms vs {fmt_ms(raw)} + 150 = {fmt_ms(raw + 150)}",
            s <= raw + 150)
        add("restart-to-answering <= 2 x raw + 200 ms", f"{fmt_ms(r)} ms vs 2 x {fmt_ms(raw)} + 200 = "
            f"{fmt_ms(2 * raw + 200)}", r <= 2 * raw + 200)
        add("stop < 50 ms", f"{fmt_ms(life['stop']['median_ms'])} ms", life["stop"]["median_ms"] < 50)
        add("status < 10 ms (server running)", f"{fmt_ms(life['status_running']['median_ms'])} ms",
            life["status_running"]["median_ms"] < 10)
    if init and "init" in init:
        v = init["init"]["median_ms"]
        add("init from a local archive to the index answering <= 10 s",
            f"{v / 1000:.1f} s = {v / init['raw_php_start']['median_ms']:.0f} x raw php -S", v <= 10_000)
    return targets


def report(env: dict[str, Any], queries: dict[int, dict[str, Any]], life: dict[str, Any] | None,
           targets: list[dict[str, Any]], reps: int, snaps: dict[str, Any] | None = None,
           reqs: dict[str, Any] | None = None,
           init: dict[str, Any] | None = None) -> str:
    parts = [
        "# mybb-mcp benchmarks",
        "",
        f"{env['cpus']} CPUs, {env['python']}, {env['php']}, {env['platform']}, {env['date']}, "
        f"load average {env['load_before']:.2f} at start, {env['load_after']:.2f} at end",
        f"Every value: median of >= {reps} timed runs after one untimed warm-up (page cache warm, as for tail/grep); "
        f"queries and references repeat until {MIN_TIME_S} s is spent (at most {MAX_REPS} runs); queries slower "
        f"than {SLOW_RUN_S:.0f} s get 2 runs (1 above {SLOW_RUN_S * 10:.0f} s). "
        "Peak MiB = peak RSS during the query minus RSS before it, in a fresh child process (Linux: VmHWM "
        "reset via /proc/self/clear_refs; else the ru_maxrss delta).",
    ]
    if max(env["load_before"], env["load_after"]) > (env["cpus"] or 1):
        parts.append(f"**Warning: the machine was busy (load average above {env['cpus']}); times are inflated.**")
    if queries:
        sizes = sorted(queries)
        headers = ["log query (service.logs.search_logs)"]
        for s in sizes:
            headers += [f"{size_label(s)} ms", f"{size_label(s)} MiB"]
        rows = []
        for q, (label, _) in QUERIES.items():
            row = [label]
            for s in sizes:
                r = queries[s]["queries"].get(q, {})
                if "error" in r or not r:
                    row += ["ERROR", "—"]
                else:
                    row += [fmt_ms(r["median_ms"]), f"{r['rss_growth_mib']:.1f}"]
            rows.append(row)
        parts += ["", "## Log queries", "", table(headers, rows)]
        headers = ["reference (same file)"] + [f"{size_label(s)} ms" for s in sizes]
        rows = [["tail -n 50 FILE"] + [fmt_ms(queries[s]["refs"]["tail"]["median_ms"]) for s in sizes],
                [f"grep -c {loggen.MARKER} FILE"] + [fmt_ms(queries[s]["refs"]["grep"]["median_ms"]) for s in sizes]]
        parts += ["", "## References", "", table(headers, rows)]
        headers = ["log file"] + [size_label(s) for s in sizes]
        rows = [
            ["size (MiB)"] + [f"{queries[s]['bytes'] / MIB:.0f}" for s in sizes],
            ["lines"] + [f"{queries[s]['counts']['lines']:,}" for s in sizes],
            ["requests (static)"] + [f"{queries[s]['counts']['requests']:,} ({queries[s]['counts']['static']:,})"
                                     for s in sizes],
            ["PHP error lines / fatal traces"] + [f"{queries[s]['counts']['error_lines']:,} / "
                                                 f"{queries[s]['counts']['fatal_traces']:,}" for s in sizes],
            ["marker at byte (grep -c count)"] + [f"{queries[s]['marker_offset']:,} "
                                                  f"({queries[s]['refs']['grep']['output_tail'].strip()})"
                                                  for s in sizes],
            ["last 5 min: requests / lines"] + [f"{queries[s]['last_5_min']['requests']:,} / "
                                                f"{queries[s]['last_5_min']['lines']:,}" for s in sizes],
            ["keyword found the marker"] + ["yes" if queries[s]["queries"].get("keyword", {}).get("marker_found")
                                            else "NO" for s in sizes],
            ["generated in (s)"] + [f"{queries[s]['gen_seconds']}" if queries[s]["generated"] else "cached"
                                    for s in sizes],
        ]
        parts += ["", "## Log files (bench/loggen.py)", "", table(headers, rows)]
    if life and life.get("error"):
        parts += ["", f"**Lifecycle benchmark error:** {life['error']}"]
    if life and "start" in life:
        rows = []
        for key, label in (("raw_php_start", "raw php -S start-to-answering (reference)"),
                           ("start", "service.start() to answering"),
                           ("restart", "service.restart() to answering"),
                           ("stop", "service.stop()"),
                           ("status_running", "service.get_status(), running"),
                           ("status_stopped", "service.get_status(), stopped"),
                           ("mcp_status", "MCP mybb_server_status (in-process Client)")):
            r = life.get(key)
            if r:
                rows.append([label, fmt_ms(r["median_ms"]), fmt_ms(r["min_ms"]), fmt_ms(r["max_ms"]), str(r["n"])])
        parts += ["", "## Lifecycle (fixture forum, 127.0.0.1)", "",
                  table(["measurement", "median ms", "min ms", "max ms", "n"], rows)]
    if reqs is not None:
        if reqs.get("page", {}).get("error"):
            parts += ["", f"**Page request benchmark error:** {reqs['page']['error']}"]
        parts += ["", "## Page requests and cursors (MyBB 1.8.37 on SQLite; generated logs)", "",
                  table(["measurement", "median ms", "min ms", "max ms", "n"], requests_bench.rows(reqs, fmt_ms))]
    if snaps is not None:
        if snaps.get("error"):
            parts += ["", f"**Snapshot benchmark error:** {snaps['error']}"]
        if "save" in snaps:
            parts += ["", f"## Snapshots (fresh MyBB 1.8.37 on SQLite: {snaps['database_bytes'] / MIB:.1f} MiB "
                      f"database, {snaps['files']} forum files)", "",
                      table(["measurement", "median ms", "min ms", "max ms", "n"], snapshots.rows(snaps, fmt_ms))]
    if init and init.get("error"):
        parts += ["", f"**Init benchmark not run:** {init['error']}"]
    if init and "init" in init:
        raw_ms = init["raw_php_start"]["median_ms"]
        rows = [[label, fmt_ms(init[key]["median_ms"]), fmt_ms(init[key]["min_ms"]), fmt_ms(init[key]["max_ms"]),
                 str(init[key]["n"]), f"{init[key]['median_ms'] / raw_ms:.0f}x"]
                for key, label in (("raw_php_start", "raw php -S start-to-answering (reference)"),
                                   ("installer", "install: unpack, MyBB's installer, move into place"),
                                   ("init", "init from the archive to index.php answering"))]
        parts += ["", f"## Init (MyBB from {Path(init['archive']).name}, SQLite, 127.0.0.1)", "",
                  table(["measurement", "median ms", "min ms", "max ms", "n", "x raw"], rows)]
    if targets:
        rows = [[t["target"], t["measured"], t["result"]] for t in targets]
        parts += ["", "## TARGETS", "", table(["target", "measured", "result"], rows)]
        failed = [t for t in targets if t["result"] == "FAIL"]
        parts += ["", f"{len(targets) - len(failed)} of {len(targets)} targets pass"
                  + (f"; FAIL: {len(failed)}" if failed else "") + "."]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="mybb-mcp benchmarks (see bench/README.md)")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)),
                        help="log sizes in MB, comma-separated (default 10,100,1000)")
    parser.add_argument("--quick", action="store_true", help="10 MB only")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per measurement (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="log generator seed (default 1)")
    parser.add_argument("--json", type=Path, help="also write the raw numbers to this file")
    parser.add_argument("--no-lifecycle", action="store_true", help="skip the php -S lifecycle and MCP timings")
    parser.add_argument("--no-queries", action="store_true", help="skip the log query timings")
    parser.add_argument("--no-snapshots", action="store_true", help="skip the snapshot timings (they install MyBB)")
    parser.add_argument("--no-requests", action="store_true",
                        help="skip the page request and cursor timings (they install MyBB)")
    parser.add_argument("--no-init", action="store_true", help="skip the init (MyBB install) timing")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_query(json.loads(args.child))))
        return 0
    sizes = [10] if args.quick else sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if any(s < 1 for s in sizes) or args.reps < 1:
        parser.error("sizes and --reps must be positive")

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    began = time.perf_counter()
    env = {"cpus": os.cpu_count(), "python": f"Python {platform.python_version()}",
           "php": php_version(find_php()), "platform": platform.platform(terse=True),
           "date": time.strftime("%Y-%m-%d %H:%M %Z"), "load_before": os.getloadavg()[0], "sizes_mb": sizes,
           "reps": args.reps, "seed": args.seed}
    queries = {} if args.no_queries else bench_queries(sizes, args.seed, args.reps, log)
    life = None if args.no_lifecycle else bench_lifecycle(args.reps, log)
    snaps = None if args.no_snapshots else snapshots.bench_snapshots(args.reps, log, summary, find_php())
    reqs = None if args.no_requests else requests_bench.bench_requests(sizes, args.seed, args.reps, log, summary,
                                                                        find_php(), free_port, DATA_DIR)
    init = None if args.no_init else bench_init(min(args.reps, 3), log)  # ~3 s each: three are enough
    targets = evaluate(queries, life, init)
    if reqs is not None:
        targets += [{"target": name, "measured": measured,
                     "result": "n/a" if ok is None else ("PASS" if ok else "FAIL")}
                    for name, measured, ok in requests_bench.targets(reqs, fmt_ms)]
    if snaps is not None:
        targets += [{"target": name, "measured": measured,
                     "result": "n/a" if ok is None else ("PASS" if ok else "FAIL")}
                    for name, measured, ok in snapshots.targets(snaps, fmt_ms)]
    env["seconds"] = round(time.perf_counter() - began, 1)
    env["load_after"] = os.getloadavg()[0]
    print(report(env, queries, life, targets, args.reps, snaps, reqs, init))
    print(f"\n(run took {env['seconds']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"env": env, "queries": {str(k): v for k, v in queries.items()},
                                         "lifecycle": life, "snapshots": snaps, "requests": reqs, "init": init,
                                         "targets": targets}, indent=1,
                                        default=str))
    return 1 if args.strict and any(t["result"] == "FAIL" for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
