"""Page requests on a real MyBB 1.8.37: roles, logins, my_post_key, the errors of exactly one request,
cursors and the digest, through the service, the CLI and the MCP SDK client."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mcp.types as types
import pytest
from mcp import Client

from mybb_mcp.failures import Failure
from mybb_mcp.forum.php import run_mybb_php
from mybb_mcp.forum.requests import PageRequest
from mybb_mcp.forum.sessions import SESSIONS_DIR
from mybb_mcp.logs.digest import NEW, RESOLVED, STILL_FIRING
from mybb_mcp.logs.options import LogQueryOptions
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.server import server
from tests.fixtures.forum_requests import add_member as add_member_by_form
from tests.fixtures.forum_requests import forum_env, get, serving

MEMBER, MEMBER_PASSWORD = "carol", "Tulip-Moss-9381"

BOOM_PLUGIN = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
$plugins->add_hook("global_start", "boom_run");
function boom_info() { return array("name" => "boom", "description" => "raises on ?boom=1", "version" => "1",
    "author" => "tests", "compatibility" => "18*"); }
function boom_run() {
    if(isset($_GET['boom'])) {
        throw new RuntimeException("boom plugin failed");
    }
}
"""
FIXED_PLUGIN = BOOM_PLUGIN.replace('throw new RuntimeException("boom plugin failed");', "return;")


@pytest.fixture
def env(real_forum, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    return forum_env(real_forum, monkeypatch, tmp_path, {MEMBER: MEMBER_PASSWORD})


@pytest.fixture
def running(real_forum, env: dict[str, str]) -> Iterator[ServerOrchestrationService]:
    with serving(real_forum) as service:
        yield service


def add_member(service: ServerOrchestrationService) -> object:
    return add_member_by_form(service, MEMBER, MEMBER_PASSWORD, "carol@example.test")


# --- roles ------------------------------------------------------------------------------------------

def test_each_role_sees_its_page(running: ServerOrchestrationService, real_forum) -> None:
    guest = get(running, "usercp.php")
    assert guest.response.page_error is not None and guest.response.page_error.kind == "no_permission"
    assert not guest.errors and guest.errors_known

    admin_cp = get(running, "admin/index.php", "admin")
    assert admin_cp.response.page_error is None
    assert admin_cp.response.logins == [f"Admin CP as {real_forum.admin_user}"]
    assert "Dashboard" in (admin_cp.response.body[:2000])

    assert add_member(running).response.page_error is None
    member = get(running, "usercp.php", MEMBER, contains="User Control Panel")
    assert member.response.page_error is None
    assert member.contains_found == "text"
    assert member.response.logins == [f"front end as {MEMBER}"]

    again = get(running, "usercp.php", MEMBER)  # the jar kept the session: no second login
    assert again.response.logins == [] and again.response.page_error is None

    refused = running.forum.request_page(PageRequest("admin/index.php", role=MEMBER))
    assert refused.response is None and "refused the Admin CP login" in refused.problem
    assert refused.failure is Failure.LOGIN_REFUSED
    assert MEMBER_PASSWORD not in (refused.failure or "") + (refused.hint or "")


def test_jars_are_private_and_an_expired_session_logs_in_again(running: ServerOrchestrationService,
                                                                real_forum) -> None:
    get(running, "admin/index.php", "admin")
    sessions = real_forum.root.parent / SESSIONS_DIR
    assert stat.S_IMODE(sessions.stat().st_mode) == 0o700
    jar = sessions / "admin.json"
    assert stat.S_IMODE(jar.stat().st_mode) == 0o600
    assert real_forum.admin_password not in jar.read_text()

    # MyBB forgets the Admin CP session (as when it expires): the next request logs in again.
    import sqlite3
    with sqlite3.connect(real_forum.db_file) as db:
        db.execute("DELETE FROM mybb_adminsessions")
    result = get(running, "admin/index.php", "admin", selector="#welcome")
    assert result.response.page_error is None
    assert "logged in again" in " ".join(result.response.notes)
    assert result.selector_count == 1


def test_a_jar_behind_a_symlink_is_not_followed(running: ServerOrchestrationService, real_forum,
                                                tmp_path: Path) -> None:
    sessions = real_forum.root.parent / SESSIONS_DIR
    sessions.mkdir(mode=0o700)
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    (sessions / "guest.json").symlink_to(target)
    get(running, "index.php")
    assert target.read_text() == "{}"
    assert not (sessions / "guest.json").is_symlink()


# --- my_post_key ------------------------------------------------------------------------------------

def test_admin_cp_post_fills_my_post_key(running: ServerOrchestrationService, real_forum) -> None:
    created = add_member(running)
    assert [hop.status for hop in created.response.hops] == [302, 200]
    assert created.flash and "created" in created.flash.lower()

    forged = get(running, "admin/index.php", "admin", method="POST",
                 query=(("module", "config-settings"), ("action", "change")),
                 form=(("upsetting[bbname]", "Forged"), ("my_post_key", "0" * 32)))
    assert forged.response.page_error is not None and forged.response.page_error.kind == "post_key"

    changed = get(running, "admin/index.php", "admin", method="POST",
                  query=(("module", "config-settings"), ("action", "change")),
                  form=(("upsetting[bbname]", "Renamed Board"), ("gid", "1")))
    assert changed.response.page_error is None and changed.flash
    assert "Renamed Board" in (real_forum.root / "inc" / "settings.php").read_text()


def test_an_admin_cp_link_written_in_the_path_gets_my_post_key(running: ServerOrchestrationService,
                                                              real_forum) -> None:
    """Agents write the query into the path; MyBB checks the key on Admin CP action links all the same."""
    (real_forum.root / "inc" / "plugins" / "linked.php").write_text(
        "<?php\nfunction linked_info() { return array('name' => 'Linked', 'compatibility' => '18*'); }\n"
        "function linked_activate() {}\n")
    activated = get(running, "admin/index.php?module=config-plugins&action=activate&plugin=linked", "admin")
    assert activated.response.page_error is None, activated.response.page_error
    plugins = run_mybb_php(real_forum.root, "$result = $cache->read('plugins');").result
    assert "linked" in plugins["active"]


# --- errors of exactly this request ---------------------------------------------------------------

def test_a_plugin_error_shows_in_its_request_and_not_in_the_next(running: ServerOrchestrationService,
                                                                 real_forum) -> None:
    real_forum.add_plugin("boom", BOOM_PLUGIN)
    broken = get(running, "index.php", query=(("boom", "1"),))
    assert broken.response.status == 500
    assert len(broken.errors) == 1  # php -S logs the fatal twice: one error
    group = broken.errors[0]
    assert group.fingerprint.kind == "exception"
    assert group.fingerprint.where == "inc/plugins/boom.php:8"
    assert group.count == 1 and "boom plugin failed" in group.example.message

    clean = get(running, "index.php")
    assert clean.response.status == 200 and clean.errors == [] and clean.errors_known


def test_another_clients_error_is_not_this_requests(running: ServerOrchestrationService, real_forum) -> None:
    real_forum.add_plugin("boom", BOOM_PLUGIN)
    url = f"http://127.0.0.1:{real_forum.port}/index.php?boom=1"
    import urllib.error
    import urllib.request
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=30)
    mine = get(running, "index.php")
    assert mine.errors == []
    after = running.logs.logs_since(mine.cursor, LogQueryOptions(errors_only=True))
    assert after.entries == []


def test_a_fixed_error_shows_as_resolved_in_the_digest(running: ServerOrchestrationService, real_forum) -> None:
    plugin = real_forum.add_plugin("boom", BOOM_PLUGIN)
    broken = get(running, "index.php", query=(("boom", "1"),))
    assert broken.errors
    cursor = broken.cursor

    plugin.write_text(FIXED_PLUGIN)
    deadline = time.monotonic() + 15  # PHP may serve the cached code for a moment after the edit
    while True:
        fixed = get(running, "index.php", query=(("boom", "1"),))
        if not fixed.errors or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert fixed.errors == [] and fixed.response.status == 200

    digest = running.logs.error_digest(cursor)
    fates = {g.fingerprint.where: g.status for g in digest.groups + digest.before}
    assert fates["inc/plugins/boom.php:8"] == RESOLVED  # even if it fired again while PHP held the old code
    assert all(status in (NEW, STILL_FIRING, RESOLVED) for status in fates.values())


def test_a_cursor_survives_a_restart(running: ServerOrchestrationService, real_forum) -> None:
    real_forum.add_plugin("boom", BOOM_PLUGIN)
    cursor = get(running, "index.php").cursor
    get(running, "index.php", query=(("boom", "1"),))
    assert running.restart().success  # the log moves to server.log.1
    get(running, "index.php", query=(("boom", "2"),))
    found = running.logs.logs_since(cursor, LogQueryOptions(errors_only=True))
    paths = [e.request.path for e in found.entries if e.request]  # each error with its request, as queries show it
    assert "/index.php?boom=1" in paths and "/index.php?boom=2" in paths
    again = running.logs.logs_since(found.cursor.encode(), LogQueryOptions(errors_only=True))
    assert again.entries == []


def test_waiting_for_the_next_error(running: ServerOrchestrationService, real_forum) -> None:
    real_forum.add_plugin("boom", BOOM_PLUGIN)
    cursor = running.logs.log_cursor()
    url = f"http://127.0.0.1:{real_forum.port}/index.php?boom=1"
    sender = threading.Thread(target=_load_ignoring_errors, args=(url,))
    ticks: list[float] = []

    def on_wait(waited: float, total: float) -> None:
        # The page is loaded only once the wait is under way: the error must come from waiting, not be
        # found already written (and no fixed sleep decides the order).
        ticks.append(waited)
        if sender.ident is None:
            sender.start()

    try:
        found = running.logs.logs_since(cursor, LogQueryOptions(errors_only=True), wait_seconds=60, on_wait=on_wait)
    finally:
        if sender.ident is not None:
            sender.join(60)
    assert ticks  # it reported while it waited
    assert any("boom plugin failed" in e.message for e in found.entries)


def _load_ignoring_errors(url: str) -> None:
    try:
        urllib.request.urlopen(url, timeout=30).close()
    except urllib.error.HTTPError:
        pass  # the plugin's error page: the 500 is what the test wants logged


# --- faces ------------------------------------------------------------------------------------------

def test_cli_request_and_digest(running: ServerOrchestrationService, real_forum, env: dict[str, str]) -> None:
    real_forum.add_plugin("boom", BOOM_PLUGIN)
    run_env = {**os.environ, **env}
    cli = [sys.executable, "-m", "mybb_mcp.cli"]
    out = subprocess.run([*cli, "request", "index.php", "-q", "boom=1"], capture_output=True, text=True,
                         env=run_env, timeout=60)
    assert out.returncode == 1, out.stderr
    assert "## Errors raised by this request: 1" in out.stdout
    assert "`inc/plugins/boom.php:8`" in out.stdout
    cursor = out.stdout.split("Cursor: `", 1)[1].split("`", 1)[0]
    out = subprocess.run([*cli, "request", "admin/index.php", "--as", "admin"], capture_output=True, text=True,
                         env=run_env, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert real_forum.admin_password not in out.stdout
    digest = subprocess.run([*cli, "logs", "--digest", "--cursor", cursor], capture_output=True, text=True,
                            env=run_env, timeout=60)
    assert digest.returncode == 0 and digest.stdout.startswith("# Error Digest")
    bad = subprocess.run([*cli, "logs", "--cursor", "c1.nonsense"], capture_output=True, text=True,
                         env=run_env, timeout=60)
    assert bad.returncode == 2 and "cursor" in bad.stderr


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _text(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_mcp_request_error_fix_resolved(mode: str, running: ServerOrchestrationService, real_forum) -> None:
    plugin = real_forum.add_plugin("boom", BOOM_PLUGIN)
    async with Client(server, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        schema = tools["mybb_server_request"].input_schema
        assert schema["required"] == ["path"] and "as" in schema["properties"]
        assert tools["mybb_server_request"].annotations.read_only_hint is False

        broken = await client.call_tool("mybb_server_request", {"path": "index.php", "query": {"boom": "1"}})
        text = _text(broken)
        assert not broken.is_error and "## Errors raised by this request: 1" in text
        assert "boom plugin failed" in text and "`inc/plugins/boom.php:8`" in text
        cursor = text.split("Cursor: `", 1)[1].split("`", 1)[0]

        plugin.write_text(FIXED_PLUGIN)
        deadline = time.monotonic() + 15
        while True:
            again = _text(await client.call_tool("mybb_server_request", {"path": "index.php",
                                                                         "query": {"boom": "1"}}))
            if "Errors raised by this request: none" in again or time.monotonic() > deadline:
                break
        assert "Errors raised by this request: none" in again

        digest = _text(await client.call_tool("mybb_server_logs", {"digest": True, "cursor": cursor}))
        assert "[resolved] **EXCEPTION** `Uncaught RuntimeException: boom plugin failed`" in digest

        bad = await client.call_tool("mybb_server_request", {"path": "index.php", "as": 3})
        assert bad.is_error and "`as`" in _text(bad)
        off_site = await client.call_tool("mybb_server_request", {"path": "http://example.com/"})
        assert off_site.is_error and "only this forum's paths" in _text(off_site)


@pytest.mark.anyio
async def test_mcp_wait_sends_progress(running: ServerOrchestrationService, real_forum) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with Client(server, mode="legacy") as client:
        result = await client.call_tool("mybb_server_logs", {"errors_only": True, "wait_seconds": 2},
                                        progress_callback=on_progress)
    assert "Nothing new" in _text(result)
    assert progress, "no progress notification while waiting"


def test_admin_credentials_from_the_account_init_recorded(running: ServerOrchestrationService, real_forum,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MYBB_ADMIN_PASSWORD")
    monkeypatch.delenv("MYBB_ADMIN_USER")
    missing = running.forum.request_page(PageRequest("admin/index.php", role="admin"))
    assert missing.response is None and "MYBB_ADMIN_PASSWORD" in (missing.hint or "")
    recorded = real_forum.config().credentials_file
    fd = os.open(recorded, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write('{"admin_user": "%s", "admin_password": "%s"}' % (real_forum.admin_user,
                                                                      real_forum.admin_password))
    result = get(running, "admin/index.php", "admin")
    assert result.response.page_error is None
    assert result.response.logins == [f"Admin CP as {real_forum.admin_user}"]
