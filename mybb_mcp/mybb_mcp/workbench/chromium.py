"""Chromium for page checks: found, started with a private profile and the DevTools protocol on a pipe,
and gone afterwards (after the call, or, kept warm by the MCP server, when workbench/browser_pool.py
closes it; it also exits when the pipe closes).

- Found on PATH (`chromium`, Debian's package) or where MYBB_CHROMIUM says; never at a fixed path.
- The DevTools protocol runs over `--remote-debugging-pipe` (file descriptors 3 and 4, messages ended by
  NUL): no debugging port any other local user could connect to, and no websocket client to depend on.
- Started as the leader of its own session, with a new profile in a private temporary folder
  (0700, also its HOME, so the crash handler writes there and not into ~/.config). Network: every host
  but the forum's address goes to a proxy that is a loopback port we hold without listening, so whatever
  the page tries (images, fetch, WebSocket, preconnect, workers) fails before it leaves; the page's own
  requests to other hosts are also failed by name (workbench/browser.py) so the answer can list them.
- `close()` asks Chromium to quit, then ends every process still carrying the profile's path in its
  command line (the crash handler leaves Chromium's session), and removes the profile.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any, final

import psutil

ENV_NAME = "MYBB_CHROMIUM"
COMMAND = "chromium"
INSTALL_LINE = "apt-get install -y chromium"
# The flags Chromium needs here: headless as root in a container (no sandbox, no GPU), and none of its
# background traffic (component updates, sync, field trials) on a closed network.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--window-size=1280,900")
START_TIMEOUT = 15.0
CALL_TIMEOUT = 15.0
QUIT_WAIT = 3.0
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class BrowserProblem(Exception):
    """The browser could not be used: what happened and what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def find_chromium(environ: Mapping[str, str] | None = None) -> str:
    """The Chromium executable: MYBB_CHROMIUM (a path or a command), else `chromium` on PATH."""
    environ = os.environ if environ is None else environ
    named = environ.get(ENV_NAME, "").strip()
    if named:
        found = shutil.which(named)
        if found is None:
            raise BrowserProblem(f"{ENV_NAME} names {named[:200]!r}, which is not an executable file.",
                                 f"Point {ENV_NAME} at Chromium's executable, or unset it to use `{COMMAND}` on "
                                 f"PATH (Debian: `sudo {INSTALL_LINE}`). Nothing was requested.")
        return found
    found = shutil.which(COMMAND)
    if found is None:
        raise BrowserProblem(f"Chromium is not installed: no `{COMMAND}` on PATH and {ENV_NAME} is not set.",
                             f"Install Debian's package: `sudo {INSTALL_LINE}` (or set {ENV_NAME} to Chromium's "
                             "executable). Nothing was requested.")
    return found


PROFILE_PREFIX = "mybb-mcp-chromium-"
SHM = "/dev/shm"


def _profile_parent() -> str | None:
    """Memory-backed /dev/shm when there is one (Chromium writes a few hundred files at start: removing them
    from a disk took 100-300 ms, from tmpfs 1 ms), else the temporary folder."""
    return SHM if os.path.isdir(SHM) and os.access(SHM, os.W_OK | os.X_OK) else None


def _high_fd(fd: int) -> int:
    """The same pipe end at a number above the ones the child gets (3 and 4), so the two dup2 steps of the
    spawn can never overwrite each other."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


@final
class Chromium:
    """One headless Chromium, spoken to over the pipe. Use as a context manager."""

    def __init__(self, executable: str, forum_address: str, *, on_event: Callable[[dict[str, Any]], None] | None
                 = None) -> None:
        self.executable = executable
        self.forum_address = forum_address  # "127.0.0.1:8022" or "[::1]:8022": the only address let through
        self.on_event = on_event
        self.profile: str | None = None
        self.pid: int | None = None
        self.version = ""
        self._to: int | None = None
        self._from: int | None = None
        self._hole: socket.socket | None = None
        self._buffer = b""
        self._next_id = 0
        self._replies: dict[int, dict[str, Any]] = {}

    # -- start and stop
    def __enter__(self) -> Chromium:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        # 0700, ours: the profile, HOME, and TMPDIR (Chromium's singleton socket folder, which a killed
        # Chromium leaves behind, goes there, not into /tmp).
        self.profile = tempfile.mkdtemp(prefix=PROFILE_PREFIX, dir=_profile_parent())
        os.mkdir(os.path.join(self.profile, "tmp"), 0o700)
        self._hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._hole.bind(("127.0.0.1", 0))  # held, never listening: connections to it are refused
        hole = self._hole.getsockname()[1]
        child_in, self._to = os.pipe()
        self._from, child_out = os.pipe()
        child_in, child_out = _high_fd(child_in), _high_fd(child_out)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        env = {**os.environ, "HOME": self.profile, "XDG_CONFIG_HOME": os.path.join(self.profile, "config"),
               "XDG_CACHE_HOME": os.path.join(self.profile, "cache"), "TMPDIR": os.path.join(self.profile, "tmp")}
        argv = [self.executable, *FLAGS, f"--user-data-dir={self.profile}",
                f"--proxy-server=http://127.0.0.1:{hole}", f"--proxy-bypass-list=<-loopback>;{self.forum_address}",
                "--remote-debugging-pipe", "about:blank"]
        try:
            # posix_spawn, not Popen: the pipe ends must land on 3 and 4 without a preexec_fn (unsafe in the
            # MCP server's threads) or a shell.
            self.pid = os.posix_spawn(self.executable, argv, env, setsid=True, file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2),
                (os.POSIX_SPAWN_DUP2, child_in, 3), (os.POSIX_SPAWN_DUP2, child_out, 4)])
        except OSError as exc:
            raise BrowserProblem(f"Chromium ({self.executable}) could not be started: {exc.strerror or exc}.",
                                 f"Check the executable (`{COMMAND} --version`), or reinstall it: "
                                 f"`sudo {INSTALL_LINE}`.") from exc
        finally:
            for fd in (child_in, child_out, null):
                os.close(fd)
        version = self.call("Browser.getVersion", timeout=START_TIMEOUT)
        product = str(version.get("product", ""))  # "Chrome/156.0.8078.129" (HeadlessChrome's engine)
        self.version = "Chromium " + product.split("/", 1)[-1] if product else "Chromium"

    def close(self) -> None:
        """End every process of Chromium, remove the profile. Safe to call twice. No graceful quit: the
        profile is thrown away, and a kill takes milliseconds where Browser.close takes hundreds."""
        if self.pid is not None:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)  # its own session: the group is Chromium's alone
            self._wait_main(QUIT_WAIT)
            self._end_leftovers()
            self.pid = None
        for fd in (self._to, self._from):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to = self._from = None
        if self._hole is not None:
            self._hole.close()
            self._hole = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def _wait_main(self, seconds: float) -> None:
        assert self.pid is not None
        deadline = time.monotonic() + seconds
        while True:
            try:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return
            if done:
                return
            if time.monotonic() > deadline:
                with contextlib.suppress(OSError):
                    os.killpg(self.pid, signal.SIGKILL)  # its own session: the group is Chromium's alone
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, 0)
                return
            time.sleep(0.01)

    def leftovers(self) -> list[psutil.Process]:
        """Our processes still running (zombies aside) that carry this profile in their command line."""
        if self.profile is None:
            return []
        mark, uid, found = self.profile, os.getuid(), []
        for process in psutil.process_iter(["uids", "cmdline", "status"]):
            info = process.info
            if info["uids"] is None or info["uids"].real != uid or info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(mark in part for part in info["cmdline"] or ()):
                found.append(process)
        return found

    def _end_leftovers(self) -> None:
        """What left the group (the crash handler starts a session of its own, a child forked while the
        group was signalled): killed until none is left, bounded."""
        deadline = time.monotonic() + QUIT_WAIT
        while (left := self.leftovers()) and time.monotonic() < deadline:
            for process in left:
                with contextlib.suppress(psutil.Error):
                    process.kill()
            time.sleep(0.01)

    def alive(self) -> bool:
        """Whether it was started and has not exited (a crash while kept warm)."""
        if self.pid is None:
            return False
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return done == 0

    @property
    def proxy(self) -> str | None:
        """The proxy every other host is sent to (a port we hold without listening), while running."""
        return f"http://127.0.0.1:{self._hole.getsockname()[1]}" if self._hole is not None else None

    # -- the protocol
    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        if self._to is None:
            raise BrowserProblem("Chromium is not running.", "Ask again.")
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            try:
                written = os.write(self._to, data)
            except BrokenPipeError as exc:  # it read nothing more: it exited
                raise BrowserProblem("Chromium quit unexpectedly.",
                                     f"Ask again; check `{COMMAND} --version` runs.") from exc
            data = data[written:]
        return self._next_id

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None, *,
             timeout: float = CALL_TIMEOUT) -> dict[str, Any]:
        """Send and wait for the reply; events that arrive meanwhile go to `on_event`."""
        ident = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while ident not in self._replies:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserProblem(f"Chromium did not answer {method} within {timeout:.0f} s.",
                                     "Ask again; if it keeps happening, check `chromium --version` runs.")
            self.pump(left)
        reply = self._replies.pop(ident)
        if "error" in reply:
            error = reply["error"]
            raise BrowserProblem(f"Chromium refused {method}: {str(error.get('message', error))[:300]}.",
                                 "Ask again.")
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    def call_all(self, calls: list[tuple[str, dict[str, Any] | None, str | None]], *,
                 timeout: float = CALL_TIMEOUT) -> list[dict[str, Any]]:
        """Several calls sent at once (Chromium answers them in order), their results in order."""
        idents = [self.send(method, params, session) for method, params, session in calls]
        deadline = time.monotonic() + timeout
        while not all(ident in self._replies for ident in idents):
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserProblem(f"Chromium did not answer {calls[-1][0]} within {timeout:.0f} s.",
                                     "Ask again; if it keeps happening, check `chromium --version` runs.")
            self.pump(left)
        results: list[dict[str, Any]] = []
        for ident, (method, _, _) in zip(idents, calls):
            reply = self._replies.pop(ident)
            if "error" in reply:
                raise BrowserProblem(f"Chromium refused {method}: {str(reply['error'])[:300]}.", "Ask again.")
            result = reply.get("result")
            results.append(result if isinstance(result, dict) else {})
        return results

    def pump(self, timeout: float) -> bool:
        """Read what Chromium sent within `timeout` seconds; whether anything came."""
        if self._from is None:
            raise BrowserProblem("Chromium is not running.", "Ask again.")
        got = False
        while b"\0" not in self._buffer:
            poller = select.poll()  # not select(): a descriptor past 1023 in a long-lived MCP server
            poller.register(self._from, select.POLLIN)
            if not poller.poll(max(0.0, timeout) * 1000):
                return got
            chunk = os.read(self._from, 1 << 20)
            if not chunk:
                raise BrowserProblem("Chromium quit unexpectedly.", "Ask again; check `chromium --version` runs.")
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                raise BrowserProblem("Chromium sent a message past 64 MiB.", "Ask for a smaller page.")
            timeout = 0.0
        while b"\0" in self._buffer:
            raw, _, self._buffer = self._buffer.partition(b"\0")
            got = True
            message = json.loads(raw)
            if "id" in message and "method" not in message:
                self._replies[int(message["id"])] = message
            elif self.on_event is not None:
                self.on_event(message)
        return got
