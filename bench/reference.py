"""Benchmark: the forum's reference and its doctor on a fresh MyBB 1.8.37 (SQLite).

    python bench/reference.py [--reps N] [--strict]

- reference built cold: a fresh Python process answers `ref postbit` (every kind: the file index, the
  hook index and the database read with MyBB booted), timed inside it from the first call to the answer.
- each look-up over MCP: `mybb_forum_reference` through the SDK's in-process client, after one warm-up
  call: `postbit` (every kind), `build_postbit`, `template postbit`, `hook` size, a search.
- doctor: `mybb_forum_doctor` over MCP (every check, MyBB booted once).

Targets (issue 33): cold build <= 3 s, each look-up <= 300 ms, doctor < 2 s. MyBB is installed once by
the product's installer from MYBB_TEST_ARCHIVE (else <repo>/../shared/mybb/mybb_1837.tar.gz).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archive import archive_path  # bench/archive.py (bench/ is first on sys.path for a script)

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "mybb_mcp"))

COLD = """
import json, sys, time
from pathlib import Path
from mybb_mcp.config import Config
from mybb_mcp.orchestration import ServerOrchestrationService
service = ServerOrchestrationService(Config(mybb_root=Path(sys.argv[1]), php=sys.argv[2]))
began = time.perf_counter()
answer = service.forum.reference(None, "postbit", None)
print(json.dumps({"seconds": time.perf_counter() - began, "hooks": len(answer.hooks),
                  "templates": len(answer.templates)}))
"""

LOOKUPS = {
    "ref postbit": {"name": "postbit"},
    "ref build_postbit": {"name": "build_postbit"},
    "ref template postbit": {"kind": "template", "name": "postbit"},
    "ref hook (index size)": {"kind": "hook"},
    "ref search 'post bit'": {"search": "post bit"},
}


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def install(base: Path, php: str) -> Path:
    from mybb_mcp.forum.install import InstallRequest, install_forum

    result = install_forum(InstallRequest(source=archive_path(), root=base / "forum", bburl="http://127.0.0.1:8022",
                                          php=php, admin_user="admin", board_name="Bench"))
    return result.root


def cold(root: Path, php: str, reps: int) -> list[float]:
    samples = []
    for _ in range(reps):
        out = subprocess.run([sys.executable, "-c", COLD, str(root), php], capture_output=True, text=True,
                             check=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "mybb_mcp")})
        samples.append(json.loads(out.stdout)["seconds"])
    return samples


def over_mcp(root: Path, php: str, reps: int) -> dict[str, list[float]]:
    import anyio
    from mcp import Client

    from mybb_mcp.server import server

    os.environ.update({"MYBB_ROOT": str(root), "MYBB_PHP": php})
    calls = {**{k: ("mybb_forum_reference", v) for k, v in LOOKUPS.items()}, "doctor": ("mybb_forum_doctor", {})}

    async def go() -> dict[str, list[float]]:
        timings: dict[str, list[float]] = {name: [] for name in calls}
        async with Client(server) as client:
            for name, (tool, args) in calls.items():
                await client.call_tool(tool, args)  # warm-up
                for _ in range(reps):
                    began = time.perf_counter()
                    result = await client.call_tool(tool, args)
                    timings[name].append(time.perf_counter() - began)
                    assert not result.is_error, (name, result)
        return timings

    return anyio.run(go)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    php = os.environ.get("MYBB_PHP") or shutil.which("php") or "php"
    if not archive_path().is_file():
        print(f"MyBB archive not found at {archive_path()}: nothing measured.")
        return 0
    base = Path(tempfile.mkdtemp(prefix="mybb-bench-reference-"))
    try:
        print("installing MyBB 1.8.37 ...", file=sys.stderr)
        root = install(base, php)
        cold_samples = cold(root, php, args.reps)
        warm = over_mcp(root, php, args.reps)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rows = [("reference built cold (ref postbit, fresh process)", median_ms(cold_samples), 3000.0)]
    rows += [(f"{name} over MCP", median_ms(samples), 300.0) for name, samples in warm.items() if name != "doctor"]
    rows.append(("doctor over MCP (every check)", median_ms(warm["doctor"]), 2000.0))
    print(f"| measured (median of {args.reps}) | ms | target ms | result |\n|---|---|---|---|")
    failed = 0
    for name, value, target in rows:
        ok = value <= target
        failed += not ok
        print(f"| {name} | {value:.0f} | ≤ {target:.0f} | {'PASS' if ok else 'FAIL'} |")
    print(f"\n{len(rows) - failed} of {len(rows)} targets pass")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
