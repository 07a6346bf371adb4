"""Lifecycle against a real `php -S` serving the fixture docroot."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from mybb_mcp.answers.logs import render_log_query
from mybb_mcp.orchestration import Failure, LogQueryOptions, ServerOrchestrationService
from tests.conftest import free_port, http_get


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_start_serves_the_forum_and_records_php_itself(service: ServerOrchestrationService, port: int) -> None:
    result = service.start()
    assert result.success, result
    assert result.port == port and result.url == f"http://127.0.0.1:{port}"
    # Start returns only once the server answers: no retry needed here.
    assert http_get(f"{result.url}/index.php") == (200, "forum index")

    state = json.loads(service.config.state_file.read_text())
    php = psutil.Process(state["pid"])
    assert php.pid == result.pid
    assert "php" in php.name()
    assert php.cmdline() == state["cmdline"]
    assert ["-S", f"127.0.0.1:{port}"] == state["cmdline"][state["cmdline"].index("-S"):][:2]
    assert os.getpgid(php.pid) == php.pid  # its own process group
    assert abs(php.create_time() - state["create_time"]) < 0.05


def test_start_twice_refuses_with_port_pid_and_uptime(service: ServerOrchestrationService) -> None:
    first = service.start()
    second = service.start()
    assert not second.success
    assert second.failure is Failure.ALREADY_RUNNING
    assert (second.pid, second.port) == (first.pid, first.port)
    assert second.uptime_seconds is not None and second.uptime_seconds >= 0


def test_start_with_force_replaces_the_running_server(service: ServerOrchestrationService) -> None:
    first = service.start()
    second = service.start(force=True)
    assert second.success and second.pid != first.pid
    assert not psutil.pid_exists(first.pid) or psutil.Process(first.pid).status() == psutil.STATUS_ZOMBIE


def test_port_held_by_a_foreign_program_is_named_and_left_alone(service: ServerOrchestrationService, port: int) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = service.start()
        assert result.failure is Failure.PORT_IN_USE
        assert result.port_owner is not None and result.port_owner.pid == os.getpid()
        assert not service.config.state_file.exists()
        stop = service.stop()
        assert stop.failure is Failure.NOT_OURS
        status = service.get_status()
        assert not status.running and status.foreign is not None and status.foreign.pid == os.getpid()
        # The listener is still ours and still listening.
        assert holder.fileno() != -1


def test_php_exiting_during_start_reports_its_reason(make_service: Callable[..., ServerOrchestrationService]) -> None:
    service = make_service(host="999.1.1.1")
    result = service.start()
    assert not result.success
    assert result.failure is Failure.PHP_EXITED
    assert result.reason is not None and "Failed to listen on 999.1.1.1" in result.reason
    assert not service.config.state_file.exists()


def test_start_rotates_the_previous_log(service: ServerOrchestrationService) -> None:
    service.start()
    service.stop()
    first_log = service.config.log_file.read_text()
    service.start()
    assert service.config.log_file.with_name("server.log.1").read_text() == first_log
    assert "Development Server" in first_log


def test_stop_ends_the_server_frees_the_port_and_keeps_the_log(service: ServerOrchestrationService) -> None:
    started = service.start()
    http_get(f"{started.url}/ok.php")
    stopped = service.stop()
    assert stopped.success, stopped
    assert stopped.pid == started.pid
    assert not service.config.state_file.exists()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", started.port)) != 0
    assert "GET /ok.php" in service.config.log_file.read_text()
    again = service.stop()
    assert again.failure is Failure.NOT_RUNNING


def test_restart_comes_back_on_the_same_port(make_service: Callable[..., ServerOrchestrationService]) -> None:
    service = make_service()
    other_port = free_port()
    first = service.start(other_port)
    restarted = service.restart()
    assert restarted.success and restarted.action == "restart"
    assert restarted.port == other_port and restarted.pid != first.pid
    assert http_get(f"{restarted.url}/ok.php")[0] == 200


def test_status_running_and_stopped(service: ServerOrchestrationService) -> None:
    assert service.get_status().running is False
    started = service.start()
    status = service.get_status()
    assert status.running and status.pid == started.pid and status.url == started.url
    assert status.log_size and status.log_size > 0
    service.stop()
    assert service.get_status().running is False


def test_a_killed_server_is_reported_dead_with_its_last_errors(service: ServerOrchestrationService) -> None:
    started = service.start()
    http_get(f"{started.url}/exception.php")
    os.kill(started.pid, signal.SIGKILL)
    assert wait_for(lambda: not service._validate_state(service._read_state() or {}))
    status = service.get_status()
    assert not status.running
    assert status.died is not None and status.died.pid == started.pid
    assert "SIGKILL" in status.died.how
    assert status.died.ended_at is not None and status.died.ended_at.timestamp() <= time.time()
    assert any("Thread 42 not found" in entry.message for entry in status.died.last_errors)
    assert service.config.state_file.exists()  # the crash record stays until the next start
    assert service.start().success  # the next start works


def test_errors_reach_the_log_as_whole_entries(service: ServerOrchestrationService) -> None:
    started = service.start()
    for page in ("warning.php", "exception.php", "parse_error.php", "nope.php", "images/logo.png"):
        http_get(f"{started.url}/{page}")
    result = service.logs.search_logs(LogQueryOptions(errors_only=True, limit=50))
    levels = {entry.level for entry in result.entries}
    assert {"warning", "exception", "parse", "http_4xx"} <= levels
    trace = next(e for e in result.entries if e.level == "exception" and e.event_type == "error")
    assert any("thrown in" in line for line in trace.continuation)
    assert not any(entry.path == "/images/logo.png" for entry in result.entries)
    markdown = render_log_query(service.logs.search_logs(LogQueryOptions(errors_only=True)))
    assert markdown.startswith("# Server Logs")
    assert "Thread 42 not found" in markdown


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo"])
def test_since_minutes_is_right_whatever_the_server_timezone(
    service: ServerOrchestrationService, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    monkeypatch.setenv("TZ", zone)  # PHP inherits it and stamps its log in that local time
    started = service.start()
    http_get(f"{started.url}/warning.php")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        recent = service.logs.search_logs(LogQueryOptions(since_minutes=1, errors_only=True))
        assert any(entry.level == "warning" for entry in recent.entries)
        # Shift the query's clock two hours ahead: nothing is that recent any more.
        service.site.clock = lambda: time.time() + 7200
        later = service.logs.search_logs(LogQueryOptions(since_minutes=60, errors_only=True))
        assert later.entries == []
    finally:
        monkeypatch.undo()
        time.tzset()


def test_missing_forum_root_is_refused_and_changes_nothing(make_service: Callable[..., ServerOrchestrationService],
                                                            forum: Path) -> None:
    service = make_service(mybb_root=forum.parent / "no-such-forum")
    result = service.start()
    assert result.failure is Failure.BAD_FORUM_ROOT
    assert "no-such-forum" in result.message
    assert not service.config.state_file.exists() and not service.config.log_dir.exists()


def test_restart_keeps_the_host_it_ran_on(service: ServerOrchestrationService) -> None:
    first = service.start(host="127.0.0.2")  # loopback, but not the configured 127.0.0.1
    restarted = service.restart()
    assert restarted.success, restarted
    assert (restarted.host, restarted.port) == ("127.0.0.2", first.port)
    assert http_get(f"{restarted.url}/ok.php") == (200, "ok")


def test_a_death_report_names_the_program_that_took_the_pid() -> None:
    from mybb_mcp.answers.status import render_status
    from mybb_mcp.results import DeathReport, ServerStatus

    died = DeathReport(4242, 8022, "2026-11-25T07:00:00+00:00", None, "ended; its PID now belongs to an "
                       "unrelated process, which was not touched", pid_reused_by="/usr/bin/vim notes.txt")
    text = render_status(ServerStatus(running=False, port=8022, died=died))
    assert "## The server died unexpectedly" in text
    assert "`/usr/bin/vim notes.txt`" in text and "left alone" in text
