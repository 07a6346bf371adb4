"""Errors as the agent reads them: Xdebug's stack lines stay with their error, engine errors are fatal,
each error's origin and the place in the user's code, MyBB core noise, and each error's request."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

from mybb_mcp.answers.logs import render_log_query
from mybb_mcp.logs.options import LogQueryOptions
from mybb_mcp.logs.parser import (
    ORIGIN_CORE,
    ORIGIN_OTHER,
    ORIGIN_TEMPLATE,
    ORIGIN_YOURS,
    classify_origin,
    parse_entry,
    parse_mybb_error,
    path_origin,
)
from mybb_mcp.logs.query import run_query
from mybb_mcp.logs.reader import iter_entries_forward

ROOT = "/srv/forum"
STAMP = "[Sun Nov 29 02:39:24 2026]"

# What php -S logs for one page when Xdebug's develop mode forces MyBB's hidden kinds (real output, paths
# rewritten): MyBB core's deprecation on every request, the plugin's notice, then the request line.
PAGE = f"""{STAMP} 127.0.0.1:58844 Accepted
{STAMP} PHP Deprecated:  Creation of dynamic property DB_SQLite::$error_number is deprecated \
in /srv/forum/inc/db_sqlite.php on line 420
{STAMP} PHP Stack trace:
{STAMP} PHP   1. {{main}}() /srv/forum/index.php:0
{STAMP} PHP   2. require_once() /srv/forum/index.php:18
{STAMP} PHP   3. require_once() /srv/forum/global.php:20
{STAMP} PHP   4. DB_SQLite->connect($config = [...]) /srv/forum/inc/init.php:172
{STAMP} PHP Notice:  Only variables should be passed by reference in /srv/forum/inc/plugins/errs.php on line 15
{STAMP} PHP Stack trace:
{STAMP} PHP   1. {{main}}() /srv/forum/index.php:0
{STAMP} PHP   2. require_once() /srv/forum/index.php:18
{STAMP} PHP   3. pluginSystem->run_hooks($hook = 'global_start', $arguments = *uninitialized*) /srv/forum/global.php:100
{STAMP} PHP   4. errs_raise('') /srv/forum/inc/class_plugins.php:142
{STAMP} 127.0.0.1:58844 [200]: GET /index.php?err=notice
{STAMP} 127.0.0.1:58844 Closing
"""

FATAL = f"""{STAMP} PHP Fatal error:  Uncaught Error: Call to undefined function nope() \
in /srv/forum/inc/plugins/errs.php:21
Stack trace:
#0 /srv/forum/inc/class_plugins.php(142): errs_raise()
#1 /srv/forum/global.php(100): pluginSystem->run_hooks()
#2 /srv/forum/index.php(18): require_once('...')
#3 {{main}}
  thrown in /srv/forum/inc/plugins/errs.php on line 21
{STAMP} 127.0.0.1:58802 [500]: GET /index.php?err=undefined_function \
- Uncaught Error: Call to undefined function nope() in /srv/forum/inc/plugins/errs.php:21
Stack trace:
#0 /srv/forum/inc/class_plugins.php(142): errs_raise()
#1 /srv/forum/global.php(100): pluginSystem->run_hooks()
#2 /srv/forum/index.php(18): require_once('...')
#3 {{main}}
  thrown in /srv/forum/inc/plugins/errs.php on line 21
"""


def entries(text: str, tmp_path: Path) -> list:
    path = tmp_path / "server.log"
    path.write_text(text)
    return [parse_entry(raw.decode(), offset=offset) for offset, raw in iter_entries_forward(path)]


def test_xdebug_stack_lines_continue_their_error(tmp_path: Path) -> None:
    parsed = [e for e in entries(PAGE, tmp_path) if e.event_type != "connection"]
    assert [e.level for e in parsed] == ["deprecated", "notice", None]
    notice = parsed[1]
    assert notice.continuation[0] == "Stack trace:" and notice.continuation[-1].startswith("  4. errs_raise('')")


def test_the_first_frame_in_user_code_names_the_origin_and_place(tmp_path: Path) -> None:
    core, notice, _ = [e for e in entries(PAGE, tmp_path) if e.event_type != "connection"]
    for entry in (core, notice):
        classify_origin(entry, ROOT)
    assert (core.origin, core.place, core.core_noise) == (ORIGIN_CORE, "inc/db_sqlite.php:420", True)
    assert (notice.origin, notice.place, notice.core_noise) == ("plugin errs", "inc/plugins/errs.php:15", False)


def test_an_sql_error_in_mybb_s_database_class_is_the_plugin_s_line() -> None:
    block = ("<error>\n\t<dateline>1795919976</dateline>\n\t<script></script>\n\t<line>0</line>\n\t<type>20</type>\n"
             "\t<friendly_type>MyBB SQL Error</friendly_type>\n\t<message>SQL Error: 0 - Array\nQuery: no such column"
             "</message>\n\t<back_trace>#0  errorHandler->error() called at [/inc/db_sqlite.php:491]\n"
             "#1  DB_SQLite->error() called at [/inc/db_sqlite.php:226]\n"
             "#2  DB_SQLite->query() called at [/inc/plugins/errs.php:18]\n"
             "#3  errs_raise() called at [/inc/class_plugins.php:142]\n</back_trace>\n</error>")
    entry = parse_mybb_error(block, tz=timezone.utc)
    classify_origin(entry, ROOT)
    assert (entry.level, entry.origin, entry.place) == ("sql", "plugin errs", "inc/plugins/errs.php:18")


def test_labels_engine_errors_are_fatal_thrown_exceptions_are_not(tmp_path: Path) -> None:
    fatal, request = entries(FATAL, tmp_path)
    assert fatal.level == "fatal" and request.level == "fatal"
    thrown = parse_entry(f"{STAMP} PHP Fatal error:  Uncaught RuntimeException: x in /srv/forum/a.php:2")
    assert thrown.level == "exception"
    user_error = parse_entry(f"{STAMP} PHP Fatal error:  Uncaught Error: boom in /srv/forum/a.php:2")
    assert user_error.level == "exception"  # code threw an Error itself
    deprecated = parse_mybb_error("<error><friendly_type>User Deprecated Warning</friendly_type></error>")
    assert deprecated.level == "deprecated"


def test_path_origins() -> None:
    assert path_origin("/srv/forum/inc/plugins/hello/core.php", ROOT) == "plugin hello"
    assert path_origin("/srv/forum/global.php(432) : eval()'d code", ROOT) == ORIGIN_TEMPLATE
    assert path_origin("/srv/forum/inc/functions.php", ROOT) == ORIGIN_CORE
    assert path_origin("/srv/forum/mypage.php", ROOT) == ORIGIN_YOURS  # a script of the user's
    assert path_origin("/usr/share/php/x.php", ROOT) == ORIGIN_OTHER
    assert path_origin("/inc/class_core.php", ROOT, relative=True) == ORIGIN_CORE


def test_a_fatal_is_one_entry_with_its_request(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text(FATAL)
    result = run_query(path, LogQueryOptions(errors_only=True), zone=timezone.utc, forum_root=ROOT)
    (entry,) = result.entries
    assert entry.request is not None and (entry.request.status, entry.request.path) == (
        500, "/index.php?err=undefined_function")
    assert result.hidden.folded == 1
    markdown = render_log_query(result)
    assert markdown.count("Call to undefined function nope()") == 1
    assert "**FATAL** [plugin errs]" in markdown and "`inc/plugins/errs.php:21`" in markdown
    raw = run_query(path, LogQueryOptions(errors_only=True, raw=True), zone=timezone.utc, forum_root=ROOT)
    assert len(raw.entries) == 2


def test_core_noise_is_hidden_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text(PAGE)
    result = run_query(path, LogQueryOptions(errors_only=True), zone=timezone.utc, forum_root=ROOT)
    assert [e.level for e in result.entries] == ["notice"] and result.hidden.core_noise == 1
    assert result.entries[0].request is not None and result.entries[0].request.client == "127.0.0.1:58844"
    everything = run_query(path, LogQueryOptions(errors_only=True, include_core_noise=True), zone=timezone.utc,
                           forum_root=ROOT)
    assert len(everything.entries) == 2
    only_ours = run_query(path, LogQueryOptions(errors_only=True, include_core_noise=True, user_code_only=True),
                          zone=timezone.utc, forum_root=ROOT)
    assert [e.origin for e in only_ours.entries] == ["plugin errs"] and only_ours.hidden.not_user_code == 1


def test_an_error_without_a_request_line_says_so(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text(f"{STAMP} PHP Warning:  Module \"x\" is already loaded in Unknown on line 0\n"
                    f"{STAMP} PHP 8.2.36 Development Server (http://127.0.0.1:8022) started\n"
                    f"{STAMP} PHP Warning:  Undefined variable $x in /srv/forum/inc/plugins/a.php on line 3\n")
    result = run_query(path, LogQueryOptions(errors_only=True), zone=timezone.utc, forum_root=ROOT)
    running, startup = result.entries
    assert running.request is None and "still running" in (running.request_note or "")
    assert startup.request is None and "started" in (startup.request_note or "")
    assert "Request: none" in render_log_query(result)


def test_worker_mode_pairs_errors_with_their_worker_s_request(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text(
        f"[11] {STAMP} PHP Warning:  from eleven in /srv/forum/inc/plugins/a.php on line 3\n"
        f"[12] {STAMP} PHP Warning:  from twelve in /srv/forum/inc/plugins/a.php on line 4\n"
        f"[12] {STAMP} 127.0.0.1:2 [200]: GET /twelve\n"
        f"[11] {STAMP} 127.0.0.1:1 [200]: GET /eleven\n")
    result = run_query(path, LogQueryOptions(errors_only=True), zone=timezone.utc, forum_root=ROOT)
    pairs = {e.message.split()[1]: (e.request.path, e.request.worker_pid) for e in result.entries if e.request}
    assert pairs == {"eleven": ("/eleven", 11), "twelve": ("/twelve", 12)}


def test_rotated_logs_are_searched_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    (tmp_path / "server.log.2").write_text("[Sun Nov 29 01:00:00 2026] PHP Warning:  oldest in /x.php on line 1\n")
    (tmp_path / "server.log.1").write_text("[Sun Nov 29 02:00:00 2026] PHP Warning:  older in /x.php on line 1\n")
    path.write_text("[Sun Nov 29 03:00:00 2026] PHP Warning:  newest in /x.php on line 1\n")
    result = run_query(path, LogQueryOptions(errors_only=True), zone=timezone.utc)
    assert [e.message.split()[0] for e in result.entries] == ["newest", "older", "oldest"]
    assert [p.name for p in result.generations] == ["server.log.1", "server.log.2"]
    found = run_query(path, LogQueryOptions(filter_keyword="oldest"), zone=timezone.utc)
    assert [e.location for e in found.entries] == [str(tmp_path / "server.log.2")]
    current = run_query(path, LogQueryOptions(errors_only=True, include_rotated=False), zone=timezone.utc)
    assert len(current.entries) == 1


def test_an_entry_of_a_separate_mybb_error_log_is_tied_to_its_request_by_time(tmp_path: Path) -> None:
    from mybb_mcp.logs.mybb_error_log import MyBBErrorLog

    path = tmp_path / "server.log"
    path.write_text(f"{STAMP} 127.0.0.1:7 [200]: GET /other.php\n"
                    "[Sun Nov 29 02:39:26 2026] 127.0.0.1:8 [200]: GET /showthread.php?tid=3\n")
    error_log = tmp_path / "error.log"
    epoch = 1795919965  # Sun Nov 29 02:39:25 2026 UTC: after the first request, before the second ended
    error_log.write_text(f"<error>\n\t<dateline>{epoch}</dateline>\n\t<script>inc/plugins/a.php</script>\n"
                         "\t<line>3</line>\n\t<type>2</type>\n\t<friendly_type>Warning</friendly_type>\n"
                         "\t<message>from a file</message>\n</error>\n\n")
    source = MyBBErrorLog(error_log, name="mybb:error.log", tz=timezone.utc)
    result = run_query(path, LogQueryOptions(errors_only=True), zone=timezone.utc, forum_root=ROOT,
                       extra_sources=[source])
    (entry,) = result.entries
    assert entry.request is not None and entry.request.by_time and entry.request.path == "/showthread.php?tid=3"
    assert "matched by time" in render_log_query(result)


# --- round three: the include rule, the tool's own frames, SQLite's garbled SQL errors -------------------

def test_what_mybb_raises_while_a_users_script_includes_it_is_mybbs() -> None:
    block = """<error>
	<dateline>1764384000</dateline>
	<script>inc/db_sqlite.php</script>
	<line>70</line>
	<type>8192</type>
	<friendly_type>Deprecated</friendly_type>
	<message>Creation of dynamic property DB_SQLite::$error_number is deprecated</message>
	<back_trace>#0  errorHandler->error_callback() called at [/inc/db_sqlite.php:70]
#1  DB_SQLite->connect() called at [/inc/init.php:113]
#2  require_once() called at [/global.php:20]
#3  require_once() called at [/medals.php:4]
</back_trace>
</error>"""
    entry = parse_mybb_error(block, tz=timezone.utc)
    classify_origin(entry, ROOT)
    assert entry.origin == ORIGIN_CORE and entry.core_noise
    called = parse_mybb_error(block.replace("#3  require_once() called", "#3  medals_build() called"),
                              tz=timezone.utc)
    classify_origin(called, ROOT)  # the script called MyBB's code itself: its own doing
    assert called.origin == ORIGIN_YOURS and called.place == "medals.php:4" and not called.core_noise


def test_the_tools_own_php_frames_are_named_and_never_the_origin() -> None:
    from mybb_mcp.logs.frames import TOOL_FRAME, TOOL_PHP_DIRS

    wrapper = TOOL_PHP_DIRS[0] + "request_plugins.php"
    entry = parse_entry(
        f"{STAMP} PHP Deprecated:  strlen(): Passing null is deprecated in /srv/forum/inc/class_plugins.php on "
        f"line 142\nStack trace:\n#0 {wrapper}(55): pluginSystem->run_hooks()\n#1 /srv/forum/index.php(26): "
        "MybbMcpPlugins->run_hooks()\n#2 {main}")
    classify_origin(entry, ROOT)
    assert entry.origin == ORIGIN_CORE and entry.core_noise  # MyBB's noise, not "other" at the wrapper
    assert not any(directory in line for line in entry.continuation for directory in TOOL_PHP_DIRS)
    assert entry.continuation[1].startswith(f"#0 {TOOL_FRAME}request_plugins.php(55)")


def test_an_error_raised_in_the_tools_own_php_is_labelled_the_tools() -> None:
    from mybb_mcp.logs.frames import TOOL_FRAME, TOOL_PHP_DIRS
    from mybb_mcp.logs.parser import ORIGIN_TOOL, is_user_origin

    wrapper = TOOL_PHP_DIRS[0] + "request_templates.php"
    entry = parse_entry(
        f"{STAMP} PHP Deprecated:  Automatic conversion of false to array is deprecated in {wrapper} on line 13\n"
        f"Stack trace:\n#0 /srv/forum/inc/plugins/asks.php(8): MybbMcpTemplates->get()\n"
        "#1 /srv/forum/inc/class_plugins.php(142): asks_index()\n#2 {main}")
    classify_origin(entry, ROOT)
    assert entry.origin == ORIGIN_TOOL and not is_user_origin(entry.origin) and not entry.core_noise
    assert entry.place == f"{TOOL_FRAME}request_templates.php:13"  # not the plugin's line 8

def test_sqlites_garbled_sql_error_reads_as_pdos_words_with_the_statement(tmp_path: Path) -> None:
    root = tmp_path / "forum"
    (root / "inc" / "plugins").mkdir(parents=True)
    (root / "inc" / "plugins" / "badsql.php").write_text(
        '<?php\nfunction badsql_run() {\n\tglobal $db;\n\t$db->query("SELECT nope FROM ".TABLE_PREFIX."users"\n'
        '\t\t." WHERE uid = (1)");\n}\n')
    block = """<error>
	<dateline>1764384000</dateline>
	<script>inc/db_sqlite.php</script>
	<line>226</line>
	<type>20</type>
	<friendly_type>MyBB SQL Error</friendly_type>
	<message>SQL Error: 0 - Array
Query: SQLSTATE[HY000]: General error: 1 no such column: nope</message>
	<back_trace>#0  errorHandler->error() called at [/inc/db_sqlite.php:491]
#1  DB_SQLite->error() called at [/inc/db_sqlite.php:226]
#2  DB_SQLite->query() called at [/inc/plugins/badsql.php:4]
</back_trace>
</error>"""
    entry = parse_mybb_error(block, tz=timezone.utc)
    classify_origin(entry, str(root))
    assert entry.message.startswith("SQLSTATE[HY000]: General error: 1 no such column: nope; the statement")
    assert '$db->query("SELECT nope FROM ".TABLE_PREFIX."users" ." WHERE uid = (1)")' in entry.message
    assert "Array" not in entry.message and entry.origin == "plugin badsql"
    (root / "inc" / "plugins" / "badsql.php").write_text(
        '<?php\nfunction badsql_run() {\n\tglobal $db;\n\t$query = $db->simple_select("nope", "*", "uid=1");\n}\n')
    again = parse_mybb_error(block, tz=timezone.utc)
    classify_origin(again, str(root))
    assert again.message.endswith('builds it: $db->simple_select("nope", "*", "uid=1")'), again.message
