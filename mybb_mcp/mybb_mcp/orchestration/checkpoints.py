"""Checkpoints in the logs: cursors, "what is new since", errors tied to requests, and the error digest.

A *cursor* marks a point in the server log (and in MyBB's own error log files) so a later
query reads only what came after it. It names the log by identity, not by path, so it
survives rotation and restarts:

- the server log by device + inode, a hash of its first bytes (its zone header and banner:
  the *generation*) and a hash of the bytes just before the offset. A restart renames the log
  to `server.log.1` (same inode); a rotation while running copies it to `.1` and truncates it
  in place (same inode, new head). Either way the generation holding the cursor is found among
  `server.log`, `.1` ... `.N`, and reading goes on from there through the newer ones.
- each MyBB error log file by device + inode + size.

The cursor string is opaque to callers (`c1.` + base64 of compact JSON); a cursor that does
not decode is an InvalidArgument, never trusted further than its numbers.

"Nothing new" costs a stat, an open and two small reads, whatever the log's size.

Errors are grouped by *fingerprint*: kind + normalised message + file:line. Entries are tied
to the request that raised them by the php -S log's own order: a worker logs
`PORT Accepted`, then the errors its script raised, then `PORT [status]: METHOD PATH`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from ..errors import InvalidArgument
from ..safe_files import open_regular
from .log_parser import CONNECTION, REQUEST, LogEntry, classify_origin, parse_entry, parse_mybb_error
from . import cursor_errors
from .log_match import RequestMatch, keyword_text
from .log_query import LogQueryOptions, entry_matches
from .log_reader import backup_path, iter_entries_forward, offset_at_time, read_log_zone

CURSOR_PREFIX = "c1."
HEAD_BYTES = 256  # the zone header and the banner: what makes one generation of the log unique (hashed
# as far as the log went when the cursor was taken, so a young log's cursor still matches it later)
MAX_CURSOR_ENTRIES = 200_000  # entries one cursor read looks at (pass the new cursor to read on)
TAIL_BYTES = 64  # the bytes before the cursor's offset: what proves the offset is still in place
MAX_CURSOR_LENGTH = 4096
MAX_MYBB_FILES = 8
BASELINE_WINDOW = timedelta(minutes=30)  # how far before a cursor the digest looks for what it fixed
MAX_BASELINE_BYTES = 64 * 1024 * 1024


# --- cursors ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileMark:
    """A point in one file: which file (device, inode) and how far."""

    dev: int
    ino: int
    offset: int


@dataclass(frozen=True)
class Cursor:
    """A point in the server log (+ generation) and in each MyBB error log file."""

    server: FileMark | None  # None: there was no server log
    head: str  # hash of the log's first HEAD_BYTES (its generation)
    tail: str  # hash of the TAIL_BYTES before offset
    issued: float  # epoch seconds when the cursor was taken
    mybb: tuple[tuple[str, FileMark], ...] = ()  # (path, mark) per MyBB error log file

    def encode(self) -> str:
        """`c1.` + dot-separated hex fields: server dev, ino, offset, head, tail, time in ms, then
        `dev-ino-size` per MyBB error log file. Opaque to callers; short enough to pass around."""
        server = self.server or FileMark(0, 0, 0)
        fields = [f"{server.dev:x}", f"{server.ino:x}", f"{server.offset:x}" if self.server else "-",
                  self.head or "-", self.tail or "-", f"{int(self.issued * 1000):x}"]
        fields += [f"{m.dev:x}-{m.ino:x}-{m.offset:x}" for _, m in self.mybb]
        return CURSOR_PREFIX + ".".join(fields)


def _bad_cursor(why: str) -> InvalidArgument:
    return InvalidArgument(
        f"cursor is not a cursor this tool gave out ({why}).",
        "Pass the `cursor` value exactly as an earlier mybb_server_logs or mybb_server_request answer printed it, "
        "or leave cursor out to query the whole log.",
    )


_HEX_FIELD = re.compile(r"[0-9a-f]{1,16}")
_HASH_FIELD = re.compile(r"[0-9a-f]{16}|-")


def _hex(text: str) -> int:
    if not _HEX_FIELD.fullmatch(text):
        raise _bad_cursor("a number in it is malformed")
    return int(text, 16)


def decode_cursor(text: object) -> Cursor:
    """The cursor a string encodes; InvalidArgument for anything else."""
    if not isinstance(text, str) or not text.startswith(CURSOR_PREFIX):
        raise _bad_cursor(f"it does not start with {CURSOR_PREFIX!r}")
    if len(text) > MAX_CURSOR_LENGTH:
        raise _bad_cursor("it is too long")
    fields = text[len(CURSOR_PREFIX):].strip().split(".")
    if len(fields) < 6 or len(fields) > 6 + MAX_MYBB_FILES:
        raise _bad_cursor("it has the wrong number of parts")
    dev, ino, offset, head, tail, issued = fields[:6]
    if not _HASH_FIELD.fullmatch(head) or not _HASH_FIELD.fullmatch(tail):
        raise _bad_cursor("its log identity is malformed")
    server = None if offset == "-" else FileMark(_hex(dev), _hex(ino), _hex(offset))
    marks = []
    for item in fields[6:]:
        parts = item.split("-")
        if len(parts) != 3:
            raise _bad_cursor("a MyBB error log mark is malformed")
        mark = FileMark(*(_hex(p) for p in parts))
        marks.append((f"{mark.dev}:{mark.ino}", mark))
    return Cursor(server, "" if head == "-" else head, "" if tail == "-" else tail, _hex(issued) / 1000,
                  tuple(marks))


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _pread(fd: int, size: int, offset: int) -> bytes:
    return os.pread(fd, max(0, size), max(0, offset))


def _complete_end(fd: int, size: int) -> int:
    """`size` moved back to just after the last newline (a line still being written is not passed)."""
    probe = size
    while probe > 0:
        chunk = _pread(fd, min(65536, probe), probe - min(65536, probe))
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return probe - len(chunk) + newline + 1
        probe -= len(chunk)
    return 0


def _open_nofollow(path: Path) -> int | None:
    try:  # no link followed, and a FIFO is refused rather than waited on
        return open_regular(path, os.O_RDONLY)
    except OSError:
        return None


def _mark_server(log_file: Path) -> tuple[FileMark | None, str, str]:
    fd = _open_nofollow(log_file)
    if fd is None:
        return None, "", ""
    try:
        info = os.fstat(fd)
        end = _complete_end(fd, info.st_size)
        head = _hash(_pread(fd, min(HEAD_BYTES, end), 0))
        tail = _hash(_pread(fd, min(TAIL_BYTES, end), end - min(TAIL_BYTES, end)))
        return FileMark(info.st_dev, info.st_ino, end), head, tail
    finally:
        os.close(fd)


def _mark_file(path: Path) -> FileMark | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return FileMark(info.st_dev, info.st_ino, info.st_size)


def take_cursor(log_file: Path, mybb_files: Sequence[Path] = (), *, now: float | None = None) -> Cursor:
    """A cursor at the end of what is in the logs now."""
    server, head, tail = _mark_server(Path(log_file))
    marks = tuple((f"{m.dev}:{m.ino}", m) for p in mybb_files[:MAX_MYBB_FILES] if (m := _mark_file(Path(p))) is not None)
    return Cursor(server, head, tail, time.time() if now is None else now, marks)


# --- what is new since a cursor -------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    """A byte range of one log file to read, oldest data first."""

    path: Path
    start: int
    end: int | None  # None: to the end as it is when read


@dataclass
class Resolution:
    """Where a cursor's "new" begins: the segments to read, and what could not be followed."""

    segments: list[Segment]
    note: str | None = None  # e.g. the generation was rotated away: reading from the oldest kept
    nothing_new: bool = False
    generation: Path | None = None  # the file holding the cursor's offset (for the baseline)


def _generation_matches(fd: int, info: os.stat_result, cursor: Cursor, *, same_inode: bool) -> bool:
    mark = cursor.server
    assert mark is not None
    if info.st_size < mark.offset:
        return False
    if same_inode and (info.st_dev, info.st_ino) != (mark.dev, mark.ino):
        return False
    if _hash(_pread(fd, min(HEAD_BYTES, mark.offset), 0)) != cursor.head:  # the head as far as it went then
        return False
    size = min(TAIL_BYTES, mark.offset)
    return _hash(_pread(fd, size, mark.offset - size)) == cursor.tail


def _check(path: Path, cursor: Cursor, *, same_inode: bool) -> tuple[bool, int]:
    """(this file is the cursor's generation, its readable end)."""
    fd = _open_nofollow(path)
    if fd is None:
        return False, 0
    try:
        info = os.fstat(fd)
        if not _generation_matches(fd, info, cursor, same_inode=same_inode):
            return False, 0
        return True, _complete_end(fd, info.st_size)
    finally:
        os.close(fd)


def resolve(cursor: Cursor, log_file: Path, backups: int) -> Resolution:
    """The segments of the server log written after the cursor, oldest first."""
    log_file = Path(log_file)
    if cursor.server is None:
        files = [backup_path(log_file, n) for n in range(backups, 0, -1)] + [log_file]
        return Resolution([Segment(p, 0, None) for p in files if p.is_file()],
                          "the cursor was taken when there was no server log: everything since is new")
    found, end = _check(log_file, cursor, same_inode=True)
    if found:
        start = cursor.server.offset
        return Resolution([Segment(log_file, start, None)], nothing_new=end <= start, generation=log_file)
    # Rotated: by a restart (renamed, same inode) or in place (copied to .1: new inode, same bytes).
    for number in range(1, backups + 1):
        older = backup_path(log_file, number)
        found, _ = _check(older, cursor, same_inode=False)
        if found:
            newer = [backup_path(log_file, n) for n in range(number - 1, 0, -1)] + [log_file]
            segments = [Segment(older, cursor.server.offset, None)]
            segments += [Segment(p, 0, None) for p in newer if p.is_file()]
            return Resolution(segments, generation=older)
    kept = [backup_path(log_file, n) for n in range(backups, 0, -1)] + [log_file]
    return Resolution(
        [Segment(p, 0, None) for p in kept if p.is_file()],
        "the log the cursor points into is no longer kept (rotated away or removed): everything in the "
        "logs still kept is shown as new",
    )


def _server_entries_in(segments: Iterable[Segment], zone: tzinfo | None) -> Iterator[LogEntry]:
    for segment in segments:
        location = str(segment.path)
        try:
            for offset, raw in iter_entries_forward(segment.path, start=segment.start, end=segment.end):
                entry = parse_entry(raw.decode("utf-8", "replace"), tz=zone, offset=offset)
                entry.location = location
                yield entry
        except FileNotFoundError:
            continue


_START = b"<error>\n\t<dateline>"
_END = b"\n</error>"


def mybb_blocks(path: Path, start: int, end: int | None = None, limit: int = 16 * 1024 * 1024) -> list[LogEntry]:
    """MyBB `<error>` blocks of a MyBB error log file between two offsets (bounded), oldest first."""
    fd = _open_nofollow(path)
    if fd is None:
        return []
    try:
        size = os.fstat(fd).st_size
        end = size if end is None else min(end, size)
        if start > end:
            start = 0
        data = _pread(fd, min(end - start, limit), start)
    finally:
        os.close(fd)
    entries = []
    position = data.find(_START)
    while position >= 0:
        stop = data.find(_END, position)
        if stop < 0:
            break
        block = data[position : stop + len(_END)].decode("utf-8", "replace")
        entries.append(parse_mybb_error(block, location=str(path), offset=start + position))
        position = data.find(_START, stop)
    return entries


def _mybb_new(cursor: Cursor, mybb_files: Sequence[Path]) -> list[LogEntry]:
    marks = dict(cursor.mybb)
    entries: list[LogEntry] = []
    for path in mybb_files:
        now = _mark_file(path)
        if now is None:
            continue
        mark = marks.get(f"{now.dev}:{now.ino}")
        if mark is not None and now.offset >= mark.offset:
            start = mark.offset
        elif mark is None and cursor.issued and _mtime(path) < cursor.issued:
            continue  # an old file the cursor did not know of, unchanged since
        else:
            start = 0
        if now.offset > start:
            entries += mybb_blocks(path, start)
    return entries


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


@dataclass
class NewEntries:
    """What a cursor read found: entries oldest first, and the cursor to pass next time."""

    entries: list[LogEntry]
    cursor: Cursor
    note: str | None = None
    more: bool = False  # stopped at `limit`: pass the new cursor to read on


def read_since(
    cursor: Cursor,
    log_file: Path,
    backups: int,
    mybb_files: Sequence[Path] = (),
    *,
    wanted: "EntryFilter | None" = None,
    limit: int = 1000,
    zone: tzinfo | None = None,
) -> NewEntries:
    """Entries written after the cursor (filtered by `wanted`), oldest first, up to `limit`. Errors carry
    their request, origin and place, and MyBB's core noise is left out, as in a log query (cursor_errors)."""
    log_file = Path(log_file)
    resolution = resolve(cursor, log_file, backups)
    zone = zone or read_log_zone(log_file)
    mybb_entries = _mybb_new(cursor, mybb_files)
    if wanted is not None and mybb_entries:
        mybb_entries = wanted.matching(cursor_errors.annotate_mybb(mybb_entries, wanted.root, log_file, zone,
                                                                   wanted.options))
    if resolution.nothing_new and not mybb_entries:
        return NewEntries([], take_cursor(log_file, mybb_files) if mybb_files else _same(cursor), resolution.note)
    found: list[LogEntry] = []
    more = False
    last: tuple[Path, int] | None = None
    read = list(itertools.islice(_server_entries_in(resolution.segments, zone), MAX_CURSOR_ENTRIES))
    read_last = read[-1] if len(read) >= MAX_CURSOR_ENTRIES else None  # stopped there: read on from it
    hold: LogEntry | None = None  # an error whose request is not logged yet: the next read starts before it
    if wanted is not None:
        everything = read
        read = cursor_errors.annotate(read, wanted.root, wanted.options)
        hold = cursor_errors.first_unfinished(everything, wanted.options)
        if hold is not None:  # a page's errors are matched by their request: wait for its line
            earlier = {id(e) for e in itertools.takewhile(lambda e: e is not hold, everything)}
            read = [e for e in read if id(e) in earlier]
            read_last = None
        read = wanted.matching(read)
    for entry in read:
        if len(found) >= limit:
            more = True
            break
        found.append(entry)
        last = (Path(entry.location or log_file), entry.offset or 0)
    if not more and read_last is not None:
        more, last = True, (Path(read_last.location or log_file), read_last.offset or 0)
    for entry in mybb_entries:
        entry.timestamp = entry.timestamp.astimezone(zone) if entry.timestamp else None
    merged = sorted(found + mybb_entries, key=lambda e: e.timestamp.timestamp() if e.timestamp else 0.0)
    if more and last is not None:
        after = _cursor_after(last[0], last[1], cursor, mybb_files)
    elif hold is not None:
        before = list(itertools.takewhile(lambda e: e is not hold, everything))
        after = (_cursor_after(Path(before[-1].location or log_file), before[-1].offset or 0, cursor, mybb_files)
                 if before else cursor)
    else:
        after = take_cursor(log_file, mybb_files)
    return NewEntries(merged, after, resolution.note, more)


def _same(cursor: Cursor) -> Cursor:
    return Cursor(cursor.server, cursor.head, cursor.tail, time.time(), cursor.mybb)


def _cursor_after(path: Path, entry_offset: int, cursor: Cursor, mybb_files: Sequence[Path]) -> Cursor:
    """A cursor just after the entry at `entry_offset` of `path` (for paging with `limit`)."""
    fd = _open_nofollow(path)
    if fd is None:
        return take_cursor(path, mybb_files)
    try:
        info = os.fstat(fd)
        end = _complete_end(fd, info.st_size)
        # The entry ends where the next one starts; read forward to find it.
        stop = end
        for offset, _raw in iter_entries_forward(path, start=entry_offset, end=end):
            if offset > entry_offset:
                stop = offset
                break
        head = _hash(_pread(fd, min(HEAD_BYTES, stop), 0))
        tail = _hash(_pread(fd, min(TAIL_BYTES, stop), stop - min(TAIL_BYTES, stop)))
        return Cursor(FileMark(info.st_dev, info.st_ino, stop), head, tail, time.time(), cursor.mybb)
    finally:
        os.close(fd)


class EntryFilter:
    """Which entries a cursor read keeps: the filters of a log query (errors, static, keyword, path, core
    noise), applied by the query's own test so a cursor read and a query never disagree (full case folding
    and the error's request included). `root`: the forum root, which names the user's code."""

    def __init__(self, *, errors_only: bool = False, exclude_static: bool = True, keyword: str | None = None,
                 include_connections: bool = False, path: str | None = None, include_core_noise: bool = False,
                 root: Path | str | None = None) -> None:
        self.options = LogQueryOptions(errors_only=errors_only, exclude_static=exclude_static,
                                       filter_keyword=keyword or None, include_connections=include_connections,
                                       path=path or None, include_core_noise=include_core_noise)
        self.root = str(root) if root is not None else None

    def __call__(self, entry: LogEntry) -> bool:
        return entry_matches(entry, self.options)

    def matching(self, entries: Sequence[LogEntry]) -> list[LogEntry]:
        return cursor_errors.matching(entries, self.options)


# --- errors tied to requests ----------------------------------------------------------------------

@dataclass(frozen=True)
class RequestRef:
    """The request an error came from, as the server log names it."""

    method: str
    path: str
    status: int
    client_port: int | None
    worker_pid: int | None
    timestamp: datetime | None
    order: int = -1  # position of its request line in the range read (log order), -1 unknown
    role: str | None = None  # who sent it, when the tool did (forum/request_roles.py); None: not known

    def label(self) -> str:
        return f"{self.method} {self.path} → {self.status}" + (f" as {self.role}" if self.role else "")


def tie_to_requests(entries: Sequence[LogEntry]) -> list[tuple[LogEntry, RequestRef | None]]:
    """Each non-request entry with the request it belongs to (None when it belongs to none).

    Entries must be in log order. A php -S process serves one request at a time and logs the
    request line when the request ends, so what a worker logged since its last request line
    belongs to its next one. An entry carrying its own request (`entry.request`) keeps it.
    """
    pending: dict[int | None, list[LogEntry]] = {}
    tied: dict[int, RequestRef | None] = {}
    order: list[LogEntry] = []
    for position, entry in enumerate(entries):
        worker = entry.worker_pid
        if entry.event_type == REQUEST and entry.method is not None:
            ref = RequestRef(entry.method, entry.path or "", entry.status_code or 0, entry.client_port, worker,
                             entry.timestamp, position)
            for waiting in pending.pop(worker, []):
                tied[id(waiting)] = ref
            if entry.level is not None and entry.message:  # a fatal carried on the request line itself
                tied[id(entry)] = ref
                order.append(entry)
            continue
        if entry.event_type == CONNECTION:
            if entry.message == "Accepted":
                pending.setdefault(worker, [])
            continue
        pending.setdefault(worker, []).append(entry)
        order.append(entry)
    result = []
    for entry in order:
        own = getattr(entry, "request", None)
        result.append((entry, own if isinstance(own, RequestRef) else tied.get(id(entry))))
    return result


def entries_of_port(entries: Sequence[LogEntry], port: int, worker: int | None = None) -> tuple[
        list[LogEntry], LogEntry | None]:
    """The entries between `PORT Accepted` and `PORT [status]` (inclusive), and that request line.

    With workers, only lines of the worker that accepted the connection count."""
    inside = False
    owner: int | None = worker
    mine: list[LogEntry] = []
    for entry in entries:
        if entry.client_port == port and entry.event_type == CONNECTION and entry.message == "Accepted":
            inside, owner, mine = True, entry.worker_pid, []
            continue
        if not inside:
            continue
        if entry.worker_pid != owner:
            continue
        if entry.client_port == port and entry.event_type == REQUEST:
            if entry.level is not None and entry.message:
                mine.append(entry)
            return mine, entry
        if entry.event_type not in (REQUEST, CONNECTION):
            mine.append(entry)
    return mine, None


# --- fingerprints and the digest ------------------------------------------------------------------

# The location PHP appends is after the LAST " in " (a message may hold its own: `Unknown column 'x' in
# 'ORDER BY' in /srv/f.php:3`): the greedy head keeps everything before it.
_LOCATION_SUFFIX = re.compile(r"^(.*)\s+in \S.*?(?: on line \d+|:\d+)\s*$", re.DOTALL)
_NUMBER = re.compile(r"\b\d+\b")
_HEX_ID = re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{16,}\b")
_SPACE = re.compile(r"\s+")
KIND_NAMES = {"exception": "uncaught exception", "sql": "SQL error", "http_5xx": "HTTP 5xx", "http_4xx": "HTTP 4xx"}


def without_location(message: str) -> str:
    """The first line of a message without PHP's ` in FILE on line N` / ` in FILE:N`."""
    return _strip_location(message.split("\n", 1)[0])


def _strip_location(line: str) -> str:
    match = _LOCATION_SUFFIX.match(line)
    return match.group(1) if match else line


def normalise_message(message: str) -> str:
    """The message without what changes between occurrences: location, numbers, ids, spacing."""
    first = message.split("\n", 1)[0]
    first = _strip_location(first)
    first = _HEX_ID.sub("#", first)
    first = _NUMBER.sub("#", first)
    return _SPACE.sub(" ", first).strip()[:300]


def short_path(path: str | None, root: Path | None) -> str | None:
    """A source path relative to the forum root when inside it (MyBB's own log writes them so)."""
    if not path:
        return None
    if root is not None:
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            pass
    return path.lstrip("/") if not os.path.isabs(path) else path


@dataclass(frozen=True)
class Fingerprint:
    kind: str
    message: str
    where: str | None  # file:line

    def key(self) -> str:
        return _hash(f"{self.kind}\0{self.message}\0{self.where or ''}".encode())


def _classified(entry: LogEntry, root: Path | None) -> LogEntry:
    """The entry with its origin, the first place in the user's code and whether it is MyBB's own noise
    (log_parser.classify_origin), once."""
    if entry.is_error and entry.origin is None:
        classify_origin(entry, str(root) if root is not None else None)
    return entry


def fingerprint(entry: LogEntry, root: Path | None = None) -> Fingerprint:
    _classified(entry, root)
    file = short_path(entry.source_file, root)
    where = entry.place or (f"{file}:{entry.source_line}" if file and entry.source_line else file)
    # The fatal php -S repeats on the request line has the PHP line's text: one fingerprint for both.
    return Fingerprint(entry.level or "error", normalise_message(entry.message), where)


@dataclass
class ErrorGroup:
    """One fingerprint's occurrences."""

    fingerprint: Fingerprint
    example: LogEntry
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    requests: list[str] = field(default_factory=list)  # distinct request labels, first ones
    scripts: set[str] = field(default_factory=set)  # the pages (path and query) that raised it
    status: str = ""  # digest with a cursor: new | still firing | resolved | not seen since
    last_order: int = -1  # log position of the last request that raised it (in the range read)
    fixed_by: str | None = None  # the clean request to the same page that came after its last occurrence
    # (page, role) -> log position of the last request there that raised it: "resolved" needs each re-run
    sites: dict[tuple[str, str | None], int] = field(default_factory=dict)
    recheck: list[tuple[str, str | None]] = field(default_factory=list)  # sites not re-run clean since
    compile_note: str | None = None  # why a compile-time diagnostic still stands (its file did not change)

    @property
    def key(self) -> str:
        return self.fingerprint.key()


MAX_REQUESTS_PER_GROUP = 5


def _script(path: str) -> str:
    """What makes two requests "the same page": the path with its query (a plugin's branch often hangs
    on a query field), its fields in a fixed order, without the session's my_post_key."""
    base, _, query = path.split("#", 1)[0].partition("?")
    fields = sorted(f for f in query.split("&") if f and not f.startswith("my_post_key="))
    return (base or "/") + ("?" + "&".join(fields) if fields else "")


def group_errors(
    tied: Iterable[tuple[LogEntry, RequestRef | None]], root: Path | None = None,
    noise: list[LogEntry] | None = None,
) -> list[ErrorGroup]:
    """Error entries grouped by fingerprint, in order of first appearance. The fatal php -S logs twice
    (the PHP line and again on the request line) counts once per request. MyBB core's own noise
    (deprecations and notices with no user code on the stack) is left out, into `noise` if given."""
    groups: dict[str, ErrorGroup] = {}
    seen_per_request: set[tuple[str, int | None, object]] = set()
    for entry, ref in tied:
        if not entry.is_error:
            continue
        if entry.event_type == REQUEST and entry.level in ("http_4xx", "http_5xx"):
            continue  # a status is not an error message; the request itself says it
        if _classified(entry, root).core_noise:
            if noise is not None:
                noise.append(entry)
            continue
        fp = fingerprint(entry, root)
        key = fp.key()
        request_key = (key, ref.client_port if ref else None, ref.timestamp if ref else id(entry))
        if ref is not None and request_key in seen_per_request:
            continue
        seen_per_request.add(request_key)
        group = groups.get(key)
        if group is None:
            group = groups[key] = ErrorGroup(fp, entry)
        group.count += 1
        if entry.timestamp is not None:
            if group.first_seen is None or entry.timestamp < group.first_seen:
                group.first_seen = entry.timestamp
            if group.last_seen is None or entry.timestamp > group.last_seen:
                group.last_seen = entry.timestamp
        if ref is not None:
            group.last_order = max(group.last_order, ref.order)
            group.scripts.add(_script(ref.path))
            site = (_script(ref.path), ref.role)
            group.sites[site] = max(group.sites.get(site, -1), ref.order)
            label = ref.label()
            if label not in group.requests and len(group.requests) < MAX_REQUESTS_PER_GROUP:
                group.requests.append(label)
    return list(groups.values())


NEW, STILL_FIRING, RESOLVED, NOT_RECHECKED = "new", "still firing", "resolved", "not re-checked"
NOT_SEEN = NOT_RECHECKED  # the former name: seen before the cursor, its page not re-run clean since


@dataclass
class Digest:
    """Errors grouped by fingerprint; with a cursor, each group's fate since it."""

    groups: list[ErrorGroup]  # since the cursor (or in the window), most frequent first
    before: list[ErrorGroup]  # with a cursor: groups seen before it and not since (resolved / not seen)
    requests_since: int  # requests logged in the range read
    cursor: Cursor
    note: str | None = None
    since_cursor: bool = False
    more: bool = False
    matched_by: str | None = None  # the keyword / path the errors were selected by, in words


RoleLookup = Callable[[int | None, datetime | None], str | None]


def _requests_in(entries: Sequence[LogEntry], role_of: RoleLookup | None = None) -> list[RequestRef]:
    return [
        RequestRef(e.method, e.path or "", e.status_code or 0, e.client_port, e.worker_pid, e.timestamp, position,
                   role_of(e.client_port, e.timestamp) if role_of else None)
        for position, e in enumerate(entries) if e.event_type == REQUEST and e.method is not None and not e.internal
    ]


def _with_roles(tied: list[tuple[LogEntry, RequestRef | None]],
                role_of: RoleLookup | None) -> list[tuple[LogEntry, RequestRef | None]]:
    if role_of is None:
        return tied
    return [(e, replace(r, role=role_of(r.client_port, r.timestamp)) if r is not None else None) for e, r in tied]


def _judge(group: ErrorGroup, latest: dict[tuple[str, str | None], RequestRef], since_cursor: bool) -> bool:
    """Whether every page the group fired on ran again, as the same role, after its last occurrence there:
    fills `fixed_by` (the latest such run) and `recheck` (the pages and roles still to load)."""
    clean: list[RequestRef] = []
    group.recheck = []
    for site, last in sorted(group.sites.items(), key=lambda item: item[1]):
        rerun = latest.get(site) if site[1] is not None else None
        if rerun is not None and rerun.order > (last if since_cursor else -1):
            clean.append(rerun)
        else:
            group.recheck.append(site)
    group.fixed_by = max(clean, key=lambda r: r.order).label() if clean and not group.recheck else None
    return bool(group.sites) and not group.recheck


def _baseline(cursor: Cursor, resolution: Resolution, zone: tzinfo, root: Path | None,
              mybb_files: Sequence[Path], role_of: RoleLookup | None = None,
              match: RequestMatch | None = None) -> list[ErrorGroup]:
    """Error groups in the BASELINE_WINDOW before the cursor (at most MAX_BASELINE_BYTES of log)."""
    if cursor.server is None or resolution.generation is None:
        return []
    path, end = resolution.generation, cursor.server.offset
    cutoff = datetime.fromtimestamp(cursor.issued, timezone.utc) - BASELINE_WINDOW
    try:
        start = offset_at_time(path, cutoff, zone, end=end)
    except OSError:
        return []
    start = max(start, 0)
    if end - start > MAX_BASELINE_BYTES:
        start = _entry_start_after(path, end - MAX_BASELINE_BYTES, end)
    entries = list(_server_entries_in([Segment(path, start, end)], zone))
    marks = dict(cursor.mybb)
    for file in mybb_files:
        now = _mark_file(file)
        mark = marks.get(f"{now.dev}:{now.ino}") if now is not None else None
        if mark is not None:
            for entry in mybb_blocks(file, max(0, mark.offset - 4 * 1024 * 1024), mark.offset):
                if entry.timestamp is not None and entry.timestamp >= cutoff:
                    entries.append(entry)
    return group_errors(_matching(_with_roles(tie_to_requests(entries), role_of), match), root)


def _still_compiled(group: ErrorGroup, unchanged_since: Callable[[ErrorGroup], bool] | None) -> bool:
    """A compile-time diagnostic whose file has not changed since PHP said it: still in the code, though
    OPcache serves the compiled file without saying it again (orchestration/compile_time.py)."""
    if unchanged_since is None or not unchanged_since(group):
        return False
    group.compile_note = ("compile-time: PHP says this once, when it compiles the file; the file has not "
                          "changed since, so it is still in the code (OPcache serves the compiled file silently)")
    return True


def _matching(tied: list[tuple[LogEntry, RequestRef | None]], match: RequestMatch | None) -> list[
        tuple[LogEntry, RequestRef | None]]:
    """The digest's errors a keyword or path selects (log_match): by their text or their request."""
    if match is None:
        return tied
    return [(e, ref) for e, ref in tied if match.matches(e, keyword_text(e), ref)]


def _entry_start_after(path: Path, position: int, end: int) -> int:
    for offset, _raw in iter_entries_forward(path, start=position, end=end):
        return offset
    return end


def digest(
    log_file: Path,
    backups: int,
    mybb_files: Sequence[Path] = (),
    *,
    cursor: Cursor | None = None,
    since: datetime | None = None,
    root: Path | None = None,
    zone: tzinfo | None = None,
    max_entries: int = 200_000,
    role_of: RoleLookup | None = None,
    unchanged_since: Callable[[ErrorGroup], bool] | None = None,
    match: RequestMatch | None = None,
) -> Digest:
    """Errors grouped by fingerprint: since `cursor` (with their fate), else since `since` (or the
    whole current log).

    With a cursor, a group is "resolved" only when each page it fired on (path and query) ran again as
    the same role (`role_of`: who sent a logged request) after its last occurrence there, and the code
    it names can have changed (`unchanged_since`: a compile-time diagnostic of a file not changed since
    is still in the code); else it is still firing, new, or (seen before the cursor only) not re-checked.
    `match`: only errors holding its keyword or raised by a request it matches (log_match)."""
    log_file = Path(log_file)
    zone = zone or read_log_zone(log_file)
    note = None
    if cursor is not None:
        resolution = resolve(cursor, log_file, backups)
        note = resolution.note
        segments = resolution.segments
        extra = _mybb_new(cursor, mybb_files)
    else:
        resolution = None
        start = 0
        if since is not None and log_file.is_file():
            start = offset_at_time(log_file, since, zone)
        segments = [Segment(log_file, start, None)] if log_file.is_file() else []
        extra = [e for f in mybb_files for e in mybb_blocks(f, 0)
                 if since is None or (e.timestamp is not None and e.timestamp >= since)]
    entries: list[LogEntry] = []
    more = False
    for entry in _server_entries_in(segments, zone):
        if since is not None and cursor is None and entry.timestamp is not None and entry.timestamp < since:
            continue
        if entry.internal or (entry.event_type == CONNECTION and entry.message != "Accepted"):
            continue
        entries.append(entry)
        if len(entries) >= max_entries:
            more = True
            break
    after = take_cursor(log_file, mybb_files)
    tied = _with_roles(tie_to_requests(entries), role_of) + [(e, None) for e in extra]
    groups = group_errors(_matching(tied, match), root)
    requests = _requests_in(entries, role_of)
    before: list[ErrorGroup] = []
    if cursor is not None and resolution is not None:
        baseline = _baseline(cursor, resolution, zone, root, mybb_files, role_of, match)
        now_keys = {g.key for g in groups}
        then_keys = {g.key for g in baseline}
        # In log order: the last request to each page as each role wins.
        latest = {(_script(r.path), r.role): r for r in requests}
        for group in groups:
            compiled = _still_compiled(group, unchanged_since)
            if _judge(group, latest, True) and not compiled:
                group.status = RESOLVED
            else:
                group.status, group.fixed_by = (STILL_FIRING if group.key in then_keys else NEW), None
        for group in baseline:
            if group.key in now_keys:
                continue
            if _still_compiled(group, unchanged_since):
                group.status, group.fixed_by = STILL_FIRING, None
            elif _judge(group, latest, False):
                group.status = RESOLVED
            else:
                group.status, group.fixed_by = NOT_RECHECKED, None
            before.append(group)
    groups.sort(key=lambda g: (-g.count, g.first_seen.timestamp() if g.first_seen else 0.0))
    return Digest(groups, before, len(requests), after, note, cursor is not None, more,
                  match.describe() if match is not None else None)


# --- the errors of one request --------------------------------------------------------------------

LOG_WAIT_SECONDS = 2.0  # how long a request's line may take to reach the log after its response


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange we made: its connection's client port names it in the log."""

    method: str
    target: str
    status: int
    client_port: int


def errors_of_exchanges(
    before: Cursor, exchanges: Sequence[Exchange], log_file: Path, backups: int,
    mybb_files: Sequence[Path] = (), *, root: Path | None = None, started: float | None = None,
) -> tuple[list[ErrorGroup], bool, str | None]:
    """(error groups, whether every exchange was found in the log, a note) for exactly these exchanges.

    Reads only what was written after `before`; waits (briefly) for the last exchange's request line.
    MyBB error log files (when MyBB logs to a file of its own) have no ports: their blocks written
    after `before` and not older than `started` count for the last exchange."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    entries: list[LogEntry] = []
    while exchanges:
        try:
            resolution = resolve(before, log_file, backups)
            entries = [] if resolution.nothing_new else list(_server_entries_in(resolution.segments, None))
        except OSError as exc:
            return [], False, f"the server log could not be read: {exc.strerror or exc}"
        if entries_of_port(entries, exchanges[-1].client_port)[1] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.002)
    tied: list[tuple[LogEntry, RequestRef | None]] = []
    missing = []
    for exchange in exchanges:
        mine, line = entries_of_port(entries, exchange.client_port)
        if line is None:
            missing.append(exchange.client_port)
            continue
        ref = RequestRef(exchange.method, exchange.target, line.status_code or exchange.status,
                         exchange.client_port, line.worker_pid, line.timestamp)
        tied += [(entry, ref) for entry in mine]
    if exchanges:
        last = exchanges[-1]
        for entry in _mybb_new(before, mybb_files):
            if started is None or entry.timestamp is None or entry.timestamp.timestamp() >= int(started) - 1:
                tied.append((entry, RequestRef(last.method, last.target, last.status, last.client_port, None,
                                               entry.timestamp)))
    notes = []
    if missing:
        notes.append(f"the server log holds no request line for client port(s) {', '.join(map(str, missing))} "
                     f"after {LOG_WAIT_SECONDS:.0f} s (was the log rotated away, or PHP run with -q?); errors of "
                     "those exchanges may be missing")
    noise: list[LogEntry] = []
    groups = group_errors(tied, root, noise)
    if noise:
        kinds = sorted({normalise_message(e.message)[:80] for e in noise})
        notes.append(f"{len(noise)} MyBB core notice(s)/deprecation(s) with no user code on the stack left out "
                     f"(MyBB's own noise under this PHP): {'; '.join(kinds[:3])}")
    return groups, not missing, "; ".join(notes) or None
