"""Every error a page raises, on a real MyBB 1.8.37 forum: one request, one `errors_only` query, the
error shown once, with its request, origin and file:line (issue table: each kind is a row here).

The test plugin raises each kind from MyBB's `global_start` hook on `index.php?err=KIND`.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from mybb_mcp.answers.lifecycle import render_result
from mybb_mcp.answers.logs import render_log_query
from mybb_mcp.answers.status import render_status
from mybb_mcp.logs.parser import LogEntry
from mybb_mcp.orchestration import LogQueryOptions, ServerOrchestrationService
from mybb_mcp.orchestration.php_dev import probe_php
from tests.fixtures.real_mybb import RealForum

PLUGIN = "errs"
# Line numbers below are the plugin's: keep KINDS in step with the source.
PLUGIN_SOURCE = """<?php
if(!defined("IN_MYBB")) { die("Direct access not allowed."); }
$plugins->add_hook("global_start", "errs_raise");
function errs_info() { return array("name" => "errs", "description" => "raises errors", "version" => "1", \
"compatibility" => "18*"); }
function errs_raise()
{
    global $db;
    switch ($_GET['err'] ?? '') {
        case 'warning': $a = []; echo $a['missing']; break;
        case 'user_warning': trigger_error("plugin user warning", E_USER_WARNING); break;
        case 'user_deprecated': trigger_error("plugin user deprecated", E_USER_DEPRECATED); break;
        case 'notice': $x = end(explode(",", "a,b")); break;
        case 'deprecated': echo strlen(null); break;
        case 'sql': $db->query("SELECT nosuchcolumn FROM ".TABLE_PREFIX."users"); break;
        case 'user_error': trigger_error("plugin user error", E_USER_ERROR); break;
        case 'exception': throw new RuntimeException("plugin exception"); break;
        case 'undefined_function': no_such_function_here(); break;
        case 'memory': ini_set('memory_limit', '16M'); $a = []; while (true) { $a[] = str_repeat('x', 100000); } break;
    }
}
"""
PLUGIN_FILE = "inc/plugins/errs.php"

# kind -> (level shown, status, line in the plugin, words of the message)
KINDS = {
    "warning": ("warning", 200, 9, 'Undefined array key "missing"'),
    "user_warning": ("warning", 200, 10, "plugin user warning"),
    "user_deprecated": ("deprecated", 200, 11, "plugin user deprecated"),
    "notice": ("notice", 200, 12, "Only variables should be passed by reference"),
    "deprecated": ("deprecated", 200, 13, "strlen(): Passing null to parameter #1"),
    "sql": ("sql", 503, 14, "no such column: nosuchcolumn"),
    "user_error": ("fatal", 503, 15, "plugin user error"),
    "exception": ("exception", 500, 16, "Uncaught RuntimeException: plugin exception"),
    "undefined_function": ("fatal", 500, 17, "Call to undefined function no_such_function_here()"),
    "memory": ("fatal", 500, 18, "Allowed memory size of 16777216 bytes exhausted"),
}
NEEDS_XDEBUG = {"notice", "deprecated"}


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for_request_line(service: ServerOrchestrationService, path: str, timeout: float = 10.0) -> None:
    """php -S writes the request line just after the response: poll until it is in the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.encode() in service.config.log_file.read_bytes():
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} never reached the log")


@pytest.fixture
def served(real_forum: RealForum) -> Iterator[ServerOrchestrationService]:
    real_forum.add_plugin(PLUGIN, PLUGIN_SOURCE)
    service = ServerOrchestrationService(real_forum.config())
    started = service.start()
    assert started.success, render_result(started)
    try:
        yield service
    finally:
        service.stop(force=True)


def errors_after(service: ServerOrchestrationService, kind: str) -> tuple[list[LogEntry], str]:
    path = f"/index.php?err={kind}"
    status = get(f"http://127.0.0.1:{service.config.port}{path}")
    assert status == KINDS[kind][1]
    wait_for_request_line(service, path)
    result = service.logs.search_logs(LogQueryOptions(errors_only=True))
    return result.entries, render_log_query(result)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_is_shown_once_with_its_request_origin_and_place(
    served: ServerOrchestrationService, php: str, kind: str
) -> None:
    if kind in NEEDS_XDEBUG and not probe_php(php).has_xdebug:
        pytest.skip("notices and deprecations need Xdebug (apt-get install php-xdebug): status says so")
    level, status, line, words = KINDS[kind]
    entries, markdown = errors_after(served, kind)
    assert len(entries) == 1, markdown  # once: no duplicate fatal, no bare 503, no MyBB core noise
    entry = entries[0]
    assert entry.level == level, markdown
    assert words in entry.message, markdown
    assert entry.origin == f"plugin {PLUGIN}", markdown
    assert entry.place == f"{PLUGIN_FILE}:{line}", markdown
    assert entry.request is not None and entry.request.status == status, markdown
    assert entry.request.path == f"/index.php?err={kind}" and entry.request.method == "GET", markdown
    # The answer shows it the same way.
    assert f"[plugin {PLUGIN}]" in markdown and f"`{PLUGIN_FILE}:{line}`" in markdown, markdown
    assert f"Request: `GET /index.php?err={kind}` → {status}" in markdown, markdown
    assert markdown.count(words) == 1, markdown


def test_core_noise_is_hidden_by_default_and_shown_on_request(served: ServerOrchestrationService, php: str) -> None:
    if not probe_php(php).has_xdebug:
        pytest.skip("MyBB's PHP 8.2 deprecations reach the log only with Xdebug")
    get(f"http://127.0.0.1:{served.config.port}/index.php")
    wait_for_request_line(served, "GET /index.php")
    quiet = served.logs.search_logs(LogQueryOptions(errors_only=True))
    assert quiet.entries == [] and quiet.hidden.core_noise >= 1
    assert "MyBB core noise" in render_log_query(quiet)
    noisy = served.logs.search_logs(LogQueryOptions(errors_only=True, include_core_noise=True))
    assert noisy.entries and all(e.origin == "MyBB core" and e.core_noise for e in noisy.entries)
    assert any("DB_SQLite::$error_number" in e.message for e in noisy.entries)


def test_the_sql_error_folds_in_what_mybb_raises_while_reporting_it(served: ServerOrchestrationService) -> None:
    entries, markdown = errors_after(served, "sql")
    (entry,) = entries
    assert entry.source == "mybb"
    if probe_php(served.config.php).has_xdebug:
        assert any("Array to string conversion" in line or "str_replace" in line for line in entry.folded), markdown


def test_user_code_only_leaves_out_mybb_core(served: ServerOrchestrationService) -> None:
    get(f"http://127.0.0.1:{served.config.port}/index.php?err=warning")
    wait_for_request_line(served, "err=warning")
    ours = served.logs.search_logs(LogQueryOptions(errors_only=True, user_code_only=True, include_core_noise=True))
    assert ours.entries and all(e.origin == f"plugin {PLUGIN}" for e in ours.entries)


def test_each_error_is_tied_to_its_request_in_worker_mode(real_forum: RealForum) -> None:
    from dataclasses import replace

    real_forum.add_plugin(PLUGIN, PLUGIN_SOURCE)
    service = ServerOrchestrationService(replace(real_forum.config(), workers=3))
    assert service.start().success
    try:
        kinds = ["warning", "exception", "sql", "user_warning"]
        for kind in kinds:
            get(f"http://127.0.0.1:{service.config.port}/index.php?err={kind}")
        for kind in kinds:
            wait_for_request_line(service, f"err={kind}")
        result = service.logs.search_logs(LogQueryOptions(errors_only=True))
        by_kind = {}
        for entry in result.entries:
            assert entry.request is not None and entry.request.worker_pid is not None, render_log_query(result)
            kind = entry.request.path.rsplit("=", 1)[1]
            assert KINDS[kind][3] in entry.message, render_log_query(result)
            by_kind[kind] = entry
        assert sorted(by_kind) == sorted(kinds) and len(result.entries) == len(kinds), render_log_query(result)
    finally:
        service.stop(force=True)


def test_errors_before_a_restart_are_still_found(served: ServerOrchestrationService) -> None:
    get(f"http://127.0.0.1:{served.config.port}/index.php?err=exception")
    wait_for_request_line(served, "err=exception")
    assert served.restart().success  # server.log -> server.log.1
    assert served.config.log_file.with_name("server.log.1").is_file()
    found = served.logs.search_logs(LogQueryOptions(errors_only=True, filter_keyword="plugin exception"))
    assert len(found.entries) == 1 and found.entries[0].location.endswith("server.log.1")
    recent = served.logs.search_logs(LogQueryOptions(errors_only=True, since_minutes=5))
    assert any("plugin exception" in e.message for e in recent.entries)


def test_twenty_error_pages_fit_the_budget_newest_first(served: ServerOrchestrationService) -> None:
    kinds = ["exception", "undefined_function", "sql", "warning"] * 5
    for number, kind in enumerate(kinds):
        get(f"http://127.0.0.1:{served.config.port}/index.php?err={kind}&n={number}")
    wait_for_request_line(served, f"n={len(kinds) - 1}")
    markdown = render_log_query(served.logs.search_logs(LogQueryOptions(errors_only=True)))
    assert len(markdown) < 10_000, len(markdown)
    first = re.search(r"Request: `GET (\S+)`", markdown)
    assert first is not None and first.group(1).endswith(f"n={len(kinds) - 1}"), markdown
    # Small budgets cut entries and say how to get the rest.
    small = render_log_query(served.logs.search_logs(LogQueryOptions(errors_only=True, max_chars=2_000)))
    assert len(small) <= 2_000 + 200 and "answer budget" in small and "offset=" in small, small


def test_status_and_start_say_what_reaches_the_log(served: ServerOrchestrationService, php: str) -> None:
    status = served.get_status()
    text = render_status(status)
    assert "## Errors in the log" in text and "Fresh code:" in text
    assert status.visibility is not None and status.visibility.switched_on_by_tool
    if probe_php(php).has_xdebug:
        assert status.visibility.hidden == ()
    else:
        assert any("apt-get install php-xdebug" in hidden.fix for hidden in status.visibility.hidden)


def test_an_error_is_found_by_a_word_of_its_url_and_by_its_page(served: ServerOrchestrationService) -> None:
    """The error's own lines do not name its page: its request does. Queries, cursor reads and the digest
    find it by a word of its URL (`filter_keyword`) and by its page (`path`)."""
    port = served.config.port
    cursor = served.logs.log_cursor()
    for path in ("/index.php?err=exception&plant=ZED1", "/showthread.php?tid=1&err=warning",
                 "/index.php?err=sql&plant=SQLQ"):
        get(f"http://127.0.0.1:{port}{path}")
        wait_for_request_line(served, path)
    by_word = served.logs.search_logs(LogQueryOptions(errors_only=True, filter_keyword="PLANT=zed1"))
    assert [e.level for e in by_word.entries] == ["exception"], render_log_query(by_word)
    by_page = served.logs.search_logs(LogQueryOptions(errors_only=True, path="showthread.php"))
    assert [e.level for e in by_page.entries] == ["warning"], render_log_query(by_page)
    assert by_page.entries[0].request is not None
    assert by_page.entries[0].request.path == "/showthread.php?tid=1&err=warning"
    mybb_logged = served.logs.search_logs(LogQueryOptions(errors_only=True, path="index.php?err=sql*"))
    assert [e.level for e in mybb_logged.entries] == ["sql"], render_log_query(mybb_logged)
    since = served.logs.logs_since(cursor, LogQueryOptions(errors_only=True, path="/showthread.php"))
    assert [(e.level, e.origin, e.request.path if e.request else None) for e in since.entries] == [
        ("warning", f"plugin {PLUGIN}", "/showthread.php?tid=1&err=warning")]
    digest = served.logs.error_digest(cursor, keyword="zed1")
    assert [g.fingerprint.kind for g in digest.groups] == ["exception"]
    assert served.logs.error_digest(cursor, keyword="no such word anywhere").groups == []


FINDER_SOURCE = """<?php
if(!defined("IN_MYBB")) { die("Direct access not allowed."); }
$plugins->add_hook("global_start", "finder_run");
function finder_info() { return array("name" => "finder", "description" => "x", "version" => "1", \
"compatibility" => "18*"); }
function finder_run()
{
    switch ($_GET['fx'] ?? '') {
        case 'module': require_once MYBB_ROOT."admin/modules/newpoints/module_meta.php"; newpoints_meta(); break;
        case 'sub': require_once MYBB_ROOT."inc/plugins/finder/sub.php"; finder_sub(); break;
        case 'core': my_strlen(array()); break;
    }
}
"""


def test_origin_comes_from_the_release_itself(real_forum: RealForum) -> None:
    """A forum init did not make: origin from the release archive of its version (MYBB_ARCHIVE). A fatal in an
    Admin CP module, a plugin's sub-folder file and an edited MyBB file are the user's code; a fatal inside
    untouched core names the plugin frame that caused it."""
    from dataclasses import replace

    from tests.fixtures.real_mybb import archive_path

    real_forum.add_plugin("finder", FINDER_SOURCE)
    module = real_forum.root / "admin" / "modules" / "newpoints" / "module_meta.php"
    module.parent.mkdir(parents=True)
    module.write_text("<?php\nfunction newpoints_meta()\n{\n    no_such_function_np();\n}\n")
    sub = real_forum.root / "inc" / "plugins" / "finder" / "sub.php"
    sub.parent.mkdir()
    sub.write_text('<?php\nfunction finder_sub()\n{\n    trigger_error("finder sub warning", E_USER_WARNING);\n}\n')
    showteam = real_forum.root / "showteam.php"
    showteam.write_text(showteam.read_text().replace(
        "<?php", '<?php\nif(isset($_GET["edited"])) { trigger_error("edited core warning", E_USER_WARNING); }', 1))
    service = ServerOrchestrationService(replace(real_forum.config(), archive=str(archive_path())))
    assert service.start().success
    try:
        for path in ("/index.php?fx=module", "/index.php?fx=sub", "/index.php?fx=core", "/showteam.php?edited=1"):
            get(f"http://127.0.0.1:{service.config.port}{path}")
            wait_for_request_line(service, path)
        result = service.logs.search_logs(LogQueryOptions(errors_only=True, user_code_only=True, tail=False))
        markdown = render_log_query(result)
        shown = [(e.origin, e.place) for e in result.entries]
        assert shown == [
            ("plugin newpoints", "admin/modules/newpoints/module_meta.php:4"),
            ("plugin finder", "inc/plugins/finder/sub.php:4"),
            ("plugin finder", "inc/plugins/finder.php:10"),
            ("edited MyBB file", "showteam.php:2"),
        ], markdown
        assert "Origin: by MyBB's own files and their hashes, from the release archive" in markdown, markdown
    finally:
        service.stop(force=True)
