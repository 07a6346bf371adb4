"""Opening the files this tool keeps beside the forum without trusting anyone else's.

- Never follow a symbolic link where we write or read (O_NOFOLLOW; `logs/` is checked with lstat),
  so a link planted by another user cannot make us overwrite, chmod or show a file of theirs choosing.
- Never block on open (O_NONBLOCK: a FIFO at the log's path would hang every call), and use only
  regular files.
- A file we cannot use is an `UnsafeFile` naming the file, what is wrong and the fix (chown, rm),
  never a traceback. It is an OSError, so callers that already answer "cannot read/write X" keep doing so.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pwd
import stat
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["UnsafeFile", "describe_owner", "ensure_private_dir", "open_regular", "check_regular_or_absent",
           "read_own_small", "read_own_bounded"]


class UnsafeFile(OSError):
    """A file (or directory) we will not use: `path`, `problem` and how to `fix` it."""

    def __init__(self, path: os.PathLike[str] | str, problem: str, fix: str) -> None:
        super().__init__(errno.EPERM, f"{problem}. {fix}", str(path))
        self.path = Path(path)
        self.problem = problem
        self.fix = fix

    @property
    def message(self) -> str:
        return f"{self.path} {self.problem}."

    def __str__(self) -> str:
        return f"{self.message} {self.fix}"


def describe_owner(uid: int) -> str:
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return "you" if uid == os.geteuid() else f"user {name}"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "an unknown kind of file"


def _remove_fix(path: Path) -> str:
    return f"Remove it (`rm -r {path}`) if nothing else needs it, then try again"


def _denied(path: Path) -> UnsafeFile:
    """EACCES/EPERM on open: a leftover of another user (often root), or a directory we may not write."""
    try:
        info = os.lstat(path)
    except OSError:
        info = None
    if info is None:
        parent = path.parent
        try:
            owner = describe_owner(os.stat(parent).st_uid)
        except OSError:
            owner = "someone else"
        return UnsafeFile(path, f"cannot be created: you may not write to {parent} (it belongs to {owner})",
                          f"Run as the owner of {parent}, or give yourself write access (`chown` it to you)")
    owner = describe_owner(info.st_uid)
    mode = stat.filemode(info.st_mode)
    return UnsafeFile(path, f"cannot be opened: it belongs to {owner} ({mode}), probably left by a run as "
                      "that user",
                      f"Remove it (`sudo rm {path}`) or give it to yourself (`sudo chown $(id -u) {path}`), "
                      "then try again")


def open_regular(path: os.PathLike[str] | str, flags: int, mode: int = 0o600, *, ours: bool = False,
                 follow: bool = False) -> int:
    """os.open without following a link or blocking, for regular files only. Returns a blocking fd.

    `ours`: also refuse a file owned by another user (what we write into or believe must be ours).
    Raises FileNotFoundError when it is missing (and not being created), UnsafeFile otherwise.
    """
    path = Path(path)
    try:
        nofollow = 0 if follow else os.O_NOFOLLOW  # `follow`: only for /dev/fd/N, a file we hold open
        fd = os.open(path, flags | nofollow | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile(path, "is a symbolic link, and this tool does not follow links where it reads "
                             "or writes its own files", _remove_fix(path)) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise _denied(path) from None
        if exc.errno in (errno.EISDIR, errno.ENXIO, errno.ENODEV, errno.ETXTBSY):
            try:
                kind = _kind(os.lstat(path).st_mode)
            except OSError:
                kind = "an unknown kind of file"
            raise UnsafeFile(path, f"is {kind}, not a regular file", _remove_fix(path)) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(path, f"is {_kind(info.st_mode)}, not a regular file", _remove_fix(path))
        if ours and info.st_uid != os.geteuid():
            raise UnsafeFile(path, f"belongs to {describe_owner(info.st_uid)}, not to you, so it is not used",
                             f"Remove it (`sudo rm {path}`) if you did not put it there, then try again")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_regular_or_absent(path: os.PathLike[str] | str) -> bool:
    """True if `path` is a regular file, False if it does not exist; UnsafeFile for anything else
    (a directory or FIFO where a rotated log belongs). Links are not followed (rename replaces them)."""
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
        return True
    raise UnsafeFile(path, f"is {_kind(info.st_mode)}, where this tool keeps a log file", _remove_fix(path))


def ensure_private_dir(path: os.PathLike[str] | str, mode: int = 0o777) -> None:
    """Create `path` if missing (the umask restricts `mode`); refuse a link, a non-directory or a
    directory of another user."""
    path = Path(path)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        pass
    except PermissionError:
        raise _denied(path) from None
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeFile(path, "is a symbolic link, and this tool does not follow links where it writes",
                         f"Remove the link (`rm {path}`); the directory is created again on the next start")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeFile(path, f"is {_kind(info.st_mode)}, not a directory", _remove_fix(path))
    if info.st_uid != os.geteuid():
        raise UnsafeFile(path, f"belongs to {describe_owner(info.st_uid)}, not to you",
                         f"Give it to yourself (`sudo chown -R $(id -u) {path}`) or remove it, then try again")


def read_own_small(path: os.PathLike[str] | str, limit: int, *, dir_fd: int | None = None) -> bytes | None:
    """The bytes of a small regular file of ours (a record we wrote), or None: missing, a link, not a
    regular file, another user's, larger than `limit`, or unreadable. Never follows a link, never blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_size > limit:
            return None
        data = os.read(fd, limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) <= limit else None


def read_own_json(path: os.PathLike[str] | str, limit: int, *, dir_fd: int | None = None) -> Any:
    """A small JSON file of ours (as `read_own_small` reads it), parsed; None when it is not there, not
    ours, or not JSON. The caller checks the shape it expects."""
    data = read_own_small(path, limit, dir_fd=dir_fd)
    if data is None:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def write_own_json(path: Path, values: Any) -> None:
    """A small JSON file of ours, mode 0600, written beside and renamed over: a link planted at `path` is
    replaced, never followed (read_own_json is its reader)."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(values, handle, indent=2)
            handle.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_own_bounded(path: os.PathLike[str] | str, limit: int) -> bytes:
    """The bytes of a regular file of ours of at most `limit` bytes, read without following a link or
    blocking. FileNotFoundError when missing; UnsafeFile (naming the problem and the fix) otherwise."""
    path = Path(path)
    fd = open_regular(path, os.O_RDONLY, ours=True)
    with os.fdopen(fd, "rb") as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise UnsafeFile(path, f"is larger than {_size(limit)}, more than this tool ever writes there",
                             _remove_fix(path))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(path, f"is larger than {_size(limit)}, more than this tool ever writes there",
                         _remove_fix(path))
    return data


def _size(limit: int) -> str:
    return f"{limit / 2**20:.0f} MiB" if limit >= 2**20 else f"{limit / 1024:.0f} KiB"
