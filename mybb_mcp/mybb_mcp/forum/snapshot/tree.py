"""The files MyBB writes (inc/config.php, inc/settings.php, cache/, uploads/), read out of a forum
for a snapshot and written back by a restore.

Nothing in those folders is trusted (visitors upload there; on forums not made by `init` other users
may write there): files are opened relative to directory descriptors with O_NOFOLLOW and O_NONBLOCK,
written as a temporary file renamed over the old one, and symlinks are neither followed, captured
nor replaced. Walks are loops, not recursion, and stop past MAX_DEPTH folders; the bytes read are
capped (`max_bytes`); sparse files stay sparse both ways. A manifest is checked (`checked_manifest`)
before a restore touches anything: every path relative, below its folder, without `..` or a
symlinked folder on the way.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRITTEN_FILES = ("inc/config.php", "inc/settings.php")
WRITTEN_DIRS = ("cache", "uploads")
MAX_DEPTH = 64  # folders below cache/ or uploads/; MyBB itself nests three
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024  # MYBB_SNAPSHOT_MAX_MB's default: 1 GiB of forum files

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted in cache/ must not hang the read; regular files ignore it.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_CHUNK = 1024 * 1024
_ZEROS = bytes(_CHUNK)
# Modes restored: never writable by group or others, never set-id (a forum made by init is 0755/0644).
_DIR_MODE_MASK = 0o755
_FILE_MODE_MASK = 0o755


class TreeRefused(Exception):
    """The forum's files (or a snapshot's manifest) are not saved or restored: `message` says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Tree:
    """The forum's written files as found: path -> {size, mtime_ns, mode[, sha256]}, directories -> mode."""

    files: dict[str, dict[str, int | str]] = field(default_factory=dict)
    dirs: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    bytes_read: int = 0


@dataclass
class Sync:
    written: int = 0
    removed: int = 0
    skipped: list[str] = field(default_factory=list)


@contextlib.contextmanager
def closing_fd(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def _open_dir(parent: int, name: str) -> int | None:
    """A directory under `parent`, never through a symlink; None when absent."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        return None


def _open_rel(root_fd: int, rel: str) -> int | None:
    """The directory `rel` below the root, each part opened without following a link; None when absent."""
    fd = os.dup(root_fd)
    for part in rel.split("/"):
        try:
            child = _open_dir(fd, part)
        finally:
            os.close(fd)
        if child is None:
            return None
        fd = child
    return fd


def _kind(parent: int, name: str) -> str | None:
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"


def _too_deep(path: str) -> TreeRefused:
    return TreeRefused(f"{path} is nested more than {MAX_DEPTH} folders deep, deeper than any MyBB forum needs; "
                       "nothing was saved or restored. Remove that folder chain (`rm -r`) and try again.")


# ----------------------------------------------------------------------------------------- copying


def copy_sparse(source: int, target: int | None, size: int) -> str:
    """Copy `size` bytes from `source` to `target` (None: only hash), data segments only: a hole stays
    a hole and hashes as the zeros it reads as. Returns the sha256."""
    digest = hashlib.sha256()
    offset = 0
    while offset < size:
        data, hole = _next_segment(source, offset, size)
        while offset < data:  # a hole: nothing written, zeros hashed
            step = min(_CHUNK, data - offset)
            digest.update(_ZEROS[:step])
            offset += step
        while offset < hole:
            chunk = os.pread(source, min(_CHUNK, hole - offset), offset)
            if not chunk:  # shorter than when it was measured: copied as it is now
                hole = size = offset
                break
            digest.update(chunk)
            if target is not None:
                os.pwrite(target, chunk, offset)
            offset += len(chunk)
    if target is not None:
        os.ftruncate(target, size)  # the trailing hole, if any
    return digest.hexdigest()


def _next_segment(fd: int, offset: int, size: int) -> tuple[int, int]:
    """(start, end) of the next data at or after `offset`; the whole rest when holes cannot be found."""
    try:
        data = min(os.lseek(fd, offset, os.SEEK_DATA), size)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # only a hole is left
            return size, size
        return offset, size  # no SEEK_DATA here: all data
    try:
        hole = min(os.lseek(fd, data, os.SEEK_HOLE), size)
    except OSError:
        hole = size
    return data, max(hole, data)


# ----------------------------------------------------------------------------------------- reading


class _Reader:
    def __init__(self, tree: Tree, copy_to: Path | None, known: Mapping[str, Any], max_bytes: int) -> None:
        self.tree, self.copy_to, self.known, self.max_bytes = tree, copy_to, known, max_bytes

    def file(self, parent: int, name: str, rel: str) -> None:
        tree = self.tree
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=parent)
        except OSError:  # a symlink (ELOOP), gone meanwhile, unreadable
            tree.skipped.append(rel)
            return
        with closing_fd(fd):
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                tree.skipped.append(rel)
                return
            # What the copy takes on disk: a sparse file's holes stay holes, so its allocated blocks count,
            # not its apparent size (one sparse file must not block every save).
            stored = min(info.st_size, info.st_blocks * 512)
            if tree.bytes_read + stored > self.max_bytes:
                raise TreeRefused(
                    f"The files MyBB writes (cache/, uploads/, inc/config.php, inc/settings.php) take more than "
                    f"{self.max_bytes // 2**20} MB on disk (reached at {rel}, {stored / 2**20:.0f} MB): nothing was "
                    "saved. Remove large uploads you do not need, or raise MYBB_SNAPSHOT_MAX_MB.")
            tree.bytes_read += stored
            entry: dict[str, int | str] = {"size": info.st_size, "mtime_ns": info.st_mtime_ns,
                                           "mode": stat.S_IMODE(info.st_mode)}
            then = self.known.get(rel)
            if self.copy_to is not None:
                out = os.open(self.copy_to / rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                              0o600)
                with closing_fd(out):
                    entry["sha256"] = copy_sparse(fd, out, info.st_size)
            elif then and then.get("size") == info.st_size and then.get("mtime_ns") == info.st_mtime_ns:
                entry["sha256"] = then.get("sha256", "")  # unchanged by size and time, as rsync judges
            else:
                entry["sha256"] = copy_sparse(fd, None, info.st_size)
            tree.files[rel] = entry

    def walk(self, root_fd: int, top: str) -> None:
        """Every folder below `top`, in order, by a loop (a deep chain cannot exhaust the stack)."""
        stack = [top]
        while stack:
            rel = stack.pop()
            fd = _open_rel(root_fd, rel)
            if fd is None:
                continue
            with closing_fd(fd):
                self.tree.dirs[rel] = stat.S_IMODE(os.fstat(fd).st_mode)
                if self.copy_to is not None:
                    (self.copy_to / rel).mkdir()
                with os.scandir(fd) as entries:
                    names = sorted(entry.name for entry in entries)
                folders = []
                for name in names:
                    path = f"{rel}/{name}"
                    kind = _kind(fd, name)
                    if kind == "dir":
                        if path.count("/") > MAX_DEPTH:
                            raise _too_deep(path)
                        folders.append(path)
                    elif kind == "file":
                        self.file(fd, name, path)
                    elif kind is not None:
                        self.tree.skipped.append(path)
                stack.extend(reversed(folders))


def read_tree(root: Path, copy_to: Path | None = None, known: Mapping[str, Any] | None = None,
              max_bytes: int = DEFAULT_MAX_BYTES) -> Tree:
    """The files MyBB writes under `root`, copied into `copy_to` when given (with their sha256).
    TreeRefused past MAX_DEPTH folders or `max_bytes`."""
    tree = Tree()
    reader = _Reader(tree, copy_to, known or {}, max_bytes)
    with closing_fd(os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)) as root_fd:
        inc = _open_dir(root_fd, "inc")
        if inc is not None:
            if copy_to is not None:
                (copy_to / "inc").mkdir(parents=True)
            with closing_fd(inc):
                for rel in WRITTEN_FILES:
                    if _kind(inc, rel.split("/")[1]) is not None:
                        reader.file(inc, rel.split("/")[1], rel)
        for top in WRITTEN_DIRS:
            kind = _kind(root_fd, top)
            if kind == "dir":
                reader.walk(root_fd, top)
            elif kind is not None:
                tree.skipped.append(top)
    return tree


# ----------------------------------------------------------------------------------------- the manifest


def _bad(key: object, why: str) -> TreeRefused:
    shown = repr(key)[:120]
    return TreeRefused(f"The snapshot's manifest (snapshot.json) names {shown}, {why}: it was changed after the "
                       "snapshot was saved, and nothing was restored. Delete this snapshot.")


def _check_path(key: object, tops: tuple[str, ...], files: tuple[str, ...] = ()) -> str:
    if not isinstance(key, str) or not key:
        raise _bad(key, "which is not a path")
    parts = key.split("/")
    if key in files:
        return key
    if any(part in ("", ".", "..") for part in parts) or "\0" in key or "\\" in key:
        raise _bad(key, "which is not a plain relative path (empty, '.' or '..' parts, or an absolute path)")
    if parts[0] not in tops:
        raise _bad(key, f"which is not below {', '.join(t + '/' for t in tops)} (the folders MyBB writes)")
    if len(parts) > MAX_DEPTH + 2:
        raise _bad(key, f"which is nested more than {MAX_DEPTH} folders deep")
    return key


def _int(value: object, key: str, what: str) -> int:
    if type(value) is not int or value < 0:
        raise _bad(key, f"with a {what} that is not a whole number")
    return value


def checked_manifest(root: Path, files: object, dirs: object) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """The manifest's files and folders, each checked and with modes no other user may write through;
    TreeRefused before anything is touched when one is not a plain path below a folder MyBB writes,
    or when a folder on its way in the forum is a symbolic link."""
    if not isinstance(files, dict) or not isinstance(dirs, dict):
        raise _bad("files/dirs", "which are not tables of paths")
    checked_dirs = {_check_path(k, WRITTEN_DIRS): _int(m, k, "mode") & _DIR_MODE_MASK for k, m in dirs.items()}
    checked_files: dict[str, dict[str, Any]] = {}
    for key, meta in files.items():
        _check_path(key, WRITTEN_DIRS, WRITTEN_FILES)
        if not isinstance(meta, dict):
            raise _bad(key, "without its size, time and mode")
        checked_files[key] = {**meta, "size": _int(meta.get("size"), key, "size"),
                              "mtime_ns": _int(meta.get("mtime_ns"), key, "time"),
                              "mode": _int(meta.get("mode"), key, "mode") & _FILE_MODE_MASK}
    folders = {key.rsplit("/", 1)[0] for key in checked_files if "/" in key} | set(checked_dirs)
    for folder in sorted(folders):
        _no_link_on_the_way(root, folder)
    return checked_files, checked_dirs


def _no_link_on_the_way(root: Path, folder: str) -> None:
    path = root
    for part in folder.split("/"):
        path = path / part
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            raise TreeRefused(f"{path} in the forum is a symbolic link: a restore never writes through one, and "
                              f"nothing was restored. Remove the link (`rm {path}`) and restore again.")


# ----------------------------------------------------------------------------------------- writing back


def _put_file(parent: int, name: str, source: Path, meta: Mapping[str, Any], sync: Sync) -> None:
    """Replace `name` in `parent` with `source`: a temporary file renamed over it (never written through)."""
    mode = int(meta.get("mode", 0o644)) & _FILE_MODE_MASK
    tmp = f".{name}.{secrets.token_hex(6)}.snapshot-tmp"  # unguessable: nothing can be planted there first
    with closing_fd(os.open(source, _READ_FLAGS)) as src:
        info = os.fstat(src)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise TreeRefused(f"{source} in the snapshot is not a regular file of yours: nothing more was restored. "
                              "Delete this snapshot.")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=parent)
        try:
            with closing_fd(fd):
                copy_sparse(src, fd, info.st_size)
                os.fchmod(fd, mode)
                mtime = int(meta.get("mtime_ns", time.time_ns()))
                os.utime(fd, ns=(mtime, mtime))
            os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=parent)
            raise
    sync.written += 1


def _same(parent: int, name: str, meta: Mapping[str, Any]) -> bool:
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return (stat.S_ISREG(info.st_mode) and info.st_size == meta.get("size")
            and info.st_mtime_ns == meta.get("mtime_ns") and stat.S_IMODE(info.st_mode) == meta.get("mode"))


def _remove(parent: int, name: str, rel: str, sync: Sync) -> None:
    kind = _kind(parent, name)
    if kind == "file":
        os.unlink(name, dir_fd=parent)
        sync.removed += 1
    elif kind == "dir":
        _remove_tree(parent, name)
        sync.removed += 1
    elif kind is not None:
        sync.skipped.append(rel)


def _remove_tree(parent: int, name: str) -> None:
    """The folder `name` in `parent` and all it holds, by descriptors: never leaves the tree through a link
    (a link is removed, not followed). shutil.rmtree takes dir_fd only from Python 3.11."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    _remove_tree(fd, entry.name)
                else:
                    os.unlink(entry.name, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent)


def _children(paths: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """parent folder -> {name: value} for every path below a folder."""
    found: dict[str, dict[str, Any]] = {}
    for path, value in paths.items():
        if "/" in path:
            parent, name = path.rsplit("/", 1)
            found.setdefault(parent, {})[name] = value
    return found


def _sync_dir(fd: int, rel: str, files: Mapping[str, dict[str, Any]], dirs: Mapping[str, dict[str, int]],
              source: Path, sync: Sync) -> list[str]:
    """Make the folder open at `fd` (forum path `rel`) hold what the snapshot holds there; its sub-folders
    to do next are returned (a loop walks them, not recursion)."""
    prefix = rel + "/"
    child_files, child_dirs = files.get(rel, {}), dirs.get(rel, {})
    with os.scandir(fd) as entries:
        present = sorted(entry.name for entry in entries)
    for name in present:
        if name not in child_files and name not in child_dirs:
            _remove(fd, name, prefix + name, sync)
    for name, meta in sorted(child_files.items()):
        kind = _kind(fd, name)
        if kind in ("link", "other"):
            sync.skipped.append(prefix + name)
            continue
        if kind == "dir":
            _remove(fd, name, prefix + name, sync)
        elif kind == "file" and _same(fd, name, meta):
            continue
        _put_file(fd, name, source / (prefix + name), meta, sync)
    todo = []
    for name, mode in sorted(child_dirs.items()):
        kind = _kind(fd, name)
        if kind in ("link", "other"):
            sync.skipped.append(prefix + name)
            continue
        if kind == "file":
            _remove(fd, name, prefix + name, sync)
        if kind != "dir":
            os.mkdir(name, mode, dir_fd=fd)
        todo.append(prefix + name)
    return todo


def write_tree(root: Path, source: Path, files: Mapping[str, Any], dirs: Mapping[str, int]) -> Sync:
    """Put the snapshot's files (copies under `source`) back into the forum at `root`. The manifest
    (`files`, `dirs`) must come from `checked_manifest`."""
    sync = Sync()
    by_folder, folders_in = _children(files), _children(dirs)
    with closing_fd(os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)) as root_fd:
        inc = _open_dir(root_fd, "inc")
        if inc is not None:
            with closing_fd(inc):
                for rel in WRITTEN_FILES:
                    name = rel.split("/")[1]
                    if rel not in files:
                        continue
                    kind = _kind(inc, name)
                    if kind in ("link", "dir", "other"):
                        sync.skipped.append(rel)
                    elif not (kind == "file" and _same(inc, name, files[rel])):
                        _put_file(inc, name, source / rel, files[rel], sync)
        for top in WRITTEN_DIRS:
            if top not in dirs:
                continue
            kind = _kind(root_fd, top)
            if kind in ("link", "file", "other"):
                sync.skipped.append(top)
                continue
            if kind is None:
                os.mkdir(top, dirs[top], dir_fd=root_fd)
            stack = [top]
            while stack:
                rel = stack.pop()
                fd = _open_rel(root_fd, rel)
                if fd is None:
                    continue
                with closing_fd(fd):
                    if stat.S_IMODE(os.fstat(fd).st_mode) != dirs[rel]:
                        os.fchmod(fd, dirs[rel])
                    stack.extend(reversed(_sync_dir(fd, rel, by_folder, folders_in, source, sync)))
    return sync
