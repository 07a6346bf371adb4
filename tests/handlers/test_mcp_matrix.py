"""mybb_forum_matrix through the SDK's real client: progress per cell, one table within the budget."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client, types

from mybb_mcp.server import server
from tests.fixtures.real_mybb import RealForum, archive_path
from tests.workbench.test_matrix import plugin_source

pytestmark = [pytest.mark.anyio, pytest.mark.skipif(not archive_path().is_file(), reason="MyBB archive not found")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_matrix_over_mcp_reports_each_cell_and_fits_the_budget(
        real_forum: RealForum, build_cache: Path, php74: Path, php84: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("MYBB_")]:
        monkeypatch.delenv(key)
    env = {**real_forum.env(), "MYBB_CACHE_DIR": str(build_cache), "MYBB_ARCHIVE": str(archive_path())}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(real_forum.root.parent)
    real_forum.add_plugin("mxmatch", plugin_source("mxmatch"), activate=False)
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with Client(server) as client:
        refused = await client.call_tool("mybb_forum_matrix", {"plugin": "mxmatch", "php": ["9.9"]})
        assert refused.is_error and "9.9" in refused.content[0].text  # type: ignore[union-attr]
        result = await client.call_tool("mybb_forum_matrix", {"plugin": "mxmatch", "php": ["7.4", "8.4"]},
                                        progress_callback=on_progress)
    assert isinstance(result.content[0], types.TextContent)
    text = result.content[0].text
    assert not result.is_error and len(text) <= 8_000, text
    assert "| 7.4 (7.4.33) | 1.8.37 | ❌ fails | `inc/plugins/mxmatch.php:17`" in text, text
    assert "| 8.4 (8.4.14) | 1.8.37 | ✅ ok | — |" in text, text
    assert [m for m in progress if "PHP 7.4 × MyBB 1.8.37" in m] and [m for m in progress if "PHP 8.4 ×" in m]
