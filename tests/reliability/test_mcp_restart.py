"""Fault 6: the agent's MCP server restarts while PHP runs.

The real `mybb-mcp` console script runs as a stdio subprocess. PHP must keep
running when it exits (the SDK's client kills the MCP server's whole process
group on close: PHP must not be in it), and a new MCP server process must see
the running server through the state file and be able to stop or restart it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import mcp.types as types
import psutil
import pytest
from mcp import Client, StdioServerParameters

from mybb_mcp.orchestration import ServerOrchestrationService
from tests.conftest import http_get
from tests.reliability.conftest import VENV_BIN, alive, cli_env, php_leaders, run_cli, serves, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def stdio(forum: Path, php: str, port: int, tmp_path: Path,
          make_service: Callable[..., ServerOrchestrationService]) -> Callable[..., StdioServerParameters]:
    make_service()  # teardown: stop whatever the MCP servers left running

    def params(**extra: str) -> StdioServerParameters:
        env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port), **extra)
        return StdioServerParameters(command=str(VENV_BIN / "mybb-mcp"), args=[], env=env, cwd=str(tmp_path))

    return params


def text_of(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


def pid_in(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("| PID |"):
            return int(line.split("|")[2])
    raise AssertionError(f"no PID row in:\n{text}")


async def test_php_outlives_the_mcp_server_and_the_next_one_takes_over(
    stdio: Callable[..., StdioServerParameters], forum: Path, port: int,
) -> None:
    url = f"http://127.0.0.1:{port}"
    async with Client(stdio(), mode="legacy") as first:
        started = text_of(await first.call_tool("mybb_server_start", {}))
        assert started.startswith("# Server Started"), started
        php_pid = pid_in(started)
        mcp_pid = psutil.Process(php_pid).ppid()
        assert "mybb-mcp" in " ".join(psutil.Process(mcp_pid).cmdline())
        assert os.getpgid(php_pid) != os.getpgid(mcp_pid)  # out of the group the client kills
    # The client closed: the MCP server process is gone, PHP is not.
    assert wait_for(lambda: not alive(mcp_pid))
    assert alive(php_pid)
    assert http_get(f"{url}/ok.php") == (200, "ok")

    async with Client(stdio(), mode="legacy") as second:
        status = text_of(await second.call_tool("mybb_server_status", {}))
        assert status.startswith("# Server Status: Running") and pid_in(status) == php_pid
        again = text_of(await second.call_tool("mybb_server_start", {}))
        assert again.startswith("# Server Already Running") and pid_in(again) == php_pid

        restarted = text_of(await second.call_tool("mybb_server_restart", {}))
        assert restarted.startswith("# Server Restarted"), restarted
        new_pid = pid_in(restarted)
        assert new_pid != php_pid and not alive(php_pid)
        assert http_get(f"{url}/ok.php") == (200, "ok")

    assert alive(new_pid)  # survives the second MCP server too
    async with Client(stdio(), mode="legacy") as third:
        stopped = text_of(await third.call_tool("mybb_server_stop", {}))
        assert stopped.startswith("# Server Stopped") and f"| Previous PID | {new_pid} |" in stopped
    assert php_leaders(forum) == [] and not serves(f"{url}/ok.php")


async def test_a_server_started_by_the_cli_is_stopped_by_a_new_mcp_server(
    stdio: Callable[..., StdioServerParameters], forum: Path, php: str, port: int, tmp_path: Path,
) -> None:
    """People and agents share the forum: whoever started it, the other face can take over."""
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port))
    assert run_cli(["start"], env, tmp_path).returncode == 0
    cli_pid = php_leaders(forum)[0].pid
    async with Client(stdio(), mode="legacy") as client:
        status = text_of(await client.call_tool("mybb_server_status", {}))
        assert status.startswith("# Server Status: Running") and pid_in(status) == cli_pid
        stopped = text_of(await client.call_tool("mybb_server_stop", {}))
        assert stopped.startswith("# Server Stopped")
    assert php_leaders(forum) == []


async def test_mcp_server_killed_hard_leaves_php_serving(
    stdio: Callable[..., StdioServerParameters], port: int,
) -> None:
    """An agent crash: SIGKILL to the MCP server's whole process group, as a client escalates when the
    server does not exit (the SDK's stdio client does exactly this), must not take PHP down."""
    async with Client(stdio(), mode="legacy") as client:
        php_pid = pid_in(text_of(await client.call_tool("mybb_server_start", {})))
        mcp_pid = psutil.Process(php_pid).ppid()
        group = os.getpgid(mcp_pid)
        assert group != os.getpgid(0)  # the client started it in a group of its own: never ours
        os.killpg(group, signal.SIGKILL)
        assert wait_for(lambda: not alive(mcp_pid))
        assert alive(php_pid) and serves(f"http://127.0.0.1:{port}/ok.php")
        with pytest.raises(Exception):  # the client notices its server is gone
            await client.call_tool("mybb_server_status", {})
    async with Client(stdio(), mode="legacy") as client:
        status = text_of(await client.call_tool("mybb_server_status", {}))
        assert pid_in(status) == php_pid
