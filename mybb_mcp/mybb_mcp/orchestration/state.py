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
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_VERSION = 1
REQUIRED_FIELDS = {"pid": int, "create_time": (int, float), "cmdline": list, "port": int, "host": str}


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
    if not isinstance(version, int) or isinstance(version, bool):
        return "it has no version number"
    if version > STATE_VERSION:
        return f"it was written by a newer mybb-mcp (state version {version}, this one reads {STATE_VERSION})"
    for name, kind in REQUIRED_FIELDS.items():
        value = state.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"its field {name!r} is missing or malformed"
    return None


class StateFile:
    def __init__(self, path: Path, lock_path: Path) -> None:
        self.path = path
        self.lock_path = lock_path

    def read(self) -> StateRead:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return StateRead(None)
        except OSError as exc:
            return StateRead(None, f"it cannot be read ({exc.strerror})")
        if not raw.strip():
            return StateRead(None, "it is empty")
        try:
            state = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return StateRead(None, f"it is not valid JSON ({exc})")
        problem = problem_with(state)
        return StateRead(None, problem) if problem else StateRead(state)

    def write(self, state: dict[str, Any]) -> None:
        """Atomically replace the state: unique temp file in the same directory, fsync, rename."""
        data = json.dumps({"version": STATE_VERSION, **state}, indent=2).encode()
        temp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
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
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
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
