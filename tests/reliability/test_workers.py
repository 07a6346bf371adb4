"""Fault 5: PHP_CLI_SERVER_WORKERS in the environment.

PHP then forks a worker pool; a signal to the parent alone leaves the workers
running and listening (corpus 04_signals_test.txt). Stop must leave no worker
running or listening - whichever face started the pool.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from mybb_mcp.config import load_config
from mybb_mcp.orchestration import ServerOrchestrationService, process
from tests.reliability.conftest import (
    alive,
    cli_env,
    listening_pids,
    php_servers,
    port_listening,
    run_cli,
    serves,
    wait_for,
)

WORKERS = 3


def listening_workers(leader: int, port: int) -> list[int]:
    """The leader's children that hold a listening socket on `port`."""
    result = []
    for child in psutil.Process(leader).children():
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in child.net_connections("tcp")):
                result.append(child.pid)
        except psutil.NoSuchProcess:
            pass
    return sorted(result)


def assert_nothing_left(root: Path, port: int, pids: list[int]) -> None:
    assert not [pid for pid in pids if alive(pid)], "a worker survived the stop"
    assert php_servers(root) == []
    assert not port_listening(port) and listening_pids(port) == set()


@pytest.fixture
def env_service(forum: Path, php: str, port: int, tmp_path: Path,
                make_service: Callable[..., ServerOrchestrationService]) -> ServerOrchestrationService:
    """A service configured from an environment that has PHP_CLI_SERVER_WORKERS=3 (no MYBB_WORKERS)."""
    config = load_config({"MYBB_ROOT": str(forum), "MYBB_PHP": php, "MYBB_PORT": str(port),
                          "PHP_CLI_SERVER_WORKERS": str(WORKERS)}, cwd=tmp_path)
    assert config.workers == WORKERS
    return make_service(workers=config.workers)


@pytest.mark.parametrize("force", [False, True])
def test_stop_leaves_no_worker_running_or_listening(
    force: bool, env_service: ServerOrchestrationService, port: int,
) -> None:
    started = env_service.start()
    assert started.success, started
    workers = listening_workers(started.pid, port)
    assert len(workers) == WORKERS and sorted(started.workers) == workers
    assert serves(f"http://127.0.0.1:{port}/ok.php")

    stopped = env_service.stop(force=force)
    assert stopped.success, stopped
    assert sorted(stopped.workers) == workers
    assert_nothing_left(env_service.config.mybb_root, port, [started.pid, *workers])


def test_restart_replaces_the_whole_pool(env_service: ServerOrchestrationService, port: int) -> None:
    first = env_service.start()
    old = [first.pid, *listening_workers(first.pid, port)]
    restarted = env_service.restart()
    assert restarted.success, restarted
    assert not [pid for pid in old if alive(pid)]
    assert len(listening_workers(restarted.pid, port)) == WORKERS
    assert env_service.stop().success
    assert_nothing_left(env_service.config.mybb_root, port, [restarted.pid, *restarted.workers])


def test_workers_that_ignore_sigterm_are_killed_by_force(env_service: ServerOrchestrationService, port: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A stuck pool (here: stopped with SIGSTOP, so SIGTERM cannot act) needs force; without it the
    answer says so and names what still runs. Calls continue a pool they find paused (nothing may stay
    paused); the seam hides the pause from that check, so the pool stays stuck as one ignoring SIGTERM would."""
    monkeypatch.setattr(process, "stopped_members", lambda members: [])
    started = env_service.start()
    pool = [started.pid, *started.workers]
    assert len(pool) == WORKERS + 1, started  # start lists the whole pool, not the workers forked so far
    for pid in pool:
        os.kill(pid, signal.SIGSTOP)
    # SIGSTOP acts when the process next takes a signal; a SIGTERM sent before that is taken first (the
    # lower number wins) and kills it. Wait until the kernel reports every one stopped.
    assert wait_for(lambda: all(psutil.Process(pid).status() == psutil.STATUS_STOPPED for pid in pool))
    env_service._stop_timeout = 0.3  # seam: do not wait the real 5 s grace period
    refused = env_service.stop()
    assert not refused.success and refused.failure is not None and refused.failure.value == "stop_timeout"
    assert all(alive(pid) for pid in pool)
    killed = env_service.stop(force=True)
    assert killed.success, killed
    assert_nothing_left(env_service.config.mybb_root, port, pool)


def test_the_cli_with_php_cli_server_workers_in_its_environment(
    forum: Path, php: str, port: int, tmp_path: Path, make_service: Callable[..., ServerOrchestrationService],
) -> None:
    make_service()  # teardown safety net
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port), PHP_CLI_SERVER_WORKERS=str(WORKERS))
    assert run_cli(["start"], env, tmp_path).returncode == 0
    status = ServerOrchestrationService(load_config(env, cwd=tmp_path)).get_status()
    assert status.running and status.pid is not None
    workers = listening_workers(status.pid, port)
    assert len(workers) == WORKERS
    done = run_cli(["stop"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert wait_for(lambda: not port_listening(port), timeout=5)
    assert_nothing_left(forum, port, [status.pid, *workers])
