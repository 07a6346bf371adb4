"""`./dev`, the one entry point: its usage names every mybb-server command, and it passes what it does not
know itself to mybb-server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mybb_mcp.cli.app import COMMANDS

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "dev"


def run_dev(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DEV), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, cwd=REPO)


def test_the_usage_lists_every_command() -> None:
    shown = run_dev("help")
    assert shown.returncode == 0
    usage = shown.stderr
    assert {name for name in COMMANDS if name not in usage} == set()
    assert "./dev test" in usage and "./dev mcp" in usage


def test_no_command_prints_the_usage_and_fails() -> None:
    bare = run_dev()
    assert bare.returncode == 2 and "./dev test" in bare.stderr


@pytest.mark.skipif(not (REPO / ".venv" / ".installed").exists(), reason="no .venv yet (./dev test makes it)")
def test_what_dev_does_not_know_goes_to_mybb_server(tmp_path: Path) -> None:
    version = run_dev("--version")
    assert version.returncode == 0 and version.stdout.startswith("mybb-server ")
    listed = run_dev("snapshot", "list", "--json", env={"MYBB_ROOT": str(tmp_path / "no-forum")})
    assert "snapshot" in listed.stdout + listed.stderr and "usage: dev" not in listed.stderr
