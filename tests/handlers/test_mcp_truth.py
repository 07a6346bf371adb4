"""Every answer true, through the SDK's real client on a real MyBB: a load without the plugin does not
resolve its warning, a plugin's "Are you sure?" page is named, the digest stays short."""

from __future__ import annotations

import re

import pytest
from mcp import Client, types

from mybb_mcp.server import server
from tests.fixtures.real_mybb import RealForum, archive_path
from tests.forum.test_every_answer_true import SHELF, SURE

pytestmark = [pytest.mark.anyio,
              pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB release archive not found at "
                                                                       f"{archive_path()} (set MYBB_TEST_ARCHIVE)")]
CURSOR = re.compile(r"Cursor: `(c1\.[0-9a-f.]+)`")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def call(client: Client, tool: str, args: dict) -> str:
    result = await client.call_tool(tool, args)
    assert isinstance(result.content[0], types.TextContent) and not result.is_error, result
    return result.content[0].text


async def test_over_mcp_a_load_without_the_plugin_resolves_nothing(on_forum: RealForum) -> None:
    on_forum.add_plugin("shelf", SHELF)
    on_forum.add_plugin("sure", SURE)
    async with Client(server) as client:
        await call(client, "mybb_server_start", {"mybb_error_logging": "on"})
        broken = await call(client, "mybb_server_request", {"path": "index.php", "query": {"shelf": "1"}})
        assert "shelf is broken" in broken
        cursor = CURSOR.search(broken).group(1)
        without = await call(client, "mybb_server_request", {"path": "index.php", "query": {"shelf": "1"},
                                                             "plugins": ["shelf"]})
        assert "Errors raised by this request: none" in without
        digest = await call(client, "mybb_server_logs", {"digest": True, "cursor": cursor})
        assert "[not re-checked]" in digest and "[resolved]" not in digest and len(digest) <= 3000, digest
        assert '`path: "index.php?shelf=1", as: "guest"`' in digest
        sure = await call(client, "mybb_server_request", {"path": "misc.php", "query": {"action": "sure_wipe"}})
        assert "MyBB asks for confirmation (nothing is done by this GET)" in sure
        assert '"action": "sure_do_wipe"' in sure and "MyBB showed the page" not in sure
