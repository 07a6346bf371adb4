"""Benchmark: the workbench over MCP (sql, php, members) on a fresh MyBB on SQLite, next to raw tools.

    python bench/workbench.py [--reps N]

MyBB 1.8.37 is installed once by the product's own installer from MYBB_TEST_ARCHIVE (else
<repo>/../shared/mybb/mybb_1837.tar.gz) into a temporary folder, plus a 1,000-row table `mybb_bench`.
Each value is the median of N timed runs after one untimed warm-up. MCP calls go through the SDK's
in-process client (`mcp.Client(mybb_mcp.server.server)`), timing the call only. References: the
sqlite3 CLI on the same query and database; PHP CLI booting MyBB's inc/init.php by hand and returning 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from archive import archive_path  # bench/archive.py (bench/ is first on sys.path for a script)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
QUERY = "SELECT * FROM mybb_bench"
TARGETS_MS = {"sql": 50.0, "php": 150.0, "member": 500.0}
BOOT_BY_HAND = ("define('IN_MYBB', 1); $_SERVER['REQUEST_METHOD'] = 'GET'; chdir($argv[1]); "
                "require $argv[1] . '/inc/init.php'; echo 1;")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def _mcp_samples(reps: int, root: Path, php: str) -> dict[str, list[float]]:
    from mcp import Client

    from mybb_mcp.server import server

    os.environ.update({"MYBB_ROOT": str(root), "MYBB_PHP": php, "MYBB_ALLOW_PHP": "1"})
    out: dict[str, list[float]] = {"sql": [], "php": [], "member": []}
    async with Client(server) as client:
        calls = {
            "sql": lambda i: ("mybb_forum_sql", {"sql": QUERY}),
            "php": lambda i: ("mybb_forum_php", {"code": "return 1;"}),
            "member": lambda i: ("mybb_forum_members", {"action": "add", "name": f"bench{i:04d}"}),
        }
        for name, make in calls.items():
            for i in range(reps + 1):
                tool, args = make(i)
                began = time.perf_counter()
                result = await client.call_tool(tool, args)
                elapsed = time.perf_counter() - began
                assert not result.is_error, result.content[0]
                if i:  # the first is the warm-up
                    out[name].append(elapsed)
    return out


def _raw_samples(reps: int, argv: list[str]) -> list[float]:
    samples = []
    for i in range(reps + 1):
        began = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        if i:
            samples.append(time.perf_counter() - began)
    return samples


def bench_workbench(reps: int, php: str) -> dict[str, Any]:
    from mybb_mcp.forum.install import InstallRequest, install_forum

    archive = archive_path()
    if not archive.is_file():
        return {"error": f"no MyBB archive at {archive} (set MYBB_TEST_ARCHIVE)"}
    with tempfile.TemporaryDirectory(prefix="mybb-bench-wb-") as tmp:
        installed = install_forum(InstallRequest(source=archive, root=Path(tmp) / "repo" / "TestForum",
                                                 bburl="http://127.0.0.1:8022", php=php))
        db_file = installed.database.path
        assert db_file is not None
        with sqlite3.connect(db_file) as conn:
            conn.execute("CREATE TABLE mybb_bench (id INTEGER PRIMARY KEY, name TEXT, value INTEGER, note TEXT)")
            conn.executemany("INSERT INTO mybb_bench (name, value, note) VALUES (?, ?, ?)",
                             [(f"row {i}", i * 7, "x" * 40) for i in range(1000)])
        conn.close()
        mcp = asyncio.run(_mcp_samples(reps, installed.root, php))
        sqlite_cli = shutil.which("sqlite3")
        raw_sql = _raw_samples(reps, [sqlite_cli, str(db_file), QUERY]) if sqlite_cli else []
        raw_php = _raw_samples(reps, [php, "-r", BOOT_BY_HAND, str(installed.root)])
    return {"mcp": mcp, "raw_sql": raw_sql, "raw_php": raw_php}


def table(results: dict[str, Any]) -> str:
    if "error" in results:
        return f"Workbench: not run ({results['error']}).\n"
    mcp = results["mcp"]
    rows = [
        ("`mybb_forum_sql` over MCP, 1,000-row table (20 shown, total counted)", median_ms(mcp["sql"]),
         "sqlite3 CLI, same query (all 1,000 rows)", median_ms(results["raw_sql"]) if results["raw_sql"] else None,
         TARGETS_MS["sql"]),
        ("`mybb_forum_php` over MCP, `return 1;` (global.php booted)", median_ms(mcp["php"]),
         "php -r booting inc/init.php by hand", median_ms(results["raw_php"]), TARGETS_MS["php"]),
        ("`mybb_forum_members` add over MCP (UserDataHandler)", median_ms(mcp["member"]), "—", None,
         TARGETS_MS["member"]),
    ]
    out = ["| measurement | median | reference | reference median | ratio | target |", "|---|---|---|---|---|---|"]
    for label, ms, ref, ref_ms, target in rows:
        ratio = f"{ms / ref_ms:.1f}×" if ref_ms else "—"
        ref_text = f"{ref_ms:.1f} ms" if ref_ms else "—"
        verdict = "met" if ms <= target else "MISSED"
        out.append(f"| {label} | {ms:.1f} ms | {ref} | {ref_text} | {ratio} | ≤ {target:.0f} ms ({verdict}) |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))
    php = os.environ.get("MYBB_PHP") or shutil.which("php") or "php"
    print(table(bench_workbench(args.reps, php)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
