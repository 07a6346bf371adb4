"""The PHP process: spawn it, prove its identity, signal its group, find port owners.

Rules this module keeps:
- PHP is spawned from an argument list (never a shell) as the leader of a new
  session, so its PID is PHP's own and its workers share its process group.
- Nothing is signalled unless it is provably the server we started: same PID,
  same start time, same command line (a recycled PID fails the start time).
- A child we spawned is reaped by a waiter thread as soon as it exits, so a
  long-lived parent (the MCP server) never accumulates zombies, and we can say
  how it ended.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import psutil

# The readiness probe runs no forum code: the router answers the first path with an empty 204; plain
# php -S would send an extensionless path to index.php, but answers a missing .txt file with a 404 itself.
# (Defined with the parser, which hides exactly these requests from queries.)
from ..logs.parser import READY_PROBE_PATH
from ..results import PortOwner
from ..safe_files import open_regular

# psutil derives start times from clock ticks (1/100 s) and the boot time: allow for rounding.
CREATE_TIME_TOLERANCE = 0.05


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    create_time: float
    cmdline: tuple[str, ...]
    # The session (and process group) PHP runs in, when it is not PHP's own: a wrapper script we
    # spawned that runs PHP as its child, rather than exec'ing it, leads the session.
    session: int | None = None

    @property
    def group(self) -> int:
        return self.session or self.pid

    def as_state(self) -> dict[str, object]:
        state: dict[str, object] = {"pid": self.pid, "create_time": self.create_time, "cmdline": list(self.cmdline)}
        if self.session is not None:
            state["session"] = self.session
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ProcessIdentity:
        """The identity a state file recorded (raises KeyError, TypeError or ValueError if malformed)."""
        session = state.get("session")
        if session is not None and (not isinstance(session, int) or isinstance(session, bool) or session < 1):
            raise ValueError("session is not a process ID")
        return cls(int(state["pid"]), float(state["create_time"]), tuple(state["cmdline"]), session)


@dataclass
class _Child:
    """A PHP this process spawned; its waiter thread reaps it and notes when."""

    create_time: float
    proc: subprocess.Popen[bytes]
    ended_at: float | None = None


@dataclass(frozen=True)
class Exit:
    code: int  # negative: killed by that signal
    at: float | None  # when it was reaped (a moment after it ended)


_children: dict[int, _Child] = {}
_children_lock = threading.Lock()


def identity_of(pid: int, session: int | None = None) -> ProcessIdentity | None:
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return ProcessIdentity(pid, proc.create_time(), tuple(proc.cmdline()), session)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return None


def matches(recorded: ProcessIdentity, current: ProcessIdentity | None) -> bool:
    """Same process: PID, start time and command line (the session is where it runs, not who it is)."""
    return (
        current is not None
        and current.pid == recorded.pid
        and abs(current.create_time - recorded.create_time) <= CREATE_TIME_TOLERANCE
        and current.cmdline == recorded.cmdline
    )


def serves_root(cmdline: Sequence[str], root: Path, host: str, port: int) -> bool:
    """Whether a recorded command line is `php -S host:port -t root`, as this tool spawns it for this
    forum. A state file naming any other process (readable by anyone in /proc) is not believed."""
    parts = list(cmdline)
    try:
        bind = parts[parts.index("-S") + 1]
        docroot = parts[parts.index("-t") + 1]
    except (ValueError, IndexError):
        return False
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return bind == f"{shown}:{port}" and docroot == str(root)


def is_alive(recorded: ProcessIdentity) -> bool:
    """True only when the recorded PID is alive, not a zombie, and still the same process."""
    return matches(recorded, identity_of(recorded.pid))


def exit_of(recorded: ProcessIdentity, timeout: float = 1.0) -> Exit | None:
    """How and when a child we spawned ended; None if it is not ours (or has not ended).

    A child that just died may not be reaped yet (it shows as a zombie first): wait a moment for
    its waiter thread rather than answer "unknown".
    """
    with _children_lock:
        child = _children.get(recorded.pid)
    if child is None or abs(child.create_time - recorded.create_time) > CREATE_TIME_TOLERANCE:
        return None
    code = exit_status(child.proc, timeout)
    return Exit(code, child.ended_at) if code is not None else None


def exit_status(proc: subprocess.Popen[bytes], timeout: float = 2.0) -> int | None:
    """The exit status of a child that has exited (None if it has not within `timeout`).

    Not `proc.poll()`: while the reaper thread sits in `proc.wait()` it holds Popen's wait lock,
    and poll() then answers None even for a child that is already dead.
    """
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


def spawn_server(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path
) -> tuple[subprocess.Popen[bytes], ProcessIdentity | None]:
    """Start PHP in its own session, stdout+stderr appended to the log. Raises OSError if it cannot run."""
    log_fd = open_regular(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666, ours=True)
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    identity = _identity_after_exec(proc, tuple(argv))
    _reap_in_background(proc, identity.create_time if identity else time.time())
    return proc, identity


def _identity_after_exec(
    proc: subprocess.Popen[bytes], argv: tuple[str, ...], timeout: float = 2.0
) -> ProcessIdentity | None:
    """The child's identity once the kernel has finished loading the new program.

    Popen returns as soon as execve has released the parent's memory, which is before the kernel
    has set the new command line: read too early, /proc/PID/cmdline is empty. An identity recorded
    with that empty command line never matches the live server again, so the service would take its
    own running server for a dead one and orphan it. Wait until the command line ends with our
    arguments (a wrapper script shows its interpreter in front of them).
    """
    deadline = time.monotonic() + timeout
    delay = 0.0005
    identity = identity_of(proc.pid)
    while identity is not None and not _exec_done(identity.cmdline, argv) and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.01)
        identity = identity_of(proc.pid)
    return identity


def settled_identity(spawned: ProcessIdentity, port: int) -> ProcessIdentity | None:
    """PHP as it is once it serves `port`, proven ours.

    A version-manager shim (asdf, phpenv, a wrapper script) is recorded with its own command line
    at spawn. If it `exec`s PHP, the process keeps its PID and start time and now has PHP's command
    line. If it runs PHP as a child instead, PHP is the descendant in our new session that holds the
    socket. None when the spawned PID is no longer the process we started.
    """
    current = identity_of(spawned.pid)
    if current is None or abs(current.create_time - spawned.create_time) > CREATE_TIME_TOLERANCE:
        return None
    if listens_on(current, port):
        return current
    return _session_listener(current, port) or current


def _session_listener(leader: ProcessIdentity, port: int) -> ProcessIdentity | None:
    """A descendant of our session leader, still in its session, that listens on `port`."""
    try:
        descendants = psutil.Process(leader.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for child in descendants:
        try:
            if os.getsid(child.pid) != leader.pid or child.create_time() + CREATE_TIME_TOLERANCE < leader.create_time:
                continue
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
        candidate = identity_of(child.pid, session=leader.pid)
        if candidate is not None and listens_on(candidate, port):
            return candidate
    return None


def session_members(spawned: ProcessIdentity) -> list[psutil.Process]:
    """Everything still in the session we started (the spawned leader, PHP, its workers): what a
    failed start must not leave behind, whatever ran inside."""
    members: list[psutil.Process] = []
    try:
        leader = psutil.Process(spawned.pid)
        if abs(leader.create_time() - spawned.create_time) > CREATE_TIME_TOLERANCE:
            return []
        candidates = [leader, *leader.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    for proc in candidates:
        with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
            if os.getsid(proc.pid) == spawned.pid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
    return members


def _exec_done(cmdline: tuple[str, ...], argv: tuple[str, ...]) -> bool:
    if not cmdline:
        return False
    arguments = argv[1:]
    return not arguments or cmdline[len(cmdline) - len(arguments):] == arguments


def _reap_in_background(proc: subprocess.Popen[bytes], create_time: float) -> None:
    child = _Child(create_time, proc)
    with _children_lock:
        if len(_children) >= 64:  # a long-lived MCP server restarts PHP many times: forget old, reaped ones
            for pid in [pid for pid, old in _children.items() if old.proc.returncode is not None][:32]:
                del _children[pid]
        _children[proc.pid] = child

    def reap() -> None:
        proc.wait()
        child.ended_at = time.time()

    threading.Thread(target=reap, name=f"reap-php-{proc.pid}", daemon=True).start()


def has_exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether a child we spawned has exited; its waiter thread sets returncode when it reaps it."""
    return proc.returncode is not None


def group_members(recorded: ProcessIdentity) -> list[psutil.Process]:
    """The leader (if still ours) and the workers it forked, each verified.

    A worker is ours when it sits in the leader's process group and session, runs
    the same command line, and started no earlier than the leader. That stays
    true after the leader itself died (kill -9 of the parent leaves workers),
    but not once the leader's PID belongs to another process.
    """
    current = identity_of(recorded.pid)
    if current is not None and not matches(recorded, current):
        # The PID was recycled. Linux frees a PID only once no process uses it as a PID, process group
        # or session ID: when it was handed out again, our group was already empty. Whatever now sits
        # in group `pid` belongs to the newcomer, however much it looks like our workers.
        return []
    if current is not None:
        # A live leader: its workers are its children; no need to scan every process on the machine.
        candidates = []
        for pid in [recorded.pid, *_child_pids(recorded.pid)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                candidates.append(psutil.Process(pid))
    else:
        candidates = list(psutil.process_iter())  # leader gone: orphaned workers were reparented
    members: list[psutil.Process] = []
    for proc in candidates:
        try:
            info = proc.as_dict(["pid", "cmdline", "create_time", "status"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if info["status"] == psutil.STATUS_ZOMBIE or tuple(info["cmdline"] or ()) != recorded.cmdline:
            continue
        if info["pid"] == recorded.pid:
            if abs(info["create_time"] - recorded.create_time) <= CREATE_TIME_TOLERANCE:
                members.append(proc)
            continue
        if info["create_time"] + CREATE_TIME_TOLERANCE < recorded.create_time:
            continue
        try:
            if os.getpgid(info["pid"]) == recorded.group and os.getsid(info["pid"]) == recorded.group:
                members.append(proc)
        except ProcessLookupError:
            continue
    return members


def _child_pids(pid: int) -> list[int]:
    """Direct children of `pid`: from /proc when the kernel offers it (no scan of every process)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except (OSError, ValueError):
        pass
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def held_deleted(pid: int, path: Path) -> str | None:
    """/proc/PID/fd/N when process `pid` still holds `path` open after it was deleted, else None."""
    wanted = f"{path} (deleted)"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                return f"/proc/{pid}/fd/{fd}"
    return None


def worker_pids(recorded: ProcessIdentity) -> list[int]:
    """Workers of a live leader (PHP_CLI_SERVER_WORKERS forks them as its children)."""
    workers = []
    for pid in _child_pids(recorded.pid):
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                workers.append(pid)
        except psutil.NoSuchProcess:
            continue
    return sorted(workers)


def wait_for_pool(recorded: ProcessIdentity, workers: int, timeout: float = 3.0) -> list[int]:
    """The workers of a live leader once `workers` of them run (PHP forks them one by one after it
    starts listening, so the first may answer before the last exists); what runs at `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        found = worker_pids(recorded)
        if len(found) >= workers or time.monotonic() >= deadline or not is_alive(recorded):
            return found
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def signal_members(members: Sequence[psutil.Process], sig: signal.Signals) -> None:
    """psutil re-checks each process's start time before signalling: a PID reused since is skipped."""
    for proc in members:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.send_signal(sig)


def wait_gone(members: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every member has exited (or is a zombie awaiting its reaper). Returns the survivors."""
    deadline = time.monotonic() + timeout
    pending = list(members)
    delay = 0.002
    while pending:
        pending = [proc for proc in pending if _still_running(proc)]
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return pending


def _still_running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# Processes this process has paused (SIGSTOP) and not yet continued: a signal handler or an exit path
# continues them, so no way out of ours leaves the forum frozen.
_paused: dict[int, psutil.Process] = {}
_paused_lock = threading.Lock()


def resume_paused() -> list[int]:
    """SIGCONT everything this process paused and has not continued yet (safe from a signal handler:
    no lock is taken, the dict is only read). Returns their PIDs."""
    resumed = []
    for pid, proc in list(_paused.items()):
        with contextlib.suppress(psutil.Error, OSError):
            proc.send_signal(signal.SIGCONT)
            resumed.append(pid)
    return resumed


def stopped_members(members: Sequence[psutil.Process]) -> list[psutil.Process]:
    """Members the kernel reports stopped (state T): paused by someone and never continued."""
    stopped = []
    for proc in members:
        with contextlib.suppress(psutil.Error):
            if proc.status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
                stopped.append(proc)
    return stopped


@contextlib.contextmanager
def paused(members: Sequence[psutil.Process], timeout: float = 2.0) -> Iterator[None]:
    """SIGSTOP the members and wait until the kernel reports them stopped; SIGCONT on exit.

    Used while the log is truncated, so no line is written in between. Keep the body short: the
    forum does not answer meanwhile. The members are registered first, so SIGINT/SIGTERM of this
    process (see `resume_paused`) continues them too.
    """
    with _paused_lock:
        for proc in members:
            _paused[proc.pid] = proc
    try:
        signal_members(members, signal.SIGSTOP)
        deadline = time.monotonic() + timeout
        for proc in members:
            while time.monotonic() < deadline:
                try:
                    if proc.status() in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                        break
                except psutil.NoSuchProcess:
                    break
                time.sleep(0.001)
        yield
    finally:
        signal_members(members, signal.SIGCONT)
        with _paused_lock:
            for proc in members:
                _paused.pop(proc.pid, None)


def resolve(host: str, port: int) -> tuple[int, tuple[object, ...]] | None:
    """(family, sockaddr) for binding host:port, or None when the host does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return None
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def port_is_free(host: str, port: int) -> bool:
    """Whether php could bind host:port right now (it uses SO_REUSEADDR, so TIME_WAIT does not count)."""
    resolved = resolve(host, port)
    if resolved is None:
        return True  # PHP will report the bad address itself
    family, sockaddr = resolved
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            return True
    return True


def nearest_free_port(host: str, port: int, span: int = 200) -> int | None:
    """The free port closest to `port` on `host` (above first on a tie), unprivileged unless `port` is."""
    low = 1 if port < 1024 else 1024
    for distance in range(1, span + 1):
        for candidate in (port + distance, port - distance):
            if low <= candidate <= 65535 and port_is_free(host, candidate):
                return candidate
    return None


def port_owner(port: int) -> PortOwner | None:
    """Who listens on `port` (any local address), via psutil rather than lsof."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return PortOwner(None, None, ())
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return PortOwner(None, None, ())
            try:
                proc = psutil.Process(conn.pid)
                return PortOwner(conn.pid, proc.name(), tuple(proc.cmdline()))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return PortOwner(conn.pid, None, ())
    return None


def connect_address(host: str, port: int) -> tuple[str, int]:
    """Where to connect to reach a server bound to `host` (a wildcard bind answers on loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1", port
    if host in ("::", "[::]"):
        return "::1", port
    return host.strip("[]"), port


def answers_http(host: str, port: int, path: str = READY_PROBE_PATH, timeout: float = 0.5) -> bool:
    """One HTTP request for a path no forum code handles; any HTTP status line means the server answers."""
    address = connect_address(host, port)
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            request = f"GET {path} HTTP/1.0\r\nHost: {address[0]}:{port}\r\n\r\n"
            sock.sendall(request.encode())
            return sock.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def listens_on(recorded: ProcessIdentity, port: int) -> bool:
    """Whether our PHP itself holds a listening socket on `port` (in worker mode the parent opens it
    before forking, so the leader has it too)."""
    try:
        connections = psutil.Process(recorded.pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port for c in connections)


def ours_answers(recorded: ProcessIdentity | None, host: str, port: int, path: str = READY_PROBE_PATH) -> bool:
    """The readiness test: the port answers HTTP *and* the listener is our PHP.

    An answer alone is not proof. Another server may hold the port (one that bound it between our
    port check and PHP's own bind - e.g. a second forum configured with the same port, started at
    the same moment); our PHP then fails to listen and exits, but until it does, the other server
    answers the probe and the start would report someone else's server as ours.
    """
    # The cheap probe first: the socket-table lookup runs once PHP answers, not on every poll.
    return recorded is not None and answers_http(host, port, path) and (
        listens_on(recorded, port) or _session_listener(recorded, port) is not None)


class Ready(Enum):
    ANSWERING = "answering"
    EXITED = "exited"
    TIMEOUT = "timeout"


def wait_ready(
    proc: subprocess.Popen[bytes], recorded: ProcessIdentity | None, host: str, port: int, path: str,
    timeout: float,
) -> Ready:
    """Poll until our PHP answers, exits, or `timeout` passes (no fixed sleep: it binds in tens of ms)."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        if recorded is None or has_exited(proc):
            return Ready.EXITED
        if ours_answers(recorded, host, port, path):
            return Ready.ANSWERING
        if time.monotonic() >= deadline:
            return Ready.TIMEOUT
        time.sleep(delay)
        delay = min(delay * 2, 0.005)
