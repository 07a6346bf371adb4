"""One Chromium per forum kept warm inside the long-lived MCP server, so a browser check does not pay for
Chromium's start (about two thirds of a cold check).

- Only the MCP server keeps one (the service is asked with `warm=True`); the CLI runs one process per call
  and starts Chromium for each.
- Reused only by this process: the DevTools protocol runs over a pipe (workbench/chromium.py), never a
  debugging port another local user could reach. Chromium also exits by itself when that pipe closes, so
  even a killed MCP server leaves no browser behind.
- Each call gets a fresh browser context (workbench/browser.py), disposed after it: no cookie, storage or
  cache of one call or role is seen by the next.
- Closed when the forum's server is stopped through the tool (stop, restart, init --force), when the
  MCP server exits, when the php -S it was started for is gone, and after MYBB_CHROMIUM_IDLE seconds
  (default 300) without a call. A call that finds it busy (another call on the same forum) starts a cold one.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil

from .chromium import BrowserProblem, Chromium

IDLE_ENV = "MYBB_CHROMIUM_IDLE"
IDLE_SECONDS = 300.0
WATCH_EVERY = 1.0  # how often the watcher looks at idle browsers and their servers
BUSY_WAIT = 2.0  # a call waits this long for the warm browser (its next tab being made), then starts its own


def idle_seconds() -> float:
    """MYBB_CHROMIUM_IDLE (seconds, 0 or more), else 300; a value that is not a number is ignored."""
    raw = os.environ.get(IDLE_ENV, "").strip()
    try:
        value = float(raw) if raw else IDLE_SECONDS
    except ValueError:
        return IDLE_SECONDS
    return value if value >= 0 else IDLE_SECONDS


@dataclass(frozen=True)
class ServerKey:
    """The php -S a warm browser serves: the forum, its address and the process (PID and start time)."""

    forum: str
    address: str
    pid: int
    started: float


@dataclass
class _Warm:
    browser: Chromium
    server: ServerKey
    executable: str
    busy: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)
    spare: Any = None  # the next call's tab, made in advance (workbench/browser.py's next_tab)
    used: list[str] = field(default_factory=list)  # what the last call left to clean up (its context)


_pool: dict[str, _Warm] = {}
_pool_lock = threading.Lock()
_wake = threading.Event()
_watcher: threading.Thread | None = None


@contextlib.contextmanager
def browser_for(executable: str, address: str, server: ServerKey | None, prepare: Callable[[Chromium, list[str]], Any],
                ) -> Iterator[tuple[Chromium, bool, Any, list[str] | None]]:
    """A Chromium for one page check at `address`, whether it was warm, what `prepare` made for this call in
    advance (None: nothing), and the list where the call leaves what `prepare` cleans up (None: the browser
    is closed after the call). `server` None: a cold one. After a warm call, `prepare` runs in the
    background (holding the browser) for the next call."""
    entry = _take(executable, server) if server is not None else None
    if entry is None:
        with Chromium(executable, address) as browser:
            yield browser, False, None, None
        return
    warm = entry.browser.pid is not None and entry.browser.version != ""
    spare, entry.spare = entry.spare, None
    try:
        if not warm:  # started now, kept for the next calls
            entry.browser.__enter__()
        yield entry.browser, warm, spare, entry.used
    except BaseException:
        entry.browser.on_event = None
        _discard(entry)  # a browser in an unknown state is never reused
        entry.busy.release()
        raise
    entry.browser.on_event = None
    entry.last_used = time.monotonic()
    threading.Thread(target=_prepare, args=(entry, prepare), name="mybb-mcp-browser-spare", daemon=True).start()


def _prepare(entry: _Warm, prepare: Callable[[Chromium, list[str]], Any]) -> None:
    """The next call's tab, made while no call waits (the browser stays held meanwhile: a call that comes
    now waits for it, briefly)."""
    try:
        if entry.browser.pid is not None:
            entry.spare = prepare(entry.browser, entry.used)
            entry.browser.on_event = None
    except (BrowserProblem, OSError, ValueError, KeyError):
        _discard(entry)
    finally:
        entry.last_used = time.monotonic()
        entry.busy.release()


def _take(executable: str, server: ServerKey) -> _Warm | None:
    """The forum's warm entry, locked for this call (made when there is none); None when another call
    holds it."""
    with _pool_lock:
        entry = _pool.get(server.forum)
        if entry is not None and (entry.server != server or entry.executable != executable
                                  or entry.browser.version and not entry.browser.alive()):  # closed, or crashed
            _pool.pop(server.forum)
            _close_entry(entry)
            entry = None
        if entry is None:
            entry = _Warm(Chromium(executable, server.address), server, executable)
            _pool[server.forum] = entry
            _ensure_watcher()
    # Outside the pool's lock: the spare being made, or another call on this forum.
    return entry if entry.busy.acquire(timeout=BUSY_WAIT) else None


def _discard(entry: _Warm) -> None:
    with _pool_lock:
        if _pool.get(entry.server.forum) is entry:
            _pool.pop(entry.server.forum)
    entry.browser.close()


def _close_entry(entry: _Warm) -> None:
    """Closed now when no call holds it; else the holder's call ends first (bounded wait)."""
    took = entry.busy.acquire(timeout=30.0)
    try:
        entry.browser.close()
    finally:
        if took:
            entry.busy.release()


def close_forum(forum: str) -> None:
    """The forum's server is stopped through the tool: its warm browser goes too."""
    with _pool_lock:
        entry = _pool.pop(forum, None)
    if entry is not None:
        _close_entry(entry)


def close_all() -> None:
    """The MCP server exits: every warm browser goes."""
    with _pool_lock:
        entries = list(_pool.values())
        _pool.clear()
    for entry in entries:
        with contextlib.suppress(BrowserProblem, OSError):
            entry.browser.close()


def warm_pids() -> dict[str, int]:
    """The running warm browsers' PIDs per forum (for status and tests)."""
    with _pool_lock:
        return {forum: e.browser.pid for forum, e in _pool.items() if e.browser.pid is not None}


def _server_gone(server: ServerKey) -> bool:
    try:
        process = psutil.Process(server.pid)
        return abs(process.create_time() - server.started) > 1.0 or process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _ensure_watcher() -> None:
    global _watcher
    if _watcher is None or not _watcher.is_alive():
        _watcher = threading.Thread(target=_watch, name="mybb-mcp-browser-pool", daemon=True)
        _watcher.start()


def _watch() -> None:
    """Closes browsers idle too long or whose server is gone; ends when the pool is empty."""
    global _watcher
    while True:
        _wake.wait(WATCH_EVERY)
        _wake.clear()
        limit = idle_seconds()
        with _pool_lock:
            if not _pool:
                _watcher = None
                return
            candidates = list(_pool.items())
        for forum, entry in candidates:
            if not entry.busy.acquire(blocking=False):
                continue  # in use: not idle
            try:
                idle = time.monotonic() - entry.last_used > limit
                if idle or _server_gone(entry.server):
                    with _pool_lock:
                        if _pool.get(forum) is entry:
                            _pool.pop(forum)
                    entry.browser.close()
            finally:
                entry.busy.release()
