"""Fault 1: the state file names a PID that now belongs to another process.

The PID was recycled (by an unrelated program, or by the same program run
again), or the state file was copied from another machine. Status must say
the server is not running, and no call - `force` included - may signal that
process. The imposter records every signal it receives.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mybb_mcp.answers.status import render_status
from mybb_mcp.orchestration import Failure, LogQueryOptions, ServerOrchestrationService
from tests.reliability.conftest import Imposter, php_servers

OPERATIONS: dict[str, Callable[[ServerOrchestrationService], Any]] = {
    "status": lambda s: s.get_status(),
    "stop": lambda s: s.stop(),
    "stop_force": lambda s: s.stop(force=True),
    "start_force": lambda s: s.start(force=True),
    "restart": lambda s: s.restart(),
    "logs": lambda s: s.logs.search_logs(LogQueryOptions(errors_only=True)),
}


@pytest.fixture
def real_state(service: ServerOrchestrationService) -> dict[str, Any]:
    """The state a real start wrote (then stopped): the template a recycled PID is put into."""
    started = service.start()
    assert started.success, started
    state = json.loads(service.config.state_file.read_text())
    assert service.stop().success
    return state


def plant(service: ServerOrchestrationService, state: dict[str, Any], **changes: Any) -> None:
    service.config.state_file.write_text(json.dumps({**state, **changes}))
    service.config.state_file.chmod(0o600)  # our own file, as a real start writes it


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_recycled_pid_is_not_ours_and_is_never_signalled(
    operation: str, service: ServerOrchestrationService, real_state: dict[str, Any],
    imposter: Callable[..., Imposter],
) -> None:
    fake = imposter()
    plant(service, real_state, pid=fake.pid)

    result = OPERATIONS[operation](service)

    fake.assert_untouched()
    if operation in ("start_force", "restart"):
        # The stale state was cleared and a server of our own started; stopping it spares the imposter too.
        assert result.success and result.pid != fake.pid, result
        assert service.stop(force=True).success
        fake.assert_untouched()
    elif operation in ("stop", "stop_force"):
        assert result.failure is Failure.NOT_RUNNING
    # Status, on the same planted state, says plainly that this is not our server.
    plant(service, real_state, pid=fake.pid)
    status = service.get_status()
    fake.assert_untouched()
    assert status.running is False
    assert status.died is not None and status.died.pid == fake.pid
    assert status.died.pid_reused_by and "imposter.py" in status.died.pid_reused_by
    assert "unrelated" in status.died.how
    text = render_status(status)
    assert "unrelated" in text and "not touched" in text and str(fake.pid) in text


def test_status_of_a_recycled_pid_says_not_running_and_keeps_the_crash_record(
    service: ServerOrchestrationService, real_state: dict[str, Any], imposter: Callable[..., Imposter],
) -> None:
    fake = imposter()
    plant(service, real_state, pid=fake.pid)
    status = service.get_status()
    assert status.running is False and status.pid is None
    assert status.died is not None and status.died.pid == fake.pid
    assert service.config.state_file.exists()  # status is read-only: the next start clears the record
    text = render_status(status)
    assert text.startswith("# Server Status: Died")
    assert "unrelated" in text and str(fake.pid) in text
    fake.assert_untouched()


@pytest.mark.parametrize("operation", ["status", "stop_force", "start_force", "restart"])
def test_a_pid_recycled_by_the_same_program_with_children_is_not_ours(
    operation: str, service: ServerOrchestrationService, real_state: dict[str, Any],
    imposter: Callable[..., Imposter],
) -> None:
    """Same command line, its own process group and session, forked children with that command line
    too - everything a worker pool of ours would show - but it started after the recorded start time:
    it is a new process on a recycled PID, and so are its children."""
    fake = imposter(children=2)
    plant(service, real_state, pid=fake.pid, cmdline=fake.cmdline, create_time=fake.create_time - 3600)

    status_before = service.get_status()
    assert status_before.running is False, "a recycled PID's group was taken for our workers"
    plant(service, real_state, pid=fake.pid, cmdline=fake.cmdline, create_time=fake.create_time - 3600)

    result = OPERATIONS[operation](service)

    fake.assert_untouched()
    if operation == "stop_force":
        assert result.failure is Failure.NOT_RUNNING


def test_a_state_file_copied_from_another_machine_names_a_local_process(
    service: ServerOrchestrationService, real_state: dict[str, Any], imposter: Callable[..., Imposter],
    port: int,
) -> None:
    """Another machine's state: its PID is alive here (the imposter), listening on the same port."""
    fake = imposter(listen=port)
    plant(service, real_state, pid=fake.pid, create_time=1_600_000_000.25,
          cmdline=["/usr/bin/php8.2", "-S", f"127.0.0.1:{port}", "-t", "/home/someone/else/forum"],
          mybb_root="/home/someone/else/forum", log_file="/home/someone/else/logs/server.log")

    status = service.get_status()
    assert status.running is False
    assert status.foreign is not None and status.foreign.pid == fake.pid
    assert "did not start" in render_status(status)

    for call in (lambda: service.stop(force=True), lambda: service.start(force=True), service.restart):
        plant(service, real_state, pid=fake.pid, create_time=1_600_000_000.25)
        result = call()
        assert not result.success
        assert result.failure in (Failure.NOT_OURS, Failure.PORT_IN_USE)
        assert result.port_owner is not None and result.port_owner.pid == fake.pid
        fake.assert_untouched()
    assert php_servers(service.config.mybb_root) == []


def test_a_state_file_naming_the_callers_own_pid_never_signals_it(
    service: ServerOrchestrationService, real_state: dict[str, Any],
) -> None:
    """The cruellest recycled PID: the MCP server (here, the test process) itself. If any call
    signalled it, this test process would die."""
    for call in (service.get_status, lambda: service.stop(force=True), lambda: service.start(force=True),
                 service.restart):
        plant(service, real_state, pid=os.getpid())
        result = call()
        if getattr(result, "success", False):  # start/restart cleared the stale state and started ours
            assert result.pid != os.getpid() and service.stop().success
    plant(service, real_state, pid=os.getpid())
    assert service.get_status().running is False


def test_the_state_from_a_real_start_is_what_these_tests_plant(real_state: dict[str, Any], forum: Path) -> None:
    """Guards the premise of this module: the template is a real state file, with identity fields."""
    assert {"pid", "create_time", "cmdline", "port", "host"} <= set(real_state)
    assert str(forum) in real_state["cmdline"]
