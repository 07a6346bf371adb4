"""The state file `.mybb-server.json`: atomic writes, tolerant reads, one lock.

The state records PHP's own PID and what proves the process is still the one we
started (start time, command line). Writers hold `lock()`, an flock on a
sibling lock file, so threads and separate processes serialise start, stop and
restart on the same forum.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..safe_files import UnsafeFile, open_regular

STATE_VERSION = 1
REQUIRED_FIELDS = ("pid", "create_time", "cmdline", "port", "host")
MAX_STATE_BYTES = 1024 * 1024  # ours is a few hundred bytes
PID_MAX = 2**22  # Linux's PID_MAX_LIMIT; larger numbers are never PIDs


def _field_problem(name: str, value: Any) -> str | None:
    """Why a (present) field cannot be what the service will use it as, or None."""
    if isinstance(value, bool):
        return "is a boolean"
    if name in ("pid", "session"):
        return None if isinstance(value, int) and 1 <= value <= PID_MAX else "is not a process ID"
    if name == "create_time":
        return None if isinstance(value, (int, float)) and math.isfinite(value) and value > 0 else "is not a time"
    if name == "cmdline":
        ok = isinstance(value, list) and value and all(isinstance(part, str) for part in value)
        return None if ok else "is not a command line"
    if name == "port":
        return None if isinstance(value, int) and 1 <= value <= 65535 else "is not a port"
    if name == "workers":
        return None if isinstance(value, int) and 1 <= value <= 1024 else "is not a number of workers"
    if name == "host":
        return None if isinstance(value, str) and value.strip() else "is not a host"
    if name in ("started_at", "log_file", "mybb_root"):
        return None if isinstance(value, str) and value else "is not a string"
    return None


OPTIONAL_FIELDS = ("workers", "started_at", "log_file", "mybb_root", "session")


class LockTimeout(Exception):
    """Another process held the lock for longer than we were willing to wait."""


@dataclass(frozen=True)
class StateRead:
    """What reading the state file found: a usable state, nothing, or a problem (with the reason)."""

    state: dict[str, Any] | None
    problem: str | None = None


def problem_with(state: object) -> str | None:
    """Why a parsed state is unusable, or None when it is fine."""
    if not isinstance(state, dict):
        return "it is not a JSON object"
    version = state.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return "it has no version number"
    if version > STATE_VERSION:
        return f"it was written by a newer mybb-mcp (state version {version}, this one reads {STATE_VERSION})"
    for name in REQUIRED_FIELDS:
        if name not in state:
            return f"its field {name!r} is missing"
        problem = _field_problem(name, state[name])
        if problem:
            return f"its field {name!r} {problem} ({_shown(state[name])})"
    for name in OPTIONAL_FIELDS:
        if state.get(name) is not None:
            problem = _field_problem(name, state[name])
            if problem:
                return f"its field {name!r} {problem} ({_shown(state[name])})"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class StateFile:
    def __init__(self, path: Path, lock_path: Path) -> None:
        self.path = path
        self.lock_path = lock_path

    def read(self) -> StateRead:
        """The state, believed only from a regular file of ours that only we may read and write:
        anyone else's file could name any process for stop to signal."""
        try:
            fd = open_regular(self.path, os.O_RDONLY, ours=True)
        except FileNotFoundError:
            return StateRead(None)
        except UnsafeFile as exc:
            return StateRead(None, f"it {exc.problem}")
        except OSError as exc:
            return StateRead(None, f"it cannot be read ({exc.strerror})")
        with os.fdopen(fd, "rb") as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            if mode & 0o077:
                return StateRead(None, f"its mode is {mode:04o}, not 0600 as this tool writes it")
            raw = handle.read(MAX_STATE_BYTES + 1)
        if len(raw) > MAX_STATE_BYTES:
            return StateRead(None, f"it is larger than {MAX_STATE_BYTES // 1024} KiB")
        if not raw.strip():
            return StateRead(None, "it is empty")
        try:
            state = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return StateRead(None, f"it is not valid JSON ({exc})")
        except RecursionError:
            return StateRead(None, "it is not valid JSON (nested too deeply to read)")
        problem = problem_with(state)
        return StateRead(None, problem) if problem else StateRead(state)

    def write(self, state: dict[str, Any]) -> None:
        """Atomically replace the state: unique temp file in the same directory, fsync, rename."""
        data = json.dumps({"version": STATE_VERSION, **state}, indent=2).encode()
        temp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def set_aside(self) -> Path | None:
        """Move an unusable state file out of the way, keeping it for inspection."""
        target = self.path.with_name(f"{self.path.name}.bad")
        try:
            os.replace(self.path, target)
        except FileNotFoundError:
            return None
        return target

    @contextlib.contextmanager
    def lock(self, timeout: float = 30.0) -> Iterator[None]:
        """Exclusive across threads and processes (flock is per open file description).

        Re-entrant within one thread: a nested `lock()` on the same lock file (from any StateFile
        object) does not wait for itself, which would only end in a LockTimeout.
        """
        key = os.path.abspath(self.lock_path)
        held = _held_locks()
        if key in held:
            yield
            return
        fd = open_regular(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)  # UnsafeFile: a link, FIFO, not ours
        try:
            deadline = time.monotonic() + timeout
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(str(self.lock_path)) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.01)
            held.add(key)
            try:
                yield
            finally:
                held.discard(key)
        finally:
            os.close(fd)  # closing releases the flock


_local = threading.local()


def _held_locks() -> set[str]:
    """Lock files this thread holds."""
    held = getattr(_local, "held", None)
    if held is None:
        held = _local.held = set()
    return held
