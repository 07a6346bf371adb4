"""Benchmark: a page request through the tool against the same page fetched raw; a cursor read of
"nothing new" on a big log.

    python bench/page_requests.py         # on its own (10 MB and 1 GB logs)
    python bench/run.py                   # also runs it (skip with --no-requests)

Page request: MyBB 1.8.37 installed by the product's own installer, served by the service. In each
round a raw `urllib` GET of /index.php with a cookie jar as a browser has (the page's own time,
through the same php -S) and
`ServerOrchestrationService.request_page(index.php)` (login-free guest, the log read for its errors,
the cursor taken) run back to back, after warm-up. The target is the median of the rounds' paired
differences: the tool may cost at most 15 ms more than the page itself.

Cursor: a cursor at the end of the generated log (`loggen`), then `read_since` with it when nothing
was written: what `mybb_server_logs` with a cursor does first.
"""

from __future__ import annotations

import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from archive import archive_path  # bench/archive.py (bench/ is first on sys.path for a script)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
OVERHEAD_TARGET_MS = 15.0
CURSOR_TARGET_MS = 10.0


def bench_page_request(reps: int, log: Callable[[str], None], summary: Callable[[list[float]], dict[str, Any]],
                       php: str, free_port: Callable[[], int]) -> dict[str, Any]:
    from mybb_mcp.config import Config
    from mybb_mcp.forum.install import InstallRequest, install_forum
    from mybb_mcp.forum.requests import PageRequest
    from mybb_mcp.orchestration import ServerOrchestrationService

    archive = archive_path()
    if not archive.is_file():
        return {"error": f"no MyBB archive at {archive} (set MYBB_TEST_ARCHIVE)"}
    out: dict[str, Any] = {}
    rounds = max(reps * 10, 50)
    with tempfile.TemporaryDirectory(prefix="mybb-bench-req-") as tmp:
        port = free_port()
        installed = install_forum(InstallRequest(source=archive, root=Path(tmp) / "repo" / "TestForum",
                                                 bburl=f"http://127.0.0.1:{port}", php=php))
        service = ServerOrchestrationService(Config(mybb_root=installed.root, php=php, port=port))
        started = service.start()
        if not started.success:
            return {"error": f"start failed: {started.message}"}
        try:
            url = f"http://127.0.0.1:{port}/index.php"
            raw: list[float] = []
            tool: list[float] = []
            page: list[float] = []

            # A browser keeps MyBB's guest session cookie; without it every GET writes a new session row.
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())

            def raw_get() -> None:
                with opener.open(url, timeout=30) as response:
                    response.read()

            for _ in range(5):  # warm-up: OPcache, page cache, imports, the guest's session
                raw_get()
                service.forum.request_page(PageRequest("index.php"))
            for _ in range(rounds):
                began = time.perf_counter()
                raw_get()
                raw.append(time.perf_counter() - began)
                began = time.perf_counter()
                result = service.forum.request_page(PageRequest("index.php"))
                tool.append(time.perf_counter() - began)
                assert result.response is not None and result.response.status == 200, result.failure
                page.append(result.response.seconds)
            out.update({"raw_get": summary(raw), "request_page": summary(tool), "page_seconds": summary(page),
                        "log_bytes": service.config.log_file.stat().st_size})
            # Paired: each round's difference, so a busy moment weighs on both sides of its own round.
            differences = sorted(t - r for t, r in zip(tool, raw))
            out["overhead_ms"] = 1000 * differences[len(differences) // 2]
            log(f"page request: raw GET {out['raw_get']['median_ms']:.1f} ms, request_page "
                f"{out['request_page']['median_ms']:.1f} ms (median of paired differences {out['overhead_ms']:+.1f} "
                f"ms), n={rounds}")
        finally:
            service.stop(force=True)
    return out


def bench_cursor(log_path: Path, reps: int, summary: Callable[[list[float]], dict[str, Any]]) -> dict[str, Any]:
    from mybb_mcp.logs.cursors import EntryFilter, read_since, take_cursor

    cursor = take_cursor(log_path)
    wanted = EntryFilter(errors_only=True)
    read_since(cursor, log_path, 5, wanted=wanted)  # warm-up
    samples: list[float] = []
    for _ in range(max(reps * 4, 20)):
        began = time.perf_counter()
        found = read_since(cursor, log_path, 5, wanted=wanted)
        samples.append(time.perf_counter() - began)
        assert found.entries == []
    encoded: list[float] = []
    for _ in range(max(reps * 4, 20)):
        began = time.perf_counter()
        take_cursor(log_path).encode()
        encoded.append(time.perf_counter() - began)
    return {"bytes": log_path.stat().st_size, "nothing_new": summary(samples), "take_cursor": summary(encoded)}


def rows(result: dict[str, Any], fmt_ms: Callable[[float], str]) -> list[list[str]]:
    found = []
    page = result.get("page", {})
    for key, label in (("raw_get", "raw urllib GET /index.php with cookies (the page's own time)"),
                       ("request_page", "service.forum.request_page('index.php') as guest (errors tied, cursor)")):
        r = page.get(key)
        if r:
            found.append([label, fmt_ms(r["median_ms"]), fmt_ms(r["min_ms"]), fmt_ms(r["max_ms"]), str(r["n"])])
    for size, cursor in sorted(result.get("cursors", {}).items()):
        for key, label in (("nothing_new", "cursor read, nothing new"), ("take_cursor", "take a cursor")):
            r = cursor[key]
            found.append([f"{label} ({cursor['bytes'] / 1024 / 1024:.0f} MiB log)", fmt_ms(r["median_ms"]),
                          fmt_ms(r["min_ms"]), fmt_ms(r["max_ms"]), str(r["n"])])
    return found


def targets(result: dict[str, Any], fmt_ms: Callable[[float], str]) -> list[tuple[str, str, bool | None]]:
    found: list[tuple[str, str, bool | None]] = []
    page = result.get("page", {})
    if "overhead_ms" in page:
        found.append(("mybb_server_request of the index <= page's own time + 15 ms",
                      f"{page['overhead_ms']:+.1f} ms paired ({fmt_ms(page['request_page']['median_ms'])} vs "
                      f"{fmt_ms(page['raw_get']['median_ms'])} ms)", page["overhead_ms"] <= OVERHEAD_TARGET_MS))
    else:
        found.append(("mybb_server_request of the index <= page's own time + 15 ms", page.get("error", "not run"),
                      None))
    cursors = result.get("cursors", {})
    if cursors:
        biggest = cursors[max(cursors)]
        median = biggest["nothing_new"]["median_ms"]
        found.append((f"cursor read of 'nothing new' < 10 ms ({biggest['bytes'] / 1024 / 1024:.0f} MiB log)",
                      f"{fmt_ms(median)} ms", median < CURSOR_TARGET_MS))
    return found


def bench_requests(sizes: list[int], seed: int, reps: int, log: Callable[[str], None],
                   summary: Callable[[list[float]], dict[str, Any]], php: str,
                   free_port: Callable[[], int], data_dir: Path) -> dict[str, Any]:
    sys.path.insert(0, str(BENCH_DIR))
    import loggen

    out: dict[str, Any] = {"cursors": {}}
    for size in sizes:
        info, _ = loggen.ensure_log(data_dir, size, seed, log=log)
        out["cursors"][size] = bench_cursor(info.path, reps, summary)
        log(f"cursor, nothing new, {size} MB: {out['cursors'][size]['nothing_new']['median_ms']:.3f} ms")
    try:
        out["page"] = bench_page_request(reps, log, summary, php, free_port)
    except Exception as exc:  # report what was measured and why the rest is missing
        out["page"] = {"error": f"{type(exc).__name__}: {exc}"}
        log(f"page request benchmark failed: {out['page']['error']}")
    return out


def main() -> int:
    sys.path.insert(0, str(BENCH_DIR))
    import run

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    result = bench_requests([10, 1000], 1, 5, log, run.summary, run.find_php(), run.free_port, run.DATA_DIR)
    print(run.table(["measurement", "median ms", "min", "max", "n"], rows(result, run.fmt_ms)))
    print()
    print(run.table(["target", "measured", "result"],
                    [[t, m, "n/a" if ok is None else ("PASS" if ok else "FAIL")] for t, m, ok in
                     targets(result, run.fmt_ms)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
