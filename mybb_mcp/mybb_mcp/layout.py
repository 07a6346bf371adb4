"""Where each forum's state, lock and log live: one set of files per forum, keyed by its resolved root.

The plan's layout puts them beside the forum, in its parent folder: `.mybb-server.json`,
`.mybb-server.lock`, `logs/server.log`. That stays the layout of the first forum used in a folder.
Any other forum in the same folder gets names of its own, derived from its resolved root:

    .mybb-server.<name>-<hash>.json   .mybb-server.<name>-<hash>.lock   logs/<name>-<hash>/server.log
    .mybb-server-errorlog.<name>-<hash>.json (while MyBB's error logging is switched on)

`<name>` is the root's folder name (made filename-safe), `<hash>` the first 8 hex digits of the
SHA-256 of the resolved root path, so two spellings of one forum (a symlink and its target) are
one forum, and two forums never share a file.

Which forum owns the plain names is recorded in `.mybb-server.forum` (written once, atomically,
by the first start in the folder; never trusted unless it is a regular file of ours). A folder
used by an older version has no such record: its `.mybb-server.json`, if any, names the owner.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from .safe_files import read_own_json

CLAIM_NAME = ".mybb-server.forum"
PLAIN_STATE_NAME = ".mybb-server.json"
PLAIN_LOCK_NAME = ".mybb-server.lock"
LOG_DIR_NAME = "logs"
LOG_NAME = "server.log"
_MAX_RECORD_BYTES = 64 * 1024  # a claim or legacy state is a few hundred bytes; never read more
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ForumFiles:
    """The files of one forum. `plain`: the plan's names (the folder's first forum)."""

    root: Path
    key: str
    plain: bool
    state_file: Path
    lock_file: Path
    log_dir: Path
    log_file: Path

    @property
    def folder(self) -> Path:
        return self.root.parent

    @property
    def errorlog_memory(self) -> Path:
        """Where `errorlog on` remembers the MyBB settings it replaced, for `off` to restore."""
        name = ".mybb-server-errorlog.json" if self.plain else f".mybb-server-errorlog.{self.key}.json"
        return self.folder / name


def resolve_root(root: Path) -> Path:
    """The forum's one spelling: absolute, symlinks and '..' resolved."""
    return Path(os.path.realpath(root))


def forum_key(root: Path) -> str:
    """`<name>-<hash>` for a resolved root: readable, and unique per root."""
    digest = hashlib.sha256(os.fsencode(str(root))).hexdigest()[:8]
    name = _UNSAFE.sub("_", root.name).strip("._-")[:40] or "forum"
    return f"{name}-{digest}"


def forum_files(mybb_root: Path) -> ForumFiles:
    """The forum's files as they are now (reads, never writes). An unclaimed folder gives the plain
    names: the forum would get them if it started first."""
    root = resolve_root(mybb_root)
    owner = _plain_owner(root.parent)
    return _files(root, plain=owner is None or owner == root)


def claim(mybb_root: Path) -> ForumFiles:
    """The forum's files for writing: records who owns the plain names if nobody does yet.

    The record is created by a hard link of a complete temporary file, so two forums starting at
    the same moment agree on one owner and nobody ever reads a half-written record.
    """
    root = resolve_root(mybb_root)
    folder = root.parent
    if not os.path.lexists(folder / CLAIM_NAME):
        # The first forum to write claims the folder, unless an older version's state names another.
        _create_claim(folder, _legacy_owner(folder) or root)
    owner = _plain_owner(folder)
    return _files(root, plain=owner is None or owner == root)


def _files(root: Path, plain: bool) -> ForumFiles:
    folder = root.parent
    if plain:
        return ForumFiles(root, forum_key(root), True, folder / PLAIN_STATE_NAME, folder / PLAIN_LOCK_NAME,
                          folder / LOG_DIR_NAME, folder / LOG_DIR_NAME / LOG_NAME)
    key = forum_key(root)
    log_dir = folder / LOG_DIR_NAME / key
    return ForumFiles(root, key, False, folder / f".mybb-server.{key}.json", folder / f".mybb-server.{key}.lock",
                      log_dir, log_dir / LOG_NAME)


def _plain_owner(folder: Path) -> Path | None:
    """Who owns the plain names: the claim record, else an older version's state file; None if nobody.
    A record we cannot trust (not ours, not a regular file, unreadable) owns them for nobody we know,
    so every forum keeps out of them."""
    claim_file = folder / CLAIM_NAME
    record = read_own_json(claim_file, _MAX_RECORD_BYTES)
    if record is not None:
        named = record.get("mybb_root") if isinstance(record, dict) else None
        return Path(named) if isinstance(named, str) and named else _NOBODY
    if os.path.lexists(claim_file):
        return _NOBODY
    return _legacy_owner(folder)


# Owner of plain names claimed by a record we do not believe: no real root is ever equal to it.
_NOBODY = Path("/\0untrusted")


def _legacy_owner(folder: Path) -> Path | None:
    """The root a state file of an older version (no claim record) names, if it is ours to believe."""
    state = read_own_json(folder / PLAIN_STATE_NAME, _MAX_RECORD_BYTES)
    named = state.get("mybb_root") if isinstance(state, dict) else None
    return resolve_root(Path(named)) if isinstance(named, str) and named else None


def _create_claim(folder: Path, owner: Path) -> None:
    data = json.dumps({"version": 1, "mybb_root": str(owner)}, indent=2).encode() + b"\n"
    temp = folder / f"{CLAIM_NAME}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError:
        return  # an unwritable folder: start reports that when it creates the log
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another forum claimed the folder first: it owns them
            os.link(temp, folder / CLAIM_NAME)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
