"""The parser on every real php -S log of the corpus (tests/logs/data, copied from shared/corpus)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mybb_mcp.logs.parser import (
    CONNECTION,
    ENTRY_START,
    ERROR,
    ERROR_HINTS,
    ERROR_PATTERNS,
    INFO,
    LEVELS,
    REQUEST,
    SOURCE_MYBB,
    STARTUP,
    STATIC_PATTERNS,
    LogEntry,
    is_error_line,
    is_static_request,
    parse_entry,
    parse_log_line,
    parse_mybb_error,
)
from tests.logs.reference_reader import LogGenerator, reference_entries

DATA = Path(__file__).parent / "data"
CORPUS = sorted(p for p in DATA.iterdir() if p.suffix in (".log", ".txt"))
UTC = timezone.utc


def entries_of(name: str, tz=UTC) -> list[LogEntry]:
    return [parse_entry(raw.decode(), tz=tz, offset=offset) for offset, raw in reference_entries(DATA / name)]


# --- single lines ------------------------------------------------------------------------------------


def test_request_line() -> None:
    entry = parse_log_line("[Tue Nov 24 05:51:39 2026] 127.0.0.1:44264 [200]: GET /index.php?x=1\n")
    assert entry is not None
    assert (entry.event_type, entry.status_code, entry.method, entry.path) == (REQUEST, 200, "GET", "/index.php?x=1")
    assert (entry.client_ip, entry.client_port) == ("127.0.0.1", 44264)
    assert entry.timestamp == datetime(2026, 11, 24, 5, 51, 39) and entry.timestamp.tzinfo is None
    assert not entry.is_error and not entry.is_static and entry.level is None


def test_timestamp_gets_the_zone_given() -> None:
    zone = ZoneInfo("America/New_York")
    entry = parse_log_line("[Tue Nov 24 00:53:39 2026] 127.0.0.1:1 Accepted", zone)
    assert entry is not None and entry.timestamp is not None
    assert entry.timestamp.tzinfo is zone
    assert entry.timestamp.astimezone(UTC) == datetime(2026, 11, 24, 5, 53, 39, tzinfo=UTC)


def test_space_padded_day() -> None:
    entry = parse_log_line("[Fri Dec  4 09:05:07 2026] 127.0.0.1:45616 Accepted")
    assert entry is not None and entry.timestamp == datetime(2026, 12, 4, 9, 5, 7)
    assert ENTRY_START.match(b"[Fri Dec  4 09:05:07 2026] x")


def test_no_timestamp_is_none() -> None:
    for line in ("Stack trace:", "  thrown in /f.php on line 2", "",
                 "[24-Nov-2026 14:53:41 Asia/Tokyo] PHP Warning:  x"):
        assert parse_log_line(line) is None
        assert not ENTRY_START.match(line.encode())


def test_worker_prefix() -> None:
    entry = parse_log_line("[14433] [Tue Nov 24 05:52:48 2026] PHP Warning:  Undefined variable $x in /f.php on line 5")
    assert entry is not None and entry.worker_pid == 14433
    assert (entry.event_type, entry.level, entry.source_file, entry.source_line) == (ERROR, "warning", "/f.php", 5)
    assert entry.message == "Undefined variable $x in /f.php on line 5"
    assert ENTRY_START.match(b"[14433] [Tue Nov 24 05:52:48 2026] x")


def test_ipv6_client_and_other_methods() -> None:
    entry = parse_log_line("[Tue Nov 24 06:10:35 2026] [::1]:38980 [501]: NOTIMPLEMENTED /coffee"
                           " - No such file or directory")
    assert entry is not None
    assert (entry.client_ip, entry.client_port, entry.method, entry.status_code) == (
        "::1", 38980, "NOTIMPLEMENTED", 501)
    assert entry.is_error and entry.level == "http_5xx"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("PHP Fatal error:  Allowed memory size of 16777216 bytes exhausted in /f.php on line 5", "fatal"),
        # an engine error is a fatal error
        ("PHP Fatal error:  Uncaught Error: Call to undefined function nope() in /f.php:4", "fatal"),
        ("PHP Fatal error:  Uncaught RuntimeException: gone in /f.php:5", "exception"),
        ("PHP Recoverable fatal error:  Object of class X could not be converted in /f.php on line 2", "fatal"),
        ("PHP Parse error:  syntax error, unexpected token \"{\" in /f.php on line 4", "parse"),
        ("PHP Warning:  Undefined array key \"k\" in /f.php on line 6", "warning"),
        ("PHP Notice:  Only variables should be passed by reference in /f.php on line 4", "notice"),
        ("PHP Deprecated:  strlen(): Passing null is deprecated in /f.php on line 6", "deprecated"),
    ],
)
def test_php_error_levels(text: str, level: str) -> None:
    entry = parse_log_line(f"[Tue Nov 24 05:52:42 2026] {text}")
    assert entry is not None and entry.event_type == ERROR and entry.level == level and entry.is_error
    assert entry.source_file == "/f.php" and entry.source_line in (2, 4, 5, 6)
    assert is_error_line(entry)
    assert any(p.search(text) for p in ERROR_PATTERNS)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("127.0.0.1:1 Accepted", CONNECTION),
        ("127.0.0.1:1 Closing", CONNECTION),
        ("127.0.0.1:1 Closed without sending a request; it was probably just an unused speculative preconnection",
         CONNECTION),
        ("127.0.0.1:1 Invalid request (Unexpected EOF)", INFO),
        ("PHP 8.2.36 Development Server (http://127.0.0.1:18001) started", STARTUP),
        ("mybb-mcp: log opened; timestamps are local time, zone UTC (UTC+00:00)", STARTUP),
        ("custom message via error_log()", INFO),
        ("Failed to listen on 127.0.0.1:18002 (reason: Address already in use)", ERROR),
    ],
)
def test_line_kinds(line: str, kind: str) -> None:
    entry = parse_log_line(f"[Tue Nov 24 05:56:16 2026] {line}")
    assert entry is not None and entry.event_type == kind
    assert entry.is_error == (kind == ERROR)
    if kind == ERROR:
        assert entry.level == "error"


def test_request_suffix_makes_an_error_even_on_200() -> None:
    entry = parse_log_line("[Tue Nov 24 06:10:03 2026] 127.0.0.1:59462 [200]: GET /e.php"
                           " - Uncaught RuntimeException: gone in /f.php:5")
    assert entry is not None and entry.event_type == REQUEST and entry.is_error and entry.level == "exception"
    assert (entry.source_file, entry.source_line) == ("/f.php", 5)
    parse = parse_log_line("[Tue Nov 24 06:10:03 2026] 127.0.0.1:1 [500]: GET /p.php"
                           " - syntax error, unexpected token in /p.php on line 4")
    assert parse is not None and parse.level == "parse"
    missing = parse_log_line("[Tue Nov 24 06:10:03 2026] 127.0.0.1:1 [404]: GET /nope.php - No such file or directory")
    assert missing is not None and missing.level == "http_4xx" and missing.message == "No such file or directory"
    bare = parse_log_line("[Tue Nov 24 06:10:03 2026] 127.0.0.1:1 [503]: GET /index.php")
    assert bare is not None and bare.level == "http_5xx" and bare.is_error
    fine = parse_log_line("[Tue Nov 24 06:10:03 2026] 127.0.0.1:1 [302]: GET /")
    assert fine is not None and not fine.is_error and not is_error_line(fine)


@pytest.mark.parametrize(
    ("path", "static"),
    [
        ("/images/on.png", True), ("/images/", True), ("/jscripts/general.js?ver=1837", True),
        ("/cache/themes/theme1/global.css", True), ("/x/font.woff2?v=4", True), ("/logo.JPEG", True),
        ("/favicon.ico", True), ("/a.map", True), ("/index.php", False), ("/showthread.php?tid=1&x=.png", False),
        ("/member.php?action=login", False), ("/jsfile.php", False),
    ],
)
def test_static_requests(path: str, static: bool) -> None:
    entry = parse_log_line(f"[Tue Nov 24 06:10:29 2026] 127.0.0.1:1 [200]: GET {path}")
    assert entry is not None and entry.is_static is static and is_static_request(entry) is static
    assert len(STATIC_PATTERNS) >= 4


@pytest.mark.parametrize(
    "request_text, internal",
    [
        ("[204]: GET /__mybb_mcp_ready", True),
        ("[404]: GET /__mybb_mcp_ready.txt - No such file or directory", True),
        ("[200]: GET /__mybb_mcp_ready", False),  # a script answered: not the probe
        ("[204]: POST /__mybb_mcp_ready", False),
        ("[204]: GET /__mybb_mcp_ready?x=1", False),
        ("[200]: GET /__mybb_mcp/../admin/index.php", False),
        ("[200]: GET /__mybb_mcp/ready?x=1", False),
        ("[200]: GET /index.php?q=/__mybb_mcp", False),
    ],
)
def test_only_the_exact_readiness_probe_is_internal(request_text: str, internal: bool) -> None:
    entry = parse_log_line(f"[Tue Nov 24 06:10:29 2026] 127.0.0.1:1 {request_text}")
    assert entry is not None and entry.internal is internal


# --- entries: the corpus -----------------------------------------------------------------------------------


def test_every_corpus_file_parses_and_error_hints_cover_every_error() -> None:
    for path in CORPUS:
        for offset, raw in reference_entries(path):
            entry = parse_entry(raw.decode(), tz=UTC, offset=offset)
            assert entry.offset == offset
            assert entry.level is None or entry.level in LEVELS
            if entry.is_error:  # the errors-only fast path relies on this
                assert any(hint in raw for hint in ERROR_HINTS), (path.name, raw)


def test_install_log_is_requests_and_connections() -> None:
    entries = entries_of("00_install_server.log")
    assert entries[0].event_type == STARTUP
    kinds = {e.event_type for e in entries[1:]}
    assert kinds == {REQUEST, CONNECTION}
    posts = [e for e in entries if e.method == "POST"]
    assert len(posts) == 9 + 1 and sum(e.path == "/install/index.php" for e in posts) == 9


def test_uncaught_exception_keeps_its_trace() -> None:
    entries = entries_of("08a_plain_errors_single_compact.log")
    fatal = next(e for e in entries if e.event_type == ERROR and "database is gone" in e.message)
    assert fatal.level == "exception"
    assert (fatal.source_file, fatal.source_line) == ("/srv/forum/dev_tests/exception.php", 5)
    assert fatal.continuation[0] == "Stack trace:"
    assert fatal.continuation[-1] == "  thrown in /srv/forum/dev_tests/exception.php on line 5"
    request = next(e for e in entries if e.path == "/dev_tests/exception.php")
    assert request.status_code == 500 and request.level == "exception" and len(request.continuation) == 6


def test_chained_exception_is_one_entry() -> None:
    entries = entries_of("08a_plain_errors_single_compact.log")
    chained = [e for e in entries if "inner problem" in e.message]
    assert len(chained) == 2  # the PHP Fatal error line and the request line's suffix
    for entry in chained:
        assert "" in entry.continuation  # the blank line before Next stays inside
        assert any(line.startswith("Next LogicException: outer wrapper") for line in entry.continuation)
        assert entry.continuation[-1].strip().startswith("thrown in")


def test_every_error_kind_of_08a() -> None:
    levels = [e.level for e in entries_of("08a_plain_errors_single_compact.log") if e.event_type == ERROR]
    assert levels.count("warning") == 3 and levels.count("notice") == 2 and levels.count("deprecated") == 3
    # `Call to undefined function` is a fatal error, not an exception the code threw
    assert levels.count("parse") == 2 and levels.count("exception") == 2 and levels.count("fatal") == 4


def test_raw_stderr_and_multiline_error_log_continue_the_entry_above() -> None:
    entries = entries_of("03a_tz_default_utc.log")
    multi = next(e for e in entries if e.message == "multi-line message line1")
    assert multi.event_type == INFO and not multi.is_error
    assert multi.continuation == ["line2", "line3", "raw write to php://stderr (no prefix)",
                                  "raw write to php://stdout (no prefix)"]


def test_tz_files_differ_only_by_the_zone() -> None:
    utc = entries_of("03a_tz_default_utc.log", UTC)
    new_york = entries_of("03b_tz_env_America_New_York.log", ZoneInfo("America/New_York"))
    tokyo_ini = entries_of("03c_tz_env_New_York_plus_ini_date.timezone_Asia_Tokyo.log", ZoneInfo("America/New_York"))
    assert utc[0].timestamp == datetime(2026, 11, 24, 5, 53, 39, tzinfo=UTC)
    assert new_york[0].timestamp == utc[0].timestamp  # the same instant, logged under TZ=America/New_York
    assert abs((tokyo_ini[0].timestamp - utc[0].timestamp).total_seconds()) < 10  # date.timezone is ignored


def test_single_digit_day_file() -> None:
    entries = entries_of("03f_single_digit_day_faketime.log")
    assert all(e.timestamp is not None and e.timestamp.day == 4 for e in entries)
    assert sum(e.level == "warning" for e in entries) == 2


def test_workers_file() -> None:
    entries = entries_of("08b_plain_errors_workers4_compact.log")
    assert all(e.worker_pid is not None for e in entries)
    assert sum(e.event_type == STARTUP for e in entries) == 5
    fatal = next(e for e in entries if e.event_type == ERROR and e.level == "exception")
    assert fatal.worker_pid == 14431 and fatal.continuation[-1].strip().startswith("thrown in")


def test_display_errors_on_and_no_ini() -> None:
    shown = [e for e in entries_of("08c_display_errors_on.log") if e.path == "/dev_tests/exception.php"]
    assert shown[0].status_code == 200 and shown[0].is_error and shown[0].level == "exception"
    bare = [e for e in entries_of("08d_no_php_ini_-n.log") if e.path == "/dev_tests/exception.php"]
    assert bare[0].status_code == 200 and bare[0].is_error and "Repo->query('SELECT" in bare[0].continuation[1]


def test_split_stdout_is_one_orphan() -> None:
    entries = entries_of("08e_split_stdout.log")
    assert len(entries) == 1 and entries[0].timestamp is None and entries[0].event_type == INFO


def test_port_in_use_and_startup_failures() -> None:
    entries = entries_of("05_port_in_use.log")
    failed = [e for e in entries if e.message.startswith("Failed to listen")]
    assert len(failed) == 3 and all(e.is_error and e.level == "error" for e in failed)
    # Lines without a stamp after a stamped line continue it (here: the second failure).
    assert failed[1].continuation == ["Directory /srv/no_such_dir does not exist.", "Invalid address: 127.0.0.1"]
    orphan = parse_entry("Directory /srv/no_such_dir does not exist.\n")
    assert orphan.timestamp is None and orphan.is_error and orphan.level == "error"


def test_text_before_the_first_stamp_is_its_own_entry() -> None:
    entries = entries_of("05b_workers_env_invalid_values.log")
    first = entries[0]
    assert first.timestamp is None and first.event_type == INFO and not first.is_error
    assert first.message == "### PHP_CLI_SERVER_WORKERS=1"
    assert first.continuation == ["number of workers must be larger than 1"]
    assert entries[1].event_type == STARTUP


def test_edge_cases_file() -> None:
    entries = entries_of("10_edge_cases.log")
    methods = {e.method for e in entries if e.event_type == REQUEST}
    assert {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "NOTIMPLEMENTED"} <= methods
    assert sum(e.message.startswith("Invalid request") for e in entries) == 2
    assert any(e.path == "/../../etc/passwd" for e in entries)
    long = next(e for e in entries if e.path and e.path.startswith("/dev_tests/index.php?aaaa"))
    assert len(long.path) > 1000 and long.status_code == 200
    assert {e.path for e in entries if e.is_static} == {"/images/", "/jscripts/"}


def test_quiet_mode_is_just_the_banner() -> None:
    assert [e.event_type for e in entries_of("07_quiet_mode_php_-q_-S.log")] == [STARTUP]


def test_signals_file_groups_script_output_as_orphans_and_continuations() -> None:
    entries = entries_of("04_signals_test.txt")
    assert entries[0].timestamp is None and entries[0].message.startswith("== single_TERM_parent")
    assert sum(e.event_type == STARTUP for e in entries) == 2 + 5 * 5


# --- MyBB error blocks -----------------------------------------------------------------------------------------


def test_mybb_blocks_inside_the_server_log() -> None:
    entries = entries_of("11_mybb_errorloglocation_empty.log")
    mybb = [e for e in entries if e.source == SOURCE_MYBB]
    assert [e.level for e in mybb] == ["warning", "warning", "warning", "sql", "warning"]
    first = mybb[0]
    assert first.timestamp == datetime.fromtimestamp(1795500699, UTC)
    assert (first.source_file, first.source_line) == ("inc/plugins/dev_errors.php", 31)
    assert first.message == "Undefined variable $undefined_in_plugin"
    assert first.continuation[0].startswith("#0  errorHandler->error()") and len(first.continuation) == 5
    sql = mybb[3]
    assert sql.source_file is None and sql.source_line is None
    assert sql.message.startswith("SQL Error: 0 - Array Query: SQLSTATE[HY000]")
    # The request after the blocks is its own entry.
    assert any(e.path == "/index.php?dev_err=sql" and e.status_code == 503 for e in entries)


def _blocks(name: str) -> list[str]:
    text = (DATA / name).read_text()
    return ["<error>" + part.split("</error>")[0] + "</error>" for part in text.split("<error>")[1:]]


def test_mybb_error_log_files() -> None:
    zone = ZoneInfo("Asia/Tokyo")
    entries = [parse_mybb_error(b, tz=zone, location="/f/error.log", offset=i)
               for i, b in enumerate(_blocks("06_mybb_error_log_frontend.xml.log"))]
    assert [e.level for e in entries[:6]] == ["warning", "warning", "warning", "fatal", "warning", "sql"]
    assert all(e.source == SOURCE_MYBB and e.is_error and e.location == "/f/error.log" for e in entries)
    assert entries[0].timestamp == datetime.fromtimestamp(1795499761, zone) and entries[0].timestamp.tzinfo is zone
    assert entries[2].message == "dev user warning" and entries[3].message == "dev user error"
    admin = [parse_mybb_error(b) for b in _blocks("06_mybb_error_log_admin.xml.log")]
    assert len(admin) == 4 and admin[0].timestamp is not None and admin[0].timestamp.tzinfo is UTC


@pytest.mark.parametrize(
    ("friendly", "level"),
    [("Warning", "warning"), ("User Warning", "warning"), ("Notice", "notice"), ("User Notice", "notice"),
     ("Deprecated", "deprecated"), ("User Deprecated", "deprecated"), ("Error", "fatal"), ("User Error", "fatal"),
     ("Fatal", "fatal"), ("MyBB SQL Error", "sql"), ("MyBB Error", "error"), ("MyBB Template Error", "error")],
)
def test_mybb_friendly_types(friendly: str, level: str) -> None:
    block = (f"<error>\n\t<dateline>1</dateline>\n\t<friendly_type>{friendly}</friendly_type>"
             "\n\t<message>m</message>\n</error>")
    assert parse_mybb_error(block).level == level


# --- generated logs -------------------------------------------------------------------------------------------


def test_generated_entries_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "g.log"
    path.write_text(LogGenerator(seed=5, workers=True, marker_every=1).text(300))
    entries = reference_entries(path)
    assert b"".join(raw for _, raw in entries) == path.read_bytes()
    parsed = [parse_entry(raw.decode()) for _, raw in entries]
    assert all(e.timestamp is not None for e in parsed)
    traced = [e for e in parsed if e.level == "exception"]
    assert traced and all(e.continuation and e.continuation[0] == "Stack trace:" for e in traced)
    marked = [raw for _, raw in entries if b"marker_" in raw.lower()]
    # The keyword sits on a trace line, yet the whole entry (head included) comes back.
    assert marked and all(ENTRY_START.match(raw) for raw in marked)


def test_a_404_suffix_is_php_s_errno_text_not_a_php_error() -> None:
    # php -S words a missing file with strerror(errno); behind a router errno can be 0: "Success".
    success = parse_log_line("[Wed Nov 25 08:21:13 2026] 127.0.0.1:53742 [404]: GET /nope.css - Success")
    assert success is not None and success.level == "http_4xx" and success.is_error
    uncaught = parse_log_line(
        "[Wed Nov 25 08:21:13 2026] 127.0.0.1:53742 [404]: GET /x.php - Uncaught Error: boom in /srv/x.php:3"
    )
    assert uncaught is not None and uncaught.level == "exception" and uncaught.source_line == 3
