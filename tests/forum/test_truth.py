"""The page tool never misleads: a request is sent once, logins tell the truth, every way MyBB stops is
named, the Admin CP PIN is sent. Each on a real MyBB 1.8.37 with a small plugin of the test's own."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mybb_mcp.answers.request import render_page_result
from mybb_mcp.forum.requests import PageRequest
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.fixtures.forum_requests import forum_env, get, serving

PLUGIN_HEAD = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
function {name}_info() { return array("name" => "{name}", "description" => "test plugin", "version" => "1",
    "author" => "tests", "compatibility" => "18*"); }
"""

# A plugin's own POST handler: checks the key as plugins do, adds one row, then MyBB's redirect page.
ROWS_PLUGIN = PLUGIN_HEAD.replace("{name}", "rows") + """
function rows_activate() {
    global $db;
    $db->write_query("CREATE TABLE IF NOT EXISTS ".TABLE_PREFIX."rows_added (id INTEGER PRIMARY KEY, note TEXT)");
}
$plugins->add_hook("misc_start", "rows_add");
function rows_add() {
    global $mybb, $db;
    if($mybb->get_input('action') != 'rows_add' || $mybb->request_method != 'post') { return; }
    verify_post_check($mybb->get_input('my_post_key'));
    $db->insert_query("rows_added", array("note" => $db->escape_string($mybb->get_input('note'))));
    redirect("index.php", "Row added.", "", true);
}
"""

LOGIN_HOOK_PLUGIN = PLUGIN_HEAD.replace("{name}", "loginhook") + """
$plugins->add_hook("member_do_login_start", "loginhook_run");
function loginhook_run() { throw new RuntimeException("login hook broke"); }
"""

STOPS_PLUGIN = PLUGIN_HEAD.replace("{name}", "stops") + """
$plugins->add_hook("global_start", "stops_run");
function stops_run() {
    global $lang;
    if(isset($_GET['lang_stop'])) { $lang->load("stops_missing"); }
    if(isset($_GET['die'])) { echo "<html><body>"; die("The stops plugin gave up here."); }
}
$plugins->add_hook("index_start", "stops_refuse");
function stops_refuse() {
    if(isset($_GET['refuse'])) { error("The stops plugin refused this page."); }
}
"""

# Activation that dies halfway: its language file was never shipped.
HALF_ACTIVATED_PLUGIN = PLUGIN_HEAD.replace("{name}", "halfway") + """
function halfway_activate() {
    global $lang;
    $lang->load("halfway_missing");
}
"""


@pytest.fixture
def running(real_forum, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ServerOrchestrationService]:
    forum_env(real_forum, monkeypatch, tmp_path)
    with serving(real_forum) as service:
        yield service


def count(db_file: Path, table: str) -> int:
    with sqlite3.connect(db_file) as db:
        (number,) = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    db.close()
    return int(number)


def posts_logged(service: ServerOrchestrationService, path: str) -> int:
    log = service.config.log_file.read_text("utf-8", "replace")
    return len(re.findall(r"\]: POST " + re.escape(path) + r"\b", log))


# --- (1) a request is sent once -------------------------------------------------------------------------

def test_a_post_makes_one_row_and_its_redirect_page_is_success(running, real_forum) -> None:
    real_forum.add_plugin("rows", ROWS_PLUGIN)
    # The admin's first front-end request is this POST: a fresh login, then the key of the logged-in page.
    added = get(running, "misc.php", "admin", method="POST", form=(("action", "rows_add"), ("note", "one")))
    assert count(real_forum.db_file, "mybb_rows_added") == 1
    assert posts_logged(running, "/misc.php") == 1  # the login posts to member.php
    assert added.response.redirect_page is not None and added.response.redirect_page.message == "Row added."
    assert added.response.page_error is None
    assert not any("refused" in n or "again" in n for n in added.response.notes), added.response.notes
    text = render_page_result(added)
    assert "MyBB's redirect page: the request succeeded." in text and "`Row added.`" in text
    assert "index.php" in added.response.url  # followed like a Location header, as a GET
    assert [h.method for h in added.response.hops] == ["POST", "GET"]


def test_a_new_thread_and_a_reply_make_one_post_each(running, real_forum) -> None:
    posts, threads = count(real_forum.db_file, "mybb_posts"), count(real_forum.db_file, "mybb_threads")
    thread = get(running, "newthread.php", "admin", method="POST", query=(("fid", "2"),),
                 form=(("action", "do_newthread"), ("subject", "Sent once"), ("message", "The first post, once.")))
    assert count(real_forum.db_file, "mybb_threads") == threads + 1
    assert count(real_forum.db_file, "mybb_posts") == posts + 1
    assert posts_logged(running, "/newthread.php") == 1
    assert thread.response.redirect_page is not None, thread.response.body[:2000]
    assert "showthread.php" in thread.response.redirect_page.url

    with sqlite3.connect(real_forum.db_file) as db:
        (tid,) = db.execute("SELECT MAX(tid) FROM mybb_threads").fetchone()
    db.close()
    reply = get(running, "newreply.php", "admin", method="POST", query=(("tid", str(tid)),),
                form=(("action", "do_newreply"), ("message", "One reply, sent once.")))
    assert count(real_forum.db_file, "mybb_posts") == posts + 2
    assert posts_logged(running, "/newreply.php") == 1
    assert reply.response.redirect_page is not None and reply.response.page_error is None


def test_a_refused_post_is_not_sent_again(running, real_forum) -> None:
    real_forum.add_plugin("rows", ROWS_PLUGIN)
    refused = get(running, "misc.php", "admin", method="POST",
                  form=(("action", "rows_add"), ("note", "x"), ("my_post_key", "0" * 32)))
    assert count(real_forum.db_file, "mybb_rows_added") == 0
    assert posts_logged(running, "/misc.php") == 1
    assert refused.response.page_error is not None


# --- (2) login tells the truth -----------------------------------------------------------------------------

def test_a_login_that_breaks_shows_its_errors_not_a_credentials_hint(running, real_forum) -> None:
    real_forum.add_plugin("loginhook", LOGIN_HOOK_PLUGIN)
    broke = running.forum.request_page(PageRequest("usercp.php", role="admin"))
    assert broke.response is None
    assert "login page broke" in broke.problem
    assert "password" not in (broke.hint or "").lower()
    assert any("login hook broke" in g.example.message for g in broke.errors), broke.errors
    assert "login hook broke" in render_page_result(broke)


def test_wrong_credentials_are_named_by_mybb(running, real_forum, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYBB_ADMIN_PASSWORD", "not-the-password")
    refused = running.forum.request_page(PageRequest("usercp.php", role="admin"))
    assert refused.response is None and "MyBB said" in refused.problem
    assert "Check the username and password" in (refused.hint or "")


# --- (4) every way MyBB stops is seen ----------------------------------------------------------------------

def test_a_missing_language_file_and_die_are_named_with_mybbs_words(running, real_forum) -> None:
    real_forum.add_plugin("stops", STOPS_PLUGIN)
    stopped = get(running, "index.php", query=(("lang_stop", "1"),))
    assert stopped.response.status == 200
    assert stopped.response.page_error is not None and stopped.response.page_error.kind == "language_stop"
    assert "stops_missing.lang.php does not exist" in stopped.response.page_error.message
    text = render_page_result(stopped)
    assert "**MyBB stopped:**" in text and "MyBB showed the page" not in text

    died = get(running, "index.php", query=(("die", "1"),))
    assert died.response.page_error is not None and died.response.page_error.kind == "stopped"
    assert "The stops plugin gave up here." in died.response.page_error.message

    refused = get(running, "index.php", query=(("refuse", "1"),))
    assert refused.response.page_error is not None and refused.response.page_error.kind == "error"
    assert refused.response.page_error.message == "The stops plugin refused this page."


def test_an_activation_that_dies_halfway_is_named(running, real_forum) -> None:
    real_forum.add_plugin("halfway", HALF_ACTIVATED_PLUGIN, activate=False)
    activated = get(running, "admin/index.php?module=config-plugins&action=activate&plugin=halfway", "admin")
    error = activated.response.page_error
    assert error is not None and error.kind == "language_stop", activated.response.body[:500]
    assert "halfway_missing.lang.php does not exist" in error.message


def test_the_confirmation_page_is_named(running, real_forum) -> None:
    confirm = get(running, "admin/index.php", "admin",
                  query=(("module", "forum-management"), ("action", "delete"), ("fid", "2")))
    assert confirm.response.page_error is not None and confirm.response.page_error.kind == "confirm"
    assert "sure" in confirm.response.page_error.message.lower()
    assert count(real_forum.db_file, "mybb_forums") >= 2  # nothing was deleted
    assert "nothing is done by this GET" in render_page_result(confirm)


# --- (9) the Admin CP PIN -------------------------------------------------------------------------------

def test_the_admin_cp_pin_is_read_from_the_config(running, real_forum) -> None:
    config = real_forum.root / "inc" / "config.php"
    config.write_text(config.read_text("utf-8") + "\n$config['secret_pin'] = 'Pin-4711';\n", "utf-8")
    guest = get(running, "admin/index.php")
    assert guest.response.page_error is not None and guest.response.page_error.kind == "acp_pin"
    admin = get(running, "admin/index.php", "admin")
    assert admin.response.page_error is None and admin.response.logins
    assert "Pin-4711" not in render_page_result(admin)


# --- (6) whole messages ---------------------------------------------------------------------------------

IN_MESSAGE_PLUGIN = PLUGIN_HEAD.replace("{name}", "inmessage") + """
$plugins->add_hook("global_start", "inmessage_run");
function inmessage_run() {
    if(isset($_GET['alerts'])) { throw new RuntimeException("Unknown column 'a.alert_id' in 'ORDER BY'"); }
}
"""


def test_a_message_holding_in_is_shown_whole(running, real_forum) -> None:
    real_forum.add_plugin("inmessage", IN_MESSAGE_PLUGIN)
    broken = get(running, "index.php", query=(("alerts", "1"),))
    assert len(broken.errors) == 1
    group = broken.errors[0]
    assert group.fingerprint.where == "inc/plugins/inmessage.php:8"
    text = render_page_result(broken)
    assert "`Uncaught RuntimeException: Unknown column 'a.alert_id' in 'ORDER BY'`" in text, text


# --- (7) the excerpt honours its argument ------------------------------------------------------------------

LINES_PLUGIN = PLUGIN_HEAD.replace("{name}", "lines") + """
$plugins->add_hook("misc_start", "lines_run");
function lines_run() {
    global $mybb;
    if($mybb->get_input('action') != 'lines') { return; }
    $rows = array();
    for($i = 1; $i <= 150; $i++) { $rows[] = "<p>shelf row {$i}</p>"; }
    echo "<html><body>".implode("\\n", $rows)."</body></html>";
    exit;
}
"""


def test_the_excerpt_is_as_long_as_asked(running, real_forum) -> None:
    real_forum.add_plugin("lines", LINES_PLUGIN)
    page = get(running, "misc.php", query=(("action", "lines"),), excerpt=20_000)
    text = render_page_result(page)
    assert "shelf row 150" in text and "more lines" not in text
    short = render_page_result(get(running, "misc.php", query=(("action", "lines"),), excerpt=40))
    assert "shelf row 1" in short and "shelf row 150" not in short and "## Page text (cut)" in short


# --- the MCP face -------------------------------------------------------------------------------------

@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_mcp_post_is_sent_once_and_its_redirect_page_is_success(running, real_forum) -> None:
    import mcp.types as types
    from mcp import Client

    from mybb_mcp.server import server

    real_forum.add_plugin("rows", ROWS_PLUGIN)
    async with Client(server, mode="legacy") as client:
        answer = await client.call_tool("mybb_server_request", {
            "path": "misc.php", "method": "POST", "as": "admin", "form": {"action": "rows_add", "note": "mcp"}})
    assert isinstance(answer.content[0], types.TextContent)
    text = answer.content[0].text
    assert not answer.is_error
    assert text.startswith("# Page: `POST /misc.php` → … → `GET /index.php` → 200 (as admin)"), text
    assert "**MyBB's redirect page: the request succeeded.** MyBB said `Row added.`" in text
    assert count(real_forum.db_file, "mybb_rows_added") == 1
    assert posts_logged(running, "/misc.php") == 1
