"""A template is code MyBB evaluates: the templates tool refuses what MyBB's check_template() refuses, and
over MCP writes templates only with MYBB_ALLOW_PHP=1 (the attack of issue 27, item 2, replayed through
the SDK's real client against a real forum)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from mcp import Client, types

from mybb_mcp.cli import main as cli_main
from mybb_mcp.server import server
from tests.fixtures.real_mybb import RealForum, archive_path

pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(not archive_path().is_file(), reason="MyBB release archive not found")]
ATTACK = "{${system('id')}}"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def header_copies(forum: RealForum) -> list[str]:
    with sqlite3.connect(f"file:{forum.db_file}?mode=ro", uri=True) as db:
        return [row[0] for row in db.execute("SELECT template FROM mybb_templates WHERE title = 'header'")]


async def call(client: Client, tool: str, args: dict) -> tuple[str, bool]:
    result = await client.call_tool(tool, args)
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text, bool(result.is_error)


async def test_an_injected_agent_cannot_put_code_into_a_template(on_forum: RealForum,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    before = header_copies(on_forum)
    attack = {"action": "replace", "title": "header", "find": "<navigation>", "replace": "<navigation>" + ATTACK}
    async with Client(server) as client:
        text, error = await call(client, "mybb_server_start", {})
        assert not error, text
        # MYBB_ALLOW_PHP unset: writing a template is running code, and is off.
        text, error = await call(client, "mybb_forum_templates", {**attack, "apply": True})
        assert error and "# Template Writes Are Off" in text and "MYBB_ALLOW_PHP=1" in text, text
        assert "Nothing was changed" in text
        # The dry run says MyBB's own check would refuse it.
        text, error = await call(client, "mybb_forum_templates", attack)
        assert error and "check_template() refuses" in text and "Nothing was changed" in text, text
        assert header_copies(on_forum) == before

        # Even with PHP allowed, what the Admin CP's editor refuses is refused.
        monkeypatch.setenv("MYBB_ALLOW_PHP", "1")
        text, error = await call(client, "mybb_forum_templates", {**attack, "apply": True})
        assert error and text.startswith("# Error: Template Refused") and "Default Templates (1)" in text, text
        assert "check_template() refuses" in text, text
        assert header_copies(on_forum) == before and not any(ATTACK in t for t in header_copies(on_forum))
        text, _ = await call(client, "mybb_server_request", {"path": "index.php", "contains": "groups="})
        assert "Text `groups=`: not present" in text, text

        # A plain change still goes through MyBB's find_replace_templatesets().
        plain = {**attack, "replace": "<navigation>{$mybb->settings['bbname']}!", "apply": True}
        text, error = await call(client, "mybb_forum_templates", plain)
        assert not error and "Changed in 1 Set(s)" in text, text
        text, _ = await call(client, "mybb_server_request", {"path": "index.php", "contains": "MyBB Test Forum!"})
        assert "present in the page text" in text, text


def test_the_cli_refuses_what_check_template_refuses(on_forum: RealForum,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = header_copies(on_forum)
    for attack in (ATTACK, "{$config['database']['password']}", "{$mybb->user->__construct()}"):
        code = cli_main(["templates", "--json", "replace", "header", "<navigation>", attack, "--apply"])
        answer = json.loads(capsys.readouterr().out)
        assert code == 1 and not answer["ok"] and "check_template() refuses" in answer["error"], (attack, answer)
        assert header_copies(on_forum) == before
