"""The servers this user runs through the tool, whatever forum and folder: one small file per forum.

`$XDG_STATE_HOME/mybb-mcp/servers/<forum key>.json` (default `~/.local/state/mybb-mcp/servers/`):
a copy of the forum's state plus where the forum is. Start writes it, stop removes it; nothing
else depends on it. It answers `mybb-server list` and names the forum of ours that holds a port.

An entry is a claim, not proof: it is believed only when it is a regular file of this user in a
directory of this user's (no symlink followed), and shown only when the process it names is alive
and is still the one we started (PID, start time, command line). Stale entries are ignored, and
replaced or removed by that forum's next start.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from ..layout import ForumFiles
from ..logs.parser import READY_PROBE_PATH
from ..safe_files import read_own_json
from . import process
from .process import ProcessIdentity

REGISTRY_VERSION = 1
_MAX_ENTRY_BYTES = 256 * 1024
_MAX_ENTRIES = 1000  # a directory stuffed with files must not make `list` slow


@dataclass(frozen=True)
class Entry:
    """One forum's server as recorded at its start."""

    key: str
    mybb_root: Path
    state_file: Path
    identity: ProcessIdentity
    host: str
    port: int
    workers: int
    started_at: str | None
    log_file: Path | None
    probe: str


@dataclass(frozen=True)
class Live:
    """An entry whose server is verified to run: its members (leader first when alive)."""

    entry: Entry
    members: list[psutil.Process]
    leader_alive: bool


def registry_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "mybb-mcp" / "servers"


@contextlib.contextmanager
def _directory(create: bool) -> Iterator[int | None]:
    """The registry directory, opened without following a symlink; None when absent or not ours."""
    path = registry_dir()
    if create:
        with contextlib.suppress(OSError):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        yield None
        return
    try:
        info = os.fstat(fd)
        # Ours, and nobody else may add or swap entries in it.
        trusted = info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        yield fd if trusted else None
    finally:
        os.close(fd)


def record(files: ForumFiles, state: Mapping[str, Any], probe: str) -> None:
    """Note a freshly started server. Best effort: a registry that cannot be written costs `list` one
    line, never the start."""
    entry = {"version": REGISTRY_VERSION, **state, "key": files.key, "mybb_root": str(files.root),
             "state_file": str(files.state_file), "probe": probe}
    data = json.dumps(entry, indent=2).encode()
    with _directory(create=True) as fd:
        if fd is None:
            return
        temp = f".{files.key}.{os.getpid()}.{time.monotonic_ns()}.tmp"
        try:
            out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                          dir_fd=fd)
            with os.fdopen(out, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(temp, f"{files.key}.json", src_dir_fd=fd, dst_dir_fd=fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=fd)


def forget(files: ForumFiles, pid: int | None = None) -> None:
    """Remove the forum's entry (only if it names `pid`, when given: never a newer server's)."""
    with _directory(create=False) as fd:
        if fd is None:
            return
        name = f"{files.key}.json"
        if pid is not None:
            entry = _read(fd, name)
            if entry is not None and entry.identity.pid != pid:
                return
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=fd)


def entries() -> list[Entry]:
    """Every entry we can believe (not yet checked against the processes)."""
    with _directory(create=False) as fd:
        if fd is None:
            return []
        try:
            names = sorted(name for name in os.listdir(fd) if name.endswith(".json") and not name.startswith("."))
        except OSError:
            return []
        found = [_read(fd, name) for name in names[:_MAX_ENTRIES]]
    return [entry for entry in found if entry is not None]


def running(exclude_key: str | None = None) -> list[Live]:
    """The recorded servers that are verified to run (the leader, or workers it left behind)."""
    result = []
    for entry in entries():
        if entry.key == exclude_key:
            continue
        members = process.group_members(entry.identity)
        if members:
            result.append(Live(entry, members, any(m.pid == entry.identity.pid for m in members)))
    return result


def holding(pid: int, exclude_key: str | None = None) -> Live | None:
    """The server of ours (another forum's) that process `pid` belongs to, if any."""
    for live in running(exclude_key):
        if any(member.pid == pid for member in live.members):
            return live
    return None


def _read(fd: int, name: str) -> Entry | None:
    data = read_own_json(name, _MAX_ENTRY_BYTES, dir_fd=fd)
    try:
        if not isinstance(data, dict) or data.get("version") != REGISTRY_VERSION:
            return None
        workers = data.get("workers", 1)
        return Entry(
            key=str(data["key"]),
            mybb_root=Path(str(data["mybb_root"])),
            state_file=Path(str(data["state_file"])),
            identity=ProcessIdentity.from_state(data),
            host=_text(data["host"]),
            port=_port(data["port"]),
            workers=workers if isinstance(workers, int) and not isinstance(workers, bool) else 1,
            started_at=data.get("started_at") if isinstance(data.get("started_at"), str) else None,
            log_file=Path(data["log_file"]) if isinstance(data.get("log_file"), str) else None,
            probe=_text(data.get("probe") or READY_PROBE_PATH),
        )
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("not a string")
    return value


def _port(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise ValueError("not a port")
    return value
