"""Cursors (identity, generation, rotation), errors tied to requests, fingerprints and the digest, on
log text in php -S's own format (ARCHITECTURE.md §4.3 and the corpus)."""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mybb_mcp.errors import InvalidArgument
from mybb_mcp.logs import cursors as checkpoints
from mybb_mcp.logs import digest as digest_module
from mybb_mcp.logs.cursors import EntryFilter, decode_cursor, read_since, take_cursor
from mybb_mcp.logs.digest import (
    NEW,
    NOT_SEEN,
    RESOLVED,
    STILL_FIRING,
    digest,
    entries_of_port,
    group_errors,
    normalise_message,
    tie_to_requests,
)
from mybb_mcp.logs.match import RequestMatch
from mybb_mcp.logs.options import LogQueryOptions
from mybb_mcp.logs.parser import format_php_timestamp, parse_entry
from mybb_mcp.logs.query import run_query
from mybb_mcp.logs.rotation import rotate_in_place, rotate_logs
from mybb_mcp.logs.zone import format_zone_header

UTC = timezone.utc
ROOT = Path("/srv/forum")


def stamp(moment: datetime) -> str:
    return f"[{format_php_timestamp(moment)}]"


class Log:
    """A server log written line by line as php -S writes it, in UTC, with times we choose."""

    def __init__(self, path: Path, start: datetime | None = None) -> None:
        self.path = path
        self.now = start or datetime.now(UTC) - timedelta(minutes=5)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            handle.write(format_zone_header(self.now) + "\n")
            handle.write(f"{stamp(self.now)} PHP 8.2.36 Development Server (http://127.0.0.1:8022) started\n")

    def write(self, text: str) -> None:
        with open(self.path, "a") as handle:
            handle.write(text)

    def request(self, port: int, path: str, status: int = 200, errors: tuple[str, ...] = (),
                worker: int | None = None, suffix: str = "") -> None:
        self.now += timedelta(seconds=1)
        prefix = f"[{worker}] " if worker else ""
        head = f"{prefix}{stamp(self.now)}"
        lines = [f"{head} 127.0.0.1:{port} Accepted\n"]
        lines += [f"{head} {error}\n" for error in errors]
        lines.append(f"{head} 127.0.0.1:{port} [{status}]: GET {path}{suffix}\n")
        lines.append(f"{head} 127.0.0.1:{port} Closing\n")
        self.write("".join(lines))


WARNING = "PHP Warning:  Undefined variable $x in /srv/forum/inc/plugins/hello.php on line 7"
OTHER = "PHP Warning:  Undefined array key 3 in /srv/forum/inc/plugins/other.php on line 12"
FATAL = ("PHP Fatal error:  Uncaught RuntimeException: Thread 42 not found in /srv/forum/inc/plugins/t.php:2\n"
         "Stack trace:\n#0 {main}\n  thrown in /srv/forum/inc/plugins/t.php on line 2")


def new(log: Log, cursor: checkpoints.Cursor, **kwargs) -> checkpoints.NewEntries:
    return read_since(cursor, log.path, 5, wanted=EntryFilter(**kwargs), zone=UTC)


# --- cursors -------------------------------------------------------------------------------------------

def test_a_cursor_round_trips_and_nothing_new_is_nothing(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    log.request(1000, "/index.php")
    cursor = take_cursor(log.path)
    assert decode_cursor(cursor.encode()) == cursor.__class__(
        cursor.server, cursor.head, cursor.tail, int(cursor.issued * 1000) / 1000, cursor.mybb)
    assert checkpoints.resolve(cursor, log.path, 5).nothing_new
    assert new(log, cursor).entries == []


def test_only_what_came_after_the_cursor(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    log.request(1000, "/before.php", errors=(WARNING,))
    cursor = take_cursor(log.path)
    log.request(1001, "/after.php", errors=(OTHER,))
    found = new(log, cursor, errors_only=True)
    assert [e.message for e in found.entries] == [
        "Undefined array key 3 in /srv/forum/inc/plugins/other.php on line 12"]
    assert new(log, found.cursor).entries == []


def test_a_line_being_written_is_left_for_the_next_read(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    log.write(f"{stamp(log.now)} 127.0.0.1:5 [200]: GET /half")  # no newline yet
    cursor = take_cursor(log.path)
    log.write("way.php\n")
    assert [e.path for e in new(log, cursor).entries] == ["/halfway.php"]


def test_a_cursor_survives_a_restart_rotation(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    cursor = take_cursor(log.path)
    log.request(1000, "/old.php", errors=(WARNING,))
    rotate_logs(log.path, 5)  # what start does: server.log -> server.log.1
    log2 = Log(log.path, log.now)
    log2.request(1001, "/new.php", errors=(OTHER,))
    found = new(log2, cursor)
    assert [e.path for e in found.entries if e.path] == ["/old.php", "/new.php"]
    assert new(log2, found.cursor).entries == []


def test_a_cursor_survives_rotation_in_place(tmp_path: Path) -> None:
    """Rotation while running: the log is copied to .1 and truncated (same inode, new head)."""
    log = Log(tmp_path / "logs" / "server.log")
    log.request(1000, "/a.php")
    cursor = take_cursor(log.path)
    log.request(1001, "/b.php")
    inode = os.stat(log.path).st_ino
    rotate_in_place(log.path, 5, contextlib.nullcontext)
    assert os.stat(log.path).st_ino == inode
    log.request(1002, "/c.php")
    log.request(1003, "/d.php")  # the new log may grow past the cursor's offset: the tail hash tells
    found = new(log, cursor)
    assert [e.path for e in found.entries if e.path] == ["/b.php", "/c.php", "/d.php"]


def test_a_cursor_into_a_log_no_longer_kept_says_so(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    cursor = take_cursor(log.path)
    log.path.unlink()
    log2 = Log(log.path, log.now + timedelta(seconds=30))
    log2.request(1000, "/x.php")
    found = new(log2, cursor)
    assert found.note and "no longer kept" in found.note
    assert [e.path for e in found.entries if e.path] == ["/x.php"]


def test_paging_with_a_limit_continues_from_the_cursor(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    cursor = take_cursor(log.path)
    for port in range(10):
        log.request(2000 + port, f"/p{port}.php")
    first = read_since(cursor, log.path, 5, wanted=EntryFilter(), limit=4, zone=UTC)
    assert first.more and [e.path for e in first.entries] == ["/p0.php", "/p1.php", "/p2.php", "/p3.php"]
    rest = read_since(first.cursor, log.path, 5, wanted=EntryFilter(), limit=100, zone=UTC)
    assert [e.path for e in rest.entries] == [f"/p{n}.php" for n in range(4, 10)]


@pytest.mark.parametrize("text", [
    "", "c2.1.2.3.-.-.5", "c1.", "c1.zz.1.1.-.-.1", "c1.1.1.1.nothex!.-.1", "c1." + "1." * 40 + "1",
    "c1.1.1.1.-.-", 12, None, "c1.1.1.1.-.-.1.bad",
])
def test_a_bad_cursor_is_named_and_refused(text: object) -> None:
    with pytest.raises(InvalidArgument) as caught:
        decode_cursor(text)
    assert "cursor" in caught.value.message and caught.value.hint


# --- tying errors to requests ---------------------------------------------------------------------------

def _entries(log: Log) -> list:
    from mybb_mcp.logs.reader import iter_entries_forward
    return [parse_entry(raw.decode(), tz=UTC, offset=o) for o, raw in iter_entries_forward(log.path)]


def test_errors_belong_to_the_request_whose_connection_they_came_in(tmp_path: Path) -> None:
    log = Log(tmp_path / "server.log")
    log.request(1000, "/one.php", errors=(WARNING,))
    log.request(1001, "/two.php")
    log.request(1002, "/three.php", 500, errors=(FATAL,), suffix=" - Uncaught RuntimeException: Thread 42 not "
                "found in /srv/forum/inc/plugins/t.php:2")
    entries = _entries(log)
    mine, line = entries_of_port(entries, 1000)
    assert line is not None and line.path == "/one.php" and [e.level for e in mine] == ["warning"]
    assert entries_of_port(entries, 1001)[0] == []
    fatal, _ = entries_of_port(entries, 1002)
    groups = group_errors([(e, None) for e in []] + [(e, digest_module.RequestRef("GET", "/three.php", 500, 1002,
                                                                                  None, None)) for e in fatal], ROOT)
    assert len(groups) == 1 and groups[0].count == 1  # the fatal php -S logs twice is one error
    assert groups[0].fingerprint.where == "inc/plugins/t.php:2"


def test_workers_interleave_but_each_keeps_its_own(tmp_path: Path) -> None:
    log = Log(tmp_path / "server.log")
    t = stamp(log.now)
    log.write(
        f"[11] {t} 127.0.0.1:1000 Accepted\n"
        f"[12] {t} 127.0.0.1:1001 Accepted\n"
        f"[12] {t} {OTHER}\n"
        f"[11] {t} {WARNING}\n"
        f"[12] {t} 127.0.0.1:1001 [200]: GET /b.php\n"
        f"[11] {t} 127.0.0.1:1000 [200]: GET /a.php\n"
    )
    entries = _entries(log)
    assert [e.source_file for e in entries_of_port(entries, 1000)[0]] == ["/srv/forum/inc/plugins/hello.php"]
    assert [e.source_file for e in entries_of_port(entries, 1001)[0]] == ["/srv/forum/inc/plugins/other.php"]
    tied = {e.source_file: ref.path for e, ref in tie_to_requests(entries) if ref}
    assert tied == {"/srv/forum/inc/plugins/hello.php": "/a.php", "/srv/forum/inc/plugins/other.php": "/b.php"}


def test_fingerprints_ignore_what_changes_between_occurrences() -> None:
    assert normalise_message("Undefined array key 3 in /srv/f.php on line 12") == "Undefined array key #"
    assert normalise_message("Undefined array key 4 in /srv/f.php on line 12") == "Undefined array key #"
    assert normalise_message("Uncaught Error: x() in /srv/f.php:3\nStack trace:") == "Uncaught Error: x()"


# --- the digest -----------------------------------------------------------------------------------------

def test_digest_since_a_cursor_new_still_firing_resolved_not_seen(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    log.request(1000, "/fixed.php", errors=(WARNING,))
    log.request(1001, "/still.php", errors=(OTHER,))
    log.request(1002, "/quiet.php", 500, errors=(FATAL,))
    cursor = take_cursor(log.path)
    log.request(1003, "/fixed.php")  # loads cleanly now
    log.request(1004, "/still.php", errors=(OTHER,))
    log.request(1005, "/fresh.php", errors=("PHP Notice:  Only variables in /srv/forum/x.php on line 9",))
    # Still raised after the cursor (PHP served the old code a moment longer), then fixed:
    log.request(1006, "/stale.php", errors=("PHP Warning:  Stale in /srv/forum/s.php on line 1",))
    log.request(1007, "/stale.php")
    result = digest(log.path, 5, cursor=cursor, root=ROOT, zone=UTC, role_of=lambda port, stamp: "guest")
    fate = {g.fingerprint.where: g.status for g in result.groups + result.before}
    assert fate == {
        "inc/plugins/hello.php:7": RESOLVED,
        "inc/plugins/other.php:12": STILL_FIRING,
        "inc/plugins/t.php:2": NOT_SEEN,
        "x.php:9": NEW,
        "s.php:1": RESOLVED,
    }
    assert next(g for g in result.groups if g.status == RESOLVED).fixed_by == "GET /stale.php → 200 as guest"
    assert result.requests_since == 5
    still = next(g for g in result.groups if g.status == STILL_FIRING)
    assert still.requests == ["GET /still.php → 200 as guest"] and still.count == 1


def test_resolved_needs_the_same_page_as_the_same_role(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    log.request(1000, "/usercp.php", errors=(WARNING,))  # raised for a member
    log.request(1001, "/index.php?x=1", errors=(OTHER,))  # raised by a client the tool did not send
    cursor = take_cursor(log.path)
    log.request(1002, "/usercp.php")  # the same page as a guest: says nothing of the member's error
    log.request(1003, "/index.php?x=2")  # another query: another page
    log.request(1004, "/index.php?x=1")  # the same page, by an unknown client again
    roles = {1000: "carol", 1002: "guest"}
    result = digest(log.path, 5, cursor=cursor, root=ROOT, zone=UTC, role_of=lambda port, stamp: roles.get(port))
    fate = {g.fingerprint.where: g for g in result.before}
    member = fate["inc/plugins/hello.php:7"]
    assert member.status == NOT_SEEN == "not re-checked" and member.recheck == [("/usercp.php", "carol")]
    assert fate["inc/plugins/other.php:12"].status == NOT_SEEN

    log.request(1005, "/usercp.php")
    roles[1005] = "carol"
    result = digest(log.path, 5, cursor=cursor, root=ROOT, zone=UTC, role_of=lambda port, stamp: roles.get(port))
    member = next(g for g in result.before if g.fingerprint.where == "inc/plugins/hello.php:7")
    assert member.status == RESOLVED and member.fixed_by == "GET /usercp.php → 200 as carol"


def test_the_same_page_is_its_path_and_query_in_any_order_without_the_post_key() -> None:
    same = digest_module._script
    assert same("/index.php?b=2&a=1&my_post_key=0123abcd") == same("/index.php?a=1&b=2") == "/index.php?a=1&b=2"
    assert same("/index.php?a=1") != same("/index.php?a=2") and same("/index.php") == "/index.php"


def test_digest_without_a_cursor_counts_the_whole_log(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    for port in range(3):
        log.request(1000 + port, f"/p.php?id={port}", errors=(f"PHP Warning:  Undefined array key {port} in "
                                                             "/srv/forum/p.php on line 4",))
    result = digest(log.path, 5, root=ROOT, zone=UTC)
    assert len(result.groups) == 1
    group = result.groups[0]
    assert group.count == 3 and group.first_seen < group.last_seen and len(group.requests) == 3


# --- finding errors by their page ------------------------------------------------------------------------

CORE_NOISE = ("PHP Deprecated:  Creation of dynamic property DB_SQLite::$error_number is deprecated in "
              "/srv/forum/inc/db_sqlite.php on line 70")


def test_a_cursor_read_shows_errors_as_a_query_does(tmp_path: Path) -> None:
    """Request, origin and place as a plain query gives them; MyBB core's noise left out as queries do."""
    log = Log(tmp_path / "logs" / "server.log")
    cursor = take_cursor(log.path)
    log.request(1000, "/w.php?x=1", errors=(CORE_NOISE, "PHP Warning:  Oops in /srv/forum/w.php on line 1"))
    log.request(1001, "/index.php?plant=ZED", 500, errors=(FATAL,))
    found = new(log, cursor, errors_only=True, root=ROOT)
    query = run_query(log.path, LogQueryOptions(errors_only=True, tail=False), zone=UTC, forum_root=ROOT)
    shown = [(e.message, e.origin, e.place, e.request.path if e.request else None) for e in found.entries]
    assert shown == [(e.message, e.origin, e.place, e.request.path if e.request else None) for e in query.entries]
    assert shown[0][1:] == ("your code (not MyBB's)", "w.php:1", "/w.php?x=1")
    assert [e.level for e in found.entries] == ["warning", "exception"]  # noise and the folded 500 left out
    assert [e.level for e in new(log, cursor, errors_only=True, root=ROOT, include_core_noise=True).entries] == [
        "deprecated", "warning", "exception"]


def test_a_cursor_read_and_wait_find_an_error_by_its_request(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    cursor = take_cursor(log.path)
    log.request(1000, "/index.php?plant=ZED", 500, errors=(FATAL,))
    log.request(1001, "/showthread.php?tid=3", errors=(WARNING,))
    assert [e.level for e in new(log, cursor, errors_only=True, keyword="plant=zed", root=ROOT).entries] == [
        "exception"]
    assert [e.level for e in new(log, cursor, errors_only=True, path="showthread.php", root=ROOT).entries] == [
        "warning"]
    # An error whose request still runs: the read leaves it for the next one, when its request is known.
    log.write(f"{stamp(datetime.now(UTC))} {OTHER}\n")
    early = new(log, cursor, errors_only=True, path="forumdisplay.php", root=ROOT)
    assert early.entries == []
    log.write(f"{stamp(datetime.now(UTC))} 127.0.0.1:1002 [200]: GET /forumdisplay.php?fid=2\n")
    late = new(log, early.cursor, errors_only=True, path="forumdisplay.php", root=ROOT)
    assert [(e.level, e.request.path if e.request else None) for e in late.entries] == [
        ("warning", "/forumdisplay.php?fid=2")]


def test_the_digest_honours_the_keyword_and_the_path(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    log.request(1000, "/index.php?alpha=1", errors=(WARNING,))
    log.request(1001, "/showthread.php?tid=2", errors=(OTHER,))
    log.request(1002, "/misc.php", 500, errors=(FATAL,))
    everything = digest(log.path, 5, root=ROOT, zone=UTC)
    assert len(everything.groups) == 3

    def where(match: RequestMatch | None) -> list[str | None]:
        return [g.fingerprint.where for g in digest(log.path, 5, root=ROOT, zone=UTC, match=match).groups]

    assert where(RequestMatch.of("alpha", None)) == ["inc/plugins/hello.php:7"]
    assert where(RequestMatch.of("thread 42", None)) == ["inc/plugins/t.php:2"]
    assert where(RequestMatch.of(None, "showthread.php")) == ["inc/plugins/other.php:12"]
    assert where(RequestMatch.of("500", "misc.php")) == ["inc/plugins/t.php:2"]


def test_a_resolution_stays_and_loads_that_prove_nothing_never_resolve(tmp_path: Path) -> None:
    """Re-checked clean before the cursor: "resolved earlier", not "not re-checked"; a load with plugins left
    out or MyBB's debug page re-checks nothing; what leaving a plugin out caused is not in the digest."""
    from mybb_mcp.forum.request_roles import Record, RoleOf
    from mybb_mcp.logs.digest import RESOLVED_EARLIER, fingerprint

    log = Log(tmp_path / "logs" / "server.log")
    records: list[Record] = []

    def load(port: int, path: str, errors: tuple[str, ...] = (), rechecks: bool = True,
             side: tuple[str, ...] = ()) -> None:
        log.request(port, path, errors=errors)
        records.append(Record(port, log.now.timestamp(), "guest", rechecks, side))

    load(1000, "/a.php", (WARNING,))
    load(1001, "/a.php")  # clean before the cursor
    load(1002, "/b.php", (OTHER,))
    cursor = take_cursor(log.path)
    load(1003, "/b.php", rechecks=False)  # clean, but with its plugin left out
    side = fingerprint(parse_entry(f"{stamp(log.now)} {FATAL}"), ROOT).key()
    load(1004, "/c.php", (FATAL,), rechecks=False, side=(side,))  # caused by leaving a plugin out
    result = digest(log.path, 5, cursor=cursor, root=ROOT, zone=UTC, role_of=RoleOf(records))
    fate = {g.fingerprint.where: g.status for g in result.groups + result.before}
    assert fate == {"inc/plugins/hello.php:7": RESOLVED_EARLIER, "inc/plugins/other.php:12": NOT_SEEN}

    load(1005, "/b.php")  # a plain load re-checks
    result = digest(log.path, 5, cursor=cursor, root=ROOT, zone=UTC, role_of=RoleOf(records))
    assert {g.fingerprint.where: g.status for g in result.before}["inc/plugins/other.php:12"] == RESOLVED


def test_an_error_on_two_pages_re_checked_one_before_the_cursor_one_after_is_resolved(tmp_path: Path) -> None:
    log = Log(tmp_path / "logs" / "server.log")
    log.request(1000, "/a.php", errors=(WARNING,))
    log.request(1001, "/b.php", errors=(WARNING,))
    log.request(1002, "/a.php")
    cursor = take_cursor(log.path)
    result = digest(log.path, 5, cursor=cursor, root=ROOT, zone=UTC, role_of=lambda port, stamp: "guest")
    assert [(g.status, g.recheck) for g in result.before] == [(NOT_SEEN, [("/b.php", "guest")])]
    log.request(1003, "/b.php")
    result = digest(log.path, 5, cursor=cursor, root=ROOT, zone=UTC, role_of=lambda port, stamp: "guest")
    assert [(g.status, g.fixed_by) for g in result.before] == [(RESOLVED, "GET /b.php → 200 as guest")]
