"""Benchmark: snapshot save, restore and diff of a fresh MyBB forum on SQLite, next to raw copies.

    python bench/snapshots.py             # on its own
    python bench/run.py                   # also runs it (skip with --no-snapshots)

MyBB 1.8.37 is installed once by the product's own installer from MYBB_TEST_ARCHIVE (else
<repo>/../shared/mybb/mybb_1837.tar.gz) into a temporary folder. Each value is the median of N timed
runs after one untimed warm-up, through the real service path (`ServerOrchestrationService.snapshot`).
Restore includes the automatic snapshot it takes first. The references copy the same database file:
SQLite's backup API from Python (what save does for the database) and `cp`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Callable

from archive import archive_path  # bench/archive.py (bench/ is first on sys.path for a script)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SAVE_TARGET_MS = RESTORE_TARGET_MS = 500.0


def _timed(samples: list[float], work: Callable[[], Any]) -> Any:
    began = time.perf_counter()
    value = work()
    samples.append(time.perf_counter() - began)
    return value


def bench_snapshots(reps: int, log: Callable[[str], None], summary: Callable[[list[float]], dict[str, Any]],
                    php: str) -> dict[str, Any]:
    from mybb_mcp.config import Config
    from mybb_mcp.forum.install import InstallRequest, install_forum
    from mybb_mcp.orchestration import ServerOrchestrationService

    archive = archive_path()
    if not archive.is_file():
        return {"error": f"no MyBB archive at {archive} (set MYBB_TEST_ARCHIVE)"}
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mybb-bench-snap-") as tmp:
        try:
            began = time.perf_counter()
            installed = install_forum(InstallRequest(source=archive, root=Path(tmp) / "repo" / "TestForum",
                                                     bburl="http://127.0.0.1:8022", php=php))
            log(f"installed MyBB for the snapshot benchmark in {time.perf_counter() - began:.1f} s")
            db_file = installed.database.path
            assert db_file is not None
            service = ServerOrchestrationService(Config(mybb_root=installed.root, php=php))
            save: list[float] = []
            restore: list[float] = []
            diff: list[float] = []
            backup: list[float] = []
            copy: list[float] = []
            first = service.forum.snapshot("save", "warm-up")  # warm-up: page cache, imports
            if not first.ok:
                raise RuntimeError(f"save failed: {first.message}")
            service.forum.snapshot("restore", "warm-up")
            for i in range(reps):
                result = _timed(save, lambda: service.forum.snapshot("save", f"bench-{i}"))
                if not result.ok:
                    raise RuntimeError(f"save #{i} failed: {result.message}")
                result = _timed(restore, lambda: service.forum.snapshot("restore", f"bench-{i}"))
                if not result.ok:
                    raise RuntimeError(f"restore #{i} failed: {result.message}")
                result = _timed(diff, lambda: service.forum.snapshot("diff", f"bench-{i}"))
                if not result.ok:
                    raise RuntimeError(f"diff #{i} failed: {result.message}")
                target = Path(tmp) / f"backup-{i}.sqlite"
                with closing(sqlite3.connect(db_file)) as source, closing(sqlite3.connect(target)) as dest:
                    _timed(backup, lambda: source.backup(dest))
                _timed(copy, lambda: subprocess.run(["cp", "--", str(db_file), str(Path(tmp) / f"cp-{i}.sqlite")],
                                                    check=True))
            info = service.forum.snapshot("list").snapshots[-1]
            out.update({
                "save": summary(save), "restore": summary(restore), "diff": summary(diff),
                "raw_backup": summary(backup), "raw_cp": summary(copy),
                "database_bytes": db_file.stat().st_size, "snapshot_bytes": info.size_bytes, "files": info.files,
            })
            log(f"snapshot save {out['save']['median_ms']:.1f} ms; restore {out['restore']['median_ms']:.1f} ms; "
                f"diff {out['diff']['median_ms']:.1f} ms; sqlite3 backup {out['raw_backup']['median_ms']:.1f} ms; "
                f"cp {out['raw_cp']['median_ms']:.1f} ms")
        except Exception as exc:  # report what was measured and why the rest is missing
            out["error"] = f"{type(exc).__name__}: {exc}"
            log(f"snapshot benchmark failed: {out['error']}")
    return out


def rows(result: dict[str, Any], fmt_ms: Callable[[float], str]) -> list[list[str]]:
    """Rows for the report: measurement, median, min, max, n."""
    found = []
    for key, label in (("save", "service.forum.snapshot('save') (database + 42 files)"),
                       ("restore", "service.forum.snapshot('restore') (incl. the automatic snapshot)"),
                       ("diff", "service.forum.snapshot('diff')"),
                       ("raw_backup", "sqlite3 backup API of the database (reference)"),
                       ("raw_cp", "cp of the database file (reference)")):
        r = result.get(key)
        if r:
            found.append([label, fmt_ms(r["median_ms"]), fmt_ms(r["min_ms"]), fmt_ms(r["max_ms"]), str(r["n"])])
    return found


def targets(result: dict[str, Any], fmt_ms: Callable[[float], str]) -> list[tuple[str, str, bool | None]]:
    if "save" not in result:
        return [("snapshot save / restore <= 500 ms (fresh forum, SQLite)", result.get("error", "not run"), None)]
    save, restore = result["save"]["median_ms"], result["restore"]["median_ms"]
    return [("snapshot save <= 500 ms (fresh forum, SQLite)", f"{fmt_ms(save)} ms", save <= SAVE_TARGET_MS),
            ("snapshot restore <= 500 ms (fresh forum, SQLite)", f"{fmt_ms(restore)} ms", restore <= RESTORE_TARGET_MS)]


def main() -> int:
    sys.path.insert(0, str(BENCH_DIR))
    import run

    php = os.environ.get("MYBB_PHP") or shutil.which("php") or "php"
    result = bench_snapshots(5, lambda m: print(f"[bench] {m}", file=sys.stderr), run.summary, php)
    print(run.table(["measurement", "median ms", "min ms", "max ms", "n"], rows(result, run.fmt_ms)))
    for name, measured, ok in targets(result, run.fmt_ms):
        print(f"{name}: {measured} {'n/a' if ok is None else 'PASS' if ok else 'FAIL'}")
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
