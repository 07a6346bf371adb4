"""run_query against the reference (filters, paging, since, merging), validation, and rendering."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mybb_mcp.answers.logs import render_log_query
from mybb_mcp.errors import InvalidArgument
from mybb_mcp.logs import reader as log_reader
from mybb_mcp.logs.options import MAX_LIMIT, LogQueryOptions, validate_options
from mybb_mcp.logs.parser import SOURCE_MYBB, LogEntry, format_php_timestamp, parse_entry, parse_mybb_error
from mybb_mcp.logs.query import LogQueryResult, new_entries, run_query
from mybb_mcp.logs.zone import format_zone_header
from tests.logs.reference_reader import LogGenerator, reference_entries, reference_query, write_log

DATA = Path(__file__).parent / "data"
ZONE = ZoneInfo("America/New_York")


def plain(entries: list[LogEntry]) -> list[LogEntry]:
    """Entries as the reference reads them: without what queries add to errors (origin, request)."""
    return [dataclasses.replace(e, location=None, origin=None, user_frame=None, place=None, core_noise=False,
                                request=None, request_note=None, folded=[]) for e in entries]


def last_time(path: Path, zone=ZONE) -> datetime:
    stamp = parse_entry(reference_entries(path)[-1][1].decode(), tz=zone).timestamp
    assert stamp is not None
    return stamp


def assert_same_as_reference(path: Path, options: LogQueryOptions, now: datetime, zone=ZONE) -> LogQueryResult:
    options = dataclasses.replace(options, raw=True)  # the reference folds nothing into anything
    result = run_query(path, options, now=now, zone=zone)
    expected = reference_query(path, options, zone=zone, now=now)
    assert plain(result.entries) == plain(expected.page), options
    if result.matched_exact:
        assert result.matched == expected.total and not result.has_more, options
    else:  # stopped once the page was full: a lower bound, and it says there is more
        assert result.has_more and result.matched == options.offset + options.limit + 1 <= expected.total, options
    return result


@pytest.fixture(scope="module", params=[(11, False), (12, True)], ids=["single", "workers"])
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    seed, workers = request.param
    path = tmp_path_factory.mktemp("logs") / "server.log"
    return write_log(path, 500, seed=seed, workers=workers, marker_every=4,
                     header=format_zone_header(datetime(2026, 11, 24, 5, 0, tzinfo=ZONE)))


MATRIX = list(itertools.product(
    [False, True],  # errors_only
    [True, False],  # exclude_static
    [None, "marker", "GONE 1", "no such text"],  # filter_keyword
    [None, 3, 30],  # since_minutes
    [(1, 0), (7, 3), (50, 0)],  # limit, offset
    [True, False],  # tail
))


@pytest.mark.parametrize(("errors_only", "exclude_static", "keyword", "since", "page", "tail"), MATRIX)
def test_queries_match_the_reference(
    generated: Path, errors_only: bool, exclude_static: bool, keyword: str | None, since: int | None,
    page: tuple[int, int], tail: bool,
) -> None:
    options = LogQueryOptions(errors_only=errors_only, exclude_static=exclude_static, filter_keyword=keyword,
                              since_minutes=since, limit=page[0], offset=page[1], tail=tail)
    assert_same_as_reference(generated, options, last_time(generated) + timedelta(minutes=1))


@pytest.mark.parametrize("keyword", [None, "tid=1", "CONFIG-PLUGINS", "gone"])
@pytest.mark.parametrize("path", [None, "showthread.php", "/admin/index.php?module=config-*", "member.php?*uid=2"])
@pytest.mark.parametrize("errors_only", [False, True])
@pytest.mark.parametrize("tail", [True, False])
def test_errors_are_found_by_their_request(
    generated: Path, keyword: str | None, path: str | None, errors_only: bool, tail: bool,
) -> None:
    """An error is found by a word of its request or by its page's path, like the oracle finds it."""
    options = LogQueryOptions(errors_only=errors_only, filter_keyword=keyword, path=path, limit=50, tail=tail)
    result = assert_same_as_reference(generated, options, last_time(generated) + timedelta(minutes=1))
    if path is not None:
        assert all((e.path or e.request.path).lstrip("/").startswith(path.lstrip("/").split("*")[0])
                   for e in result.entries if e.request is not None or e.path)


def test_a_keyword_in_the_url_finds_the_errors_the_page_raised(tmp_path: Path) -> None:
    """The error's own lines do not name its page; the request line logged after it does."""
    log = tmp_path / "server.log"
    log.write_text(
        "[Mon Nov 24 05:00:00 2026] PHP Warning:  Undefined variable $x in /srv/forum/inc/plugins/p.php on line 3\n"
        "[Mon Nov 24 05:00:00 2026] 127.0.0.1:5000 [200]: GET /index.php?plant=ZED\n"
        "[Mon Nov 24 05:00:01 2026] PHP Fatal error:  boom in /srv/forum/inc/plugins/p.php on line 9\n"
        "[Mon Nov 24 05:00:01 2026] 127.0.0.1:5001 [500]: GET /showthread.php?tid=4 - boom in "
        "/srv/forum/inc/plugins/p.php on line 9\n"
        "[Mon Nov 24 05:00:02 2026] 127.0.0.1:5002 [200]: GET /showthread.php?tid=5\n")
    now = datetime(2026, 11, 24, 5, 1, tzinfo=ZONE)
    found = run_query(log, LogQueryOptions(errors_only=True, filter_keyword="plant=zed"), now=now, zone=ZONE,
                      forum_root="/srv/forum")
    assert [e.message.split(" in ")[0] for e in found.entries] == ["Undefined variable $x"]
    assert found.entries[0].request is not None and found.entries[0].request.path == "/index.php?plant=ZED"
    by_page = run_query(log, LogQueryOptions(errors_only=True, path="showthread.php"), now=now, zone=ZONE,
                        forum_root="/srv/forum")
    assert [e.level for e in by_page.entries] == ["fatal"]  # its 500 line is folded into it
    assert by_page.entries[0].request is not None and by_page.entries[0].request.status == 500
    assert run_query(log, LogQueryOptions(errors_only=True, path="index.php?plant=Q*"), now=now,
                     zone=ZONE).entries == []


def test_connections_shown_when_asked(generated: Path) -> None:
    now = last_time(generated)
    result = assert_same_as_reference(generated, LogQueryOptions(include_connections=True, limit=30), now)
    assert any(e.event_type == "connection" for e in result.entries)
    hidden = run_query(generated, LogQueryOptions(limit=30), now=now, zone=ZONE)
    assert not any(e.event_type == "connection" for e in hidden.entries)


def test_tiny_blocks_give_the_same_answers(generated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_reader, "BLOCK_SIZE", 97)
    monkeypatch.setattr(log_reader, "MAX_BLOCK_SIZE", 300)
    now = last_time(generated)
    for options in (LogQueryOptions(limit=40, filter_keyword="marker"), LogQueryOptions(errors_only=True, limit=60),
                    LogQueryOptions(tail=False, since_minutes=20, limit=30)):
        assert_same_as_reference(generated, options, now)


def test_probe_requests_are_hidden(generated: Path) -> None:
    assert b"[404]: GET /__mybb_mcp_ready.txt" in generated.read_bytes()
    result = run_query(generated, LogQueryOptions(limit=MAX_LIMIT, exclude_static=False, include_connections=True),
                       now=last_time(generated), zone=ZONE)
    assert not any(e.path and e.path.startswith("/__mybb_mcp") for e in result.entries)


def test_a_whole_page_of_errors_comes_whole(generated: Path) -> None:
    result = run_query(generated, LogQueryOptions(errors_only=True, filter_keyword="marker", limit=5),
                       now=last_time(generated), zone=ZONE)
    assert result.entries
    for entry in result.entries:
        assert entry.is_error and entry.continuation and any("marker" in line.lower() for line in entry.continuation)


# --- cost grows with the answer ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "server.log"
    body = LogGenerator(seed=21).text(2500)  # all of it on Tue Nov 24
    assert "Nov 23" not in body and "Nov 25" not in body
    with open(path, "w") as handle:
        handle.write("[Thu Oct  1 04:00:00 2026] 127.0.0.1:1 [200]: GET /first?MARKER-7f3a9c\n")
        for day in range(40, 0, -1):  # one copy a day, so the log stays in time order
            date = format_php_timestamp(datetime(2026, 11, 24) - timedelta(days=day))[:10]
            handle.write(body.replace("Tue Nov 24", date))
        handle.write(LogGenerator(seed=22, start=datetime(2026, 11, 24, 9, 0)).text(300))
    return path


def test_tail_stops_once_the_page_is_full(big: Path) -> None:
    size = big.stat().st_size
    assert size > 8_000_000
    now = last_time(big)
    result = run_query(big, LogQueryOptions(limit=50), now=now, zone=ZONE)
    assert len(result.entries) == 50 and result.has_more and not result.matched_exact
    assert result.bytes_scanned <= 64 * 1024 + 1
    errors = run_query(big, LogQueryOptions(errors_only=True, limit=50), now=now, zone=ZONE)
    assert len(errors.entries) == 50 and errors.bytes_scanned < size // 10
    head = run_query(big, LogQueryOptions(tail=False, limit=50), now=now, zone=ZONE)
    assert head.entries[0].path == "/first?MARKER-7f3a9c" and head.bytes_scanned <= 64 * 1024


def test_since_reads_only_the_window(big: Path) -> None:
    now = last_time(big)
    result = run_query(big, LogQueryOptions(since_minutes=10, limit=MAX_LIMIT, raw=True), now=now, zone=ZONE)
    assert result.matched_exact and result.entries
    assert all(e.timestamp is not None and e.timestamp >= now - timedelta(minutes=10) for e in result.entries)
    assert result.bytes_scanned < big.stat().st_size // 10
    # The reference, on the file's last entries only (parsing all of it is slow): the oldest is outside.
    cutoff = now - timedelta(minutes=10)
    tail = [parse_entry(raw.decode(), tz=ZONE, offset=offset) for offset, raw in reference_entries(big)[-3000:]]
    assert tail[0].timestamp is not None and tail[0].timestamp < cutoff
    wanted = [e for e in tail if e.timestamp and e.timestamp >= cutoff and e.event_type != "connection"
              and not e.internal and not (e.is_static and not e.is_error)]
    assert plain(result.entries) == plain(wanted[::-1])


def test_keyword_full_scan_finds_the_early_marker(big: Path) -> None:
    result = run_query(big, LogQueryOptions(filter_keyword="marker-7F3A9C", exclude_static=False),
                       now=last_time(big), zone=ZONE)
    assert [e.path for e in result.entries] == ["/first?MARKER-7f3a9c"]
    assert result.matched_exact and result.matched == 1 and result.bytes_scanned >= big.stat().st_size - 1


# --- time zones ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "zone"),
    [("03a_tz_default_utc.log", "UTC"), ("03b_tz_env_America_New_York.log", "America/New_York"),
     ("03c_tz_env_New_York_plus_ini_date.timezone_Asia_Tokyo.log", "America/New_York")],
)
def test_since_is_right_whatever_zone_the_server_ran_in(tmp_path: Path, name: str, zone: str) -> None:
    # The same instant (05:53:40 UTC) was logged under each TZ; with the zone header the window is right.
    path = tmp_path / "server.log"
    path.write_bytes(format_zone_header(datetime(2026, 11, 24, 0, 0, tzinfo=ZoneInfo(zone))).encode() + b"\n"
                     + (DATA / name).read_bytes())
    warnings = LogQueryOptions(since_minutes=2, errors_only=True)
    recent = run_query(path, warnings, now=datetime(2026, 11, 24, 5, 55, tzinfo=timezone.utc))
    assert [e.level for e in recent.entries] == ["warning", "warning"]
    later = run_query(path, warnings, now=datetime(2026, 11, 24, 5, 57, 30, tzinfo=timezone.utc))
    assert later.entries == [] and later.matched_exact
    tokyo_now = datetime(2026, 11, 24, 14, 55, tzinfo=ZoneInfo("Asia/Tokyo"))  # any zone for `now` works
    assert len(run_query(path, warnings, now=tokyo_now).entries) == 2


# --- merging MyBB's error logs -------------------------------------------------------------------------------


class FakeSource:
    """An EntrySource over MyBB <error> blocks, as logs.mybb_error_log.MyBBErrorLog provides."""

    def __init__(self, name: str, blocks: list[str], tz=timezone.utc) -> None:
        self.name = name
        self.entries = [parse_mybb_error(b, tz=tz, location=f"/forum/{name.split(':')[1]}", offset=i)
                        for i, b in enumerate(blocks)]
        self.reads = 0

    def newest_first(self) -> Iterator[LogEntry]:
        for entry in reversed(self.entries):
            self.reads += 1
            yield entry

    def oldest_first(self) -> Iterator[LogEntry]:
        for entry in self.entries:
            self.reads += 1
            yield entry


def mybb_block(epoch: int, message: str, friendly: str = "Warning") -> str:
    return (f"<error>\n\t<dateline>{epoch}</dateline>\n\t<script>inc/plugins/p.php</script>\n\t<line>3</line>\n"
            f"\t<friendly_type>{friendly}</friendly_type>\n\t<message>{message}</message>\n"
            f"\t<back_trace>#0 plugin_hook() called at [/global.php:1]\n</back_trace>\n</error>")


def test_mybb_sources_merge_by_time(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    zone = ZoneInfo("Asia/Tokyo")
    base = datetime(2026, 11, 24, 15, 0, tzinfo=zone)
    lines = [f"[{format_php_timestamp(base + timedelta(minutes=m))}] 127.0.0.1:1 [200]: GET /p{m}"
             for m in range(0, 10, 2)]
    path.write_text("\n".join(lines) + "\n")
    epoch = int(base.timestamp())
    front = FakeSource("mybb:error.log", [mybb_block(epoch + 60 * m, f"front {m}") for m in (1, 5)])
    admin = FakeSource("mybb:admin/error.log", [mybb_block(epoch + 60 * 7, "admin 7", "MyBB SQL Error")])
    now = base + timedelta(minutes=10)
    result = run_query(path, LogQueryOptions(), now=now, extra_sources=[front, admin], zone=zone)
    labels = [e.path or e.message for e in result.entries]
    assert labels == ["/p8", "admin 7", "/p6", "front 5", "/p4", "/p2", "front 1", "/p0"]
    assert result.sources == ["server", "mybb:error.log", "mybb:admin/error.log"] and result.matched_exact
    head = run_query(path, LogQueryOptions(tail=False, limit=3), now=now, extra_sources=[front, admin], zone=zone)
    assert [e.path or e.message for e in head.entries] == ["/p0", "front 1", "/p2"] and head.has_more
    # Filters apply to every source alike.
    errors = run_query(path, LogQueryOptions(errors_only=True, filter_keyword="ADMIN"), now=now,
                       extra_sources=[front, admin], zone=zone)
    assert [e.message for e in errors.entries] == ["admin 7"] and errors.entries[0].level == "sql"
    window = run_query(path, LogQueryOptions(since_minutes=4), now=now, extra_sources=[front, admin], zone=zone)
    assert [e.path or e.message for e in window.entries] == ["/p8", "admin 7", "/p6"]
    front.reads = 0
    run_query(path, LogQueryOptions(since_minutes=4), now=now, extra_sources=[front], zone=zone)
    # Read to its end: an entry older than the window may be forged by request data (MyBB logs
    # messages verbatim), so it does not end the search.
    assert front.reads == len(front.entries)
    off = run_query(path, LogQueryOptions(include_mybb=False), now=now, extra_sources=[front, admin], zone=zone)
    assert all(e.source != SOURCE_MYBB for e in off.entries) and off.sources == ["server"]
    markdown = render_log_query(result)
    assert "(MyBB's forum/error.log)" in markdown and "(MyBB's admin/error.log)" in markdown
    assert "**SQL** [plugin p] (MyBB's admin/error.log)" in markdown


class BrokenSource(FakeSource):
    def newest_first(self) -> Iterator[LogEntry]:
        yield from super().newest_first()
        raise PermissionError(13, "Permission denied")


def test_an_unreadable_source_is_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("[Tue Nov 24 09:00:00 2026] 127.0.0.1:1 [200]: GET /ok\n")
    broken = BrokenSource("mybb:admin/error.log", [mybb_block(1795500000, "before the failure")])
    result = run_query(path, LogQueryOptions(), extra_sources=[broken], zone=timezone.utc,
                       now=datetime(2026, 11, 24, 10, tzinfo=timezone.utc))
    assert [e.path or e.message for e in result.entries] == ["/ok", "before the failure"]
    assert result.source_problems == ["mybb:admin/error.log: Permission denied"]
    assert "Could not read (entries from it are missing): mybb:admin/error.log" in render_log_query(result)


def test_missing_log_still_shows_mybb_errors(tmp_path: Path) -> None:
    source = FakeSource("mybb:error.log", [mybb_block(1795500000, "from mybb")])
    result = run_query(tmp_path / "logs" / "server.log", LogQueryOptions(), extra_sources=[source],
                       now=datetime(2026, 11, 24, tzinfo=timezone.utc), zone=timezone.utc)
    assert not result.log_exists and result.log_size is None and [e.message for e in result.entries] == ["from mybb"]
    markdown = render_log_query(result)
    assert "No server log at" in markdown and "from mybb" in markdown


# --- validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"limit": 0}, "limit"), ({"limit": MAX_LIMIT + 1}, "limit"), ({"limit": True}, "limit"),
        ({"limit": "5"}, "limit"), ({"offset": -1}, "offset"), ({"since_minutes": 0}, "since_minutes"),
        ({"since_minutes": 2.5}, "since_minutes"), ({"filter_keyword": "  "}, "filter_keyword"),
        ({"filter_keyword": "a\nb"}, "filter_keyword"), ({"filter_keyword": 5}, "filter_keyword"),
        ({"errors_only": 1}, "errors_only"), ({"tail": "yes"}, "tail"), ({"include_mybb": None}, "include_mybb"),
    ],
)
def test_bad_options_name_the_field(changes: dict, field: str) -> None:
    options = LogQueryOptions(**changes)
    with pytest.raises(InvalidArgument) as caught:
        options.validated()
    assert field in caught.value.message and caught.value.hint
    with pytest.raises(InvalidArgument):
        run_query(Path("/nonexistent/server.log"), options)


def test_good_options_pass() -> None:
    options = LogQueryOptions(errors_only=True, filter_keyword=" Thread 42 ", since_minutes=5, limit=MAX_LIMIT,
                              offset=10)
    assert validate_options(options) is options and options.validated() is options


# --- following ------------------------------------------------------------------------------------------------


def test_new_entries_follows_appends_and_rotation(tmp_path: Path) -> None:
    path = write_log(tmp_path / "server.log", 30, seed=3)
    first = run_query(path, LogQueryOptions(errors_only=True), zone=ZONE)
    assert first.end_offset == path.stat().st_size
    with open(path, "a") as handle:
        handle.write("[Tue Nov 24 09:00:00 2026] PHP Warning:  new one in /f.php on line 1\n"
                     "[Tue Nov 24 09:00:00 2026] 127.0.0.1:1 [200]: GET /fine\n")
    found, offset = new_entries(path, LogQueryOptions(errors_only=True), first.end_offset, zone=ZONE)
    assert [e.message for e in found] == ["new one in /f.php on line 1"] and offset == path.stat().st_size
    assert new_entries(path, LogQueryOptions(), offset, zone=ZONE) == ([], offset)
    path.write_text("[Tue Nov 24 09:01:00 2026] 127.0.0.1:1 [200]: GET /after-rotation\n")
    found, _ = new_entries(path, LogQueryOptions(), offset, zone=ZONE)
    assert [e.path for e in found] == ["/after-rotation"]


def test_new_entries_in_batches_resume_where_the_last_batch_ended(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("".join(f"[Tue Nov 24 09:00:00 2026] 127.0.0.1:1 [200]: GET /p{n}\n" for n in range(5)))
    seen, offset = [], 0
    for _ in range(3):
        found, offset = new_entries(path, LogQueryOptions(), offset, zone=ZONE, max_entries=2)
        seen += [e.path for e in found]
    assert seen == [f"/p{n}" for n in range(5)] and offset == path.stat().st_size


# --- rendering ------------------------------------------------------------------------------------------------


def test_render_a_page(generated: Path) -> None:
    options = LogQueryOptions(errors_only=True, filter_keyword="stack trace", limit=5)
    markdown = render_log_query(run_query(generated, options, now=last_time(generated), zone=ZONE))
    assert markdown.startswith("# Server Logs\n")
    assert "Showing 5 most recent of at least 6 matching entries." in markdown
    assert f"`{generated}`" in markdown and "America/New_York (UTC-05:00)" in markdown
    assert "errors only" in markdown and "'stack trace'" in markdown and "offset=5" in markdown
    assert markdown.count("\n- `2026-11-24 ") == 5
    assert "Stack trace:" in markdown and "```" in markdown
    assert "**Summary of the entries shown:**" in markdown
    assert "**EXCEPTION**" in markdown and "exception)" in markdown


def test_render_exact_counts_and_offsets(generated: Path) -> None:
    now = last_time(generated)
    everything = run_query(generated, LogQueryOptions(errors_only=True, limit=MAX_LIMIT), now=now, zone=ZONE)
    assert everything.matched_exact
    markdown = render_log_query(everything)
    assert f"Showing {everything.matched} most recent of {everything.matched} matching entries." in markdown
    page = run_query(generated, LogQueryOptions(errors_only=True, limit=10, offset=10), now=now, zone=ZONE)
    assert "Showing matching entries 11-20 (newest first)" in render_log_query(page)
    beyond = run_query(generated, LogQueryOptions(errors_only=True, offset=everything.matched + 5), now=now, zone=ZONE)
    assert f"only {everything.matched} matching" in render_log_query(beyond)


def test_render_no_match_says_what_to_relax(generated: Path) -> None:
    result = run_query(generated, LogQueryOptions(errors_only=True, filter_keyword="no such text", since_minutes=5),
                       now=last_time(generated), zone=ZONE)
    markdown = render_log_query(result)
    assert "No matching entries." in markdown and "Nothing in the log matches these filters." in markdown
    assert "errors_only=false" in markdown and "since_minutes" in markdown and "'no such text'" in markdown


def test_render_missing_log(tmp_path: Path) -> None:
    result = run_query(tmp_path / "server.log", LogQueryOptions(), now=datetime.now(timezone.utc))
    assert not result.log_exists and result.entries == [] and result.problem is None
    markdown = render_log_query(result)
    assert markdown.startswith("# Server Logs") and "never been started" in markdown and "mybb_server_start" in markdown


def test_render_keeps_fences_intact_and_marks_worker_and_static(tmp_path: Path) -> None:
    path = tmp_path / "server.log"
    path.write_text("[7] [Tue Nov 24 09:00:00 2026] custom message\n```evil fence\n"
                    "[7] [Tue Nov 24 09:00:01 2026] 127.0.0.1:1 [404]: GET /images/x.png - No such file or directory\n")
    markdown = render_log_query(run_query(path, LogQueryOptions(), zone=ZONE))
    assert "````" in markdown and "(worker 7)" in markdown
    assert "**HTTP_4XX** `GET /images/x.png` → 404" in markdown  # a failing asset is still shown
