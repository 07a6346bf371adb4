"""What one request costs, on a real MyBB 1.8.37 served by php -S: its queries (grouped, with the plugin's
file:line and hook, the total equal to MyBB's own count), the profile of its plugin functions, and the verdict
on an answer that should be JSON — on plugins of our own: an N+1 query in `postbit`, a hook that sleeps 200 ms,
an `xmlhttp` handler that prints a warning (or a stray echo) before its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client, types

from mybb_mcp.answers.request import render_page_result
from mybb_mcp.forum.php import run_mybb_php
from mybb_mcp.forum.requests import PageRequest
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.server import server
from mybb_mcp.workbench.json_answer import Printed, judge_json
from mybb_mcp.workbench.request_costs import fold_sql
from tests.fixtures.forum_requests import forum_env as set_forum_env

# Each marked line is found by its marker, so the expected file:line follows the source.
COSTLY = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
$plugins->add_hook("postbit", "costly_postbit");
$plugins->add_hook("index_start", "costly_sleep");
$plugins->add_hook("global_start", "costly_on_post");
$plugins->add_hook("admin_load", "costly_admin");
$plugins->add_hook("xmlhttp", "costly_xmlhttp");
$plugins->add_hook("index_end", "costly_slow_sql");
function costly_info() { return array("name" => "Costly", "description" => "common plugin bugs", "version" => "1",
    "author" => "tests", "compatibility" => "18*"); }
function costly_postbit(&$post) {
    global $db;
    $query = $db->simple_select("users", "username", "uid='".(int)$post['uid']."'"); // N+1
    $post['costly_name'] = $db->fetch_field($query, "username");
}
function costly_sleep() {
    usleep(200000); // sleeps
}
function costly_slow_sql() {
    global $db;
    if($db->type == "mysqli") { $db->query("SELECT SLEEP(0.06)"); } // slow
}
function costly_on_post() {
    global $mybb, $db;
    if($mybb->request_method != "post") { return; }
    for($i = 1; $i <= 4; $i++) {
        $db->simple_select("forums", "fid", "fid='{$i}'"); // on post
    }
}
function costly_admin() {
    global $mybb, $db;
    for($i = 1; $i <= 5; $i++) {
        $db->simple_select("settings", "sid", "sid='{$i}'"); // admin
    }
    usleep(200000); // admin sleeps
    if($mybb->get_input('costly_ajax') == 'broken') {
        restore_error_handler();
        ini_set('display_errors', '1');
        header("Content-type: application/json; charset=UTF-8");
        $total = $undefined_admin_total + 1; // admin warning
        echo json_encode(array("total" => $total));
        exit;
    }
}
function costly_xmlhttp() {
    global $mybb;
    $action = $mybb->get_input('action');
    if($action == 'costly_broken') {
        restore_error_handler();  // a careless handler: PHP's own display of warnings
        ini_set('display_errors', '1');
        header("Content-type: application/json; charset=UTF-8");
        $count = $undefined_count + 1; // warning
        echo json_encode(array("count" => $count, "ok" => true));
        exit;
    }
    if($action == 'costly_echo') {
        header("Content-type: application/json; charset=UTF-8");
        echo "debug"; // stray echo
        echo json_encode(array("ok" => true));
        exit;
    }
    if($action == 'costly_fixed') {
        header("Content-type: application/json; charset=UTF-8");
        echo json_encode(array("count" => 1, "ok" => true));
        exit;
    }
}
"""


def line_of(marker: str) -> int:
    return next(n for n, line in enumerate(COSTLY.split("\n"), 1) if line.rstrip().endswith("// " + marker))


@pytest.fixture
def forum_env(real_forum, monkeypatch: pytest.MonkeyPatch, tmp_path) -> dict[str, str]:
    """The forum, its admin's password, a working directory without a stray .env."""
    return set_forum_env(real_forum, monkeypatch, tmp_path)


@pytest.fixture
def running(real_forum, forum_env: dict[str, str]) -> Iterator[ServerOrchestrationService]:
    service = ServerOrchestrationService(real_forum.config())
    assert service.start().success
    yield service
    service.stop(force=True)


def make_thread(real_forum: Any, posts: int) -> int:
    """A thread of `posts` posts by the admin, through MyBB's PostDataHandler; its tid."""
    run = run_mybb_php(real_forum.root, """
require_once MYBB_ROOT."inc/functions_post.php";
require_once MYBB_ROOT."inc/datahandlers/post.php";
$user = get_user(1);
$mybb->user = $user;
$mybb->usergroup = usergroup_permissions($user['usergroup']);
$handler = new PostDataHandler("insert");
$handler->action = "thread";
$handler->set_data(array("fid" => 2, "subject" => "Costs", "uid" => 1, "username" => $user['username'],
    "message" => "The first post of the thread.", "ipaddress" => "127.0.0.1", "savedraft" => 0,
    "options" => array("signature" => 0, "subscriptionmethod" => "", "disablesmilies" => 0)));
if(!$handler->validate_thread()) { throw new Exception(implode("; ", $handler->get_friendly_errors())); }
$thread = $handler->insert_thread();
for($n = 2; $n <= (int)$input['posts']; $n++) {
    $reply = new PostDataHandler("insert");
    $reply->set_data(array("tid" => $thread['tid'], "fid" => 2, "subject" => "Re: Costs", "uid" => 1,
        "username" => $user['username'], "message" => "Reply number {$n} of the thread.", "ipaddress" => "127.0.0.1",
        "savedraft" => 0, "options" => array("signature" => 0, "subscriptionmethod" => "", "disablesmilies" => 0)));
    if(!$reply->validate_post()) { throw new Exception(implode("; ", $reply->get_friendly_errors())); }
    $reply->insert_post();
}
$result = (int)$thread['tid'];""", {"posts": posts}, php=real_forum.php)
    return int(run.result)


def request(service: ServerOrchestrationService, path: str, **kwargs: Any) -> Any:
    result = service.forum.request_page(PageRequest(path, **kwargs))
    assert result.response is not None, (result.failure, result.hint)
    return result


# --- queries ---------------------------------------------------------------------------------------------

def test_n_plus_one_is_one_grouped_line_with_the_plugins_line_and_hook(real_forum, running) -> None:
    real_forum.add_plugin("costly", COSTLY)
    tid = make_thread(real_forum, 10)
    result = request(running, f"showthread.php?tid={tid}", queries=True, debug=True, role="admin")
    costs = result.workbench.costs
    assert costs is not None and costs.wrapped == "DB_SQLite"
    assert costs.count == costs.mybb_count == len(costs.queries)  # every statement, MyBB's own count at the end
    # MyBB's debug page counts at output; the thread's view count is a shutdown query, run after it
    assert result.debug is not None and costs.count > int(result.debug.query_count)
    assert any(q.sql.startswith("UPDATE mybb_threads SET views=views+1") for q in costs.queries)
    place = f"inc/plugins/costly.php:{line_of('N+1')}"
    groups = [g for g in costs.groups() if g.caller == place]
    assert len(groups) == 1 and groups[0].count == 10 and groups[0].hook == "postbit"
    assert groups[0].plugin == "costly" and groups[0].rows == 10
    text = render_page_result(result)
    assert f"{costs.count} queries, " in text.split("## Queries", 1)[1].split("\n", 3)[2]
    line = next(li for li in text.split("\n") if li.startswith("- ×10 "))
    assert f"from `{place}` (plugin `costly`) in hook `postbit`" in line
    assert "SELECT username FROM mybb_users WHERE uid=?" in line
    assert len(text) <= 12_000
    assert "## Profile" not in text  # not asked


def test_answers_stay_within_their_budgets_on_a_20_post_thread(real_forum, running) -> None:
    real_forum.add_plugin("costly", COSTLY)
    tid = make_thread(real_forum, 20)
    alone = render_page_result(request(running, f"showthread.php?tid={tid}", queries=True))
    # MyBB shows 10 posts a page by default: the N+1 runs once per post shown
    assert len(alone) <= 8_000 and "- ×10 `SELECT username FROM mybb_users WHERE uid=?`" in alone
    everything = request(running, f"showthread.php?tid={tid}", role="admin", queries=True, profile=True,
                         trace=True, debug=True)
    text = render_page_result(everything)
    assert len(text) <= 12_000
    for section in ("## Trace", "## Queries", "## Profile", "## MyBB debug report"):
        assert section in text
    costs = everything.workbench.costs
    shown = text.split("## Queries", 1)[1].split("## Profile", 1)[0].count("\n- ")
    assert shown == len(costs.groups()) or "left out to keep this answer short" in text


@pytest.mark.parametrize("role", ["guest", "member", "admin"])
def test_the_same_for_each_role_and_nothing_without_the_options(real_forum, running, role: str) -> None:
    real_forum.add_plugin("costly", COSTLY)
    tid = make_thread(real_forum, 3)
    if role == "member":
        assert running.workbench.add_member("costs_member", "member", "m3mber-pass-1")
        role = "costs_member"
    result = request(running, f"showthread.php?tid={tid}", queries=True, role=role)
    costs = result.workbench.costs
    assert costs.count == costs.mybb_count and costs.count > 0
    group = next(g for g in costs.groups() if g.caller == f"inc/plugins/costly.php:{line_of('N+1')}")
    assert group.count == 3 and group.hook == "postbit"
    plain = request(running, f"showthread.php?tid={tid}", role=role)
    assert plain.workbench.costs is None  # nothing taken unless asked
    text = render_page_result(plain)
    assert "## Queries" not in text and "## Profile" not in text and "SELECT" not in text
    assert "JSON" not in text  # an HTML page is not judged


def test_profile_names_the_sleeping_hook_function_first(real_forum, running) -> None:
    real_forum.add_plugin("costly", COSTLY)
    result = request(running, "index.php", profile=True)
    costs = result.workbench.costs
    top = max(costs.functions, key=lambda f: f.ms)
    assert (top.function, top.hook, top.calls) == ("costly_sleep", "index_start", 1)
    assert 160 <= top.ms <= 240, top
    assert sum(f.ms for f in costs.functions) <= costs.wall_ms
    text = render_page_result(result)
    profile = text.split("## Profile", 1)[1]
    first_row = next(li for li in profile.split("\n") if li.startswith("- **"))
    assert "`costly_sleep` in hook `index_start` (`inc/plugins/costly.php:" in first_row
    assert "plugin `costly`" in first_row and "## Queries" not in text  # only what was asked


def test_a_warning_before_the_json_is_named_with_its_line(real_forum, running) -> None:
    real_forum.add_plugin("costly", COSTLY)
    broken = request(running, "xmlhttp.php", query=(("action", "costly_broken"),))
    verdict = broken.json_verdict
    assert verdict is not None and not verdict.valid and verdict.problem == "output before the JSON"
    warning = verdict.culprits[0]
    assert warning.kind == "warning" and "Undefined variable $undefined_count" in warning.text
    assert warning.place == f"inc/plugins/costly.php:{line_of('warning')}"
    text = render_page_result(broken)
    assert "## JSON answer: not valid JSON" in text
    assert f"`inc/plugins/costly.php:{line_of('warning')}`" in text

    stray = request(running, "xmlhttp.php", query=(("action", "costly_echo"),))
    culprit = stray.json_verdict.culprits[0]
    assert (culprit.kind, culprit.text, culprit.place) == (
        "output", "debug", f"inc/plugins/costly.php:{line_of('stray echo')}")
    assert "Stray output before the JSON: `debug`, printed at `inc/plugins/costly.php:" in render_page_result(stray)

    fixed = request(running, "xmlhttp.php", query=(("action", "costly_fixed"),))
    assert fixed.json_verdict.valid and fixed.json_verdict.compact == '{"count":1,"ok":true}'
    assert '## JSON answer: valid JSON' in render_page_result(fixed)
    assert '`{"count":1,"ok":true}`' in render_page_result(fixed)


def test_admin_cp_page_queries_profile_and_ajax(real_forum, running) -> None:
    real_forum.add_plugin("costly", COSTLY)
    result = request(running, "admin/index.php", role="admin", queries=True, profile=True)
    assert result.response.status == 200 and result.response.page_error is None
    costs = result.workbench.costs
    assert costs.count == costs.mybb_count
    group = next(g for g in costs.groups() if g.caller == f"inc/plugins/costly.php:{line_of('admin')}")
    assert group.count == 5 and group.hook == "admin_load" and group.plugin == "costly"
    top = max(costs.functions, key=lambda f: f.ms)
    assert (top.function, top.hook, top.queries) == ("costly_admin", "admin_load", 5)
    assert 160 <= top.ms <= 260, top
    text = render_page_result(result)
    assert "- ×5 " in text and "## Profile" in text and len(text) <= 12_000

    ajax = request(running, "admin/index.php", role="admin", query=(("costly_ajax", "broken"),), profile=True)
    verdict = ajax.json_verdict
    assert verdict is not None and not verdict.valid
    assert verdict.culprits[0].place == f"inc/plugins/costly.php:{line_of('admin warning')}"
    exited = next(f for f in ajax.workbench.costs.functions if f.function == "costly_admin")
    assert exited.exited and 160 <= exited.ms <= 260  # it ended the request with exit: still timed


def test_a_post_is_measured_and_judged_too(real_forum, running) -> None:
    real_forum.add_plugin("costly", COSTLY)
    result = request(running, "index.php", method="POST", form=(("note", "x"),), role="admin", queries=True)
    costs = result.workbench.costs
    assert costs.count == costs.mybb_count
    group = next(g for g in costs.groups() if g.caller == f"inc/plugins/costly.php:{line_of('on post')}")
    assert group.count == 4 and group.hook == "global_start"
    posted = request(running, "xmlhttp.php", method="POST", form=(("action", "costly_broken"),))
    assert not posted.json_verdict.valid
    assert posted.json_verdict.culprits[0].place == f"inc/plugins/costly.php:{line_of('warning')}"


# --- the pure parts ---------------------------------------------------------------------------------------

def test_fold_sql_makes_n_plus_one_statements_one() -> None:
    assert fold_sql("SELECT a FROM t WHERE uid='1'") == fold_sql("SELECT  a FROM t\nWHERE uid='22'")
    assert fold_sql("SELECT * FROM t WHERE id IN (1, 2, 3) AND x=-4.5") == "SELECT * FROM t WHERE id IN (?…) AND x=?"
    assert fold_sql("SELECT col2 FROM t2") == "SELECT col2 FROM t2"  # digits in names stay


def test_judge_json_without_a_record_of_the_output() -> None:
    body = "<br />\n<b>Warning</b>:  Undefined array key \"x\" in <b>/srv/forum/inc/plugins/p.php</b> on line " \
           "<b>9</b><br />\n[1,2]"
    verdict = judge_json(body, "text/html", None, "xmlhttp.php answers MyBB's AJAX calls", "/srv/forum")
    assert not verdict.valid and verdict.culprits[0].place == "inc/plugins/p.php:9"
    assert judge_json("<html></html>", "text/html", None, None) is None
    assert judge_json('{"a": [1]}', "application/json", [], None).compact == '{"a":[1]}'
    empty = judge_json("", "text/html", [Printed(0, 0, "", "")], "xmlhttp.php answers MyBB's AJAX calls")
    assert not empty.valid and empty.problem == "the answer is empty"
    after = judge_json('{"a":1}tail', "application/json", [Printed(0, 7, "x.php:3", '{"a":1}'),
                                                          Printed(7, 4, "x.php:4", "tail")], None)
    assert after.problem == "output after the JSON" and after.culprits[0].place == "x.php:4"


def test_json_checks_are_unaffected_by_a_visitors_headers(real_forum, running) -> None:
    import urllib.request

    real_forum.add_plugin("costly", COSTLY)
    folder = real_forum.root.parent / ".mybb-server-workbench"
    forged = urllib.request.Request(f"{real_forum.url}/index.php", headers={
        "X-Mybb-Mcp-Workbench": "0" * 64, "X-Mybb-Mcp-Options": json.dumps({"id": "b" * 32, "queries": True,
                                                                            "profile": True})})
    with urllib.request.urlopen(forged, timeout=30) as page:
        assert page.status == 200 and b"costly" not in page.read().lower()
    assert not list(folder.glob("trace-*.json"))  # nothing switched on, nothing written


# --- the faces: MCP through the SDK's client, the CLI as a subprocess -----------------------------------

@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_queries_profile_and_json_through_the_sdk_client(real_forum, forum_env: dict[str, str]) -> None:
    real_forum.add_plugin("costly", COSTLY)
    tid = make_thread(real_forum, 10)
    try:
        async with Client(server) as client:
            assert not (await client.call_tool("mybb_server_start", {})).is_error
            answer = await client.call_tool("mybb_server_request", {"path": f"showthread.php?tid={tid}",
                                                                    "queries": True, "profile": True})
            text = _text(answer)
            assert "## Queries" in text and "## Profile" in text and len(text) <= 12_000
            assert f"from `inc/plugins/costly.php:{line_of('N+1')}` (plugin `costly`) in hook `postbit`" in text
            broken = await client.call_tool("mybb_server_request", {"path": "xmlhttp.php",
                                                                    "query": {"action": "costly_broken"}})
            assert "## JSON answer: not valid JSON" in _text(broken)
            bad = await client.call_tool("mybb_server_request", {"path": "index.php", "queries": True,
                                                                 "slow_query_ms": 0})
            assert bad.is_error and "slow_query_ms" in _text(bad)
    finally:
        ServerOrchestrationService(real_forum.config()).stop(force=True)


def test_the_cli_request_queries_and_profile(real_forum, running) -> None:
    real_forum.add_plugin("costly", COSTLY)
    env = {**os.environ, **real_forum.env()}
    cli = [sys.executable, "-m", "mybb_mcp.cli", "request", "index.php"]
    done = subprocess.run([*cli, "--queries", "--profile", "--slow-ms", "5"], check=False, capture_output=True,
                          text=True, env=env, timeout=120, cwd=real_forum.root.parent)
    assert "## Queries" in done.stdout and "Slow (> 5 ms)" in done.stdout, done.stderr
    assert "`costly_sleep` in hook `index_start`" in done.stdout
    as_json = subprocess.run([*cli, "--queries", "--json"], check=False, capture_output=True, text=True, env=env,
                             timeout=120, cwd=real_forum.root.parent)
    data = json.loads(as_json.stdout)
    costs = data["workbench"]["costs"]
    assert costs["count"] == costs["mybb_count"] == len(costs["queries"])


def _text(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


# --- MySQL: the same on a forum installed by init into the tests' private MariaDB -------------------------

@pytest.mark.mariadb
def test_the_same_on_mariadb(tmp_path, php: str, mariadb, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from mybb_mcp.config import Config
    from mybb_mcp.orchestration.init import InitOptions
    from tests.conftest import free_port
    from tests.fixtures.real_mybb import activate_plugin, archive_path

    if not archive_path().is_file():
        pytest.skip(f"MyBB release archive not found at {archive_path()}")
    mariadb.create_forum_database("costs", "costs", "costs-pass", with_settings_table=False)
    config = Config(mybb_root=tmp_path / "site" / "TestForum", php=php, port=free_port())
    monkeypatch.chdir(tmp_path)
    service = ServerOrchestrationService(config)
    url = f"mysql://costs:costs-pass@127.0.0.1:{mariadb.port}/costs"
    try:
        installed = service.init_forum(InitOptions(source=str(archive_path()), database_url=url))
        assert installed.success, (installed.message, installed.hint)
        root = config.mybb_root
        (root / "inc" / "plugins" / "costly.php").write_text(COSTLY, "utf-8")
        activate_plugin(root, "costly", php=php)
        tid = make_thread(SimpleNamespace(root=root, php=php), 10)
        result = request(service, f"showthread.php?tid={tid}", queries=True, profile=True, role="admin")
        costs = result.workbench.costs
        assert costs.wrapped == "DB_MySQLi" and costs.count == costs.mybb_count == len(costs.queries)
        group = next(g for g in costs.groups() if g.caller == f"inc/plugins/costly.php:{line_of('N+1')}")
        assert (group.count, group.hook, group.plugin, group.rows, group.rows_kind) == (10, "postbit", "costly", 10,
                                                                                        "result")
        assert "- ×10 `SELECT username FROM mybb_users WHERE uid=?`" in render_page_result(result)
        index = request(service, "index.php", profile=True, queries=True)
        top = max(index.workbench.costs.functions, key=lambda f: f.ms)
        assert top.function == "costly_sleep" and 160 <= top.ms <= 240
        text = render_page_result(index)
        assert "Slow (> 50 ms): **1**, marked ⚠ below." in text
        assert f"- ⚠ `SELECT SLEEP(?)` from `inc/plugins/costly.php:{line_of('slow')}`" in text
        broken = request(service, "xmlhttp.php", query=(("action", "costly_broken"),))
        assert not broken.json_verdict.valid
        assert broken.json_verdict.culprits[0].place == f"inc/plugins/costly.php:{line_of('warning')}"
    finally:
        service.stop(force=True)
