"""Every answer true, on a real MyBB 1.8.37 with plugins of the tests' own that do what real ones do:
"resolved" needs the same page, role and plugins; what leaving a plugin out causes is marked; a
compile-time error fixed in the other file resolves on a clean load; front-end confirmation pages are
named; origins name the plugin's codename; the digest is short and never forgets a resolution."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mybb_mcp.answers.digest import render_digest
from mybb_mcp.answers.request import render_page_result
from mybb_mcp.logs.digest import NOT_RECHECKED, RESOLVED, RESOLVED_EARLIER
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.fixtures.forum_requests import forum_env, get, serving

HEAD = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
function {name}_info() { return array("name" => "{name}", "description" => "test plugin", "version" => "1",
    "author" => "tests", "compatibility" => "18*"); }
"""


def plugin(name: str, body: str) -> str:
    return HEAD.replace("{name}", name) + body


# A warning on the index page, raised by the plugin's own code.
SHELF = plugin("shelf", """
$plugins->add_hook("index_start", "shelf_run");
function shelf_run() {
    if(isset($_GET['shelf'])) { trigger_error("shelf is broken", E_USER_WARNING); }
}
""")

# Sets a variable its template edit shows: a load without it leaves the template's variable undefined.
BANNER = plugin("banner", """
$plugins->add_hook("global_start", "banner_run");
function banner_activate() {
    require_once MYBB_ROOT."inc/adminfunctions_templates.php";
    find_replace_templatesets("index", "#".preg_quote('{$header}')."#", '{$header}{$banner_text}');
}
function banner_run() {
    global $banner_text;
    $banner_text = "<div class=\\"banner\\">Welcome</div>";
}
""")

# Two files of its own declare the same function: PHP stops at the second one.
REDECLARE = plugin("twice", """
$plugins->add_hook("global_start", "twice_run");
function twice_run() {
    if(isset($_GET['twice'])) {
        require_once MYBB_ROOT."inc/plugins/twice/a.php";
        require_once MYBB_ROOT."inc/plugins/twice/b.php";
    }
}
""")
TWICE_HELPER = "<?php\nfunction twice_helper() { return 1; }\n"

COMPILED = plugin("compiled", """
$plugins->add_hook("global_start", "compiled_run");
function compiled_run() {
    if(isset($_GET['compiled'])) { require_once MYBB_ROOT."inc/plugins/compiled_extra.php"; }
}
""")
COMPILED_EXTRA = "<?php\ndeclare(shelving=1);\nfunction compiled_extra() { return 1; }\n"

# A plugin's own "Are you sure?" page on misc.php.
SURE = plugin("sure", """
$plugins->add_hook("misc_start", "sure_run");
function sure_run() {
    global $mybb, $header, $headerinclude, $footer;
    if($mybb->get_input('action') != 'sure_wipe') { return; }
    output_page("<html><head><title>Wipe widgets</title>{$headerinclude}</head><body>{$header}
<form action=\\"misc.php\\" method=\\"post\\">
<input type=\\"hidden\\" name=\\"my_post_key\\" value=\\"{$mybb->post_code}\\" />
<p>Are you sure you want to wipe every widget?</p>
<input type=\\"hidden\\" name=\\"action\\" value=\\"sure_do_wipe\\" />
<input type=\\"submit\\" class=\\"button\\" name=\\"submit\\" value=\\"Yes, wipe\\" />
</form>{$footer}</body></html>");
    exit;
}
""")

# ougc-style: a vendor folder its main file loads, an Admin CP module in MyBB's config/ folder, and a
# script of its own beside index.php that its main file links to.
AWARDS = plugin("ougc_awards", """
require_once MYBB_ROOT."inc/plugins/ougc/Awards/core.php";
$plugins->add_hook("admin_config_action_handler", "ougc_awards_admin_action");
function ougc_awards_admin_action(&$actions) {
    $actions['ougc_awards'] = array('active' => 'ougc_awards', 'file' => 'ougc_awards.php');
}
function ougc_awards_link() { return '<a href="medals.php">Medals</a>'; }
""")
AWARDS_CORE = """<?php
$plugins->add_hook("index_start", "ougc_awards_core_run");
function ougc_awards_core_run() {
    if(isset($_GET['awards'])) { trigger_error("awards core warning", E_USER_WARNING); }
}
"""
AWARDS_MODULE = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
trigger_error("awards module warning", E_USER_WARNING);
$page->output_header("Awards");
$page->output_footer();
"""
MEDALS_SCRIPT = """<?php
define('IN_MYBB', 1);
define('THIS_SCRIPT', 'medals.php');
require_once './global.php';
trigger_error("medals page warning", E_USER_WARNING);
output_page("<html><head><title>Medals</title></head><body>medals</body></html>");
"""

# A plugin's query on SQLite that MyBB's database layer reports as `SQL Error: 0 - Array`.
BADSQL = plugin("badsql", """
$plugins->add_hook("index_start", "badsql_run");
function badsql_run() {
    global $db;
    if(isset($_GET['badsql'])) {
        $db->query("SELECT no_such_column FROM ".TABLE_PREFIX."users WHERE uid = 1");
    }
}
""")

THROWS = plugin("throws", """
$plugins->add_hook("index_start", "throws_run");
function throws_run() {
    if(isset($_GET['throws'])) { throw new RuntimeException("thrown from a hook"); }
}
""")


@pytest.fixture
def running(real_forum: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ServerOrchestrationService]:
    forum_env(real_forum, monkeypatch, tmp_path)
    with serving(real_forum) as service:
        service.forum.set_mybb_error_logging(True)  # MyBB's handler keeps warnings out of PHP's log otherwise
        yield service


def fates(service: ServerOrchestrationService, cursor: str) -> dict[str | None, Any]:
    digest = service.logs.error_digest(cursor)
    return {g.fingerprint.where: g for g in digest.groups + digest.before}


def wait_clean(service: ServerOrchestrationService, path: str, role: str = "guest", **kwargs: Any) -> Any:
    """PHP may serve the cached code for a moment after an edit: load until the page is clean."""
    deadline = time.monotonic() + 15
    while True:
        result = get(service, path, role, **kwargs)
        if not result.errors or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


# --- (1) resolved needs the same page, role and plugins --------------------------------------------------

def test_a_warning_is_not_resolved_by_a_load_without_its_plugin(running, real_forum) -> None:
    path = real_forum.add_plugin("shelf", SHELF)
    broken = get(running, "index.php", query=(("shelf", "1"),))
    assert [g.example.message for g in broken.errors if "shelf is broken" in g.example.message], broken.errors
    where = next(g.fingerprint.where for g in broken.errors if "shelf is broken" in g.example.message)
    cursor = broken.cursor

    assert get(running, "index.php", query=(("shelf", "1"),), plugins=("shelf",)).errors == []
    group = fates(running, cursor)[where]
    assert group.status == NOT_RECHECKED and group.recheck == [("/index.php?shelf=1", "guest")]
    text = render_digest(running.logs.error_digest(cursor), None)
    assert "[resolved]" not in text and '`path: "index.php?shelf=1", as: "guest"`' in text

    assert running.workbench.plugins("deactivate", "shelf").completed  # the page loads clean: its plugin did not run
    assert get(running, "index.php", query=(("shelf", "1"),)).errors == []
    group = fates(running, cursor)[where]
    assert group.status == NOT_RECHECKED and group.not_loaded == "shelf"
    text = render_digest(running.logs.error_digest(cursor), None)
    assert "ran without plugin `shelf` (not active): activate it" in text
    assert running.workbench.plugins("activate", "shelf").completed

    path.write_text(SHELF.replace('trigger_error("shelf is broken", E_USER_WARNING);', "return;"))
    wait_clean(running, "index.php", query=(("shelf", "1"),), debug=True)  # clean, but a debug load: no proof
    assert fates(running, cursor)[where].status == NOT_RECHECKED

    get(running, "index.php", query=(("shelf", "1"),), trace=True)  # a traced load re-checks as a plain one
    assert fates(running, cursor)[where].status == RESOLVED


# --- (2) what leaving a plugin out causes is marked on its own item ---------------------------------------

def test_warnings_caused_by_leaving_a_plugin_out_are_marked_and_kept_out_of_the_digest(running, real_forum) -> None:
    real_forum.add_plugin("banner", BANNER)
    real_forum.add_plugin("shelf", SHELF)
    assert get(running, "index.php").errors == []  # with the plugin, its variable is set
    cursor = get(running, "index.php").cursor
    without = get(running, "index.php", query=(("shelf", "1"),), plugins=("banner",))
    marked = [g for g in without.errors if "banner_text" in g.example.message]
    assert marked and all(g.left_out_by == "banner" for g in marked), without.errors
    own = [g for g in without.errors if "shelf is broken" in g.example.message]
    assert own and own[0].left_out_by is None  # the page's own error is not put down to the exclusion
    text = render_page_result(without)
    item = text[text.index("banner_text"):]
    assert "caused by leaving `banner` out" in item[:700]
    listed = {g.fingerprint.where: g for g in running.logs.error_digest(cursor).groups}
    assert not any("banner_text" in g.example.message for g in listed.values()), listed
    assert any("shelf is broken" in g.example.message for g in listed.values())


# --- (3) compile-time errors ---------------------------------------------------------------------------

def test_a_redeclare_fixed_in_the_other_file_is_resolved_after_a_clean_load(running, real_forum) -> None:
    real_forum.add_plugin("twice", REDECLARE)
    folder = real_forum.root / "inc" / "plugins" / "twice"
    folder.mkdir()
    (folder / "a.php").write_text(TWICE_HELPER)
    (folder / "b.php").write_text(TWICE_HELPER)
    cursor = get(running, "index.php").cursor
    broken = get(running, "index.php", query=(("twice", "1"),))
    fatal = next(g for g in broken.errors if "Cannot redeclare" in g.example.message)
    where = fatal.fingerprint.where
    assert where.startswith("inc/plugins/twice/b.php"), where

    (folder / "a.php").write_text("<?php\n// the helper lives in b.php now\n")  # the fix is in a.php
    wait_clean(running, "index.php", query=(("twice", "1"),))
    group = fates(running, cursor)[where]
    assert group.status == RESOLVED and group.compile_note is None


def test_a_compile_time_warning_is_shown_on_every_load_that_includes_its_file(running, real_forum) -> None:
    real_forum.add_plugin("compiled", COMPILED)
    extra = real_forum.root / "inc" / "plugins" / "compiled_extra.php"
    extra.write_text(COMPILED_EXTRA)
    past = time.time() - 60  # OPcache does not cache a file changed in the last 2 s (file_update_protection)
    os.utime(extra, (past, past))
    first = get(running, "index.php", query=(("compiled", "1"),))
    assert any("Unsupported declare" in g.example.message for g in first.errors), first.errors
    again = get(running, "index.php", query=(("compiled", "1"),))  # OPcache: PHP says nothing this time
    kept = [g for g in again.errors if "Unsupported declare" in g.example.message]
    assert kept and "has not changed" in (kept[0].compile_note or "")
    text = render_page_result(again)
    assert "## Still in files this request included: 1 (compile-time, said before)" in text
    assert "Unsupported declare 'shelving'" in text[text.index("## Still in files"):]
    assert not any("Unsupported declare" in g.example.message for g in get(running, "index.php").errors)


# --- (4) front-end confirmation pages ----------------------------------------------------------------------

def new_thread(service: ServerOrchestrationService, subject: str) -> Any:
    """As an agent posts it: the fields it knows, and the form's button."""
    return get(service, "newthread.php", "admin", method="POST", query=(("fid", "2"),),
               form=(("subject", subject), ("message", "A thread of the tests, long enough."),
                     ("action", "do_newthread"), ("submit", "Post Thread")))


def test_a_post_sends_the_fields_of_the_pages_own_form(running, real_forum) -> None:
    posted = new_thread(running, "Form fields")
    assert not any("attachments" in g.example.message for g in posted.errors), posted.errors
    assert posted.errors == [], posted.errors
    assert posted.response.redirect_page is not None or "showthread.php" in posted.response.url
    added = posted.response.form_added or []
    assert "posthash" in added and "subject" not in added and "attachments[] (no file)" in added
    assert "fields of the page's own form" in render_page_result(posted)


def test_front_end_confirmation_pages_are_named(running, real_forum) -> None:
    new_thread(running, "To delete")
    # showthread.php's moderation menu posts action=deletethread: MyBB answers with its "Are you sure?" page
    delete = get(running, "moderation.php", "admin", method="POST", form=(("action", "deletethread"), ("tid", "1")))
    error = delete.response.page_error
    assert error is not None and error.kind == "confirm", delete.response.body[-2000:]
    assert error.post_to == "moderation.php" and ("action", "do_deletethread") in error.fields
    assert ("tid", "1") in error.fields
    text = render_page_result(delete)
    assert "MyBB asks for confirmation" in text and "nothing is done by this POST yet" in text
    assert sqlite3.connect(real_forum.db_file).execute("SELECT COUNT(*) FROM mybb_threads").fetchone()[0] == 1
    assert '"action": "do_deletethread"' in text and "MyBB showed the page" not in text

    real_forum.add_plugin("sure", SURE)
    sure = get(running, "misc.php", "admin", query=(("action", "sure_wipe"),))
    error = sure.response.page_error
    assert error is not None and error.kind == "confirm" and "Are you sure" in error.message
    assert ("action", "sure_do_wipe") in error.fields
    assert "MyBB showed the page" not in render_page_result(sure)
    plain = get(running, "newthread.php", "admin", query=(("fid", "2"),))
    assert plain.response.page_error is None  # a form to fill in is no confirmation

    acp = get(running, "admin/index.php", "admin", query=(("module", "forum-management"), ("action", "delete"),
                                                          ("fid", "2")))
    error = acp.response.page_error
    assert error is not None and error.kind == "confirm"
    assert error.post_to == "admin/index.php?module=forum-management&action=delete&fid=2"
    assert ("no", "No") not in error.fields  # its "No" button cancels: never among the fields to confirm


# --- (5) origins name the plugin ------------------------------------------------------------------------

def test_origins_name_the_plugins_codename(running, real_forum) -> None:
    vendor = real_forum.root / "inc" / "plugins" / "ougc" / "Awards"
    vendor.mkdir(parents=True)
    (vendor / "core.php").write_text(AWARDS_CORE)
    (real_forum.root / "admin" / "modules" / "config" / "ougc_awards.php").write_text(AWARDS_MODULE)
    (real_forum.root / "medals.php").write_text(MEDALS_SCRIPT)
    real_forum.add_plugin("ougc_awards", AWARDS)

    def origin_of(result: Any, words: str) -> str | None:
        group = next(g for g in result.errors if words in g.example.message)
        return group.example.origin

    assert origin_of(get(running, "index.php", query=(("awards", "1"),)), "awards core") == "plugin ougc_awards"
    module = get(running, "admin/index.php", "admin", query=(("module", "config-ougc_awards"),))
    assert origin_of(module, "awards module") == "plugin ougc_awards"
    medals = get(running, "medals.php")
    assert origin_of(medals, "medals page") == "plugin ougc_awards"
    (real_forum.root / "solo.php").write_text(MEDALS_SCRIPT.replace("medals page", "solo page"))
    assert origin_of(get(running, "solo.php"), "solo page") == "your code (not MyBB's)"


# --- (6) the digest: short, what changed first, never un-resolves ---------------------------------------

def test_a_one_bug_digest_is_short_and_keeps_its_resolution(running, real_forum) -> None:
    path = real_forum.add_plugin("throws", THROWS)
    real_forum.add_plugin("shelf", SHELF)
    for n in range(4):  # older errors, on pages not loaded again
        get(running, "index.php", query=(("shelf", str(n)),))
    get(running, "index.php", query=(("throws", "1"),))
    cursor = running.logs.log_cursor()
    path.write_text(THROWS.replace('throw new RuntimeException("thrown from a hook");', "return;"))
    wait_clean(running, "index.php", query=(("throws", "1"),))
    found = running.logs.error_digest(cursor)
    text = render_digest(found, None)
    assert len(text) <= 3000, (len(text), text)
    later = found.cursor.encode()  # the cursor the answer gave
    get(running, "index.php")
    thrown = next(g for g in fates(running, later).values() if "thrown from a hook" in g.example.message)
    assert thrown.status == RESOLVED_EARLIER  # not "not re-checked": the tool said resolved, and it is
    changed = text.index("## What changed since the cursor")
    assert "[resolved]" in text[changed:changed + 600] and "thrown from a hook" in text[changed:changed + 600]
    listed = sum(1 for g in found.groups + found.before if g.status != RESOLVED_EARLIER)
    assert f"{listed} error kinds below" in text

    text = render_digest(running.logs.error_digest(later), None)
    assert "1 resolved earlier, not listed" in text and "thrown from a hook" not in text


# --- (7) small untruths ------------------------------------------------------------------------------------

def test_a_plugins_sql_error_on_sqlite_shows_the_statement(running, real_forum) -> None:
    real_forum.add_plugin("badsql", BADSQL)
    result = get(running, "index.php", query=(("badsql", "1"),))
    sql = [g for g in result.errors if g.fingerprint.kind == "sql"]
    assert len(sql) == 1, result.errors
    message = sql[0].example.message
    assert "Array" not in message and "no_such_column" in message, message
    assert "SELECT no_such_column FROM" in render_page_result(result)
    assert sql[0].example.origin == "plugin badsql"


def test_core_noise_under_a_plugins_root_script_is_not_blamed_on_it(running, real_forum) -> None:
    (real_forum.root / "plainpage.php").write_text(MEDALS_SCRIPT.replace(
        'trigger_error("medals page warning", E_USER_WARNING);\n', ""))
    index = get(running, "index.php")
    page = get(running, "plainpage.php")
    assert index.errors == [] and page.errors == [], page.errors


def test_the_tools_own_php_is_not_shown_as_the_forums_code(running, real_forum) -> None:
    real_forum.add_plugin("throws", THROWS)
    result = get(running, "index.php", query=(("throws", "1"),), trace=True)
    group = next(g for g in result.errors if "thrown from a hook" in g.example.message)
    assert group.example.origin == "plugin throws" and group.fingerprint.where.startswith("inc/plugins/throws.php")
    text = render_page_result(result)
    assert "/mybb_mcp/workbench/" not in text and "/mybb_mcp/orchestration/" not in text
    assert "mybb-mcp's request wrapper" in "\n".join(group.example.continuation)


def test_debug_with_a_selector_checks_the_page(running, real_forum) -> None:
    result = get(running, "index.php", "admin", debug=True, selector="#panel", contains="Forum Team")
    assert result.selector_count == 1 and result.contains_found
    assert result.debug is not None and result.debug.query_count
