"""The workbench over MCP through the SDK's real client, as the issue's "done when" reads: on a fresh
directory an agent makes a forum, reads tables (never writing one), describes one, adds a member and a
moderator and loads pages as them, reads a template and dry-runs a change, and changes templates and
evaluates PHP when allowed; every answer under 25,000 characters."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import mcp.types as types
import pytest
from mcp import Client

from mybb_mcp.config import Config
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.server import server
from tests.conftest import free_port
from tests.fixtures.real_mybb import RealForum, archive_path

pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB release archive not found at "
                                                                       f"{archive_path()} (set MYBB_TEST_ARCHIVE)")]
ANSWER_LIMIT = 25_000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fresh(tmp_path: Path, php: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty directory as MYBB_ROOT's parent; whatever the test started is stopped."""
    root, port = tmp_path / "site" / "TestForum", free_port()
    for key in [k for k in os.environ if k.startswith("MYBB_") and k != "MYBB_TEST_ARCHIVE"]:
        monkeypatch.delenv(key)
    for key, value in {"MYBB_ROOT": str(root), "MYBB_PORT": str(port), "MYBB_PHP": php}.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    yield root
    ServerOrchestrationService(Config(mybb_root=root, php=php, port=port)).stop(force=True)


async def call(client: Client, tool: str, args: dict, **kwargs: object) -> tuple[str, bool]:
    result = await client.call_tool(tool, args, **kwargs)
    assert isinstance(result.content[0], types.TextContent)
    text = result.content[0].text
    assert len(text) < ANSWER_LIMIT, (tool, len(text))
    return text, bool(result.is_error)


async def test_an_agent_makes_a_forum_and_works_in_it(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with Client(server) as client:
        text, error = await call(client, "mybb_forum_init", {"from": str(archive_path())},
                                 progress_callback=on_progress)
        assert not error and text.startswith("# Forum Installed"), text
        creds = json.loads((fresh.parent / ".mybb-forum-credentials.json").read_text())
        assert creds["admin_password"] not in text and "mode 0600" in text
        assert len(progress) >= 2 and progress[-1] == "starting the server", progress

        text, error = await call(client, "mybb_forum_sql", {"sql": "SELECT uid, username FROM mybb_users"})
        assert not error and "| `1` | `admin` |" in text
        text, error = await call(client, "mybb_forum_sql", {"sql": f"ATTACH '{fresh.parent}/x.db' AS x"})
        assert error and "Refused by SQLite: ATTACH" in text and not (fresh.parent / "x.db").exists()
        text, error = await call(client, "mybb_forum_sql", {"table": "users"})
        assert not error and "# Table mybb_users" in text and "| `uid` | `INTEGER` |" in text

        for name, role in (("maya", "member"), ("mona", "moderator")):
            text, error = await call(client, "mybb_forum_members", {"action": "add", "name": name, "role": role})
            assert not error and f"# Member Added: {name}" in text, text
            text, error = await call(client, "mybb_server_request", {"path": "usercp.php", "as": name,
                                                                     "contains": "Log Out"})
            assert not error and "front end as " + name in text, text
        text, _ = await call(client, "mybb_server_request", {"path": "modcp.php", "as": "mona",
                                                             "contains": "Moderator Control Panel"})
        assert "Text `Moderator Control Panel`: present in the page text." in text, text

        args = {"action": "replace", "title": "header", "find": "<navigation>", "replace": "<navigation>[wb]"}
        text, error = await call(client, "mybb_forum_templates", {"action": "get", "title": "header"})
        assert not error and "| master (-2) | master |" in text
        text, error = await call(client, "mybb_forum_templates", args)
        assert not error and "Dry Run" in text and "+" in text and "[wb]" in text
        text, error = await call(client, "mybb_forum_templates", {**args, "apply": True})
        assert error and "# Template Writes Are Off" in text and "MYBB_ALLOW_PHP=1" in text
        text, error = await call(client, "mybb_forum_php", {"code": "return 1;"})
        assert error and "MYBB_ALLOW_PHP=1" in text and "Nothing was run" in text
        monkeypatch.setenv("MYBB_ALLOW_PHP", "1")
        text, error = await call(client, "mybb_forum_templates", {**args, "apply": True})
        assert not error and "Changed in 1 Set(s)" in text
        text, _ = await call(client, "mybb_server_request", {"path": "index.php", "contains": "[wb]"})
        assert "Text `[wb]`: present in the page text." in text, text

        text, error = await call(client, "mybb_forum_php", {"code": "return $mybb->settings['bbname'];"})
        assert not error and "## Return Value" in text and "'MyBB Test Forum'" in text, text
        text, error = await call(client, "mybb_forum_php", {"code": "while (true) {}", "timeout_seconds": 1})
        assert error and "# PHP Stopped" in text
        text, error = await call(client, "mybb_server_status", {})
        assert not error and "Running" in text


async def test_bad_arguments_change_nothing_and_say_what_is_accepted(on_forum: RealForum) -> None:
    async with Client(server) as client:
        text, error = await call(client, "mybb_forum_sql", {"sql": "SELECT 1", "table": "users"})
        assert error and "exactly one of `sql`" in text
        text, error = await call(client, "mybb_forum_sql", {"sql": "SELECT 1", "limit": 0})
        assert error and "`limit`" in text
        text, error = await call(client, "mybb_forum_members", {"action": "add"})
        assert error and "needs a `name`" in text
        text, error = await call(client, "mybb_forum_templates", {"action": "replace", "title": "header"})
        assert error and "`find` and `replace`" in text
        text, error = await call(client, "mybb_forum_sql", {"sql": "SELECT 1; DROP TABLE mybb_users"})
        assert error and "one statement" in text
        text, error = await call(client, "mybb_forum_sql", {"sql": "SELECT * FROM mybb_templates", "limit": 500})
        assert not error and "more rows not shown" in text and "OFFSET" in text
