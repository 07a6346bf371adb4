"""Issue 12, the local half: nothing another local user can write is trusted.

Each test's name starts with the issue's item number (`test_1_...` is item 1, `test_13_...`
the minor items). Tests that act as a second user create one (root only) and skip otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest

from mybb_mcp.answers.lifecycle import render_result
from mybb_mcp.answers.logs import render_log_query
from mybb_mcp.answers.status import render_status
from mybb_mcp.config import load_config
from mybb_mcp.handlers.edge import call_tool
from mybb_mcp.handlers.tools import row_of
from mybb_mcp.logs.signed import KEYS_FILE
from mybb_mcp.orchestration import Failure, LogQueryOptions, ServerOrchestrationService, php_runtime
from mybb_mcp.orchestration.validation import is_loopback_host
from mybb_mcp.tools_registry import ToolName
from tests.conftest import http_get
from tests.fixtures.docroot import write_docroot
from tests.reliability.conftest import (
    TIMEOUT,
    VENV_BIN,
    Imposter,
    alive,
    cli_env,
    run_cli,
    serves,
    snapshot,
    wait_for,
)
from tests.reliability.local_users import LocalUser, chown_tree

EXPOSED = "reachable from the network"


def listen_addresses(pid: int, port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process(pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


# ----------------------------------------------------------------------------- 1: .env from others


def _planted_env(directory: Path) -> Path:
    env = directory / ".env"
    env.write_text("MYBB_PHP=/tmp/evil-php\nMYBB_HOST=0.0.0.0\nMYBB_PORT=1234\n")
    env.chmod(0o644)
    return env


def test_1_env_in_world_writable_parent_is_ignored(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone may write here: the .env in it is anyone's
    planted = _planted_env(shared)
    work = shared / "work"
    work.mkdir(mode=0o755)
    config = load_config({}, cwd=work)
    assert (config.php, config.host, config.port) == ("php", "127.0.0.1", 8022)
    assert len(config.ignored_dotenv) == 1
    assert str(planted) in config.ignored_dotenv[0] and "other users may write" in config.ignored_dotenv[0]


def test_1_env_in_sticky_tmp_like_directory_is_ignored(tmp_path: Path) -> None:
    tmp_like = tmp_path / "tmp"
    tmp_like.mkdir()
    tmp_like.chmod(0o1777)  # like /tmp: the .env directly in it may be anyone's
    _planted_env(tmp_like)
    config = load_config({}, cwd=tmp_like)
    assert config.php == "php" and config.host == "127.0.0.1"
    # ...but a private directory below a sticky one is fine: nobody else can rename or replace it.
    private = tmp_like / "mine"
    private.mkdir(mode=0o755)
    (private / ".env").write_text("MYBB_PORT=18190\n")
    (private / ".env").chmod(0o600)
    assert load_config({}, cwd=private).port == 18190


def test_1_group_writable_env_is_ignored(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir(mode=0o755)
    env = _planted_env(work)
    env.chmod(0o664)
    config = load_config({}, cwd=work)
    assert config.php == "php" and "group- or world-writable" in config.ignored_dotenv[0]


def test_1_env_owned_by_another_user_is_ignored(tmp_path: Path, other_user: LocalUser) -> None:
    work = tmp_path / "work"
    work.mkdir(mode=0o755)
    env = _planted_env(work)
    os.chown(env, other_user.uid, other_user.gid)
    config = load_config({}, cwd=work)
    assert config.php == "php" and config.host == "127.0.0.1"
    assert f"belongs to user {other_user.name}" in config.ignored_dotenv[0]


def test_1_env_in_a_directory_of_another_user_is_ignored(tmp_path: Path, other_user: LocalUser) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    _planted_env(theirs)  # the file is ours, but its directory is theirs: they may replace it
    os.chown(theirs, other_user.uid, other_user.gid)
    config = load_config({}, cwd=theirs)
    assert config.php == "php"
    assert f"its directory {theirs} belongs to user {other_user.name}" in config.ignored_dotenv[0]


def test_1_status_and_config_errors_name_the_ignored_env(tmp_path: Path, forum: Path, php: str,
                                                         port: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    planted = _planted_env(shared)
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port))
    status = run_cli(["status"], env, shared)
    assert status.returncode == 0, status.stderr
    assert f"{planted} was ignored: other users may write to its directory" in status.stdout
    bad = run_cli(["status"], {**env, "MYBB_PORT": "eighty"}, shared)
    assert bad.returncode == 2 and f"{planted} was ignored" in bad.stderr


# ----------------------------------------------------------------------------- 13: the minor items


def test_13_env_quoted_value_keeps_no_quotes_before_a_comment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        'MYBB_PHP="/opt/php 8/bin/php"  # the one with xdebug\n'
        "MYBB_HOST='127.0.0.1' # loopback\n"
        "MYBB_PHP_INI=memory_limit=256M # comment\n"
        'MYBB_ROUTER="1"\n'
    )
    (tmp_path / ".env").chmod(0o600)
    config = load_config({}, cwd=tmp_path)
    assert config.php == "/opt/php 8/bin/php"
    assert config.host == "127.0.0.1"
    assert config.php_settings[-1] == "memory_limit=256M"
    (tmp_path / ".env").write_text('MYBB_PHP="/usr/bin/php" trailing words\n')
    with pytest.raises(Exception, match="line 1"):
        load_config({}, cwd=tmp_path)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_13_validation_errors_do_not_echo_the_whole_value(anyio_backend: str) -> None:
    huge = "x" * 1_000_000
    answer = await call_tool(row_of(ToolName.RESTART), {"port": huge})
    assert answer.is_error and "port" in answer and "1,000,002 characters" in answer
    assert len(answer) < 2000
    answer = await call_tool(row_of(ToolName.START), {"bogus" * 200_000: 1})
    assert answer.is_error and len(answer) < 4000


def test_13_loopback_spellings_are_loopback() -> None:
    for host in ("127.0.0.1", "127.1", "127.0.1", "2130706433", "::1", "[::1]", "::ffff:127.0.0.1",
                 "[::ffff:127.0.0.1]", "localhost", "LOCALHOST", "localhost."):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1", "128.1", "example.org", "0"):
        assert not is_loopback_host(host), host


def test_13_a_server_on_127_1_gets_no_exposure_warning(
        make_service: Callable[..., ServerOrchestrationService], port: int) -> None:
    started = make_service().start(host="127.1")
    assert started.success, started
    assert started.warnings == [] and listen_addresses(started.pid, port) == {"127.0.0.1"}


def test_13_restart_with_host_moves_an_exposed_server_back_to_loopback(
        make_service: Callable[..., ServerOrchestrationService], port: int) -> None:
    service = make_service()
    exposed = service.start(host="0.0.0.0")
    assert exposed.success and any(EXPOSED in w and "host 127.0.0.1" in w for w in exposed.warnings)
    back = service.restart(host="127.0.0.1")
    assert back.success, back
    assert (back.host, back.port) == ("127.0.0.1", port) and back.warnings == []
    assert listen_addresses(back.pid, port) == {"127.0.0.1"}
    assert http_get(f"{back.url}/ok.php") == (200, "ok")
    # Without a host it keeps the one it ran on (now loopback).
    again = service.restart()
    assert again.success and again.host == "127.0.0.1"


def test_13_restart_host_from_the_cli_and_the_tool_schema(forum: Path, php: str, port: int, tmp_path: Path,
                                                          make_service: Callable[..., ServerOrchestrationService]
                                                          ) -> None:
    from mybb_mcp.handlers.tools import ALL_TOOLS

    restart = next(tool for tool in ALL_TOOLS if tool.name == "mybb_server_restart")
    assert restart.input_schema["properties"]["host"]["type"] == "string"
    service = make_service()
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port))
    assert run_cli(["start", "--host", "0.0.0.0"], env, tmp_path).returncode == 0
    done = run_cli(["restart", "--host", "127.0.0.1", "--json"], env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["host"] == "127.0.0.1" and listen_addresses(result["pid"], port) == {"127.0.0.1"}
    assert service.get_status().host == "127.0.0.1"
    assert sys.executable  # the CLI ran under this interpreter


# ----------------------------------------------------------------------------- helpers for a running server


def php_state(pid: int) -> str:
    return psutil.Process(pid).status()


def kill_group(pid: int) -> None:
    """Kill a server the test made untracked (its state set aside on purpose)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), timeout=10)


def write_state(service: ServerOrchestrationService, state: dict[str, Any], mode: int = 0o600) -> None:
    path = service.config.state_file
    path.write_text(json.dumps(state))
    path.chmod(mode)


def imposter_state(service: ServerOrchestrationService, fake: Imposter, port: int) -> dict[str, Any]:
    """A state naming a live process by everything /proc shows anyone: PID, start time, command line."""
    config = service.config
    return {"version": 1, "pid": fake.pid, "create_time": fake.create_time, "cmdline": fake.cmdline,
            "host": "127.0.0.1", "port": port, "log_file": str(config.log_file),
            "mybb_root": str(config.mybb_root)}


# ----------------------------------------------------------------------------- 2: the state file


OPERATIONS: dict[str, Callable[[ServerOrchestrationService], Any]] = {
    "stop": lambda s: s.stop(),
    "stop_force": lambda s: s.stop(force=True),
    "restart": lambda s: s.restart(),
    "status": lambda s: s.get_status(),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_2_forged_state_naming_a_live_process_is_never_signalled(
        operation: str, service: ServerOrchestrationService, port: int, imposter: Callable[..., Imposter]) -> None:
    """Ours and 0600, so only its content can give it away: the command line is not php -S serving
    this forum, so nothing it names is signalled."""
    fake = imposter(children=1)
    write_state(service, imposter_state(service, fake, port))
    result = OPERATIONS[operation](service)
    fake.assert_untouched()
    notes = " ".join(result.notes)
    assert "was not believed" in notes and "no process it names was signalled" in notes, notes


def test_2_state_file_not_0600_is_not_believed(service: ServerOrchestrationService, port: int,
                                               imposter: Callable[..., Imposter]) -> None:
    fake = imposter()
    write_state(service, imposter_state(service, fake, port), mode=0o644)
    stopped = service.stop(force=True)
    fake.assert_untouched()
    assert any("its mode is 0644, not 0600" in note for note in stopped.notes), stopped.notes


def test_2_state_file_of_another_user_is_not_believed(service: ServerOrchestrationService, port: int,
                                                      imposter: Callable[..., Imposter],
                                                      other_user: LocalUser) -> None:
    fake = imposter()
    write_state(service, imposter_state(service, fake, port))
    os.chown(service.config.state_file, other_user.uid, other_user.gid)
    stopped = service.stop(force=True)
    fake.assert_untouched()
    assert any(f"belongs to user {other_user.name}" in note for note in stopped.notes), stopped.notes


def test_2_state_naming_another_log_does_not_make_status_rotate_it(
        make_service: Callable[..., ServerOrchestrationService], tmp_path: Path) -> None:
    service = make_service(log_max_mb=1)
    started = service.start()
    assert started.success, started
    victim = tmp_path / "victim.log"
    victim.write_bytes(b"precious\n" * (3 * 1024 * 1024 // 9))
    before = victim.read_bytes()
    state = json.loads(service.config.state_file.read_text())
    write_state(service, {**state, "log_file": str(victim)})
    try:
        status = service.get_status()
        assert any("its log file is not this forum's" in note for note in status.notes), status.notes
        assert service.start().failure is None or True  # a write call: still never touches the victim
        assert victim.read_bytes() == before and not victim.with_name("victim.log.1").exists()
    finally:
        kill_group(started.pid)


def test_2_restart_does_not_take_host_and_port_from_a_forged_state(
        make_service: Callable[..., ServerOrchestrationService], port: int) -> None:
    service = make_service()
    started = service.start()
    state = json.loads(service.config.state_file.read_text())
    write_state(service, {**state, "host": "0.0.0.0"})
    try:
        # Not believed, so our running server is not known to be ours: the restart finds its port taken
        # and says by whom, rather than coming back anywhere.
        restarted = service.restart()
        assert any("was not believed" in note for note in restarted.notes), restarted.notes
        assert restarted.failure is Failure.PORT_IN_USE and restarted.host == "127.0.0.1", restarted
        assert listen_addresses(started.pid, port) == {"127.0.0.1"}
        assert not any(c.laddr.ip == "0.0.0.0" for c in psutil.net_connections("tcp")
                       if c.status == psutil.CONN_LISTEN and c.laddr.port == port)
    finally:
        kill_group(started.pid)
    # A forged state for a server that is gone: the restart comes back where the configuration says.
    write_state(service, {**state, "host": "0.0.0.0"})
    again = service.restart()
    assert again.success and again.host == "127.0.0.1", again
    assert listen_addresses(again.pid, port) == {"127.0.0.1"}


# ----------------------------------------------------------------------------- 3: links where we write


def _victim(tmp_path: Path, name: str = "victim.txt") -> tuple[Path, bytes]:
    victim = tmp_path / name
    victim.write_bytes(b"secret of someone else\n")
    victim.chmod(0o600)
    return victim, victim.read_bytes()


def test_3_a_log_that_is_a_link_is_never_written_through(service: ServerOrchestrationService,
                                                         tmp_path: Path) -> None:
    victim, content = _victim(tmp_path)
    log_dir = service.config.log_dir
    log_dir.mkdir()
    service.config.log_file.symlink_to(victim)
    started = service.start()
    assert started.success, started
    http_get(f"{started.url}/warning.php")
    assert victim.read_bytes() == content and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert not service.config.log_file.is_symlink()  # a fresh log; the link was only renamed aside


def test_3_a_link_in_place_of_logs_is_refused(service: ServerOrchestrationService, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "server.log.5").write_text("another folder's file\n")
    (elsewhere / "server.log").write_text("another folder's log\n")
    before = snapshot(elsewhere)
    service.config.log_dir.symlink_to(elsewhere)
    result = service.start()
    assert result.failure is Failure.UNSAFE_FILE, result
    assert "is a symbolic link" in result.message and str(service.config.log_dir) in result.message
    assert snapshot(elsewhere) == before
    assert "rm" in render_result(result)


def test_3_a_lock_file_that_is_a_link_is_refused(service: ServerOrchestrationService, tmp_path: Path) -> None:
    target = tmp_path / "anywhere" / "new-root-file"
    target.parent.mkdir()
    service.config.lock_file.symlink_to(target)
    result = service.start()
    assert result.failure is Failure.UNSAFE_FILE and "symbolic link" in result.message, result
    assert not target.exists()
    assert service.stop().failure is Failure.UNSAFE_FILE


def test_3_a_partial_rotation_file_that_is_a_link_is_not_followed(
        make_service: Callable[..., ServerOrchestrationService], tmp_path: Path) -> None:
    victim, content = _victim(tmp_path)
    service = make_service(log_max_mb=1)
    started = service.start()
    log_file = service.config.log_file
    log_file.with_name("server.log.1.partial").symlink_to(victim)
    with open(log_file, "ab") as log:
        log.write(b"x" * (1024 * 1024 + 10) + b"\n")
    again = service.start()  # running: the write call that rotates
    assert again.failure is Failure.ALREADY_RUNNING
    assert any("was rotated" in note for note in again.notes), again
    assert victim.read_bytes() == content and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert log_file.with_name("server.log.1").stat().st_size > 1024 * 1024
    assert serves(f"{started.url}/ok.php")


def test_3_a_state_file_that_is_a_link_is_not_believed(service: ServerOrchestrationService, port: int,
                                                       tmp_path: Path, imposter: Callable[..., Imposter]) -> None:
    fake = imposter()
    real = tmp_path / "planted.json"
    real.write_text(json.dumps(imposter_state(service, fake, port)))
    real.chmod(0o600)
    service.config.state_file.symlink_to(real)
    stopped = service.stop(force=True)
    fake.assert_untouched()
    assert any("symbolic link" in note for note in stopped.notes), stopped.notes


# ----------------------------------------------------------------------------- 4: leftovers of another user


def _forum_of(user: LocalUser, shared: Path) -> Path:
    root = write_docroot(shared / "repo" / "forum")
    chown_tree(shared / "repo", user)
    return root


def test_4_root_owned_lock_and_log_left_behind_get_a_clear_answer(
        other_user: LocalUser, shared_dir: Path, php: str, port: int) -> None:
    root = _forum_of(other_user, shared_dir)
    repo = root.parent
    (repo / ".mybb-server.lock").write_text("")
    (repo / ".mybb-server.lock").chmod(0o600)  # left by a run as root
    (repo / "logs").mkdir()
    os.chown(repo / "logs", other_user.uid, other_user.gid)
    (repo / "logs" / "server.log").write_text("root's old log\n")
    (repo / "logs" / "server.log").chmod(0o600)
    env = cli_env(MYBB_ROOT=str(root), MYBB_PHP=php, MYBB_PORT=str(port), HOME="/nonexistent")
    for command in (["start"], ["stop"], ["status"], ["logs"]):
        done = other_user.cli(command, env=env, cwd=shared_dir)
        output = done.stdout + done.stderr
        assert "Traceback" not in output, output
        assert done.returncode in (0, 1), (command, output)
        if command[0] in ("start", "stop"):
            assert ".mybb-server.lock" in output and "belongs to user root" in output and "sudo rm" in output, output
    logs = other_user.cli(["logs"], env=env, cwd=shared_dir)
    assert "server.log` could not be read" in logs.stdout and "belongs to user root" in logs.stdout, logs.stdout
    # The fix it names works: with the lock gone, the owner starts the forum (the root-owned log is
    # rotated aside by rename in the owner's own directory).
    (repo / ".mybb-server.lock").unlink()
    started = other_user.cli(["start", "--json"], env=env, cwd=shared_dir)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
    finally:
        other_user.cli(["stop", "--force"], env=env, cwd=shared_dir)


def test_4_a_forum_folder_the_user_cannot_write_gets_a_clear_answer(
        other_user: LocalUser, shared_dir: Path, php: str, port: int) -> None:
    root = write_docroot(shared_dir / "repo" / "forum")  # root's, 0755: the other user may only read
    env = cli_env(MYBB_ROOT=str(root), MYBB_PHP=php, MYBB_PORT=str(port), HOME="/nonexistent")
    for command in (["start"], ["status"], ["logs"], ["stop"]):
        done = other_user.cli(command, env=env, cwd=shared_dir)
        output = done.stdout + done.stderr
        assert "Traceback" not in output, (command, output)
        assert done.returncode in (0, 1), (command, output)
    start = other_user.cli(["start"], env=env, cwd=shared_dir)
    assert "cannot be created" in start.stdout and str(root.parent) in start.stdout, start.stdout


# ----------------------------------------------------------------------------- 8: nothing blocks


def test_8_a_fifo_at_the_log_path_does_not_hang_anything(forum: Path, php: str, port: int, tmp_path: Path,
                                                         service: ServerOrchestrationService) -> None:
    started = service.start()
    assert service.stop().success
    os.unlink(service.config.log_file)
    os.mkfifo(service.config.log_file)
    # A dead server's state too: status must not block on the FIFO while it holds the lock.
    write_state(service, {**json.loads(json.dumps(started_state(service, started))), })
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port))
    for command in (["logs"], ["logs", "--errors"], ["status"], ["stop"], ["start"]):
        done = run_cli(command, env, tmp_path, timeout=30)  # TimeoutExpired = the hang
        output = done.stdout + done.stderr
        assert "Traceback" not in output, output
        assert "FIFO" in output or command[0] in ("stop", "status"), (command, output)
    assert stat.S_ISFIFO(os.lstat(service.config.log_file).st_mode)  # refused, not replaced


def started_state(service: ServerOrchestrationService, started: Any) -> dict[str, Any]:
    """A state as start writes it, for a server that has since gone (a dead PID)."""
    argv = php_runtime.server_argv(service.config, service.config.php, "127.0.0.1", started.port)
    return {"version": 1, "pid": started.pid, "create_time": 1.0, "cmdline": argv, "host": "127.0.0.1",
            "port": started.port, "log_file": str(service.config.log_file),
            "mybb_root": str(service.config.mybb_root)}


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_8_hung_calls_end_in_bounded_time_and_tools_list_still_answers(
        anyio_backend: str, forum: Path, php: str, port: int, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """A stuck call (here: a status held in the kernel, the seam a FIFO or hung disk would be) gets an
    answer at the per-call timeout; a pile of them does not take the threads other requests need."""
    from mcp import Client

    import mybb_mcp.handlers.edge as handlers
    from mybb_mcp.server import server

    release = threading.Event()
    monkeypatch.setattr(handlers, "CALL_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(ServerOrchestrationService, "get_status", lambda self: release.wait(60))
    for key, value in {"MYBB_ROOT": str(forum), "MYBB_PORT": str(port), "MYBB_PHP": php}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    try:
        async with Client(server, mode="legacy") as client:
            answers: list[Any] = []

            async def call() -> None:
                answers.append(await client.call_tool("mybb_server_status", {}))

            async with anyio.create_task_group() as group:
                for _ in range(handlers.CALL_THREADS * 3):
                    group.start_soon(call)
                with anyio.fail_after(10):
                    tools = (await client.list_tools()).tools
            assert "mybb_server_status" in {tool.name for tool in tools}
            assert len(answers) == handlers.CALL_THREADS * 3
            assert all(answer.is_error and "did not finish within 1 s" in answer.content[0].text
                       for answer in answers)
    finally:
        release.set()


def _mcp(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(VENV_BIN / "mybb-mcp")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=cwd)


def _send(proc: subprocess.Popen[bytes], message: dict[str, Any] | str) -> None:
    assert proc.stdin is not None
    line = message if isinstance(message, str) else json.dumps(message)
    proc.stdin.write(line.encode() + b"\n")
    proc.stdin.flush()


def _receive(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
    assert ready, "no answer"
    return json.loads(proc.stdout.readline())


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "test", "version": "1"}}}


def _initialized(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    proc = _mcp(env, cwd)
    _send(proc, INITIALIZE)
    assert _receive(proc)["id"] == 1
    _send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    return proc


def test_8_closing_stdin_ends_mybb_mcp_even_during_a_call(forum: Path, php: str, port: int, tmp_path: Path,
                                                          service: ServerOrchestrationService) -> None:
    """The call waits for the forum's lock (held here, as by a hung mybb-server); the client goes away."""
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port))
    proc = _initialized(env, tmp_path)
    with service.site.state_file.lock():
        _send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                     "params": {"name": "mybb_server_start", "arguments": {}}})
        assert wait_for(lambda: any("mybb-mcp" in " ".join(t.cmdline()) for t in [psutil.Process(proc.pid)]))
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0  # the lock wait alone is 30 s
    assert b"Traceback" not in (proc.stderr.read() if proc.stderr else b"")


# ----------------------------------------------------------------------------- 9: nothing stays paused


PAUSER = textwrap.dedent('''
    import signal, sys, time
    import psutil
    from mybb_mcp import server
    from mybb_mcp.cli import app as cli
    from mybb_mcp.orchestration import process

    face, pid = sys.argv[1], int(sys.argv[2])
    # The face's own signal handling, as its main() installs it.
    if face == "cli":
        signal.signal(signal.SIGTERM, cli._on_sigterm)
    else:
        signal.signal(signal.SIGINT, server._on_signal)
        signal.signal(signal.SIGTERM, server._on_signal)
    members = [psutil.Process(pid)] + psutil.Process(pid).children()
    try:
        with process.paused(members):  # as during an in-place rotation
            print("paused", flush=True)
            time.sleep(60)
    finally:
        process.resume_paused()
''')


@pytest.mark.parametrize("face", ["cli", "mcp"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_9_killing_us_during_a_pause_leaves_php_running(face: str, sig: signal.Signals, tmp_path: Path,
                                                        make_service: Callable[..., ServerOrchestrationService]
                                                        ) -> None:
    service = make_service(workers=2)
    started = service.start()
    script = tmp_path / "pauser.py"
    script.write_text(PAUSER)
    pauser = subprocess.Popen([sys.executable, str(script), face, str(started.pid)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert pauser.stdout is not None and pauser.stdout.readline().strip() == "paused"
        assert wait_for(lambda: php_state(started.pid) == psutil.STATUS_STOPPED)
        pauser.send_signal(sig)
        pauser.wait(timeout=TIMEOUT)
    finally:
        if pauser.poll() is None:
            pauser.kill()
            pauser.wait(timeout=TIMEOUT)
    for pid in [started.pid, *started.workers]:
        assert wait_for(lambda pid=pid: php_state(pid) != psutil.STATUS_STOPPED, timeout=10), pid
    assert serves(f"{started.url}/ok.php")


def test_9_php_found_stopped_is_continued_and_said_so(service: ServerOrchestrationService) -> None:
    """Our process was SIGKILLed mid-pause (nothing can run then): the next call continues PHP."""
    started = service.start()
    os.kill(started.pid, signal.SIGSTOP)
    assert wait_for(lambda: php_state(started.pid) == psutil.STATUS_STOPPED)
    status = service.get_status()
    assert status.running and any("was found paused" in note and "continued" in note for note in status.notes)
    assert php_state(started.pid) != psutil.STATUS_STOPPED
    assert serves(f"{started.url}/ok.php")
    assert "paused" in render_status(status)


# ----------------------------------------------------------------------------- 10: rotation faults


def _grow(log_file: Path, mb: float) -> None:
    with open(log_file, "ab") as log:
        log.write((b"[Sun Nov 29 01:00:00 2026] PHP Warning:  filler " + b"y" * 200 + b"\n")
                  * int(mb * 1024 * 1024 / 250))


def test_10_status_and_logs_never_rewrite_an_oversized_log(make_service: Callable[..., ServerOrchestrationService]
                                                           ) -> None:
    service = make_service(log_max_mb=1)
    started = service.start()
    _grow(service.config.log_file, 2)
    before = snapshot(service.config.log_dir)
    status = service.get_status()
    service.logs.search_logs(LogQueryOptions(errors_only=True))
    service.logs.search_logs(LogQueryOptions(tail=False))
    assert snapshot(service.config.log_dir) == before
    assert any("over MYBB_LOG_MAX_MB" in warning for warning in status.warnings), status.warnings
    assert status.pid == started.pid


def test_10_disk_nearly_full_refuses_rotation_cleanly(make_service: Callable[..., ServerOrchestrationService],
                                                      forum: Path, tmp_path: Path) -> None:
    """A real small file system (tmpfs, root only): a log the disk cannot copy is not rotated, nothing
    is left behind, the server keeps serving, and a second call refuses just as fast."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs as a nearly full disk")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)], check=True)
    try:
        root = write_docroot(disk / "repo" / "forum")
        service = make_service(mybb_root=root, log_max_mb=1)
        started = service.start()
        assert started.success, started
        _grow(service.config.log_file, 30)
        for _ in range(2):
            again = service.start()
            assert again.failure is Failure.ALREADY_RUNNING
            assert any("was not rotated" in w and "free disk space" in w for w in again.warnings), again
            assert sorted(p.name for p in service.config.log_dir.iterdir()) == [KEYS_FILE, "server.log"]
        assert serves(f"{started.url}/ok.php")
        assert service.stop().success
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_10_disk_filling_up_midway_leaves_no_partial(make_service: Callable[..., ServerOrchestrationService],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills during the copy (the seam: a write that fails with ENOSPC)."""
    from mybb_mcp.logs import reader as log_reader

    service = make_service(log_max_mb=1)
    started = service.start()
    _grow(service.config.log_file, 2)
    before = service.config.log_file.read_bytes()
    real_pwrite = os.pwrite
    written = [0]

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        written[0] += len(data)
        if written[0] > 512 * 1024:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(log_reader.os, "pwrite", pwrite)
    again = service.start()
    monkeypatch.undo()
    assert any("disk filled up" in w and "copy was removed" in w for w in again.warnings), again
    assert sorted(p.name for p in service.config.log_dir.iterdir()) == [KEYS_FILE, "server.log"]
    assert service.config.log_file.read_bytes().startswith(before)
    assert php_state(started.pid) != psutil.STATUS_STOPPED and serves(f"{started.url}/ok.php")


def test_10_a_directory_named_like_a_rotation_is_refused_clearly(
        make_service: Callable[..., ServerOrchestrationService]) -> None:
    service = make_service(log_backups=5, log_max_mb=1)
    assert service.start().success and service.stop().success
    blocker = service.config.log_file.with_name("server.log.5")
    blocker.mkdir()
    (blocker / "keep.txt").write_text("mine\n")
    refused = service.start()
    assert refused.failure is Failure.UNSAFE_FILE, refused
    assert "server.log.5 is a directory" in refused.message and "rm -r" in render_result(refused)
    blocker_content = (blocker / "keep.txt").read_text()
    # Running, past the limit: the in-place rotation refuses the same way, as a warning.
    (blocker / "keep.txt").unlink()
    blocker.rmdir()
    started = service.start()
    blocker.mkdir()
    _grow(service.config.log_file, 2)
    again = service.start()
    assert any("server.log.5 is a directory" in w for w in again.warnings), again
    assert blocker.is_dir() and blocker_content == "mine\n"
    assert serves(f"{started.url}/ok.php")


def test_10_a_sparse_log_stays_sparse_when_rotated(make_service: Callable[..., ServerOrchestrationService]) -> None:
    service = make_service(log_max_mb=1)
    started = service.start()
    log_file = service.config.log_file
    os.truncate(log_file, 3 * 1024**3)  # 3 GB, nearly all hole; PHP's next line lands after it
    http_get(f"{started.url}/marker.php?m=after-the-hole")
    again = service.start()
    assert any("was rotated" in note for note in again.notes), again
    rotated = log_file.with_name("server.log.1")
    assert rotated.stat().st_size > 3 * 1024**3
    assert rotated.stat().st_blocks * 512 < 16 * 1024 * 1024  # holes stayed holes
    with open(rotated, "rb") as handle:
        handle.seek(3 * 1024**3)
        assert b"MARKER after-the-hole" in handle.read()


# ----------------------------------------------------------------------------- 12: a deleted log


def test_12_a_log_deleted_while_php_writes_is_reported_as_such(service: ServerOrchestrationService) -> None:
    started = service.start()
    http_get(f"{started.url}/warning.php")
    service.config.log_file.unlink()
    result = service.logs.search_logs(LogQueryOptions(errors_only=True))
    assert result.problem is not None and "deleted while the server runs" in result.problem
    assert f"/proc/{started.pid}/fd/" in result.problem
    text = render_log_query(result)
    assert "never been started" not in text and "deleted while the server runs" in text
    status = service.get_status()
    assert status.running and any("deleted while the server runs" in w for w in status.warnings)


# ----------------------------------------------------------------------------- 13: the MCP process


def test_13_malformed_jsonrpc_lines_get_an_error_reply(forum: Path, php: str, port: int, tmp_path: Path) -> None:
    proc = _initialized(cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port)), tmp_path)
    try:
        _send(proc, "{not json")
        parse = _receive(proc)
        assert parse["id"] is None and parse["error"]["code"] == -32700
        _send(proc, {"jsonrpc": "2.0", "id": 7, "foo": 1})
        invalid = _receive(proc)
        assert invalid["id"] is None and invalid["error"]["code"] == -32600
        _send(proc, {"jsonrpc": "2.0", "id": 8, "method": "tools/list"})
        assert _receive(proc)["id"] == 8  # still serving
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)


def test_13_one_ctrl_c_ends_mybb_mcp_without_a_traceback(forum: Path, php: str, port: int, tmp_path: Path) -> None:
    proc = _initialized(cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port)), tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 130
    assert b"Traceback" not in (proc.stderr.read() if proc.stderr else b"")
