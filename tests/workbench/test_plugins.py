"""The plugin workbench on a real MyBB 1.8.37: list, the lifecycle as the Admin CP runs it, check,
through the service, the MCP SDK's real client and the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import mcp.types as types
import pytest
from mcp import Client

from mybb_mcp.forum.snapshot.database import active_plugins
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.server import server
from mybb_mcp.workbench import plugins as workbench

# Every lifecycle function; install creates a table and a setting, uninstall removes them.
FULL = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
$plugins->add_hook("index_start", "full_index");
function full_info() { return array("name" => "Full Cycle", "description" => "each lifecycle function",
    "version" => "1.2", "author" => "tests", "compatibility" => "18*"); }
function full_install() {
    global $db;
    $db->write_query("CREATE TABLE ".TABLE_PREFIX."full_notes (nid INTEGER PRIMARY KEY, note TEXT)");
    $db->insert_query("settings", array("name" => "full_enabled", "title" => "Full on", "description" => "", \
"optionscode" => "yesno",
        "value" => "1", "disporder" => 1, "gid" => 1));
    rebuild_settings();
}
function full_is_installed() { global $db; return $db->table_exists("full_notes"); }
function full_uninstall() {
    global $db;
    $db->drop_table("full_notes");
    $db->delete_query("settings", "name='full_enabled'");
    rebuild_settings();
}
function full_activate() {
    require_once MYBB_ROOT."inc/adminfunctions_templates.php";
    global $db;
    $db->insert_query("templates", array("title" => "full_box", "template" => "<div>full</div>", "sid" => -1,
        "version" => "1800", "dateline" => TIME_NOW));
}
function full_deactivate() { global $db; $db->delete_query("templates", "title='full_box'"); }
function full_index() { }
"""

# Its activation fails on line 8 of its file.
BROKEN = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
function broken_info() { return array("name" => "Broken", "description" => "activation fails",
    "version" => "0.1", "author" => "tests", "compatibility" => "18*"); }
function broken_activate() {
    $count = 1;
    $count += 1;
    throw new RuntimeException("broken cannot activate");
}
function broken_deactivate() { }
"""

# A misspelt hook (post_bit for postbit), a hook function that does not exist, an old compatibility.
MISSPELT = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
$plugins->add_hook("post_bit", "misspelt_postbit");
$plugins->add_hook("global_start", "misspelt_nowhere");
$plugins->add_hook("index_end", "misspelt_index");
function misspelt_info() { return array("name" => "Misspelt", "description" => "hooks wrong",
    "version" => "2", "author" => "tests", "compatibility" => "16*"); }
function misspelt_postbit(&$post) { }
function misspelt_index() { }
"""


def _active(db_file: Path) -> list[str]:
    with sqlite3.connect(db_file) as conn:
        row = conn.execute("SELECT cache FROM mybb_datacache WHERE title='plugins'").fetchone()
    return active_plugins(row[0]) or []


def _tables(db_file: Path) -> set[str]:
    with sqlite3.connect(db_file) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_list_names_every_plugin_with_its_state(real_forum) -> None:
    real_forum.add_plugin("full", FULL, activate=False)
    real_forum.add_plugin("misspelt", MISSPELT, activate=False)
    result = workbench.run(real_forum.root, "list", php=real_forum.php)
    assert result.ok and result.mybb_version == "1.8.37"
    by_name = {p.codename: p for p in result.plugins}
    assert by_name["hello"].problems == ()  # MyBB's own example, with the Admin CP's language loaded
    full = by_name["full"]
    assert (full.title, full.version, full.author, full.compatible) == ("Full Cycle", "1.2", "tests", True)
    assert full.installed is False and full.active is False
    assert set(full.functions) == {"info", "install", "is_installed", "uninstall", "activate", "deactivate"}
    assert by_name["misspelt"].compatible is False and by_name["misspelt"].installed is None


def test_lifecycle_leaves_what_the_admin_cp_would(real_forum) -> None:
    real_forum.add_plugin("full", FULL, activate=False)
    installed = workbench.run(real_forum.root, "install", "full", php=real_forum.php)
    assert installed.ok and installed.completed, (installed.problems, installed.output)
    assert installed.ran == ["install", "activate"]
    assert "full" in _active(real_forum.db_file) and "mybb_full_notes" in _tables(real_forum.db_file)
    created = {t.table: (t.rows_before, t.rows_after) for t in installed.changes.tables}
    assert created["mybb_full_notes"] == (None, 0)
    assert [s.name for s in installed.changes.settings] == ["full_enabled"]
    assert [t.name for t in installed.changes.templates] == ["full_box"]
    assert installed.changes.plugins_after == tuple(_active(real_forum.db_file))

    again = workbench.run(real_forum.root, "install", "full", php=real_forum.php)
    assert not again.ok and again.completed is None and "already installed" in again.message

    deactivated = workbench.run(real_forum.root, "deactivate", "full", php=real_forum.php)
    assert deactivated.ok and deactivated.ran == ["deactivate"]
    assert "full" not in _active(real_forum.db_file) and "mybb_full_notes" in _tables(real_forum.db_file)
    activated = workbench.run(real_forum.root, "activate", "full", php=real_forum.php)
    assert activated.ran == ["activate"] and "full" in _active(real_forum.db_file)

    # Dropping the table its own _is_installed just read: on SQLite the Admin CP's page fails here with
    # "database table is locked" (the twin test shows the real page does), and so does the tool, saying so.
    uninstalled = workbench.run(real_forum.root, "uninstall", "full", php=real_forum.php)
    assert not uninstalled.ok and uninstalled.completed is False
    assert uninstalled.ran == ["deactivate", "uninstall"]
    locked = uninstalled.problems[0]
    assert "database table is locked" in locked.message and locked.function == "full_uninstall"
    assert locked.plugin_at == "inc/plugins/full.php:16"
    assert "completes on MySQL/MariaDB" in uninstalled.hint and uninstalled.blame is None
    assert "full" in _active(real_forum.db_file) and "mybb_full_notes" in _tables(real_forum.db_file)


def test_failing_activation_names_its_line_and_stays_inactive(real_forum) -> None:
    real_forum.add_plugin("broken", BROKEN, activate=False)
    result = workbench.run(real_forum.root, "activate", "broken", php=real_forum.php)
    assert not result.ok and result.completed is False
    assert [(p.kind, p.file, p.line) for p in result.problems] == [("RuntimeException", "inc/plugins/broken.php", 8)]
    assert "broken cannot activate" in result.problems[0].message
    assert "broken" not in _active(real_forum.db_file)
    assert result.active_after == result.active_before


def test_check_catches_a_misspelt_hook(real_forum) -> None:
    real_forum.add_plugin("misspelt", MISSPELT, activate=False)
    result = workbench.run(real_forum.root, "check", "misspelt", php=real_forum.php)
    assert not result.ok
    by_hook = {u.hook: u for u in result.hooks}
    wrong = by_hook["post_bit"]
    assert (wrong.known, wrong.line, wrong.suggestion) == (False, 3, "postbit")
    assert wrong.suggestion_at and wrong.suggestion_at.startswith("inc/functions_post.php:")
    assert by_hook["index_end"].known is True and by_hook["index_end"].runs_at[0].startswith("index.php:")
    assert result.missing_functions == ["misspelt_nowhere"]
    assert result.plugins[0].compatible is False


def test_a_plugin_that_does_not_parse_is_named_with_its_line(real_forum) -> None:
    real_forum.add_plugin("typo", "<?php\nfunction typo_info() {\n  return array(\n}\n", activate=False)
    result = workbench.run(real_forum.root, "install", "typo", php=real_forum.php)
    assert not result.ok and result.completed is None and "cannot be loaded" in result.message
    assert [(p.kind, p.file, p.line) for p in result.problems] == [("ParseError", "inc/plugins/typo.php", 4)]
    listed = {p.codename: p for p in workbench.run(real_forum.root, "list", php=real_forum.php).plugins}
    assert listed["typo"].problems[0].kind == "ParseError"


def test_bad_names_change_nothing(real_forum) -> None:
    with pytest.raises(Exception, match="codename"):
        workbench.run(real_forum.root, "install", "../evil", php=real_forum.php)
    missing = workbench.run(real_forum.root, "activate", "nosuch", php=real_forum.php)
    assert not missing.ok and "does not exist" in missing.message


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def forum_env(real_forum, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    for key, value in real_forum.env().items():
        monkeypatch.setenv(key, value)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # no stray .env
    return real_forum.env()


def _text(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


@pytest.mark.anyio
async def test_the_mcp_tool_through_the_sdk_client(real_forum, forum_env: dict[str, str]) -> None:
    real_forum.add_plugin("broken", BROKEN, activate=False)
    real_forum.add_plugin("misspelt", MISSPELT, activate=False)
    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["mybb_forum_plugins"].input_schema["properties"]["action"]["enum"][0] == "list"
        listed = await client.call_tool("mybb_forum_plugins", {"action": "list"})
        assert not listed.is_error and "| `broken` | `Broken` |" in _text(listed)
        failed = await client.call_tool("mybb_forum_plugins", {"action": "activate", "name": "broken"})
        assert failed.is_error
        assert "`inc/plugins/broken.php:8`" in _text(failed) and "broken is inactive" in _text(failed)
        checked = await client.call_tool("mybb_forum_plugins", {"action": "check", "name": "misspelt"})
        assert "Did you mean `postbit`" in _text(checked)
        bad = await client.call_tool("mybb_forum_plugins", {"action": "install"})
        assert bad.is_error and "needs the plugin's codename" in _text(bad)
    assert "broken" not in _active(real_forum.db_file)


def test_the_cli_as_a_subprocess(real_forum) -> None:
    real_forum.add_plugin("full", FULL, activate=False)
    env = {**os.environ, **real_forum.env()}
    cli = [sys.executable, "-m", "mybb_mcp.cli", "plugins"]
    installed = subprocess.run([*cli, "install", "full"], capture_output=True, text=True, env=env, timeout=60,
                               cwd=real_forum.root.parent)
    assert installed.returncode == 0, installed.stderr
    assert "Install of full completed" in installed.stdout and "mybb_full_notes" in installed.stdout
    listed = subprocess.run([*cli, "list", "--json"], capture_output=True, text=True, env=env, timeout=60,
                            cwd=real_forum.root.parent)
    full = next(p for p in json.loads(listed.stdout)["plugins"] if p["codename"] == "full")
    assert full["installed"] is True and full["active"] is True
    usage = subprocess.run([*cli, "install"], capture_output=True, text=True, env=env, timeout=60,
                           cwd=real_forum.root.parent)
    assert usage.returncode == 2 and "needs a plugin codename" in usage.stderr


# --- the request side: trace, plugins off, template names ---------------------------------------------

HOOKED = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
$plugins->add_hook("index_start", "hooked_index");
$plugins->add_hook("global_start", "hooked_global");
function hooked_info() { return array("name" => "Hooked", "description" => "marks pages", "version" => "1",
    "author" => "tests", "compatibility" => "18*"); }
function hooked_global() { header("X-Hooked-Global: 1"); }
function hooked_index() {
    global $templates;
    header("X-Hooked-Index: 1");
}
"""

# A template with an undefined variable on its line 2.
BAD_TEMPLATE = '<div class="hooked">\n{$undefined_in_template}\n</div>'


@pytest.fixture
def running(real_forum, forum_env: dict[str, str]):
    service = ServerOrchestrationService(real_forum.config())
    assert service.start().success
    yield service
    service.stop(force=True)


def test_trace_names_hooks_functions_and_templates(real_forum, running) -> None:
    real_forum.add_plugin("hooked", HOOKED)
    from mybb_mcp.forum.requests import PageRequest

    result = running.forum.request_page(PageRequest("index.php", trace=True))
    assert result.response is not None and result.response.status == 200, result.failure
    trace = result.workbench
    hooks = [h.hook for h in trace.hooks]
    assert hooks.index("global_start") < hooks.index("index_start") < hooks.index("index_end")
    index = next(h for h in trace.hooks if h.hook == "index_start")
    assert index.functions == ("hooked_index",)
    assert trace.functions["hooked_index"] == "inc/plugins/hooked.php:8"
    titles = {t.title: t for t in trace.templates}
    assert titles["index"].set in ("master", "global", "Default Templates") and titles["header"].cached
    text = render_page(result)
    assert "**`index_start`** → `hooked_index` (`inc/plugins/hooked.php:8`)" in text
    assert "Loaded: `hooked`." in text

    plain = running.forum.request_page(PageRequest("index.php"))
    assert plain.workbench is not None and plain.workbench.hooks == []  # no trace unless asked


ASKS_MISSING = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
$plugins->add_hook("index_start", "asksmissing_index");
function asksmissing_info() { return array("name" => "Asks missing", "description" => "a template in no set",
    "version" => "1", "author" => "tests", "compatibility" => "18*"); }
function asksmissing_index() {
    global $templates;
    eval("\\$box = \\"".$templates->get("asksmissing_box")."\\";");
}
"""


def test_a_template_in_no_set_is_named_missing(real_forum, running) -> None:
    real_forum.add_plugin("asksmissing", ASKS_MISSING)
    from mybb_mcp.forum.requests import PageRequest

    result = running.forum.request_page(PageRequest("index.php", trace=True))
    assert result.response is not None and result.response.status == 200, result.failure
    text = render_page(result)
    assert "## Missing templates\n\n- template `asksmissing_box` exists in no set (MyBB rendered nothing)." in text
    assert "asksmissing_box (missing)" in text and "asksmissing_box (?, uncached)" not in text
    assert "index (" in text and "index (missing" not in text  # the page's own templates are found



def test_a_template_in_no_set_is_named_without_trace(real_forum, running) -> None:
    from mybb_mcp.forum.requests import PageRequest

    plain = running.forum.request_page(PageRequest("index.php"))
    assert plain.workbench is not None and plain.workbench.missing_templates == []  # MyBB's own are all there
    assert "## Missing templates" not in render_page(plain)
    real_forum.add_plugin("asksmissing", ASKS_MISSING)
    result = running.forum.request_page(PageRequest("index.php"))
    assert result.response is not None and result.response.status == 200, result.failure
    assert result.workbench.missing_templates == ["asksmissing_box"] and result.workbench.templates == []
    assert "## Missing templates\n\n- template `asksmissing_box` exists in no set (MyBB rendered nothing)." in \
        render_page(result)


def test_what_a_template_in_no_set_raises_is_mybbs_as_for_a_visitor(real_forum, running) -> None:
    """MyBB 1.8.37 on SQLite writes into the `false` its templates->get() fetched for a template in no set:
    PHP 8.2 deprecates that for a visitor too. The answer never shows it, nor any error, as the tool's code's
    or as raised where the tool's wrapper called MyBB."""
    import urllib.request

    from mybb_mcp.forum.requests import PageRequest
    from mybb_mcp.logs.parser import ORIGIN_TOOL

    real_forum.add_plugin("asksmissing", ASKS_MISSING)
    log = real_forum.config().log_file
    before = log.stat().st_size
    with urllib.request.urlopen(f"http://127.0.0.1:{real_forum.port}/index.php", timeout=30) as page:
        page.read()  # a visitor: no workbench, MyBB's own templates class
    with open(log, "rb") as handle:
        handle.seek(before)
        visitor = handle.read().decode("utf-8", "replace")
    assert "Automatic conversion of false to array is deprecated in " in visitor and "class_templates.php" in visitor
    assert "request_templates.php" not in visitor
    result = running.forum.request_page(PageRequest("index.php"))
    errors = [g.example for g in result.errors]
    assert errors and all(e.origin != ORIGIN_TOOL and "request_templates" not in (e.place or "") for e in errors)
    deprecation = next(e for e in errors if "Automatic conversion of false to array" in e.message)
    assert deprecation.origin == "plugin asksmissing" and deprecation.place == "inc/plugins/asksmissing.php:8"
    text = render_page(result)
    assert "/mybb_mcp/workbench/" not in text and "`asksmissing_box` exists in no set" in text


# Lifecycle functions only where the Admin CP loads the plugin (a common pattern); _activate needs its constant.
ADMIN_ONLY = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
function adminonly_info() { return array("name" => "Admin only", "description" => "lifecycle behind IN_ADMINCP",
    "version" => "1", "author" => "tests", "compatibility" => "18*"); }
if(defined("IN_ADMINCP")) {
    function adminonly_activate() {
        global $db;
        $db->insert_query("settings", array("name" => "adminonly_dir", "title" => "t", "description" => "",
            "optionscode" => "text", "value" => $db->escape_string(basename(MYBB_ADMIN_DIR)), "disporder" => 1,
            "gid" => 1));
    }
}
"""


def test_the_fixture_activates_a_plugin_by_the_admin_cps_own_click(real_forum) -> None:
    real_forum.add_plugin("adminonly", ADMIN_ONLY)
    with sqlite3.connect(real_forum.db_file) as db:
        value = db.execute("SELECT value FROM mybb_settings WHERE name='adminonly_dir'").fetchone()
    assert value == ("admin",) and "adminonly" in _active(real_forum.db_file)

def test_plugins_off_for_one_request_only(real_forum, running) -> None:
    real_forum.add_plugin("hooked", HOOKED)
    from mybb_mcp.forum.requests import PageRequest

    off = running.forum.request_page(PageRequest("index.php", plugins="none", trace=True))
    assert off.workbench.plugins_loaded == [] and all(not h.functions for h in off.workbench.hooks)
    left_out = running.forum.request_page(PageRequest("index.php", plugins=("hooked",), trace=True))
    assert left_out.workbench.skipped == ["hooked"]
    assert not any(h.functions for h in left_out.workbench.hooks)
    on = running.forum.request_page(PageRequest("index.php", trace=True))
    assert on.workbench.plugins_loaded == ["hooked"]
    assert any(h.functions == ("hooked_index",) for h in on.workbench.hooks)
    assert "hooked" in _active(real_forum.db_file)  # nothing changed in MyBB's own state


def test_a_visitor_cannot_switch_plugins_off_or_trace(real_forum, running) -> None:
    import urllib.request

    real_forum.add_plugin("hooked", HOOKED)
    folder = real_forum.root.parent / ".mybb-server-workbench"
    assert (folder / "secret").stat().st_mode & 0o777 == 0o600
    forged = urllib.request.Request(f"{real_forum.url}/index.php", headers={
        "X-Mybb-Mcp-Workbench": "0" * 64, "X-Mybb-Mcp-Options": json.dumps({"id": "a" * 32, "plugins": "none"})})
    with urllib.request.urlopen(forged, timeout=30) as page:
        assert page.headers["X-Hooked-Global"] == "1" and page.headers["X-Hooked-Index"] == "1"  # it ran
    assert not list(folder.glob("trace-*.json"))


def test_an_error_in_a_template_names_the_template(real_forum, running) -> None:
    from mybb_mcp.forum.php import run_mybb_php
    from mybb_mcp.forum.requests import PageRequest

    run_mybb_php(real_forum.root, """
$db->insert_query("templates", array("title" => "hooked_box", "template" => $db->escape_string($input['t']),
    "sid" => -1, "version" => "1800", "dateline" => TIME_NOW));
$result = true;""", {"t": BAD_TEMPLATE}, php=real_forum.php)
    real_forum.add_plugin("hooked", HOOKED.replace('    header("X-Hooked-Index: 1");',
                          """    eval('$box = "'.$templates->get('hooked_box').'";');"""))
    result = running.forum.request_page(PageRequest("index.php"))
    errors = result.workbench.template_errors
    assert errors, render_page(result)
    error = errors[0]
    assert error.title == "hooked_box" and error.set == "global" and error.template_line == 2
    assert "undefined_in_template" in error.message and "eval()'d code" in error.location
    assert "template `hooked_box` (set `global`), line 2 of the template" in render_page(result)
    assert "mybb_mcp" not in render_page(result)  # no frame of ours in the page's own trace


def render_page(result) -> str:
    from mybb_mcp.answers.request import render_page_result

    return render_page_result(result)


# --- MySQL: the same lifecycle on a forum installed into the tests' private MariaDB --------------------

FULL_MYSQL = FULL.replace("(nid INTEGER PRIMARY KEY, note TEXT)", "(nid INT PRIMARY KEY, note TEXT) ENGINE=InnoDB")


@pytest.mark.mariadb
def test_lifecycle_on_mariadb(mariadb, tmp_path: Path, php: str) -> None:
    from mybb_mcp.forum.install import Database, InstallRequest, install_forum
    from tests.fixtures.real_mybb import archive_path

    if not archive_path().is_file():
        pytest.skip(f"MyBB release archive not found at {archive_path()}")
    mariadb.create_forum_database("forum_plugins", "plug", "s3cret", with_settings_table=False)
    installed = install_forum(InstallRequest(
        source=archive_path(), root=tmp_path / "forum", bburl="http://127.0.0.1:8022", php=php,
        database=Database("mysqli", host=f"127.0.0.1:{mariadb.port}", user="plug", password="s3cret",
                          name="forum_plugins")))
    root = installed.root
    (root / "inc" / "plugins" / "full.php").write_text(FULL_MYSQL, "utf-8")

    def tables() -> set[str]:
        with mariadb.connect("forum_plugins") as conn, conn.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            return {row[0] for row in cursor.fetchall()}

    done = workbench.run(root, "install", "full", php=php)
    assert done.ok and done.ran == ["install", "activate"], done.problems
    assert "mybb_full_notes" in tables()
    assert {t.table: t.rows_before for t in done.changes.tables}["mybb_full_notes"] is None
    assert done.active_after == ["full"]
    gone = workbench.run(root, "uninstall", "full", php=php)
    assert gone.ok and gone.ran == ["deactivate", "uninstall"] and gone.active_after == []
    assert "mybb_full_notes" not in tables()


@pytest.mark.anyio
async def test_request_trace_and_plugins_off_through_the_sdk_client(real_forum, forum_env: dict[str, str]) -> None:
    real_forum.add_plugin("hooked", HOOKED)
    try:
        async with Client(server) as client:
            started = await client.call_tool("mybb_server_start", {})
            assert not started.is_error, _text(started)
            traced = await client.call_tool("mybb_server_request", {"path": "index.php", "trace": True})
            text = _text(traced)
            assert "## Trace" in text and "`hooked_index` (`inc/plugins/hooked.php:8`)" in text
            assert "Templates used:" in text and "index (" in text
            off = await client.call_tool("mybb_server_request", {"path": "index.php", "plugins": "none"})
            assert "Ran without plugins (MyBB's NO_PLUGINS switch, this request only)" in _text(off)
            bad = await client.call_tool("mybb_server_request", {"path": "index.php", "plugins": ["../x"]})
            assert bad.is_error and "plugin codenames" in _text(bad)
    finally:
        ServerOrchestrationService(real_forum.config()).stop(force=True)


def test_without_the_router_trace_is_refused_and_nothing_is_requested(real_forum, forum_env) -> None:
    from dataclasses import replace

    from mybb_mcp.forum.requests import PageRequest

    with_router = ServerOrchestrationService(real_forum.config())
    assert with_router.start().success
    with_router.stop(force=True)
    service = ServerOrchestrationService(replace(real_forum.config(), use_router=False))
    assert service.start().success
    try:
        result = service.forum.request_page(PageRequest("index.php", plugins="none"))
        assert result.response is None and "page was not requested" in result.problem
        assert "restart" in result.hint.lower()
        plain = service.forum.request_page(PageRequest("index.php"))
        assert plain.response is not None and plain.workbench is None
    finally:
        service.stop(force=True)
