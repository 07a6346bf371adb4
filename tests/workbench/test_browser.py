"""mybb_server_request with `browser`: the page in real headless Chromium, on a real MyBB 1.8.37 served by
php -S, with a plugin of our own (tests/workbench/browser_plugin.php): an inline script error in its template,
an AJAX handler whose displayed warning breaks its JSON, an error only members get. A clean MyBB page reports
nothing; requests to other addresses never leave; no Chromium process or profile is left behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, types

from mybb_mcp.answers.request import render_page_result
from mybb_mcp.forum.pages import front_logged_in
from mybb_mcp.forum.requests import PageRequest
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.server import server
from mybb_mcp.workbench import browser as browser_module
from mybb_mcp.workbench import chromium as chromium_module
from tests.fixtures.forum_requests import add_member, forum_env
from tests.workbench.conftest import MEMBER, MEMBER_PASSWORD, chromium_processes, profiles

pytestmark = [
    pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("MYBB_CHROMIUM"),
                       reason="Chromium is not installed (apt-get install -y chromium)"),
    pytest.mark.usefixtures("own_chromiums"),  # conftest.py: this test's Chromiums and profiles, no one else's
]

PLUGIN = (Path(__file__).parent / "browser_plugin.php").read_text("utf-8")
WARNING_LINE = next(n for n, line in enumerate(PLUGIN.split("\n"), 1) if "$browserbugs_count + 1" in line)
FATAL_LINE = next(n for n, line in enumerate(PLUGIN.split("\n"), 1) if "\tbrowserbugs_count_members();" in line)


def browse(service: ServerOrchestrationService, path: str, role: str = "guest", **kwargs: Any) -> Any:
    result = service.forum.request_page(PageRequest(path, role=role, browser=True, **kwargs))
    assert result.response is not None, (result.failure, result.hint)
    assert result.browser is not None
    return result


def the_ajax_call(result: Any) -> Any:
    calls = [r for r in result.browser.requests if r.target.startswith("/xmlhttp.php?action=browserbugs_like")]
    assert len(calls) == 1, [r.target for r in result.browser.requests]
    return calls[0]


def test_plugin_bugs_in_the_browser_as_guest_and_member(real_forum: Any, serving: ServerOrchestrationService) -> None:
    real_forum.add_plugin("browserbugs", PLUGIN)
    added = add_member(serving, MEMBER, MEMBER_PASSWORD, "browser@example.com")
    assert added.response.page_error is None

    guest = browse(serving, "index.php", selector="#browserbugs_added")
    report = guest.browser
    assert report.version.startswith("Chromium ")
    # The inline script's error: its line in the page, its template and the line inside it.
    [error] = [e for e in report.script_errors if "browserbugs_undefined_function" in e.message]
    assert error.kind == "exception" and "ReferenceError" in error.message
    assert (error.template, error.template_line) == ("browserbugs_script", 3)
    assert error.url is not None and error.url.split("?")[0].endswith("/index.php") and error.line
    assert not any("member_only" in e.message for e in report.script_errors)  # a guest never gets it
    assert not any("browserbugs_member" in r.target for r in report.requests)
    [missing] = [r for r in report.requests if r.target.endswith("/jscripts/browserbugs_missing.js")]
    assert missing.status == 404 and missing.problem  # a failed request: the script the template links to
    # The AJAX call: answered, not JSON, with the warning PHP displayed and logged (its file:line).
    call = the_ajax_call(guest)
    assert call.status == 200 and call.problem
    assert call.verdict is not None and not call.verdict.valid
    assert any(c.kind == "warning" and c.place == f"inc/plugins/browserbugs.php:{WARNING_LINE}"
               for c in call.verdict.culprits)
    assert any("Undefined variable $browserbugs_count" in g.example.message for g in call.errors), call.errors
    # The page itself raised nothing on the server; the selector is counted after scripts ran.
    assert guest.errors == [] and guest.response.status == 200
    assert guest.selector_count == 1
    assert browse(serving, "index.php").browser is not None  # a second look: the same findings, warm
    plain = serving.forum.request_page(PageRequest("index.php", selector="#browserbugs_added"))
    assert plain.selector_count == 0  # the server's HTML has no such element: scripts add it
    # The screenshot is a PNG file of its own; the answer names it and stays small.
    assert report.screenshot is not None and report.screenshot.is_absolute()
    assert report.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = render_page_result(guest)
    assert len(text) <= 6000, len(text)
    assert str(report.screenshot) in text and "template `browserbugs_script` line 3" in text
    assert f"browserbugs.php:{WARNING_LINE}" in text and "/favicon.ico" not in text

    member = browse(serving, "index.php", role=MEMBER)
    messages = [e.message for e in member.browser.script_errors]
    [own] = [e for e in member.browser.script_errors if "browserbugs_member_only_function" in e.message]
    assert (own.template, own.template_line) == ("browserbugs_member", 3), messages
    assert any("browserbugs_undefined_function" in m for m in messages)
    assert the_ajax_call(member).verdict is not None and not the_ajax_call(member).verdict.valid
    [dying] = [r for r in member.browser.requests if r.target == "/xmlhttp.php?action=browserbugs_member"]
    assert dying.status == 500 and dying.problem  # the member-only AJAX call, joined to its fatal error
    assert any("browserbugs_count_members" in g.example.message and g.fingerprint.where.endswith(
        f"browserbugs.php:{FATAL_LINE}") for g in dying.errors), [(g.example.message, g.fingerprint.where)
                                                                   for g in dying.errors]
    # Chromium's connections overlap: the like call's warning is its own, never the member call's.
    assert not any("$browserbugs_count" in g.example.message for g in dying.errors)
    assert front_logged_in(member.response.body)  # the page as the member saw it: logged in
    assert f"as {MEMBER}" in render_page_result(member)

    assert chromium_processes() == []  # nothing left after each call
    assert profiles() == []  # the private profiles are removed


def test_a_clean_mybb_page_reports_nothing(serving: ServerOrchestrationService) -> None:
    result = browse(serving, "index.php")
    report = result.browser
    assert report.script_errors == [] and report.blocked == []
    assert [r for r in report.requests if r.problem] == []
    assert any(r.target.endswith("jquery.js?ver=1823") or "jquery" in r.target for r in report.requests)
    text = render_page_result(result)
    assert "No script errors, no failed requests" in text and "Requests with problems" not in text
    serving.stop()
    assert chromium_processes() == []


def test_requests_to_other_addresses_never_leave(real_forum: Any, serving: ServerOrchestrationService) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    other = listener.getsockname()[1]
    (real_forum.root / "elsewhere.html").write_text(f"""<!DOCTYPE html><html><head>
<link rel="preconnect" href="http://127.0.0.1:{other}"></head><body>
<img src="http://127.0.0.1:{other}/image.png"><img src="http://localhost:{other}/other.png">
<script>
fetch("http://127.0.0.1:{other}/fetch").catch(function() {{}});
var socket = new WebSocket("ws://127.0.0.1:{other}/socket");
new Worker(URL.createObjectURL(new Blob(['fetch("http://127.0.0.1:{other}/worker")'])));
</script></body></html>""", "utf-8")
    try:
        result = browse(serving, "elsewhere.html")
        assert len(result.browser.blocked) >= 3, result.browser.blocked
        assert "Blocked:" in render_page_result(result)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # anything on its way would have arrived by now
            with pytest.raises(BlockingIOError):
                listener.accept()
            time.sleep(0.05)
    finally:
        listener.close()
    assert chromium_processes() == []


def test_without_chromium_the_call_fails_fast_naming_the_install(real_forum: Any, monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    forum_env(real_forum, monkeypatch, tmp_path)
    service = ServerOrchestrationService(real_forum.config())
    for env in ({"MYBB_CHROMIUM": str(tmp_path / "no-chromium")}, {"PATH": str(tmp_path)}):
        with monkeypatch.context() as patch:
            patch.delenv("MYBB_CHROMIUM", raising=False)
            for key, value in env.items():
                patch.setenv(key, value)
            started = time.monotonic()
            result = service.forum.request_page(PageRequest("index.php", browser=True))
            assert time.monotonic() - started < 2
        assert result.response is None and "apt-get install -y chromium" in (result.hint or "")
        assert "apt-get install -y chromium" in render_page_result(result)
    assert not (real_forum.root.parent / ".mybb-server-sessions").exists()  # nothing else was done


def test_an_executable_that_is_not_chromium_fails_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(chromium_module.BrowserProblem, match="Chromium quit unexpectedly"), \
            chromium_module.Chromium(shutil.which("true") or "/bin/true", "127.0.0.1:9"):
        pass
    assert time.monotonic() - started < 2
    assert profiles() == []


def test_browser_takes_get_alone() -> None:
    with pytest.raises(Exception, match="browser loads a page with GET"):
        PageRequest("index.php", method="POST", browser=True).validated()


def test_a_template_is_named_by_mybb_s_comments() -> None:
    html = "<html>\n<!-- start: outer -->\n<p>\n<!-- start: inner -->\n<script>\nboom();\n</script>\n" \
           "<!-- end: inner -->\n<b>\n<!-- end: outer -->\n<i>\n"
    assert browser_module.template_at(html, 6) == ("inner", 2)
    assert browser_module.template_at(html, 9) == ("outer", 7)
    assert browser_module.template_at(html, 11) is None
    assert re.match(r"/index\.php\?debug=1$", browser_module.page_target(PageRequest("index.php", debug=True), "admin"))


def test_the_cli_and_the_mcp_face_carry_the_option(real_forum: Any, serving: ServerOrchestrationService,
                                                    tmp_path: Path) -> None:
    real_forum.add_plugin("browserbugs", PLUGIN)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}, **real_forum.env()}
    done = subprocess.run([sys.executable, "-m", "mybb_mcp.cli", "request", "index.php", "--browser"],
                          cwd=tmp_path / "cwd", env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stderr  # the page's script error and broken AJAX answer
    assert "template `browserbugs_script` line 3" in done.stdout and "Screenshot:" in done.stdout
    done = subprocess.run([sys.executable, "-m", "mybb_mcp.cli", "request", "index.php", "--browser", "--json"],
                          cwd=tmp_path / "cwd", env=env, capture_output=True, text=True, timeout=120, check=False)
    data = json.loads(done.stdout)
    assert [e["template"] for e in data["browser"]["script_errors"]] == ["browserbugs_script"]
    assert Path(data["browser"]["screenshot"]).is_file()

    async def over_mcp() -> str:
        async with Client(server) as client:
            result = await client.call_tool("mybb_server_request", {"path": "index.php", "browser": True})
            assert isinstance(result.content[0], types.TextContent) and not result.is_error
            return result.content[0].text

    text = anyio.run(over_mcp)
    assert "## In the browser: Chromium" in text and f"browserbugs.php:{WARNING_LINE}" in text
    assert len(text) <= 6000
    serving.stop()
    assert chromium_processes() == []
