"""Fault 2: a server we did not start already listens on the port.

It is never taken for ours and never signalled: start refuses naming its PID
and program; stop and status say plainly that it is not ours. The foreign
server is either a python listener that records signals, or a real `php -S`
of the very same forum with our exact command line.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator

import psutil
import pytest

from mybb_mcp.answers.lifecycle import render_result
from mybb_mcp.answers.status import render_status
from mybb_mcp.orchestration import Failure, ServerOrchestrationService
from tests.conftest import http_get
from tests.reliability.conftest import TIMEOUT, Imposter, alive, php_servers, serves, wait_for


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0", "::"])
def test_a_foreign_listener_is_named_refused_and_never_signalled(
    bind: str, service: ServerOrchestrationService, imposter: Callable[..., Imposter], port: int,
) -> None:
    fake = imposter(listen=port, host=bind)

    for start in (service.start, lambda: service.start(force=True), service.restart):
        result = start()
        assert not result.success
        assert result.failure is Failure.PORT_IN_USE, result
        assert result.port_owner is not None and result.port_owner.pid == fake.pid
        assert "python" in (result.port_owner.name or "")
        text = render_result(result)
        assert text.startswith("# Error: Port In Use")
        assert f"PID {fake.pid}" in text and "python" in text
        fake.assert_untouched()

    for force in (False, True):
        stopped = service.stop(force=force)
        assert stopped.failure is Failure.NOT_OURS, stopped
        assert stopped.port_owner is not None and stopped.port_owner.pid == fake.pid
        text = render_result(stopped)
        assert f"PID {fake.pid}" in text and "did not start" in text and "not touched" in text
        fake.assert_untouched()

    status = service.get_status()
    assert status.running is False and status.pid is None
    assert status.foreign is not None and status.foreign.pid == fake.pid
    text = render_status(status)
    assert text.startswith("# Server Status: Stopped")
    assert f"PID {fake.pid}" in text and "did not start" in text

    fake.assert_untouched()
    assert not service.config.state_file.exists()
    assert php_servers(service.config.mybb_root) == []


@pytest.fixture
def foreign_php(service: ServerOrchestrationService) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """A `php -S` someone ran by hand: the exact command line we would use, in its own session."""
    started: list[subprocess.Popen[bytes]] = []

    def run() -> subprocess.Popen[bytes]:
        ours = service.start()
        assert ours.success, ours
        cmdline = json.loads(service.config.state_file.read_text())["cmdline"]
        assert service.stop().success
        proc = subprocess.Popen(cmdline, cwd=service.config.mybb_root, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        started.append(proc)
        assert wait_for(lambda: serves(f"http://127.0.0.1:{service.config.port}/ok.php"))
        return proc

    yield run
    for proc in started:
        proc.kill()
        proc.wait(TIMEOUT)


def test_a_foreign_php_with_our_exact_command_line_is_not_ours(
    service: ServerOrchestrationService, foreign_php: Callable[[], subprocess.Popen[bytes]],
) -> None:
    php = foreign_php()
    identity = (php.pid, psutil.Process(php.pid).create_time())

    status = service.get_status()
    assert status.running is False
    assert status.foreign is not None and status.foreign.pid == php.pid and "php" in (status.foreign.name or "")

    started = service.start(force=True)
    assert started.failure is Failure.PORT_IN_USE and started.port_owner is not None
    assert started.port_owner.pid == php.pid and "php" in (started.port_owner.name or "")
    assert "php" in render_result(started)

    stopped = service.stop(force=True)
    assert stopped.failure is Failure.NOT_OURS
    assert stopped.port_owner is not None and stopped.port_owner.pid == php.pid

    restarted = service.restart()
    assert not restarted.success and restarted.failure is Failure.PORT_IN_USE

    # Same process, still serving.
    assert php.poll() is None and alive(php.pid)
    assert (php.pid, psutil.Process(php.pid).create_time()) == identity
    assert http_get(f"http://127.0.0.1:{service.config.port}/ok.php") == (200, "ok")
    assert not service.config.state_file.exists()


def test_our_stale_state_plus_a_foreign_php_on_the_port(
    service: ServerOrchestrationService, foreign_php: Callable[[], subprocess.Popen[bytes]],
) -> None:
    """Our server died; someone then ran the same command by hand. The stale state must not make
    the newcomer ours: status reports the death and the foreigner, stop leaves it alone."""
    ours = service.start()
    stale = service.config.state_file.read_text()
    assert service.stop().success
    php = foreign_php()
    service.config.state_file.write_text(stale)  # as if ours had died without a stop
    service.config.state_file.chmod(0o600)

    status = service.get_status()
    assert status.running is False
    assert status.died is not None and status.died.pid == ours.pid
    assert status.foreign is not None and status.foreign.pid == php.pid

    service.config.state_file.write_text(stale)
    service.config.state_file.chmod(0o600)
    stopped = service.stop(force=True)
    assert stopped.failure is Failure.NOT_OURS
    assert php.poll() is None
    assert http_get(f"http://127.0.0.1:{service.config.port}/ok.php") == (200, "ok")


def test_a_foreign_listener_on_another_port_does_not_block_ours(
    service: ServerOrchestrationService, imposter: Callable[..., Imposter],
) -> None:
    """The port check is about our port only: a neighbour is neither refused nor touched."""
    from tests.conftest import free_port

    fake = imposter(listen=free_port())
    started = service.start()
    assert started.success, started
    assert service.stop().success
    fake.assert_untouched()


def test_a_listener_that_appears_after_the_port_check_is_named_too(
    service: ServerOrchestrationService, imposter: Callable[..., Imposter], port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race between our port check and PHP's bind cannot be timed for real: the check is made to
    miss the listener (a mock), and PHP itself then fails to listen. The answer still names the owner."""
    from mybb_mcp.orchestration import process

    fake = imposter(listen=port)
    monkeypatch.setattr(process, "port_is_free", lambda host, port: True)
    result = service.start()
    assert result.failure is Failure.PORT_IN_USE, result
    assert result.reason and "Address already in use" in result.reason
    assert result.port_owner is not None and result.port_owner.pid == fake.pid
    assert not service.config.state_file.exists()
    assert php_servers(service.config.mybb_root) == []
    fake.assert_untouched()
