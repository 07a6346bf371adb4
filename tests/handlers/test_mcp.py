"""The tools through the SDK's real client: in-process (both protocol eras) and over stdio."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from mybb_mcp.config import Config
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.server import server
from tests.conftest import http_get

pytestmark = [pytest.mark.anyio]

TOOL_NAMES = {"mybb_server_start", "mybb_server_stop", "mybb_server_status", "mybb_server_logs",
              "mybb_forum_init", "mybb_forum_sql", "mybb_forum_members", "mybb_forum_templates", "mybb_forum_php",
              "mybb_server_restart", "mybb_forum_snapshot", "mybb_server_request", "mybb_forum_plugins",
              "mybb_forum_reference", "mybb_forum_doctor", "mybb_forum_matrix"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def forum_env(forum: Path, php: str, port: int, monkeypatch: pytest.MonkeyPatch,
              tmp_path: Path) -> Iterator[dict[str, str]]:
    """Point the in-process server at the fixture forum; stop whatever the test started."""
    env = {"MYBB_ROOT": str(forum), "MYBB_PORT": str(port), "MYBB_PHP": php}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    yield env
    ServerOrchestrationService(Config(mybb_root=forum, php=php, port=port)).stop(force=True)


def text_of(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_lists_the_tools_with_bounds_and_annotations(mode: str) -> None:
    async with Client(server, mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOL_NAMES
    start = tools["mybb_server_start"].input_schema["properties"]["port"]
    assert (start["type"], start["minimum"], start["maximum"]) == ("integer", 1, 65535)
    logs = tools["mybb_server_logs"].input_schema["properties"]
    assert logs["limit"]["minimum"] == 1 and logs["limit"]["default"] == 50
    assert logs["offset"]["minimum"] == 0 and logs["since_minutes"]["minimum"] == 1
    assert logs["exclude_static"]["default"] is True and logs["tail"]["default"] is True
    assert tools["mybb_server_status"].annotations.read_only_hint is True
    assert tools["mybb_server_logs"].annotations.read_only_hint is True
    assert tools["mybb_server_stop"].annotations.destructive_hint is True
    assert all(t.input_schema.get("additionalProperties") is False for t in tools.values())


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_full_lifecycle_in_process(mode: str, forum_env: dict[str, str], port: int) -> None:
    async with Client(server, mode=mode) as client:
        started = await client.call_tool("mybb_server_start", {})
        assert not started.is_error, text_of(started)
        assert text_of(started).startswith("# Server Started")
        assert f"http://127.0.0.1:{port}" in text_of(started)
        http_get(f"http://127.0.0.1:{port}/exception.php?tid=42")
        http_get(f"http://127.0.0.1:{port}/warning.php?plant=ZED")

        status = await client.call_tool("mybb_server_status", {})
        assert text_of(status).startswith("# Server Status: Running")

        logs = await client.call_tool("mybb_server_logs", {"errors_only": True, "limit": 5})
        assert text_of(logs).startswith("# Server Logs")
        assert "Thread 42 not found" in text_of(logs)
        # Found by its page and by a word of its URL, in queries and the digest.
        by_page = text_of(await client.call_tool("mybb_server_logs", {"errors_only": True, "path": "exception.*"}))
        assert "Thread 42 not found" in by_page and "missing_key" not in by_page, by_page
        by_word = text_of(await client.call_tool("mybb_server_logs", {"errors_only": True, "filter": "plant=zed"}))
        assert "missing_key" in by_word and "Thread 42" not in by_word, by_word
        digest = text_of(await client.call_tool("mybb_server_logs", {"digest": True, "filter": "tid=42"}))
        assert "Thread 42 not found" in digest and "missing_key" not in digest, digest

        again = await client.call_tool("mybb_server_start", {})
        assert text_of(again).startswith("# Server Already Running")

        restarted = await client.call_tool("mybb_server_restart", {})
        assert text_of(restarted).startswith("# Server Restarted"), text_of(restarted)

        stopped = await client.call_tool("mybb_server_stop", {})
        assert text_of(stopped).startswith("# Server Stopped")
        assert "Ran for" in text_of(stopped) and "Log preserved" in text_of(stopped)

        status = await client.call_tool("mybb_server_status", {})
        assert text_of(status).startswith("# Server Status: Stopped")


@pytest.mark.parametrize(
    ("tool", "args", "named"),
    [
        ("mybb_server_start", {"port": "8080"}, "port"),
        ("mybb_server_start", {"port": 0}, "port"),
        ("mybb_server_start", {"port": 70000}, "port"),
        ("mybb_server_start", {"port": True}, "port"),
        ("mybb_server_start", {"force": "yes"}, "force"),
        ("mybb_server_start", {"prot": 8080}, "prot"),
        ("mybb_server_stop", {"force": 1}, "force"),
        ("mybb_server_logs", {"limit": -1}, "limit"),
        ("mybb_server_logs", {"limit": 10**9}, "limit"),
        ("mybb_server_logs", {"offset": -5}, "offset"),
        ("mybb_server_logs", {"since_minutes": 0}, "since_minutes"),
        ("mybb_server_logs", {"filter": ""}, "filter"),
        ("mybb_server_logs", {"filter": "   "}, "filter"),
        ("mybb_server_logs", {"errors_only": "true"}, "errors_only"),
        ("mybb_server_logs", {"path": ""}, "path"),
        ("mybb_server_logs", {"path": "*"}, "path"),
        ("mybb_server_restart", {"port": -1}, "port"),
        ("mybb_server_status", {"verbose": True}, "verbose"),
    ],
)
async def test_bad_arguments_are_clear_errors_that_change_nothing(
    forum_env: dict[str, str], forum: Path, tool: str, args: dict[str, Any], named: str
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(tool, args)
    assert result.is_error
    text = text_of(result)
    assert text.startswith("# Error: Invalid Arguments")
    assert f"`{named}`" in text and "nothing was changed" in text
    assert not (forum.parent / ".mybb-server.json").exists()
    assert not (forum.parent / "logs").exists()


async def test_unknown_tool_is_a_protocol_error() -> None:
    async with Client(server) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("mybb_server_explode", {})
    assert caught.value.code == types.INVALID_PARAMS


async def test_no_forum_yet_says_what_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MYBB_ROOT", raising=False)
    async with Client(server) as client:
        result = await client.call_tool("mybb_server_start", {})
    assert result.is_error
    assert "MYBB_ROOT" in text_of(result)
    assert str(tmp_path / "TestForum") in text_of(result)


async def test_bad_configuration_is_reported_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYBB_PORT", "eighty")
    async with Client(server) as client:
        result = await client.call_tool("mybb_server_status", {})
    assert result.is_error
    assert text_of(result).startswith("# Error: Configuration")
    assert "MYBB_PORT" in text_of(result)


def installed_script(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    found = str(candidate) if candidate.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e . first"
    return found


async def test_over_stdio_with_the_installed_console_script(forum_env: dict[str, str], port: int,
                                                            tmp_path: Path) -> None:
    params = StdioServerParameters(command=installed_script("mybb-mcp"), args=[], env=forum_env, cwd=str(tmp_path))
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
        started = await client.call_tool("mybb_server_start", {})
        bad = await client.call_tool("mybb_server_logs", {"limit": "many"})
        stopped = await client.call_tool("mybb_server_stop", {})
    assert {tool.name for tool in tools} == TOOL_NAMES
    assert text_of(started).startswith("# Server Started"), text_of(started)
    assert bad.is_error and "`limit`" in text_of(bad)
    assert text_of(stopped).startswith("# Server Stopped")


@pytest.fixture
def sqlite_forum_env(tmp_path: Path, php: str, port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed (fixture) MyBB on SQLite with error logging off and bburl on another port."""
    from tests.fixtures.mybb_forum import make_sqlite_forum

    root = make_sqlite_forum(tmp_path / "repo" / "forum").root
    for key, value in {"MYBB_ROOT": str(root), "MYBB_PORT": str(port), "MYBB_PHP": php}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    yield root
    ServerOrchestrationService(Config(mybb_root=root, php=php, port=port)).stop(force=True)


async def test_status_reports_the_forum_and_start_can_turn_mybb_error_logging_on(
    sqlite_forum_env: Path, port: int
) -> None:
    settings_php = sqlite_forum_env / "inc" / "settings.php"
    async with Client(server) as client:
        before = text_of(await client.call_tool("mybb_server_status", {}))
        started = await client.call_tool("mybb_server_start", {"mybb_error_logging": "on"})
        settings_while_on = settings_php.read_text()
        running = text_of(await client.call_tool("mybb_server_status", {}))
        stopped = await client.call_tool("mybb_server_stop", {})
        off = await client.call_tool("mybb_server_start", {"mybb_error_logging": "off"})
    assert "SQLite" in before and "error logging is off" in before
    assert "mybb_error_logging" in before  # the fix is offered with this face's own words
    assert not started.is_error, text_of(started)
    assert "## MyBB Error Logging: On" in text_of(started)
    assert "errorlogmedium: 'none' -> 'log'" in text_of(started)
    assert "$settings['errorlogmedium'] = \"log\";" in settings_while_on
    assert "error logging is off" not in running
    assert f"127.0.0.1:{port}" in running and "8022" in running  # bburl points at another port: named
    assert text_of(stopped).startswith("# Server Stopped")
    assert "## MyBB Error Logging: Off" in text_of(off)
    assert "$settings['errorlogmedium'] = \"none\";" in settings_php.read_text()
