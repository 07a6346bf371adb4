"""The browser check kept warm by the MCP server, and combined with trace, queries and profile: on a real
MyBB 1.8.37 served by php -S, a real Chromium, the MCP face through the SDK's client (in-process, and the
installed `mybb-mcp` over stdio for its exit)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters, types

from mybb_mcp.answers.request import render_page_result
from mybb_mcp.forum.requests import PageRequest
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.server import server
from mybb_mcp.workbench import browser_pool, request_trace
from tests.fixtures.forum_requests import add_member
from tests.workbench.conftest import MEMBER, MEMBER_PASSWORD, chromium_processes, profiles
from tests.workbench.test_browser import PLUGIN

pytestmark = [
    pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("MYBB_CHROMIUM"),
                       reason="Chromium is not installed (apt-get install -y chromium)"),
    pytest.mark.usefixtures("own_chromiums"),  # conftest.py: this test's Chromiums and profiles, no one else's
]


def text_of(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


def wait_for(check: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


def test_two_calls_over_mcp_share_one_browser_and_no_cookie(real_forum: Any,
                                                            serving: ServerOrchestrationService) -> None:
    assert add_member(serving, MEMBER, MEMBER_PASSWORD, "warm@example.com").response.page_error is None
    forum = str(real_forum.root)

    async def over_mcp() -> tuple[str, int | None, str, int | None, str]:
        async with Client(server) as client:
            member = text_of(await client.call_tool("mybb_server_request", {
                "path": "index.php", "as": MEMBER, "browser": True, "contains": "action=logout"}))
            first = browser_pool.warm_pids().get(forum)
            guest = text_of(await client.call_tool("mybb_server_request", {
                "path": "index.php", "browser": True, "contains": "action=logout"}))
            second = browser_pool.warm_pids().get(forum)
            stopped = text_of(await client.call_tool("mybb_server_stop", {}))
        return member, first, guest, second, stopped

    member, first, guest, second, stopped = anyio.run(over_mcp)
    assert "Text `action=logout`: present" in member  # the member is logged in in the browser
    assert first is not None and second == first  # the same Chromium for both calls
    assert "warm" in guest
    # A fresh context per call: the member's cookies are not in the guest's, who sees the page logged out.
    assert "Text `action=logout`: not present" in guest, guest
    assert stopped.startswith("# Server Stopped")
    assert browser_pool.warm_pids() == {} and chromium_processes() == [] and profiles() == []


def test_an_idle_warm_browser_is_closed(real_forum: Any, serving: ServerOrchestrationService,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(browser_pool.IDLE_ENV, "0.5")
    serving.forum.keep_browser_warm = True
    result = serving.forum.request_page(PageRequest("index.php", browser=True))
    assert result.browser is not None and not result.browser.warm
    assert str(real_forum.root) in browser_pool.warm_pids()
    assert wait_for(lambda: not browser_pool.warm_pids() and not chromium_processes() and not profiles())


def test_a_warm_browser_goes_with_its_server(real_forum: Any, serving: ServerOrchestrationService) -> None:
    """Stopped outside the tool (the php -S gone): the watcher closes the browser kept for it."""
    serving.forum.keep_browser_warm = True
    assert serving.forum.request_page(PageRequest("index.php", browser=True)).browser is not None
    assert chromium_processes() != []
    running = serving.site.current([])
    assert running is not None
    os.killpg(running.identity.group, signal.SIGKILL)  # gone without the tool's stop
    assert wait_for(lambda: not chromium_processes())


def test_a_warm_browser_that_died_is_replaced(real_forum: Any, serving: ServerOrchestrationService) -> None:
    serving.forum.keep_browser_warm = True
    assert serving.forum.request_page(PageRequest("index.php", browser=True)).browser is not None
    first = browser_pool.warm_pids()[str(real_forum.root)]
    assert wait_for(lambda: browser_pool._pool[str(real_forum.root)].spare is not None)  # idle, next tab made
    os.killpg(first, signal.SIGKILL)  # Chromium crashed while kept
    assert wait_for(lambda: not browser_pool._pool[str(real_forum.root)].browser.alive())
    again = serving.forum.request_page(PageRequest("index.php", browser=True))
    assert again.browser is not None and not again.browser.warm, (again.failure, again.hint)
    assert browser_pool.warm_pids()[str(real_forum.root)] != first
    restarted = serving.restart()
    assert restarted.success and browser_pool.warm_pids() == {}  # restart closes it
    assert wait_for(lambda: not chromium_processes())


def test_mcp_server_exit_leaves_no_browser(real_forum: Any, serving: ServerOrchestrationService,
                                           tmp_path: Path) -> None:
    command = str(Path(sys.executable).with_name("mybb-mcp"))
    params = StdioServerParameters(command=command, args=[], env=dict(os.environ), cwd=str(tmp_path / "cwd"))
    seen: list[int] = []

    async def over_stdio() -> str:
        async with Client(params) as client:
            text = text_of(await client.call_tool("mybb_server_request", {"path": "index.php", "browser": True}))
            seen.extend(p.pid for p in chromium_processes())
            again = text_of(await client.call_tool("mybb_server_request", {"path": "index.php", "browser": True}))
            assert "warm" in again
        return text

    assert "started, kept warm for the next calls)" in anyio.run(over_stdio)
    assert seen, "a warm browser while the MCP server runs"
    assert wait_for(lambda: not chromium_processes(), 5.0)


def test_the_cli_stays_cold(real_forum: Any, serving: ServerOrchestrationService, tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}, **real_forum.env()}
    done = subprocess.run([sys.executable, "-m", "mybb_mcp.cli", "request", "index.php", "--browser"],
                          cwd=tmp_path / "cwd", env=env, capture_output=True, text=True, timeout=120, check=False)
    assert "started for this call)" in done.stdout, (done.stdout, done.stderr)
    assert chromium_processes() == [] and profiles() == []


def test_browser_combines_with_trace_queries_and_profile(real_forum: Any, serving: ServerOrchestrationService,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real_forum.add_plugin("browserbugs", PLUGIN)  # its page calls xmlhttp.php: a PHP sub-request
    files: list[str] = []
    collect = request_trace.collect

    def watched(config: Any, workbench: Any, ports: list[int], *args: Any) -> Any:
        # The router's records: a trace file per request that carried the secret, named by its client port.
        files.extend(p.name for p in request_trace.workbench_dir(config).glob(f"trace-{workbench.id}-*.json"))
        return collect(config, workbench, ports, *args)

    monkeypatch.setattr(request_trace, "collect", watched)
    result = serving.forum.request_page(PageRequest("index.php", browser=True, trace=True, queries=True, profile=True))
    assert result.response is not None and result.browser is not None, (result.failure, result.hint)
    page_ports = [h.client_port for h in result.response.hops]
    ajax = [r for r in result.browser.requests if r.target.startswith("/xmlhttp.php")]
    assert ajax and all(r.client_port for r in ajax)  # the sub-request reached PHP
    assert {int(name.rsplit("-", 1)[1].split(".")[0]) for name in files} == set(page_ports)  # the page's only
    assert [u.split("/", 3)[-1] for u in result.browser.headed] == ["index.php"]
    workbench = result.workbench
    assert workbench is not None and workbench.exchanges_read == len(page_ports)
    assert workbench.hooks and workbench.costs is not None and workbench.costs.queries
    text = render_page_result(result)
    assert len(text) <= 12_000, len(text)
    for section in ("## In the browser:", "## Trace", "## Queries", "## Profile", "of the page's own request"):
        assert section in text, section
    assert "template `browserbugs_script` line 3" in text


def test_browser_still_refuses_post_and_plugins() -> None:
    for request in (PageRequest("index.php", method="POST", browser=True),
                    PageRequest("index.php", browser=True, plugins="none")):
        with pytest.raises(Exception, match="browser loads a page with GET"):
            request.validated()
    assert PageRequest("index.php", browser=True, queries=True, profile=True, trace=True).validated().queries


def test_with_the_workbench_the_browser_section_keeps_to_its_share() -> None:
    """Many long script errors and failed requests: with trace/queries/profile the browser's lists stop at
    their share of the answer and say how many they left out; alone they keep their own caps."""
    from mybb_mcp.answers.browser import COMBINED_BUDGET, render_browser
    from mybb_mcp.workbench.browser import BrowserReport, BrowserRequest, ScriptError

    report = BrowserReport("Chromium 156", script_errors=[
        ScriptError("exception", f"TypeError {i} " + "x" * 280, "http://127.0.0.1:8022/index.php", 300 + i, 1)
        for i in range(30)], requests=[
        BrowserRequest("GET", f"http://127.0.0.1:8022/xmlhttp.php?action=a{i}", f"/xmlhttp.php?action=a{i}" + "y" * 150,
                       "XHR", status=500, done=True, client_port=40000 + i) for i in range(10)])
    combined = "\n".join(render_browser(report, "guest", True))
    alone = "\n".join(render_browser(report, "guest", False))
    assert len(combined) <= COMBINED_BUDGET + 600, len(combined)
    assert "… and 2" in combined and len(alone) > len(combined)
    assert "### Script errors: 30" in combined and "### Requests with problems: 10" in combined
