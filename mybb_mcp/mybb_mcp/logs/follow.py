"""Following a log as it grows (`logs --follow`): a position held open on the file read, so when
rotation renames it away or copies and truncates it, what was written after the last read is read
to its end first, then the newer generations, then the new log: no line lost or shown twice.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from .options import MAX_LIMIT
from .query import new_entries
from .rotation import backup_path

if TYPE_CHECKING:
    from .options import LogQueryOptions
    from .parser import LogEntry


@dataclass
class Position:
    """Which file (device, inode) was read, up to which byte, and the bytes just before that offset
    (to recognise the same content again). `fd` keeps that file open: when rotation renames it away,
    what was written to it after the last read is still read before moving on. `backup` is the
    backup (`.1`) the followed generation came after: before anything of it was read (no mark),
    a new `.1` is the only sign that it was rotated."""

    file: tuple[int, int] | None
    offset: int
    fd: int | None = None
    mark: bytes = b""  # the bytes before mark_offset (<= offset) as they were read
    mark_offset: int = 0
    backup: tuple[int, int] | None = None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def take(self, other: Position) -> None:
        self.file, self.offset, self.fd = other.file, other.offset, other.fd
        self.mark, self.mark_offset, self.backup = other.mark, other.mark_offset, other.backup


MARK_BYTES = 64
SNAPSHOT_TRIES = 3


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _backup_id(log_file: Path) -> tuple[int, int] | None:
    return _file_id(backup_path(log_file, 1))


def _rotation_underway(log_file: Path) -> bool:
    """An in-place rotation is between its first copy and putting `.1` in place: the backups are
    being renumbered, so what they hold cannot be told yet."""
    partial = backup_path(log_file, 1)
    return os.path.lexists(partial.with_name(partial.name + ".partial"))


def _open_fd(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    if not stat_is_regular(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def open_position(path: Path, offset: int) -> Position:
    """A position at `offset` of the file now at `path`, held open (O_NONBLOCK: a FIFO put there
    does not hang the open)."""
    backup = _backup_id(path)  # before the open: the log opened is this backup's successor, or newer
    fd = _open_fd(path)
    if fd is None:
        return Position(None, 0)
    info = os.fstat(fd)
    position = Position((info.st_dev, info.st_ino), offset, fd, backup=backup)
    position.mark, position.mark_offset = _mark_at(fd, offset), offset
    return position


def after_query(log_file: Path, position: Position, end_offset: int) -> Position:
    """Where following goes on after a query that read `log_file` up to `end_offset`: that offset of the
    file `position` holds open, or the start of a new log when a rotation came during the query."""
    if position.fd is not None and _file_id(log_file) == position.file:
        position.offset = end_offset
        position.mark, position.mark_offset = _mark_at(position.fd, end_offset), end_offset
        return position
    position.close()
    return Position(None, 0)


def stat_is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)


def _mark_at(fd: int, offset: int) -> bytes:
    start = max(0, offset - MARK_BYTES)
    try:
        return os.pread(fd, offset - start, start)
    except OSError:
        return b""


def _read_from(source: Path, options: LogQueryOptions, position: Position, zone: tzinfo | None) -> Iterator[LogEntry]:
    """Entries of `source` after position.offset, to its end (in batches); moves the offset."""
    while True:  # new_entries returns at most a batch: drain a burst before sleeping again
        try:
            entries, position.offset = new_entries(source, options, position.offset, zone=zone,
                                                   restart_if_shrunk=False)
        except OSError:
            return
        yield from entries
        if len(entries) < MAX_LIMIT:
            return


@dataclass
class _Rotated:
    """The generations after the followed one's last read, oldest first, held open: `first` is read
    from the position's offset, the others whole. `newest` is the `.1` they end with."""

    fds: list[int]
    newest: tuple[int, int] | None

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def _rotated_content(log_file: Path, position: Position) -> _Rotated | None:
    """Where the rest of the file we followed is, and what was written after it, after the log at
    the path changed under us; None while that cannot be told yet (a rotation renumbering the
    backups): the next poll asks again, nothing is skipped."""
    if position.fd is None or position.file is None:
        return _Rotated([], _backup_id(log_file))
    if _file_id(log_file) != position.file:  # renamed away (or replaced): the open file has the rest
        return _Rotated([os.dup(position.fd)], _backup_id(log_file))
    # Copied and truncated in place: a backup has the rest - .1, or an older one when the follower
    # fell behind by several rotations; the newer backups came after it. All are opened at once
    # (between two renumberings), so a rotation meanwhile cannot make one read twice or skip one.
    for _ in range(SNAPSHOT_TRIES):
        if _rotation_underway(log_file):
            return None
        newest = _backup_id(log_file)
        found = _find_generation(log_file, position)
        if _rotation_underway(log_file) or _backup_id(log_file) != newest:
            if found is not None:
                found.close()
            continue
        if found is None:  # its backup is gone (more rotations than backups kept): go on with the log
            return _Rotated([], newest)
        found.newest = newest
        return found
    return None


def _find_generation(log_file: Path, position: Position) -> _Rotated | None:
    opened: list[int] = []
    number = 1
    while True:
        fd = _open_fd(backup_path(log_file, number))
        if fd is None:
            break
        opened.append(fd)
        if position.mark:
            if os.fstat(fd).st_size >= position.offset and _mark_at(fd, position.mark_offset) == position.mark:
                return _keep(opened, len(opened))
        else:  # nothing read yet: the followed generation is the one after its backup
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) == position.backup:
                os.close(opened.pop())
                return _keep(opened, len(opened))
        number += 1
    if not position.mark and position.backup is None and opened:  # there was no backup: all came after
        return _keep(opened, len(opened))
    for fd in opened:
        os.close(fd)
    return None


def _keep(opened: list[int], count: int) -> _Rotated:
    for fd in opened[count:]:
        os.close(fd)
    return _Rotated(list(reversed(opened[:count])), None)


def _still_same(log_file: Path, position: Position) -> bool:
    """The file at the path is the one followed, with the bytes before our offset unchanged (and,
    before anything of it was read, no newer backup in place)."""
    if position.fd is None or _file_id(log_file) != position.file:
        return False
    try:
        size = os.fstat(position.fd).st_size
    except OSError:
        return False
    if not position.mark:
        return _backup_id(log_file) == position.backup and not _rotation_underway(log_file)
    return size >= position.offset and _mark_at(position.fd, position.mark_offset) == position.mark


def _next_log(log_file: Path, rotated: _Rotated) -> Position:
    """The log after the generations just read: from its start, or - when it is still the newest of
    them (the rotation has put `.1` in place but not yet emptied the log) - from where `.1` ends."""
    position = open_position(log_file, 0)
    position.backup = rotated.newest
    if position.fd is None or not rotated.fds:
        return position
    last = rotated.fds[-1]
    end = os.fstat(last).st_size
    tail = _mark_at(last, end)
    if tail and os.fstat(position.fd).st_size >= end and _mark_at(position.fd, end) == tail:
        position.offset, position.mark, position.mark_offset = end, tail, end
    else:
        position.mark, position.mark_offset = b"", 0
    return position


def poll(log_file: Path, options: LogQueryOptions, position: Position, zone: tzinfo | None = None
          ) -> Iterator[LogEntry]:
    """The matching entries written since `position`, which it moves forward (to the new log after a
    rotation, once the old one is read to its end)."""
    if position.fd is None:
        position.take(open_position(log_file, position.offset if position.file == _file_id(log_file) else 0))
        if position.fd is None:
            return  # no log (between a rotation's rename and PHP's new file)
    if not _still_same(log_file, position):
        rotated = _rotated_content(log_file, position)
        if rotated is None:
            return  # a rotation is renumbering the backups: the next poll reads on
        try:
            for number, fd in enumerate(rotated.fds):
                if number:
                    position.offset = 0  # a newer generation, whole
                yield from _read_from(Path(f"/dev/fd/{fd}"), options, position, zone)
            position.close()
            position.take(_next_log(log_file, rotated))
        finally:
            rotated.close()
        return  # the new log on the next poll, after checking it is still the one just opened
    try:
        if os.fstat(position.fd).st_size == position.offset:
            return
    except OSError:
        return
    # Through the open file: a rotation from here on cannot make this read the next log's bytes.
    # What it read is kept only if the followed generation was still in place after the read.
    offset, mark, mark_offset = position.offset, position.mark, position.mark_offset
    entries = list(_read_from(Path(f"/dev/fd/{position.fd}"), options, position, zone))
    new_mark = _mark_at(position.fd, position.offset)
    if mark:
        kept = _mark_at(position.fd, mark_offset) == mark
    else:
        kept = _backup_id(log_file) == position.backup and not _rotation_underway(log_file)
    if not kept or len(new_mark) < min(position.offset, MARK_BYTES):
        position.offset, position.mark, position.mark_offset = offset, mark, mark_offset
        return  # rotated while read: the next poll reads it again from its backup
    position.mark, position.mark_offset = new_mark, position.offset
    yield from entries
