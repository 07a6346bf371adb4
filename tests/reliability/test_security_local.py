"""Issue 12, the local half: nothing another local user can write is trusted.

Each test's name starts with the issue's item number (`test_1_...` is item 1, `test_13_...`
the minor items). Tests that act as a second user create one (root only) and skip otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from mybb_mcp.config import load_config
from mybb_mcp.handlers.orchestration import handle_server_restart, handle_server_start
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.orchestration.server_service import _is_loopback
from tests.conftest import http_get
from tests.reliability.conftest import cli_env, run_cli
from tests.reliability.local_users import LocalUser, other_user, shared_dir  # noqa: F401 (fixtures)

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
    answer = await handle_server_restart({"port": huge}, None, None, None)
    assert answer.is_error and "port" in answer and "1,000,002 characters" in answer
    assert len(answer) < 2000
    answer = await handle_server_start({"bogus" * 200_000: 1}, None, None, None)
    assert answer.is_error and len(answer) < 4000


def test_13_loopback_spellings_are_loopback() -> None:
    for host in ("127.0.0.1", "127.1", "127.0.1", "2130706433", "::1", "[::1]", "::ffff:127.0.0.1",
                 "[::ffff:127.0.0.1]", "localhost", "LOCALHOST", "localhost."):
        assert _is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1", "128.1", "example.org", "0"):
        assert not _is_loopback(host), host


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
    from mybb_mcp.tools_registry import ALL_TOOLS

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
