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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidArgument
from ..safe_files import open_regular
from . import cursor_errors
from .match import keyword_text
from .options import LogQueryOptions
from .parser import parse_entry, parse_mybb_error
from .query import entry_matches
from .reader import iter_entries_forward
from .rotation import backup_path
from .zone import read_log_zone

if TYPE_CHECKING:
    from .digest import RequestRef
    from .match import RequestMatch
    from .parser import LogEntry


CURSOR_PREFIX = "c1."
HEAD_BYTES = 256  # the zone header and the banner: what makes one generation of the log unique (hashed
# as far as the log went when the cursor was taken, so a young log's cursor still matches it later)
MAX_CURSOR_ENTRIES = 200_000  # entries one cursor read looks at (pass the new cursor to read on)
TAIL_BYTES = 64  # the bytes before the cursor's offset: what proves the offset is still in place
MAX_CURSOR_LENGTH = 4096
MAX_MYBB_FILES = 8


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


def hash_key(data: bytes) -> str:
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
        head = hash_key(_pread(fd, min(HEAD_BYTES, end), 0))
        tail = hash_key(_pread(fd, min(TAIL_BYTES, end), end - min(TAIL_BYTES, end)))
        return FileMark(info.st_dev, info.st_ino, end), head, tail
    finally:
        os.close(fd)


def mark_file(path: Path) -> FileMark | None:
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return FileMark(info.st_dev, info.st_ino, info.st_size)


def take_cursor(log_file: Path, mybb_files: Sequence[Path] = (), *, now: float | None = None) -> Cursor:
    """A cursor at the end of what is in the logs now."""
    server, head, tail = _mark_server(Path(log_file))
    marks = tuple((f"{m.dev}:{m.ino}", m) for p in mybb_files[:MAX_MYBB_FILES] if (m := mark_file(Path(p))) is not None)
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
    if hash_key(_pread(fd, min(HEAD_BYTES, mark.offset), 0)) != cursor.head:  # the head as far as it went then
        return False
    size = min(TAIL_BYTES, mark.offset)
    return hash_key(_pread(fd, size, mark.offset - size)) == cursor.tail


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


def server_entries_in(segments: Iterable[Segment], zone: tzinfo | None) -> Iterator[LogEntry]:
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


def mybb_new(cursor: Cursor, mybb_files: Sequence[Path]) -> list[LogEntry]:
    marks = dict(cursor.mybb)
    entries: list[LogEntry] = []
    for path in mybb_files:
        now = mark_file(path)
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
    mybb_entries = mybb_new(cursor, mybb_files)
    if wanted is not None and mybb_entries:
        mybb_entries = wanted.matching(cursor_errors.annotate_mybb(mybb_entries, wanted.root, log_file, zone,
                                                                   wanted.options))
    if resolution.nothing_new and not mybb_entries:
        return NewEntries([], take_cursor(log_file, mybb_files) if mybb_files else _same(cursor), resolution.note)
    found: list[LogEntry] = []
    more = False
    last: tuple[Path, int] | None = None
    read = list(itertools.islice(server_entries_in(resolution.segments, zone), MAX_CURSOR_ENTRIES))
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
        head = hash_key(_pread(fd, min(HEAD_BYTES, stop), 0))
        tail = hash_key(_pread(fd, min(TAIL_BYTES, stop), stop - min(TAIL_BYTES, stop)))
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


def matching_files(tied: list[tuple[LogEntry, RequestRef | None]], match: RequestMatch | None) -> list[
        tuple[LogEntry, RequestRef | None]]:
    """The digest's errors a keyword or path selects (log_match): by their text or their request."""
    if match is None:
        return tied
    return [(e, ref) for e, ref in tied if match.matches(e, keyword_text(e), ref)]
