"""Fault 4: PHP is killed or crashes (kill -9, a real segmentation fault).

Status must say the server died unexpectedly - when, how it ended if this
process can know (it can when it spawned PHP), and the last errors from its
log - instead of a bare "stopped"; the next start must work. A long-lived
process that spawned PHP (the MCP server) must not keep a zombie.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import mcp.types as types
import psutil
import pytest
from mcp import Client, StdioServerParameters

from mybb_mcp.answers.status import render_status
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.conftest import http_get
from tests.reliability.conftest import (
    VENV_BIN,
    alive,
    cli_env,
    php_servers,
    run_cli,
    serves,
    wait_for,
    zombie_children,
)


def assert_died(service: ServerOrchestrationService, pid: int, how: str, error_text: str) -> None:
    before = datetime.now(timezone.utc)
    status = service.get_status()
    assert status.running is False
    died = status.died
    assert died is not None, "status said a bare 'stopped' for a server that died"
    assert died.pid == pid
    assert how in died.how, died.how
    assert died.started_at is not None  # when it started ...
    assert died.last_sign_of_life is not None and died.last_sign_of_life <= before  # ... and when it was last alive
    assert any(error_text in entry.message for entry in died.last_errors), died.last_errors
    text = render_status(status)
    assert text.startswith("# Server Status: Died")
    assert "died unexpectedly" in text and how in text and error_text in text
    # The crash record lasts until the next start, however often it is read; the next start clears it.
    assert service.config.state_file.exists()
    assert service.get_status().died == died
    again = service.start()
    assert again.success, again
    assert any(f"PID {pid}" in note and "had died" in note for note in again.notes), again.notes
    assert service.get_status().died is None
    assert http_get(f"{again.url}/ok.php") == (200, "ok")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=lambda s: s.name)
def test_a_killed_server_is_reported_with_the_signal_and_the_last_errors(
    sig: signal.Signals, service: ServerOrchestrationService,
) -> None:
    started = service.start()
    http_get(f"{started.url}/exception.php")
    os.kill(started.pid, sig)  # someone else's kill: not a stop of ours
    assert wait_for(lambda: not alive(started.pid))
    assert_died(service, started.pid, f"killed by {sig.name}", "Thread 42 not found")


def test_a_real_segfault_is_reported_as_sigsegv(service: ServerOrchestrationService) -> None:
    started = service.start()
    http_get(f"{started.url}/warning.php")
    with pytest.raises(OSError):  # the connection dies with the server
        http_get(f"{started.url}/segv.php")
    assert wait_for(lambda: not alive(started.pid))
    assert_died(service, started.pid, "killed by SIGSEGV", "Undefined variable")


def test_death_of_a_server_started_by_another_process(
    forum: Path, php: str, port: int, tmp_path: Path, make_service: Callable[..., ServerOrchestrationService],
) -> None:
    """Started by the CLI (a process that has exited): the exit status is unknowable here, and the
    report says so rather than guessing; the last errors and times are still there."""
    service = make_service()
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port))
    done = run_cli(["start"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    pid = service.get_status().pid
    assert pid is not None
    http_get(f"http://127.0.0.1:{port}/exception.php")
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not alive(pid))
    assert_died(service, pid, "exit status unknown", "Thread 42 not found")


def test_the_leader_killed_in_worker_mode_leaves_workers_that_stop_cleans_up(
    make_service: Callable[..., ServerOrchestrationService],
) -> None:
    service = make_service(workers=3)
    started = service.start()
    assert started.success and len(started.workers) == 3, started
    os.kill(started.pid, signal.SIGKILL)  # the workers survive and keep listening (corpus 04)
    assert wait_for(lambda: not alive(started.pid))
    status = service.get_status()
    assert status.running and sorted(status.workers) == sorted(started.workers)
    assert any("main process" in warning for warning in status.warnings)
    assert serves(f"http://127.0.0.1:{started.port}/ok.php")
    stopped = service.stop()
    assert stopped.success, stopped
    assert php_servers(service.config.mybb_root) == []
    assert not any(alive(pid) for pid in started.workers)


def test_no_zombie_is_left_in_a_long_lived_process_that_spawned_php(service: ServerOrchestrationService) -> None:
    """This test process plays the long-lived MCP server: nothing calls status, yet no zombie stays."""
    started = service.start()
    assert psutil.Process(started.pid).ppid() == os.getpid()
    os.kill(started.pid, signal.SIGKILL)
    assert wait_for(lambda: not psutil.pid_exists(started.pid) and not zombie_children()), \
        f"zombies: {zombie_children()}"


# ----------------------------------------------------------------------------- through the MCP faces

@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mcp_env(forum: Path, php: str, port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    env = {"MYBB_ROOT": str(forum), "MYBB_PORT": str(port), "MYBB_PHP": php}
    for key in [k for k in os.environ if k.startswith("MYBB_")] + ["PHP_CLI_SERVER_WORKERS"]:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return env


def text_of(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


@pytest.mark.anyio
async def test_in_process_mcp_server_reaps_a_killed_php(
    mcp_env: dict[str, str], make_service: Callable[..., ServerOrchestrationService],
) -> None:
    from mybb_mcp.server import server

    make_service()  # stops whatever is left at teardown
    async with Client(server) as client:
        started = await client.call_tool("mybb_server_start", {})
        assert not started.is_error, text_of(started)
        pid = make_service().get_status().pid
        assert pid is not None and psutil.Process(pid).ppid() == os.getpid()
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not psutil.pid_exists(pid) and not zombie_children()), zombie_children()
        status = text_of(await client.call_tool("mybb_server_status", {}))
        assert status.startswith("# Server Status: Died")
        assert "died unexpectedly" in status and "killed by SIGKILL" in status


@pytest.mark.anyio
async def test_stdio_mcp_server_reaps_a_killed_php_and_knows_how_it_died(
    mcp_env: dict[str, str], tmp_path: Path, make_service: Callable[..., ServerOrchestrationService],
) -> None:
    """The real `mybb-mcp` process spawned PHP: after kill -9 it keeps no zombie, and its status
    reports the signal (it was the parent, so it knows)."""
    make_service()
    params = StdioServerParameters(command=str(VENV_BIN / "mybb-mcp"), args=[], env={**cli_env(), **mcp_env},
                                   cwd=str(tmp_path))
    async with Client(params) as client:
        started = await client.call_tool("mybb_server_start", {})
        assert not started.is_error, text_of(started)
        http_get(f"http://127.0.0.1:{mcp_env['MYBB_PORT']}/exception.php")
        pid = make_service().get_status().pid
        assert pid is not None
        mcp_pid = psutil.Process(pid).ppid()
        assert "mybb-mcp" in " ".join(psutil.Process(mcp_pid).cmdline())
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not psutil.pid_exists(pid) and not zombie_children(mcp_pid)), \
            zombie_children(mcp_pid)
        status = text_of(await client.call_tool("mybb_server_status", {}))
        assert "died unexpectedly" in status and "killed by SIGKILL" in status
        assert "Thread 42 not found" in status
        restarted = await client.call_tool("mybb_server_start", {})
        assert not restarted.is_error and text_of(restarted).startswith("# Server Started")
        assert serves(f"http://127.0.0.1:{mcp_env['MYBB_PORT']}/ok.php")
        assert not text_of(await client.call_tool("mybb_server_stop", {})).startswith("# Error")
