"""ServerOrchestrationService: the lifecycle of `php -S` serving a MyBB root.

This module tells the story (start, stop, restart, status, logs) and nothing lower-level: `process`
(spawn, identity, signals, ports), `state` (the state file and its lock), `log_reader`/`log_query` (the
log) sit beside it; what the forum knows is in the `forum` package. It returns the dataclasses of
`results` (and `log_query`); the faces render them with `render`.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from ..config import Config
from ..errors import InvalidArgument, shown_value
from ..forum import database, dev_mode, error_log, report
from ..forum.snapshot import store as snapshots
from ..forum import files as files_module
from ..forum import release
from ..forum.workbench import plugins as plugin_workbench
from ..forum.workbench import request_trace
from ..results import DeathReport, InitResult, ServerListing, ServerResult, ServerStatus
from . import layout, php_dev, process, registry
from ..failures import Failure
from ..forum.init import InitOptions, init_forum
from ..logs.match import RequestMatch
from ..logs.parser import LogEntry
from ..logs.options import LogQueryOptions
from ..logs.query import LogQueryResult, run_query
from ..logs.rotation import RotationRefused, rotate_in_place, rotate_logs
from ..logs.zone import format_zone_header, local_zone_key, read_log_zone
from .process import PortOwner, ProcessIdentity
from ..forum import request_roles, requests
from ..forum.folder_modes import open_folders_warning
from ..forum.requests import PageRequest
from ..results import PageResult
from ..logs import cursors as checkpoints
from ..logs import digest
from ..logs import exchanges as exchanges_module
from . import workbench
from ..logs import compile_time
from ..safe_files import UnsafeFile, ensure_private_dir, open_regular
from ..answers.logs import render_log_query
from .state import LockTimeout, StateFile

__all__ = ["ServerOrchestrationService", "ServerResult", "ServerStatus", "DeathReport", "LogQueryOptions"]

ROUTER_SCRIPT = Path(__file__).with_name("router.php")
LAST_ERRORS_SHOWN = 3
WAIT_POLL_SECONDS = 0.1  # how often a waiting log query looks for new entries


@dataclass
class _Running:
    identity: ProcessIdentity
    state: dict[str, Any]
    leader_alive: bool


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def _is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the forum on this machine, in every spelling PHP accepts for it
    (`127.1` and `2130706433` are 127.0.0.1 to inet_aton; `::ffff:127.0.0.1` is it mapped into IPv6)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        try:
            return socket.inet_aton(name)[0] == 127
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def validate_port(port: object, name: str = "port") -> int | None:
    if port is None:
        return None
    if not isinstance(port, int) or isinstance(port, bool):
        raise InvalidArgument(f"{name} must be a whole number, got {shown_value(port)}.",
                              "Pass a port from 1 to 65535.")
    if not 1 <= port <= 65535:
        raise InvalidArgument(f"{name} {port} is out of range.", "Pass a port from 1 to 65535.")
    return port


def validate_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name} must be true or false, got {shown_value(value)}.", f"Pass {name} as a boolean.")
    return value


def validate_workers(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 64:
        raise InvalidArgument(
            f"workers must be a whole number from 1 to 64, got {shown_value(value)}.",
            "Pass 1 for a single PHP process, or 2-64 for a pool (PHP_CLI_SERVER_WORKERS).",
        )
    return value


def validate_host(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value) or "/" in value:
        raise InvalidArgument(
            f"host must be a host name or IP address, got {shown_value(value)}.",
            "Pass 127.0.0.1 (the default) unless the forum must be reachable from other machines.",
        )
    return value.strip()


class ServerOrchestrationService:
    """Start, stop, restart and report on `php -S` serving `config.mybb_root`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # Test seams.
        self._clock = time.time
        self._lock_timeout = 30.0
        self._start_timeout = 15.0
        self._stop_timeout = 5.0

    @property
    def _state_file(self) -> StateFile:
        """This forum's state file and lock, named afresh on each use: until the folder's plain names
        are claimed, another forum's first start may claim them (see layout.py)."""
        files = self.config.files
        return StateFile(files.state_file, files.lock_file)

    # ------------------------------------------------------------------ lifecycle

    def start(
        self, port: int | None = None, force: bool = False, *, host: str | None = None, workers: int | None = None,
        dev_error_logging: bool = True,
    ) -> ServerResult:
        """Start the server; with `force`, restart it if it is already running. In development mode
        (MYBB_DEV_INI=1) and unless `dev_error_logging` is False, MyBB's error logging is switched on
        when it is off (the result says so; `set_mybb_error_logging(False)` undoes it)."""
        port = validate_port(port)
        force = validate_flag(force, "force")
        host = validate_host(host)
        workers = validate_workers(workers)
        dev_error_logging = validate_flag(dev_error_logging, "dev_error_logging")
        return self._locked("start", lambda: self._dev_mode(
            self._start_locked(port, force, host, workers, []), dev_error_logging))

    def stop(self, force: bool = False) -> ServerResult:
        """Stop the server and every worker; with `force`, SIGKILL what is left after the grace period."""
        force = validate_flag(force, "force")
        return self._locked("stop", lambda: self._stop_locked(force, []))

    def restart(
        self, port: int | None = None, *, host: str | None = None, workers: int | None = None
    ) -> ServerResult:
        """Stop (if running) and start again, on the port and host it ran on unless others are given
        (`host` moves a server bound to 0.0.0.0 back to loopback)."""
        port = validate_port(port)
        host = validate_host(host)
        workers = validate_workers(workers)
        return self._locked("restart", lambda: self._dev_mode(self._restart_locked(port, host, workers), True))

    def init_forum(self, options: InitOptions, progress: Any = None, download_progress: Any = None) -> InitResult:
        """Install MyBB at MYBB_ROOT with MyBB's own installer and start it (see forum_init)."""
        return init_forum(self, options, progress, download_progress)

    # --- the workbench (orchestration/workbench.py: sql, members, templates, php inside the forum) ---------

    def sql(self, query: str, limit: int) -> Any:
        return workbench.run_sql(self.config, query, limit)

    def describe_table(self, table: str) -> Any:
        return workbench.describe_table(self.config, table)

    def add_member(self, name: str, role: str, password: str | None) -> Any:
        return workbench.add_member(self.config, name, role, password)

    def list_members(self) -> Any:
        return workbench.list_members(self.config)

    def get_template(self, title: str) -> Any:
        return workbench.get_template(self.config, title)

    def replace_in_template(self, title: str, find: str, replace: str, sid: int | None, apply: bool) -> Any:
        return workbench.replace_in_template(self.config, title, find, replace, sid, apply)

    def eval_php(self, code: str, timeout: float) -> Any:
        return workbench.eval_php(self.config, code, timeout)

    def _locked(self, action: str, operation: Any) -> ServerResult:
        problem = self._forum_problem() if action != "stop" else None
        if problem:  # refused before the lock file is made: a wrong MYBB_ROOT leaves nothing beside it
            return self._bad_root_result(action, problem)
        try:
            self._ensure_repo_root()
            if action != "stop":  # only what may write a state and a log claims the folder's plain names
                layout.claim(self.config.mybb_root)
            while True:
                state_file = self._state_file
                with state_file.lock(self._lock_timeout):
                    # Named before another forum's first start claimed the folder: take our own lock.
                    if self._state_file.lock_path == state_file.lock_path:
                        return operation()
        except LockTimeout:
            return ServerResult(
                False,
                action,
                f"Another start, stop or restart on this forum held the lock for {self._lock_timeout:.0f} s.",
                Failure.BUSY,
                notes=[f"Lock file: {self.config.lock_file}. If no other mybb-server or mybb-mcp is working on "
                       "this forum, a hung one may hold it: check its status, then try again."],
            )
        except UnsafeFile as exc:
            return self._unsafe_file_result(action, exc)
        except FileNotFoundError as exc:
            return self._bad_root_result(action, f"cannot create files next to it: {exc}")

    def _unsafe_file_result(self, action: str, exc: UnsafeFile, notes: list[str] | None = None) -> ServerResult:
        return ServerResult(False, action, f"Refused: {exc.message}", Failure.UNSAFE_FILE,
                            notes=[*(notes or []), exc.fix + "."])

    def _observe(self, notes: list[str], died: list[DeathReport] | None = None) -> _Running | None:
        """What status and log queries see first: the running server, its stale state cleared. Under
        the lock, so they never act on a state a concurrent restart just replaced (an orphan). They
        rewrite no file: a log over the size limit is rotated by the next start or restart. No state
        file: nothing to act on, and no lock file is created."""
        if not os.path.lexists(self._state_file.path):
            return None
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self._state_file.lock(self._lock_timeout))
            except LockTimeout:  # a hung operation: observe without the lock
                pass
            except UnsafeFile as exc:
                notes.append(f"Observed without the lock: {exc} ")
            return self._current(notes, died)

    def _ensure_repo_root(self) -> None:
        # The lock file lives beside the forum; a missing forum is reported by start, not by a crash here.
        if not self.config.repo_root.is_dir():
            raise FileNotFoundError(f"{self.config.repo_root} does not exist")

    def _restart_locked(self, port: int | None, host: str | None, workers: int | None) -> ServerResult:
        notes: list[str] = []
        running = self._current(notes)
        if running is not None:  # come back as it ran: same port, host and pool unless told otherwise
            port = port or int(running.state["port"])
            host = host or str(running.state["host"])
            workers = workers or int(running.state.get("workers", self.config.workers))
            stopped = self._stop_running(running, force=True)
            if not stopped.success:
                stopped.action = "restart"
                return stopped
            notes.append(f"Stopped the previous server (PID {running.identity.pid}).")
        result = self._start_locked(port, False, host, workers, notes)
        result.action = "restart"
        return result

    def _start_locked(
        self, port: int | None, force: bool, host: str | None, workers: int | None, notes: list[str]
    ) -> ServerResult:
        config = self.config
        asked_port = port
        port = port or config.port
        host = host or config.host
        workers = workers or config.workers

        running = self._current(notes, clear_dead=True)
        if running is not None:
            if not force:
                warnings: list[str] = []
                self._rotate_if_too_big(running, notes, warnings)
                result = self._already_running(running, notes, asked_port)
                result.warnings += warnings
                return result
            stopped = self._stop_running(running, force=True)
            if not stopped.success:
                stopped.action = "start"
                return stopped
            notes.append(f"Stopped the running server (PID {running.identity.pid}) because force was set.")

        problem = self._forum_problem()
        if problem:
            return self._bad_root_result("start", problem, notes)
        php = self._resolve_php()
        if php is None:
            return ServerResult(
                False, "start", f"The PHP binary {config.php!r} was not found or is not executable.",
                Failure.PHP_NOT_FOUND, port=port, host=host, notes=notes,
            )
        if not process.port_is_free(host, port):
            owner = self._port_owner(port)
            holder = "another forum's server started by this tool" if owner and owner.forum_root else "another program"
            return ServerResult(
                False, "start", f"Port {port} on {host} is already in use by {holder}.",
                Failure.PORT_IN_USE, port=port, host=host, port_owner=owner, notes=notes,
                free_port=process.nearest_free_port(host, port),
            )
        log_file = config.log_file
        try:
            self._ensure_log_dirs(log_file)
            rotated = rotate_logs(log_file, config.log_backups)
            header_end = self._open_log(log_file)
        except UnsafeFile as exc:
            result = self._unsafe_file_result("start", exc, notes)
            result.port, result.host, result.log_file = port, host, log_file
            return result
        except OSError as exc:
            return ServerResult(
                False, "start", f"Cannot write the server log {log_file}: {exc.strerror or exc}.",
                Failure.LOG_UNWRITABLE, port=port, host=host, log_file=log_file, notes=notes,
            )
        if rotated:
            notes.append(f"Previous log kept as {log_file.name}.1 ({config.log_backups} generations are kept).")

        argv = self._argv(php, host, port)
        env = dict(os.environ)
        env.pop("PHP_CLI_SERVER_WORKERS", None)
        if workers > 1:
            env["PHP_CLI_SERVER_WORKERS"] = str(workers)
        env.pop(request_trace.ENV_NAME, None)
        if config.use_router:
            try:
                env.update(request_trace.prepare(config))
            except (OSError, UnsafeFile) as exc:
                notes.append(f"mybb_server_request's trace and plugins switch are off for this server: "
                             f"{request_trace.WORKBENCH_DIR} could not be prepared ({exc})")
        else:
            request_trace.forget(config)  # a secret left by a server with the router would promise too much
        try:
            proc, identity = process.spawn_server(argv, cwd=config.mybb_root, env=env, log_path=log_file)
        except OSError as exc:
            return ServerResult(
                False, "start", f"Could not run {php}: {exc.strerror or exc}.", Failure.PHP_NOT_FOUND,
                port=port, host=host, log_file=log_file, notes=notes,
            )
        started_at = datetime.fromtimestamp(self._clock(), timezone.utc).isoformat(timespec="seconds")
        recorded = {"host": host, "port": port, "workers": workers, "started_at": started_at,
                    "log_file": str(log_file), "mybb_root": str(config.mybb_root)}
        if identity is not None:
            self._state_file.write({**identity.as_state(), **recorded})

        probe = process.READY_PROBE_PATH if config.use_router else process.READY_PROBE_PATH_PLAIN
        outcome = process.wait_ready(proc, identity, host, port, probe, self._start_timeout)
        if outcome is not process.Ready.ANSWERING or identity is None:
            exited = outcome is process.Ready.EXITED
            return self._start_failed(proc, identity, host, port, log_file, header_end, exited, notes)
        # A version-manager shim has become PHP (exec) or started it (child): record PHP, the process
        # that holds the socket, so the next status knows it and stop signals it.
        identity = process.settled_identity(identity, port) or identity
        self._state_file.write({**identity.as_state(), **recorded})
        registry.record(self.config.files, {**identity.as_state(), **recorded}, probe)
        warnings = self._start_warnings(host, port)
        pool = process.wait_for_pool(identity, workers if workers > 1 else 0)
        if workers > 1 and len(pool) < workers:
            warnings.append(f"Only {len(pool)} of {workers} PHP workers had started when the server answered.")
        return ServerResult(
            True, "start", f"PHP is serving {config.mybb_root} at {_url(host, port)}.",
            pid=identity.pid, port=port, host=host, url=_url(host, port), log_file=log_file,
            started_at=started_at, uptime_seconds=0.0, workers=pool,
            warnings=warnings, notes=notes,
        )

    def _start_failed(
        self, proc: Any, identity: ProcessIdentity | None, host: str, port: int, log_file: Path,
        header_end: int, exited: bool, notes: list[str],
    ) -> ServerResult:
        if not exited and identity is not None:
            members = process.session_members(identity)  # whatever runs in the session we started
            process.signal_members(members, signal.SIGKILL)
            process.wait_gone(members, 2.0)
        self._state_file.clear()
        reason = _read_tail_text(log_file, header_end) or None
        owner = self._port_owner(port) if reason and "already in use" in reason else None
        if exited:
            code = process.exit_status(proc)
            how = process.describe_exit(code) if code is not None else "exited"
            message = f"PHP {how} before it answered on {_url(host, port)}."
            failure = Failure.PORT_IN_USE if owner else Failure.PHP_EXITED
        else:
            message = f"PHP did not answer on {_url(host, port)} within {self._start_timeout:.0f} s; it was stopped."
            failure = Failure.START_TIMEOUT
        return ServerResult(
            False, "start", message, failure, port=port, host=host, log_file=log_file,
            port_owner=owner, reason=reason, notes=notes,
            free_port=process.nearest_free_port(host, port) if owner else None,
        )

    def _stop_locked(self, force: bool, notes: list[str]) -> ServerResult:
        died: list[DeathReport] = []
        running = self._current(notes, died)
        if running is None:
            config = self.config
            foreign = self._foreign_listener(config.host, config.port)
            if foreign is not None:  # the holder is named once, by the renderer, from port_owner
                # Another forum's server of ours on the port is not "not ours": this forum's is not running.
                ours = foreign.forum_root is not None
                return ServerResult(
                    False, "stop", "No server of this forum's is running; nothing was stopped.",
                    Failure.NOT_RUNNING if ours else Failure.NOT_OURS, port=config.port, host=config.host, port_owner=foreign, notes=notes,
                    died=died[0] if died else None, free_port=process.nearest_free_port(config.host, config.port),
                )
            message = "The server was not running; nothing was stopped."
            if died:
                message = f"The server (PID {died[0].pid}) had already died; nothing was stopped."
            return ServerResult(
                False, "stop", message, Failure.NOT_RUNNING, log_file=self.config.log_file, notes=notes,
                died=died[0] if died else None,
            )
        result = self._stop_running(running, force)
        result.notes[:0] = notes
        return result

    def _stop_running(self, running: _Running, force: bool) -> ServerResult:
        identity, state = running.identity, running.state
        port, host = int(state["port"]), str(state["host"])
        members = process.group_members(identity)
        process.signal_members(members, signal.SIGTERM)
        survivors = process.wait_gone(members, self._stop_timeout)
        notes: list[str] = []
        if survivors and force:
            process.signal_members(survivors, signal.SIGKILL)
            survivors = process.wait_gone(survivors, 2.0)
            notes.append("Some processes ignored SIGTERM for "
                         f"{self._stop_timeout:.0f} s and were killed (SIGKILL).")
        if survivors:
            return ServerResult(
                False, "stop",
                f"PHP (PID {identity.pid}) is still running {self._stop_timeout:.0f} s after SIGTERM.",
                Failure.STOP_TIMEOUT, pid=identity.pid, port=port, host=host,
                workers=[p.pid for p in survivors if p.pid != identity.pid],
                notes=["Call stop again with force=true to kill it (SIGKILL)."],
            )
        warnings: list[str] = []
        if not self._wait_port_free(host, port):
            owner = process.port_owner(port)
            holder = owner.describe() if owner else "an unknown process"
            warnings.append(f"Port {port} is still in use after the stop, by {holder}.")
        self._state_file.clear()
        registry.forget(self.config.files, identity.pid)
        ran_for = max(0.0, self._clock() - identity.create_time)
        return ServerResult(
            True, "stop", f"Stopped PHP (PID {identity.pid}) serving {_url(host, port)}.",
            pid=identity.pid, port=port, host=host, url=_url(host, port),
            log_file=Path(state.get("log_file", self.config.log_file)), started_at=state.get("started_at"),
            uptime_seconds=ran_for, workers=[p.pid for p in members if p.pid != identity.pid],
            warnings=warnings, notes=notes,
        )

    def _wait_port_free(self, host: str, port: int, timeout: float = 2.0) -> bool:
        deadline = time.monotonic() + timeout
        while not process.port_is_free(host, port):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    # ------------------------------------------------------------------ status

    def get_status(self) -> ServerStatus:
        notes: list[str] = []
        died: list[DeathReport] = []
        running = self._observe(notes, died)
        config = self.config
        log_file = config.log_file
        status = ServerStatus(running=running is not None, log_file=log_file, mybb_root=config.mybb_root,
                              notes=notes, died=died[0] if died else None)
        status.warnings += [f"{note}; its settings were not used." for note in config.ignored_dotenv]
        if running is not None:
            identity, state = running.identity, running.state
            status.pid = identity.pid
            status.port, status.host = int(state["port"]), str(state["host"])
            status.url = _url(status.host, status.port)
            status.started_at = state.get("started_at")
            status.uptime_seconds = max(0.0, self._clock() - identity.create_time)
            status.workers = process.worker_pids(identity) if running.leader_alive else [
                p.pid for p in process.group_members(identity)]
            if not running.leader_alive:
                status.warnings.append(
                    f"PHP's main process (PID {identity.pid}) is gone but {len(status.workers)} worker(s) "
                    f"still serve port {status.port}. Stop or restart the server to clean up."
                )
            status.warnings += self._start_warnings(status.host, status.port)  # exposed for as long as it runs
        else:
            status.port, status.host = config.port, config.host
            status.foreign = self._foreign_listener(config.host, config.port)
            if status.foreign is not None:
                status.free_port = process.nearest_free_port(config.host, config.port)
        try:
            status.log_size = log_file.stat().st_size
        except OSError:
            status.log_size = None
        deleted = self._deleted_log(running)
        if deleted:
            status.warnings.append(f"The server log {log_file}: {deleted}.")
        over = self._log_over_limit()
        if over is not None:
            status.warnings.append(
                f"The log is {over / 2**20:.0f} MB, over MYBB_LOG_MAX_MB ({config.log_max_mb} MB). Status and "
                "log queries never rewrite it: start (when running, it rotates the log in place without a "
                "restart) or restart rotates it."
            )
        open_folders = open_folders_warning(config.mybb_root)
        if open_folders:
            status.warnings.append(open_folders)
        status.forum = report.diagnose_forum(config.mybb_root, status.url, php_settings=config.php_settings,
                                             php=self._resolve_php())
        argv = running.state.get("cmdline") if running is not None else None
        status.visibility = self._visibility(argv if isinstance(argv, list) else None, status.forum)
        return status

    def list_servers(self) -> list[ServerListing]:
        """Every server this user runs through the tool, any forum: from the per-user registry, each
        verified to be the process that was started (stale entries are left out)."""
        listings = []
        for live in registry.running():
            entry = live.entry
            identity = entry.identity
            if live.leader_alive:
                workers = process.worker_pids(identity)
                health = "answering" if process.answers_http(entry.host, entry.port, entry.probe) else "not answering"
            else:
                workers, health = [m.pid for m in live.members], "workers only"
            listings.append(ServerListing(
                mybb_root=entry.mybb_root, url=_url(entry.host, entry.port), host=entry.host, port=entry.port,
                pid=identity.pid, workers=workers, started_at=entry.started_at,
                uptime_seconds=max(0.0, self._clock() - identity.create_time), health=health,
                exposed=not _is_loopback(entry.host), log_file=entry.log_file,
            ))
        return sorted(listings, key=lambda listing: (str(listing.mybb_root), listing.port))

    def _check_mariadb(self) -> bool:
        """Plan API: whether the forum's MySQL/MariaDB database answers (no longer a process-name check)."""
        return database.check_mariadb(self.config.mybb_root, php_settings=self.config.php_settings)

    # ------------------------------------------------------------------ logs

    def search_logs(self, options: LogQueryOptions) -> LogQueryResult:
        """Run a log query and return the data (`query_logs` renders it)."""
        options = options.validated()
        running = self._observe([])
        log_file = self.config.log_file
        sources = (error_log.error_log_sources(self.config.mybb_root, php_settings=self.config.php_settings)
                   if options.include_mybb else [])
        zone = read_log_zone(log_file)
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        self.know_release()
        result = run_query(log_file, options, now=now, extra_sources=sources, zone=zone,
                           forum_root=self.config.mybb_root)
        result.origin_basis = release.basis_of(str(self.config.mybb_root))
        deleted = self._deleted_log(running)
        if deleted and not result.log_exists:
            result.problem = deleted
        return result

    def _deleted_log(self, running: _Running | None) -> str | None:
        """What to say when the running server's log was deleted under it (PHP still writes to it)."""
        log_file = self.config.log_file
        if running is None or os.path.lexists(log_file):
            return None
        for proc in process.group_members(running.identity):
            held = process.held_deleted(proc.pid, log_file)
            if held:
                return (f"it was deleted while the server runs; PHP (PID {proc.pid}) still writes to the deleted "
                        f"file, which stays readable as {held} until PHP exits. Copy that file if you need "
                        "what it holds, then restart the server to log to a new file")
        return "it was deleted while the server runs; restart the server to log to a new file"

    def know_release(self) -> None:
        """Tell the log's origin where this forum's manifest of MyBB's files is (init writes it), and which
        release archive is at hand for a forum init did not make (forum/release.py)."""
        archive = Path(self.config.archive) if self.config.archive and "://" not in self.config.archive else None
        release.register(self.config.mybb_root, self.config.release_manifest_file,
                         (archive,) if archive is not None else ())

    def query_logs(self, options: LogQueryOptions) -> str:
        """Markdown answer to a log query (plan API)."""
        return render_log_query(self.search_logs(options))

    # ------------------------------------------------------------------ pages and checkpoints

    def _mybb_error_files(self) -> list[Path]:
        sources = error_log.error_log_sources(self.config.mybb_root, php_settings=self.config.php_settings)
        return [source.path for source in sources]

    def log_cursor(self) -> str:
        """A cursor at the end of the logs now (see checkpoints)."""
        return checkpoints.take_cursor(self.config.log_file, self._mybb_error_files()).encode()

    def request_page(self, request: PageRequest) -> PageResult:
        """Load a forum page as guest, a member or the admin: what MyBB showed, and the errors of exactly
        this request (its own exchanges, by client port) from the server log and MyBB's error log."""
        request = request.validated()
        running = self._observe([])
        files = self._mybb_error_files()
        log_file = self.config.log_file  # resolved once: the forum's layout is looked up on each access
        before = checkpoints.take_cursor(log_file, files)
        result = PageResult(request, None, log_file=log_file)
        if running is None:
            result.failure = f"the server is not running for {self.config.mybb_root}"
            result.hint = "Start it with mybb_server_start (or `mybb-server start`), then request the page."
            result.cursor = before.encode()
            return result
        cfg = files_module.read_config_php(self.config.mybb_root)
        self.know_release()
        client = requests.ForumClient(
            str(running.state.get("host", self.config.host)), int(running.state.get("port", self.config.port)),
            request.role, requests.SessionStore(requests.sessions_dir(self.config)),
            admin_dir=cfg.admin_dir if cfg else "admin",
            credentials=lambda: requests.credentials_for(request.role, self.config),
            secret_pin=cfg.secret_pin if cfg else "",
        )
        workbench = request_trace.begin(self.config, request.trace, request.plugins)
        if workbench is None and (request.trace or request.plugins is not None):
            result.failure = ("the running server cannot trace a request or switch plugins off for one: it was "
                              "started without mybb-mcp's router or by an older version; the page was not requested")
            result.hint = "Restart it with mybb_server_restart (or `mybb-server restart`), then ask again."
            result.cursor = before.encode()
            return result
        if workbench is not None:
            client.extra_headers = workbench.headers
        started = self._clock()
        try:
            response = requests.load_page(client, request)
        except requests.LoginProblem as exc:
            result.failure, result.hint = exc.message, exc.hint
            if exc.broke:  # the login request's own errors are the answer
                logins = [exchanges_module.Exchange(h.method, h.target, h.status, h.client_port) for h in client.login_hops]
                result.errors, result.errors_known, result.errors_note = exchanges_module.errors_of_exchanges(
                    before, logins, log_file, self.config.log_backups, files, root=self.config.mybb_root,
                    started=started)
        except (OSError, http.client.HTTPException) as exc:
            result.failure = f"the forum did not answer at {client.base}: {exc}"
            result.hint = "Check the server with mybb_server_status (or `mybb-server status`)."
        else:
            result.response = response
            exchanges = [exchanges_module.Exchange(h.method, h.target, h.status, h.client_port) for h in response.hops]
            result.errors, result.errors_known, result.errors_note = exchanges_module.errors_of_exchanges(
                before, exchanges, log_file, self.config.log_backups, files,
                root=self.config.mybb_root, started=started)
            requests.inspect_page(result, response)
            with contextlib.suppress(OSError):
                compile_time.remember(requests.sessions_dir(self.config), compile_time.from_groups(result.errors),
                                      self.config.mybb_root)
            if workbench is not None:
                result.workbench = request_trace.collect(self.config, workbench, [h.client_port for h in response.hops],
                                                         request.trace, request.plugins)
                request_trace.name_template_errors(result.workbench, result.errors, self.config.mybb_root)
            if not result.errors:
                result.visibility_note = self._hidden_kinds()
        ports = client.login_ports + ([h.client_port for h in result.response.hops] if result.response else [])
        with contextlib.suppress(OSError):  # unrecorded, its page only reads "not re-checked" in the digest
            request_roles.record(requests.sessions_dir(self.config), ports, request.role)
        if workbench is not None and result.workbench is None:  # no page: its exchanges' traces are not read
            request_trace.collect(self.config, workbench, [], request.trace, request.plugins)
        try:
            client.save()
        except OSError as exc:  # the answer stands; the next request logs in again
            if result.response is not None:
                result.response.notes.append(f"the session could not be kept ({exc.strerror or exc}); the next "
                                             "request logs in again")
        result.cursor = checkpoints.take_cursor(log_file, files).encode()
        return result

    def _hidden_kinds(self) -> str | None:
        """Why "no errors" may not be the whole truth: MyBB's error logging is off."""
        state = error_log.error_logging_state(files_module.read_settings_php(self.config.mybb_root))
        return state.warning

    def logs_since(self, cursor: str | None, options: LogQueryOptions, *, wait_seconds: float = 0.0,
                   on_wait: Callable[[float, float], None] | None = None) -> checkpoints.NewEntries:
        """Entries after `cursor` (None: from now) that match the filters of `options`, oldest first.

        With `wait_seconds`, waits up to that long for the first one, calling `on_wait(waited, total)`
        about once a second (the MCP face turns that into progress notifications)."""
        options = options.validated()
        files = self._mybb_error_files() if options.include_mybb else []
        mark = checkpoints.decode_cursor(cursor) if cursor else checkpoints.take_cursor(self.config.log_file, files)
        self.know_release()
        wanted = checkpoints.EntryFilter(errors_only=options.errors_only, exclude_static=options.exclude_static,
                                         keyword=options.filter_keyword, include_connections=options.include_connections,
                                         path=options.path, include_core_noise=options.include_core_noise,
                                         root=self.config.mybb_root)
        deadline = time.monotonic() + max(0.0, wait_seconds)
        started, ticked = time.monotonic(), 0
        while True:
            self._observe([])  # rotates a log grown too big while we wait, as queries do
            found = checkpoints.read_since(mark, self.config.log_file, self.config.log_backups, files,
                                           wanted=wanted, limit=options.limit)
            if found.entries or time.monotonic() >= deadline:
                return found
            mark = found.cursor
            waited = time.monotonic() - started
            if on_wait is not None and int(waited) > ticked:
                ticked = int(waited)
                on_wait(waited, wait_seconds)
            time.sleep(min(WAIT_POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    def error_digest(self, cursor: str | None = None, since_minutes: int | None = None,
                     include_mybb: bool = True, keyword: str | None = None,
                     path: str | None = None) -> digest.Digest:
        """Errors grouped by fingerprint; since a cursor: which are new, still firing or resolved.
        `keyword` / `path`: only errors holding the keyword, or whose request does (log_match)."""
        mark = checkpoints.decode_cursor(cursor) if cursor else None
        LogQueryOptions(since_minutes=since_minutes, filter_keyword=keyword, path=path).validated()
        since = (datetime.fromtimestamp(self._clock(), timezone.utc) - timedelta(minutes=since_minutes)
                 if since_minutes else None)
        self._observe([])
        self.know_release()
        files = self._mybb_error_files() if include_mybb else []
        root, sessions = self.config.mybb_root, requests.sessions_dir(self.config)
        role_of = request_roles.RoleOf(request_roles.read(sessions))
        match = RequestMatch.of(keyword, path)
        found = digest.digest(self.config.log_file, self.config.log_backups, files, cursor=mark, since=since,
                                   root=root, role_of=role_of, match=match, unchanged_since=lambda group: compile_time.unchanged_since(
                                       group.example.message, group.fingerprint.where, group.last_seen, root))
        with contextlib.suppress(OSError):  # what is kept is a help, never the answer's condition
            compile_time.remember(sessions, compile_time.from_groups(found.groups + found.before), root)
            if found.since_cursor and match is None:
                present = {g.key for g in found.groups + found.before}
                found.before += compile_time.standing_groups(sessions, root, present)
        return found

    # ------------------------------------------------------------------ MyBB settings

    def set_mybb_error_logging(self, enabled: bool) -> dev_mode.ErrorLoggingChange:
        """Turn MyBB's own error logging on for development (into the server log) or back off.

        Updates MyBB's settings table and rebuilds inc/settings.php as MyBB does; "off" restores the
        values "on" replaced. No restart needed: MyBB reads its settings on every request.
        """
        enabled = validate_flag(enabled, "enabled")
        self._ensure_repo_root()
        files = layout.claim(self.config.mybb_root)  # it writes beside the forum, as start does
        return dev_mode.set_error_logging(self.config.mybb_root, enabled, self.config.repo_root,
                                          memory_name=files.errorlog_memory.name)

    # ------------------------------------------------------------------ snapshots

    def snapshot(self, action: str, name: str | None = None) -> snapshots.SnapshotResult:
        """Save, restore, list, delete or diff a snapshot of the forum's database and the files MyBB writes.

        Works while the server runs. Restore first keeps what it replaces as an automatic snapshot.
        Raises InvalidArgument for an unknown action or a bad name (nothing is touched).
        """
        files = self.config.files  # the folder's first forum keeps the plain name, as for state and logs
        folder = snapshots.SNAPSHOTS_DIR if files.plain else f"{snapshots.SNAPSHOTS_DIR}.{files.key}"
        result = snapshots.Snapshots(self.config.mybb_root, self.config.repo_root / folder,
                                     max_bytes=self.config.snapshot_max_mb * 2**20).run(action, name)
        if result.failure is not None:
            result.failure = Failure(result.failure)
        return result

    # ------------------------------------------------------------------ the plugin workbench

    def plugins(self, action: str, name: str | None = None) -> plugin_workbench.PluginsResult:
        """List, install, activate, deactivate, uninstall or check a plugin, with MyBB's own code (see
        forum/workbench/plugins.py). Raises InvalidArgument for a bad action or name (nothing is run)."""
        action, name = plugin_workbench.validate(action, name)
        problem = self._forum_problem()
        if problem is not None or not (self.config.mybb_root / "inc" / "config.php").is_file():
            return plugin_workbench.PluginsResult(
                action, name, False, f"No installed MyBB forum: {problem or 'inc/config.php is missing'}.",
                hint="Set MYBB_ROOT to a MyBB forum (or make one with `mybb-server init`).")
        php = self._resolve_php() or self.config.php
        return plugin_workbench.run(self.config.mybb_root, action, name, php=php,
                                    php_settings=tuple(self.config.php_settings))

    # ------------------------------------------------------------------ plan's private API

    def _read_state(self) -> dict[str, Any] | None:
        return self._state_file.read().state

    def _write_state(self, state: dict[str, Any]) -> None:
        self._state_file.write(state)

    def _validate_state(self, state: dict[str, Any]) -> bool:
        """True only if the recorded PID is alive and is still the process we started."""
        try:
            identity = ProcessIdentity.from_state(state)
        except (KeyError, TypeError, ValueError):
            return False
        return process.is_alive(identity)

    def _clear_state(self) -> None:
        self._state_file.clear()

    def _check_port_available(self, port: int) -> tuple[bool, int | None]:
        if process.port_is_free(self.config.host, port):
            return True, None
        owner = process.port_owner(port)
        return False, owner.pid if owner else None

    def _rotate_log(self) -> bool:
        return rotate_logs(self.config.log_file, self.config.log_backups)

    # ------------------------------------------------------------------ helpers

    def _current(
        self, notes: list[str], died: list[DeathReport] | None = None, clear_dead: bool = False
    ) -> _Running | None:
        """The running server we started, or None. Sets an unusable state aside, saying so in `notes`.

        The state of a server that died is its crash record: every reader (status, logs, stop) reports
        from it, as often as asked; only the next start (`clear_dead`) clears it.
        """
        read = self._state_file.read()
        if read.problem:
            kept = self._state_file.set_aside()
            notes.append(
                f"The state file {self.config.state_file.name} was unusable because {read.problem}; "
                + (f"it was moved to {kept.name} and ignored." if kept else "it was ignored.")
            )
            return None
        state = read.state
        if state is None:
            return None
        mismatch = self._not_this_forum(state)
        if mismatch:
            kept = self._state_file.set_aside()
            notes.append(
                f"The state file {self.config.state_file.name} was not believed because {mismatch}; "
                + (f"it was moved to {kept.name}" if kept else "it was ignored")
                + " and no process it names was signalled."
            )
            return None
        identity = ProcessIdentity.from_state(state)
        if process.is_alive(identity):
            self._continue_if_stopped(identity, notes)
            return _Running(identity, state, leader_alive=True)
        if process.group_members(identity):
            self._continue_if_stopped(identity, notes)
            return _Running(identity, state, leader_alive=False)
        if clear_dead:
            how = self._death_report(identity, state, with_errors=False).how
            self._state_file.clear()
            registry.forget(self.config.files, identity.pid)
            notes.append(f"The previous server (PID {identity.pid}) had died ({how}); its record was cleared.")
        elif died is not None:
            died.append(self._death_report(identity, state))
        return None

    def _not_this_forum(self, state: dict[str, Any]) -> str | None:
        """Why a (well-formed, ours) state does not describe this forum's server as this tool starts it."""
        config = self.config
        if state.get("log_file") not in (None, str(config.log_file)):
            return f"its log file is not this forum's ({_shown(state['log_file'])})"
        if state.get("mybb_root") not in (None, str(config.mybb_root)):
            return f"its forum is not this one ({_shown(state['mybb_root'])})"
        if not process.serves_root(state["cmdline"], config.mybb_root, str(state["host"]), int(state["port"])):
            return (f"the command line it records is not php -S serving {config.mybb_root} on the host and port "
                    "it records")
        return None

    def _continue_if_stopped(self, identity: ProcessIdentity, notes: list[str]) -> None:
        """Our PHP left paused (SIGSTOP) by a rotation whose process was killed outright: continue it."""
        stopped = process.stopped_members(process.group_members(identity))
        if stopped:
            process.signal_members(stopped, signal.SIGCONT)
            pids = ", ".join(str(proc.pid) for proc in stopped)
            notes.append(f"PHP (PID {pids}) was found paused (stopped, e.g. by a log rotation that was killed "
                         "midway) and was continued; the forum answers again.")

    def _death_report(self, identity: ProcessIdentity, state: dict[str, Any], with_errors: bool = True) -> DeathReport:
        ended = process.exit_of(identity)
        reused = process.identity_of(identity.pid)
        reused_by = " ".join(reused.cmdline) or "another program" if reused else None
        if ended is not None:
            how = process.describe_exit(ended.code)
        elif reused_by:
            how = "ended; its PID now belongs to an unrelated process, which was not touched"
        else:
            how = "ended without being stopped by mybb-server or mybb-mcp (exit status unknown to this process)"
        log_file = Path(state.get("log_file") or self.config.log_file)
        try:
            last_write = datetime.fromtimestamp(log_file.stat().st_mtime, timezone.utc)
        except OSError:
            last_write = None
        last_errors = self._last_errors(log_file) if with_errors else []
        ended_at = datetime.fromtimestamp(ended.at, timezone.utc) if ended and ended.at else None
        return DeathReport(identity.pid, int(state["port"]), state.get("started_at"), last_write, how, ended_at,
                           reused_by, last_errors)

    def _last_errors(self, log_file: Path) -> list[LogEntry]:
        try:
            result = run_query(
                log_file, LogQueryOptions(errors_only=True, limit=LAST_ERRORS_SHOWN, include_mybb=False,
                                          include_rotated=False),
                now=datetime.fromtimestamp(self._clock(), timezone.utc), zone=read_log_zone(log_file),
                forum_root=self.config.mybb_root,
            )
        except OSError:
            return []
        return list(result.entries)

    def _already_running(self, running: _Running, notes: list[str], asked_port: int | None = None) -> ServerResult:
        state = running.state
        host, port = str(state["host"]), int(state["port"])
        return ServerResult(
            False, "start", f"A server started by this tool is already serving {_url(host, port)}.",
            Failure.ALREADY_RUNNING, pid=running.identity.pid, port=port, host=host, url=_url(host, port),
            log_file=Path(state.get("log_file", self.config.log_file)), started_at=state.get("started_at"),
            uptime_seconds=max(0.0, self._clock() - running.identity.create_time),
            workers=process.worker_pids(running.identity), notes=notes,
            requested_port=asked_port if asked_port not in (None, port) else None,
        )

    def _foreign_listener(self, host: str, port: int) -> PortOwner | None:
        if process.port_is_free(host, port):
            return None
        return self._port_owner(port) or PortOwner(None, None, ())

    def _port_owner(self, port: int) -> PortOwner | None:
        """Who listens on `port`; when it is a server of ours for another forum, which forum and URL."""
        owner = process.port_owner(port)
        if owner is None or owner.pid is None:
            return owner
        live = registry.holding(owner.pid)
        if live is None:
            return owner
        entry = live.entry
        return replace(owner, forum_root=str(entry.mybb_root), forum_url=_url(entry.host, entry.port))

    def _forum_problem(self) -> str | None:
        root = self.config.mybb_root
        if not root.exists():
            return f"{root} does not exist"
        if not root.is_dir():
            return f"{root} is not a directory"
        if not (root / "index.php").is_file():
            return f"{root} has no index.php, so it is not a MyBB root"
        return None

    def _bad_root_result(self, action: str, problem: str, notes: list[str] | None = None) -> ServerResult:
        source = self.config.sources.get("MYBB_ROOT", "configuration")
        return ServerResult(
            False, action, f"The MyBB root is not usable: {problem}.", Failure.BAD_FORUM_ROOT,
            notes=[*(notes or []), f"MYBB_ROOT came from: {source}. Set MYBB_ROOT to the directory that holds "
                   "MyBB's index.php (in the environment or a .env file).",
                   *(f"{note}; its settings were not used." for note in self.config.ignored_dotenv)],
        )

    def _resolve_php(self) -> str | None:
        php = self.config.php
        if os.sep in php:
            return php if os.path.isfile(php) and os.access(php, os.X_OK) else None
        return shutil.which(php)

    def _argv(self, php: str, host: str, port: int) -> list[str]:
        argv = [php]
        for setting in [*self._dev_settings(php), *self.config.php_settings]:  # the configuration's win
            argv += ["-d", setting]
        bind = f"[{host}]" if ":" in host and not host.startswith("[") else host
        argv += ["-S", f"{bind}:{port}", "-t", str(self.config.mybb_root)]
        if self.config.use_router:
            argv.append(str(ROUTER_SCRIPT))
        return argv

    # ------------------------------------------------------------------ development mode

    def _dev_mode(self, result: ServerResult, error_logging: bool) -> ServerResult:
        """After a successful start: MyBB's error logging on if it was off (development mode), and what
        the running server makes visible."""
        if not result.success:
            return result
        forum = report.diagnose_forum(self.config.mybb_root, result.url, check_db=False,
                                      php_settings=self.config.php_settings)
        state = forum.error_logging
        if self.config.dev_ini and error_logging and state is not None and not state.enabled:
            result.error_logging_change = self.set_mybb_error_logging(True)
            if result.error_logging_change.ok:
                forum = report.diagnose_forum(self.config.mybb_root, result.url, check_db=False,
                                              php_settings=self.config.php_settings)
        running = self._state_file.read().state or {}
        argv = running.get("cmdline")
        result.visibility = self._visibility(argv if isinstance(argv, list) else None, forum)
        return result

    def _visibility(self, argv: list[str] | None, forum: Any) -> dev_mode.Visibility:
        """Which error kinds the server (running with `argv`, or as it would start) puts in the log."""
        php = self._resolve_php()
        runtime = php_dev.probe_php(php, self.config.php_settings) if php else None
        if argv is None:  # not running: as it would start
            argv = self._argv(php, self.config.host, self.config.port) if php else []
        settings = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-d"]
        state = getattr(forum, "error_logging", None)
        return dev_mode.error_visibility(
            server_argv=settings,
            xdebug_installed=bool(runtime and runtime.has_xdebug),
            logging_enabled=None if state is None else state.enabled,
            fresh_code=php_dev.fresh_code_explanation(settings, runtime),
            switched_on_by_tool=bool(state and state.enabled)
            and dev_mode.switched_on_by_tool(self.config.repo_root, self.config.mybb_root,
                                             self.config.files.errorlog_memory.name),
            dev_ini=self.config.dev_ini,
        )

    def _dev_settings(self, php: str) -> list[str]:
        """-d flags that depend on what the PHP binary has (Xdebug), for MYBB_DEV_INI=1."""
        if not self.config.dev_ini:
            return []
        return php_dev.xdebug_settings(php_dev.probe_php(php, self.config.php_settings))

    def _ensure_log_dirs(self, log_file: Path) -> None:
        """logs/ (and a forum's own folder in it): created if missing, each a real directory of ours."""
        chain, directory = [], log_file.parent
        while directory != self.config.repo_root and self.config.repo_root in directory.parents:
            chain.append(directory)
            directory = directory.parent
        for directory in reversed(chain):
            ensure_private_dir(directory)

    def _open_log(self, log_file: Path) -> int:
        """Create the new log with the zone header; returns where PHP's own output will begin."""
        header = format_zone_header(self._server_now()) + "\n"
        fd = open_regular(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666, ours=True)
        try:
            os.write(fd, header.encode())
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def _server_now(self) -> datetime:
        """Now, in the zone PHP will stamp its log in: PHP inherits our TZ (or the system zone)."""
        moment = datetime.fromtimestamp(self._clock(), timezone.utc)
        key = local_zone_key()
        if key:
            return moment.astimezone(ZoneInfo(key))
        time.tzset()  # a TZ that zoneinfo cannot name (POSIX rules): let libc apply it as PHP will
        return moment.astimezone()

    def _start_warnings(self, host: str, port: int) -> list[str]:
        warnings: list[str] = []
        if not _is_loopback(host):
            warnings.append(
                f"The server listens on {host}, not loopback: the forum, Admin CP included, is reachable from "
                "the network. Restart it with host 127.0.0.1 unless that is what you want."
            )
        return warnings

    def _log_over_limit(self) -> int | None:
        """The live log's size when it is past MYBB_LOG_MAX_MB, else None."""
        try:
            size = os.lstat(self.config.log_file).st_size
        except OSError:
            return None
        return size if size > self.config.log_max_mb * 1024 * 1024 else None

    def _rotate_if_too_big(self, running: _Running, notes: list[str], warnings: list[str]) -> None:
        """In-place rotation of the running server's log (a write call's job: status and queries
        only say the log is over the limit). Any refusal is a warning; nothing is left behind."""
        log_file = self.config.log_file
        if self._log_over_limit() is None:
            return
        members = process.group_members(running.identity)
        try:
            rotate_in_place(log_file, self.config.log_backups, lambda: process.paused(members))
        except UnsafeFile as exc:
            warnings.append(f"The log is over {self.config.log_max_mb} MB but was not rotated: {exc}")
            return
        except OSError as exc:
            reason = exc.strerror or str(exc)
            warnings.append(f"The log is over {self.config.log_max_mb} MB but was not rotated: {reason}.")
            return
        notes.append(f"The log passed {self.config.log_max_mb} MB and was rotated to {log_file.name}.1 "
                     "while the server kept running.")


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _read_tail_text(path: Path, start: int, limit: int = 4096) -> str:
    """PHP's own output after `start`, without timestamps: why it would not start."""
    try:
        with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
            handle.seek(start)
            data = handle.read(limit)
    except OSError:
        return ""
    lines = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("[") and "] " in line:
            line = line.split("] ", 1)[1]
        if line:
            lines.append(line)
    return "\n".join(lines[-5:])
