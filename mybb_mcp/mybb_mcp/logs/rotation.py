"""Generations of a log (`server.log`, `.1` ... `.N`): opening them safely, rotating on start, and
rotating in place under a running server (copy, truncate) with PHP paused, never losing a line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..safe_files import check_regular_or_absent, open_regular
from .signed import log_is_signed, open_header_mark
from .zone import ZONE_HEADER, format_zone_header, zone_of_head

# --- rotation --------------------------------------------------------------------------------------------

def backup_path(path: str | os.PathLike[str], number: int) -> Path:
    path = Path(path)
    return path.with_name(f"{path.name}.{number}")


def _shift_backups(path: Path, backups: int) -> None:
    """.N-1 -> .N, ..., .1 -> .2 (replacing .N drops the oldest); .1 is then free."""
    for number in range(backups - 1, 0, -1):
        older = backup_path(path, number)
        if os.path.lexists(older):
            os.replace(older, backup_path(path, number + 1))


def rotate_logs(path: str | os.PathLike[str], backups: int) -> bool:
    """On server start: server.log -> .1 -> ... -> .N (the oldest dropped). True if a log was moved.

    Renames keep each file's mode. backups <= 0 just removes the old log. Anything but a regular
    file (or a link, which a rename replaces without following) among them is an UnsafeFile, before
    anything is moved.
    """
    path = Path(path)
    for number in range(1, max(backups, 0) + 1):
        check_regular_or_absent(backup_path(path, number))
    if not check_regular_or_absent(path):
        return False
    if backups <= 0:
        path.unlink()
        return True
    _shift_backups(path, backups)
    os.replace(path, backup_path(path, 1))
    return True


@dataclass
class InPlaceRotation:
    """What rotate_in_place did."""

    rotated: bool
    backup: Path | None = None
    bytes_copied: int = 0  # total bytes now in the backup
    bytes_during_freeze: int = 0  # of those, appended while the first copy ran
    reason: str = ""


class RotationRefused(OSError):
    """An in-place rotation that was not done (disk too full, ...): nothing was changed or left behind."""


# Free space a rotation leaves untouched: the server keeps logging, the machine keeps working.
ROTATION_DISK_MARGIN = 64 * 1024 * 1024


def _copy(src: int, dst: int, start: int, limit: int | None) -> int:
    """Copy src[start:limit] (limit None: to EOF) to the same offsets of dst; returns the end offset.

    Only data is copied: holes of a sparse log (SEEK_DATA/SEEK_HOLE) stay holes, so a 3 GB sparse
    file does not become 3 GB of zeros on disk. The caller sets dst's size to the returned end.
    """
    end = os.fstat(src).st_size if limit is None else limit
    pos = start
    while pos < end:
        try:
            data = os.lseek(src, pos, os.SEEK_DATA)
            hole = min(os.lseek(src, data, os.SEEK_HOLE), end)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                break  # only a hole from here to the end
            data, hole = pos, end  # no SEEK_DATA here: copy it all
        while data < hole:
            chunk = os.pread(src, min(1024 * 1024, hole - data), data)
            if not chunk:
                return data
            os.pwrite(dst, chunk, data)
            data += len(chunk)
        pos = hole
    return end


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO = _Auto()  # rotate_in_place: re-write the log's zone header if it had one


def _check_room(path: Path, src: int) -> None:
    """Refuse, before writing anything, a copy the disk cannot hold with room to spare."""
    info = os.fstat(src)
    needed = info.st_blocks * 512  # what the copy allocates: the data, not the holes
    try:
        disk = os.statvfs(path.parent)
    except OSError:
        return
    free = disk.f_bavail * disk.f_frsize
    if needed + ROTATION_DISK_MARGIN > free:
        raise RotationRefused(
            errno.ENOSPC, f"rotating {path.name} needs {needed // 2**20} MiB of free disk space plus "
            f"{ROTATION_DISK_MARGIN // 2**20} MiB to spare, and {free // 2**20} MiB are free; "
            "nothing was changed (free some space, or delete old server.log.N files)", str(path))


def rotate_in_place(
    path: str | os.PathLike[str],
    backups: int,
    freeze: Callable[[], AbstractContextManager[object]],
    *,
    header: str | None | _Auto = AUTO,
) -> InPlaceRotation:
    """Rotate a log that running writers hold open with O_APPEND (so it cannot be renamed).

    Copy the log to .1.partial (holes stay holes), shift the backups, then inside `with freeze():`
    (the caller pauses the writers) copy what was appended meanwhile, put .1 in place and truncate
    the log to 0; the writers' next appends land at offset 0. No line is lost or doubled. `header`
    is written to the emptied log while still frozen; by default a fresh zone header when the log
    had one (so later queries still know the zone). backups <= 0: just truncate.

    Links are not followed and only regular files are used (UnsafeFile otherwise); a full disk is
    a RotationRefused before anything is written, or, if it fills during the copy, after the partial
    copy is removed: either way nothing is left behind and the log is untouched.
    """
    path = Path(path)
    try:
        log = open_regular(path, os.O_RDWR, ours=True)
    except FileNotFoundError:
        return InPlaceRotation(False, reason=f"{path} does not exist")
    try:
        return _rotate_open_log(path, log, backups, freeze, header)
    finally:
        os.close(log)


def _rotate_open_log(
    path: Path, log: int, backups: int, freeze: Callable[[], AbstractContextManager[object]],
    header: str | None | _Auto,
) -> InPlaceRotation:
    mode = stat.S_IMODE(os.fstat(log).st_mode)
    if isinstance(header, _Auto):
        header = _fresh_zone_header(log)
    if backups <= 0:
        with freeze():
            os.ftruncate(log, 0)
            _append(log, header)
        return InPlaceRotation(True, reason="truncated (no backups kept)")
    for number in range(1, backups + 1):
        check_regular_or_absent(backup_path(path, number))
    target = backup_path(path, 1)
    temporary = target.with_name(target.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)  # a leftover of a killed rotation (or a planted link: unlinked, not followed)
    _check_room(path, log)
    dst = open_regular(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, ours=True)
    placed = False
    try:
        os.fchmod(dst, mode)
        copied = _copy(log, dst, 0, os.fstat(log).st_size)
        os.ftruncate(dst, copied)
        os.fsync(dst)  # the bulk reaches the disk before the writers are paused
        _shift_backups(path, backups)
        with freeze():  # short: the forum does not answer meanwhile
            end = _copy(log, dst, copied, None)
            # PHP writes a line over 8 KiB in pieces; the pause may fall between two. Keep that
            # line whole: its first pieces move to the new log, where the rest will follow.
            partial = _unfinished_line(log, end)
            os.ftruncate(dst, end - len(partial))
            os.replace(temporary, target)
            placed = True
            os.ftruncate(log, 0)
            _append(log, header)
            _append(log, partial.decode("utf-8", "surrogateescape") if partial else None, raw=True)
        os.fsync(dst)
    except OSError as exc:
        if not placed:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        if exc.errno == errno.ENOSPC and not isinstance(exc, RotationRefused):
            raise RotationRefused(errno.ENOSPC, "the disk filled up while the log was copied; the copy was removed "
                                  "and the log left as it was (free some space, or delete old server.log.N "
                                  "files)", str(path)) from exc
        raise
    finally:
        os.close(dst)
    return InPlaceRotation(True, target, end - len(partial), end - copied, reason="size limit")


def _fresh_zone_header(fd: int) -> str | None:
    head = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    if not ZONE_HEADER.search(head):
        return None
    # The signed error channel's mark goes along: the same server keeps writing signed lines.
    mark = open_header_mark() if log_is_signed(head.encode()) else ""
    return format_zone_header(datetime.now(zone_of_head(head))) + mark


def _unfinished_line(fd: int, size: int, limit: int = 1024 * 1024) -> bytes:
    """The bytes after the file's last newline (b"" when it ends with one, or none in `limit`)."""
    lo = max(size - limit, 0)
    data = os.pread(fd, size - lo, lo)
    cut = data.rfind(b"\n")
    if cut < 0 and lo > 0:
        return b""  # a line longer than the limit: leave it where it is
    return data[cut + 1 :]


def _append(fd: int, text: str | None, raw: bool = False) -> None:
    """Append a line (newline added unless `raw`) through `fd`, at its end."""
    if text:
        data = text.encode("utf-8", "surrogateescape")
        data = data if raw or text.endswith("\n") else data + b"\n"
        os.pwrite(fd, data, os.fstat(fd).st_size)
