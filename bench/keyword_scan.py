"""Keyword scans beside `grep -c` in one run: the generated php -S log, and a log where every line is an error.

    .venv/bin/python bench/keyword_scan.py                 # 1 GB logs (generated once under bench/.data/)
    .venv/bin/python bench/keyword_scan.py --sizes 100 --reps 5

Each row is a full scan (the keyword occurs once, near the start of the file, so a page of 50 is never
filled early): the query through `logs.query.run_query`, as the service runs it, and `grep -c` on the
same file, interleaved run by run so both see the same machine load and a warm page cache. The ratio
is query / grep (the target: at most 3x for the ASCII keyword).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

# bench/ is first on sys.path (Python puts a script's folder there): loggen imports as it is.
import loggen

from mybb_mcp.logs.options import LogQueryOptions
from mybb_mcp.logs.query import run_query

DATA_DIR = Path(__file__).resolve().parent / ".data"
MIB = 1024 * 1024
ERROR_MARKER = "MARKER-7f3a9c"
# Every line an error: PHP warnings of a plugin, as php -S logs them (one line each, no request lines).
_ERROR_LINE = ("[Sat Dec  5 21:{m:02d}:{s:02d} 2026] PHP Warning:  Undefined array key \"uid\" in "
               "/srv/forum/inc/plugins/hello.php on line {n}\n")


def all_errors_log(size_mb: int) -> Path:
    """A log of `size_mb` MiB where every line is an error, the marker in one line 0.3% in (made once)."""
    path = DATA_DIR / f"errors-{size_mb}mb-v1.log"
    if path.is_file() and path.stat().st_size >= size_mb * MIB:
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    block = "".join(_ERROR_LINE.format(m=n // 60 % 60, s=n % 60, n=n % 900 + 1) for n in range(40_000)).encode()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        written, marked = 0, False
        while written < size_mb * MIB:
            if not marked and written >= size_mb * MIB * 0.003:
                line = _ERROR_LINE.format(m=0, s=0, n=1).replace("Undefined", f"{ERROR_MARKER} Undefined").encode()
                handle.write(line)
                written, marked = written + len(line), True
            handle.write(block)
            written += len(block)
    tmp.rename(path)
    return path


def _grep_ms(keyword: str, path: Path) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(["grep", "-c", keyword, str(path)], capture_output=True, text=True, check=False)
    return (time.perf_counter() - began) * 1000, done.stdout.strip()


def _query_ms(keyword: str, path: Path, errors_only: bool) -> tuple[float, int]:
    options = LogQueryOptions(filter_keyword=keyword, limit=50, exclude_static=False, errors_only=errors_only,
                              include_rotated=False)
    began = time.perf_counter()
    result = run_query(path, options)
    return (time.perf_counter() - began) * 1000, result.shown


def measure(label: str, path: Path, keyword: str, reps: int, errors_only: bool = False) -> dict[str, object]:
    _grep_ms(keyword, path), _query_ms(keyword, path, errors_only)  # warm-up: page cache, imports
    greps, queries = [], []
    shown, count = 0, ""
    for _ in range(reps):
        ms, count = _grep_ms(keyword, path)
        greps.append(ms)
        ms, shown = _query_ms(keyword, path, errors_only)
        queries.append(ms)
    grep, query = statistics.median(greps), statistics.median(queries)
    return {"row": label, "file": path.name, "mib": path.stat().st_size / MIB, "keyword": keyword,
            "query_ms": query, "grep_ms": grep, "ratio": query / grep, "shown": shown, "grep_count": count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000", help="MiB, comma-separated (default 1000)")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        info, _ = loggen.ensure_log(DATA_DIR, size, 1, log=lambda text: print(text, file=sys.stderr))
        loggen.refresh_tail(info)
        errors = all_errors_log(size)
        rows.append(measure("generated log, ASCII keyword", info.path, loggen.MARKER, args.reps))
        rows.append(measure("generated log, non-ASCII keyword (full folding, no match)", info.path, "märker-7f3a9c",
                            args.reps))
        rows.append(measure("every line an error, ASCII keyword", errors, ERROR_MARKER, args.reps))
        rows.append(measure("every line an error, ASCII keyword, errors_only", errors, ERROR_MARKER, args.reps,
                            errors_only=True))
    print("| scan | file | MiB | query ms | grep -c ms | query / grep | shown / grep count |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['row']} | {r['file']} | {r['mib']:.0f} | {r['query_ms']:.0f} | {r['grep_ms']:.0f} | "
              f"{r['ratio']:.2f}x | {r['shown']} / {r['grep_count']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
