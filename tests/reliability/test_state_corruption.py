"""Fault 7: a corrupt, empty, truncated or future-version state file.

Status and start must still work, and say what they did with the file: it is
moved aside to `.mybb-server.json.bad` (kept for inspection, byte for byte)
and the answer names the reason.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from mybb_mcp.answers.lifecycle import render_result
from mybb_mcp.answers.status import render_status
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.conftest import http_get
from tests.reliability.conftest import php_servers


def good_state(service: ServerOrchestrationService) -> dict[str, Any]:
    """A well-formed state naming a PID that is not running (the shape a real start writes)."""
    root = service.config.mybb_root
    return {
        "version": 1, "pid": 4_000_000, "create_time": 1_795_000_000.12,
        "cmdline": ["php", "-S", f"127.0.0.1:{service.config.port}", "-t", str(root)],
        "host": "127.0.0.1", "port": service.config.port, "workers": 1,
        "started_at": "2026-11-24T05:47:26+00:00", "log_file": str(service.config.log_file),
        "mybb_root": str(root),
    }


def with_(**changes: Any) -> Callable[[dict[str, Any]], bytes]:
    def make(state: dict[str, Any]) -> bytes:
        return json.dumps({**state, **changes}).encode()
    return make


def without(name: str) -> Callable[[dict[str, Any]], bytes]:
    def make(state: dict[str, Any]) -> bytes:
        return json.dumps({k: v for k, v in state.items() if k != name}).encode()
    return make


def raw(data: bytes) -> Callable[[dict[str, Any]], bytes]:
    return lambda state: data


CORRUPTIONS: dict[str, tuple[Callable[[dict[str, Any]], bytes], str]] = {
    # name: (content, words the reason must contain)
    "empty": (raw(b""), "empty"),
    "whitespace": (raw(b"  \n\t\n"), "empty"),
    "truncated": (lambda s: json.dumps(s).encode()[:57], "not valid JSON"),
    "binary": (raw(b"\x00\xff\xfe\x01garbage\x00"), "not valid JSON"),
    "not_utf8": (raw(b'{"pid": "\xff\xfe"}'), "not valid JSON"),
    "list": (raw(b"[1, 2, 3]"), "not a JSON object"),
    "null": (raw(b"null"), "not a JSON object"),
    "string": (raw(b'"hello"'), "not a JSON object"),
    "deeply_nested": (raw(b"[" * 200_000), "not valid JSON"),
    "future_version": (with_(version=99), "newer"),
    "no_version": (without("version"), "version"),
    "version_string": (with_(version="1"), "version"),
    "no_pid": (without("pid"), "pid"),
    "pid_string": (with_(pid="123"), "pid"),
    "pid_bool": (with_(pid=True), "pid"),
    "pid_negative": (with_(pid=-1), "pid"),
    "pid_zero": (with_(pid=0), "pid"),
    "pid_huge": (with_(pid=2**64), "pid"),
    "pid_float": (with_(pid=12.5), "pid"),
    "create_time_string": (with_(create_time="yesterday"), "create_time"),
    "create_time_nan": (lambda s: json.dumps({**s, "create_time": float("nan")}).encode(), "create_time"),
    "create_time_negative": (with_(create_time=-5), "create_time"),
    "cmdline_string": (with_(cmdline="php -S 127.0.0.1:8022"), "cmdline"),
    "cmdline_empty": (with_(cmdline=[]), "cmdline"),
    "cmdline_numbers": (with_(cmdline=[1, 2]), "cmdline"),
    "port_zero": (with_(port=0), "port"),
    "port_too_big": (with_(port=70000), "port"),
    "host_empty": (with_(host=""), "host"),
    "host_number": (with_(host=127), "host"),
    "workers_string": (with_(workers="three"), "workers"),
    "log_file_number": (with_(log_file=5), "log_file"),
    "started_at_number": (with_(started_at=5), "started_at"),
}


def plant(service: ServerOrchestrationService, name: str) -> bytes:
    make, _ = CORRUPTIONS[name]
    data = make(good_state(service))
    service.config.state_file.parent.mkdir(parents=True, exist_ok=True)
    service.config.state_file.write_bytes(data)
    service.config.state_file.chmod(0o600)  # our own file: only its content is corrupt
    return data


def assert_set_aside(service: ServerOrchestrationService, notes: list[str], name: str, data: bytes) -> None:
    _, reason = CORRUPTIONS[name]
    bad = service.config.state_file.with_name(".mybb-server.json.bad")
    assert bad.read_bytes() == data, "the unusable state file was not kept as it was"
    said = [note for note in notes if ".mybb-server.json" in note]
    assert said, f"nothing said what was done with the state file: {notes}"
    assert reason in said[0] and ".bad" in said[0], said[0]


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_status_survives_and_says_what_it_did(name: str, service: ServerOrchestrationService) -> None:
    data = plant(service, name)
    status = service.get_status()
    assert status.running is False and status.died is None
    assert_set_aside(service, status.notes, name, data)
    assert not service.config.state_file.exists()
    assert ".mybb-server.json.bad" in render_status(status)
    # Said once: the next status has nothing to report about it.
    assert not [note for note in service.get_status().notes if ".mybb-server.json" in note]


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_start_survives_and_says_what_it_did(name: str, service: ServerOrchestrationService) -> None:
    data = plant(service, name)
    started = service.start()
    assert started.success, started
    assert http_get(f"{started.url}/ok.php") == (200, "ok")
    assert_set_aside(service, started.notes, name, data)
    assert ".mybb-server.json.bad" in render_result(started)
    state = json.loads(service.config.state_file.read_text())  # replaced by a whole, valid one
    assert state["pid"] == started.pid and state["version"] == 1
    assert [p.pid for p in php_servers(service.config.mybb_root)] == [started.pid]


def test_a_directory_in_place_of_the_state_file(service: ServerOrchestrationService) -> None:
    service.config.state_file.mkdir(parents=True)
    status = service.get_status()
    assert status.running is False
    assert any("is a directory, not a regular file" in note for note in status.notes), status.notes
    started = service.start()
    assert started.success, started
    assert service.config.state_file.is_file()


@pytest.mark.parametrize("op", ["stop", "stop_force", "restart", "logs"])
def test_other_operations_survive_a_corrupt_state_file(op: str, service: ServerOrchestrationService) -> None:
    from mybb_mcp.orchestration import LogQueryOptions

    for name in ("truncated", "pid_negative", "future_version"):
        plant(service, name)
        if op == "stop":
            result: Any = service.stop()
        elif op == "stop_force":
            result = service.stop(force=True)
        elif op == "restart":
            result = service.restart()
            assert result.success, result
            assert service.stop().success
        else:
            service.logs.search_logs(LogQueryOptions())
            continue
        if op != "restart":
            assert not result.success and result.failure is not None and result.failure.value == "not_running"
            assert any(".mybb-server.json.bad" in note for note in result.notes), result.notes


def test_a_state_file_left_by_a_crashed_writer_is_never_read_half_written(
    service: ServerOrchestrationService,
) -> None:
    """Writes are atomic: a temporary file (as a writer killed mid-write leaves) is not the state,
    and later writes use their own unique temporary names."""
    started = service.start()
    leftover = service.config.state_file.with_name(".mybb-server.json.12345.999.tmp")
    leftover.write_bytes(b'{"version": 1, "pid": ')
    assert service.get_status().running
    assert service.restart().success
    assert leftover.read_bytes() == b'{"version": 1, "pid": '  # not ours to remove, not mistaken for state
    assert json.loads(service.config.state_file.read_text())["pid"] != started.pid
    assert os.stat(service.config.state_file).st_mode & 0o777 == 0o600
