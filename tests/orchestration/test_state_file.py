"""The state file: atomic round trip, modes, identity validation, tolerance of bad files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from mybb_mcp.config import Config
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.orchestration.state import STATE_VERSION, StateFile


@pytest.fixture
def svc(forum: Path) -> ServerOrchestrationService:
    return ServerOrchestrationService(Config(mybb_root=forum))


def own_identity() -> dict[str, object]:
    me = psutil.Process()
    return {"pid": me.pid, "create_time": me.create_time(), "cmdline": me.cmdline(), "host": "127.0.0.1", "port": 1}


def test_round_trip_adds_version(svc: ServerOrchestrationService) -> None:
    svc._write_state({**own_identity(), "started_at": "2026-11-25T07:00:00+00:00"})
    state = svc._read_state()
    assert state is not None
    assert state["version"] == STATE_VERSION
    assert state["pid"] == os.getpid()
    assert state["started_at"] == "2026-11-25T07:00:00+00:00"


def test_missing_file_reads_none(svc: ServerOrchestrationService) -> None:
    assert svc._read_state() is None


def test_state_file_is_private_and_leaves_no_temp_files(svc: ServerOrchestrationService) -> None:
    svc._write_state(own_identity())
    path = svc.config.state_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_validate_accepts_the_same_live_process(svc: ServerOrchestrationService) -> None:
    assert svc._validate_state(own_identity()) is True


def test_validate_rejects_a_dead_pid(svc: ServerOrchestrationService) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert svc._validate_state({**own_identity(), "pid": child.pid}) is False


def test_validate_rejects_a_recycled_pid(svc: ServerOrchestrationService) -> None:
    # Same PID, different start time: what a PID reused by another program looks like.
    identity = own_identity()
    identity["create_time"] = float(identity["create_time"]) - 3600  # type: ignore[arg-type]
    assert svc._validate_state(identity) is False


def test_validate_rejects_another_command_line(svc: ServerOrchestrationService) -> None:
    assert svc._validate_state({**own_identity(), "cmdline": ["php", "-S", "127.0.0.1:1"]}) is False


def test_clear_removes_the_file(svc: ServerOrchestrationService) -> None:
    svc._write_state(own_identity())
    svc._clear_state()
    assert not svc.config.state_file.exists()
    svc._clear_state()  # clearing twice is fine


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "empty"),
        (b'{"version": 1, "pid": 12', "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"version": 99, "pid": 1}).encode(), "newer mybb-mcp"),
        (json.dumps({"version": 1, "pid": "x"}).encode(), "'pid'"),
    ],
)
def test_unusable_files_are_reported_not_trusted(tmp_path: Path, content: bytes, problem: str) -> None:
    state = StateFile(tmp_path / ".mybb-server.json", tmp_path / ".lock")
    state.path.write_bytes(content)
    state.path.chmod(0o600)  # as this tool writes it: the content is what is under test
    read = state.read()
    assert read.state is None
    assert read.problem is not None and problem in read.problem


def test_status_sets_an_unusable_state_file_aside_and_says_so(svc: ServerOrchestrationService) -> None:
    svc.config.state_file.write_text('{"version": 1, "pid": 12')
    svc.config.state_file.chmod(0o600)
    status = svc.get_status()
    assert status.running is False
    assert any("not valid JSON" in note and ".mybb-server.json.bad" in note for note in status.notes)
    assert not svc.config.state_file.exists()
    assert svc.config.state_file.with_name(".mybb-server.json.bad").read_text() == '{"version": 1, "pid": 12'
