"""ServerOrchestrationService: the lifecycle of `php -S` serving a MyBB root, composed of its parts.

This module tells the story (init, start, stop, restart, status, list) and nothing lower-level. The
service's parts, each a small class sharing one `ForumSite` (`observe`: the configuration, the clock, the
running server or why there is none): `service.logs` (`log_calls`: queries, cursors, the digest),
`service.forum` (`forum_calls`: page requests, error logging, snapshots, doctor, reference) and
`service.workbench` (`workbench_calls`: plugins, SQL, members, templates, PHP, the matrix). Beside them:
`init` (install, then start), `php_runtime` (which PHP, its command line, what it makes visible),
`validation` (the arguments), `process` (spawn, identity, signals, ports), `state` (the state file and its
lock). It returns the dataclasses of `results` (and the log engine's); the faces render them with
`mybb_mcp.answers`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .. import layout
from ..failures import Failure
from ..forum import report
from ..forum.folder_modes import open_folders_warning, readable_config_warning
from ..logs import signed as signed_channel
from ..logs.options import LogQueryOptions
from ..logs.parser import READY_PROBE_PATH, READY_PROBE_PATH_PLAIN
from ..logs.rotation import rotate_in_place, rotate_logs
from ..logs.zone import format_zone_header, local_zone_key
from ..results import DeathReport, InitResult, ServerListing, ServerResult, ServerStatus
from ..safe_files import UnsafeFile, ensure_private_dir, open_regular
from ..workbench import request_trace
from . import init as init_story
from . import php_runtime, process, registry
from .forum_calls import ForumService
from .log_calls import LogService
from .observe import ForumSite
from .process import ProcessIdentity
from .state import LockTimeout
from .validation import is_loopback_host, server_url, validate_flag, validate_host, validate_port, validate_workers
from .workbench_calls import WorkbenchService

if TYPE_CHECKING:
    from ..config import Config
    from ..forum.source import DownloadProgress
    from .observe import RunningServer


__all__ = ["DeathReport", "LogQueryOptions", "ServerOrchestrationService", "ServerResult", "ServerStatus"]


class ServerOrchestrationService:
    """Start, stop, restart and report on `php -S` serving `config.mybb_root`; its logs, forum and
    workbench through `logs`, `forum` and `workbench`."""

    def __init__(self, config: Config) -> None:
        self.site = ForumSite(config)
        self.logs = LogService(self.site)
        self.forum = ForumService(self.site)
        self.workbench = WorkbenchService(self.site, type(self))  # a matrix cell runs under a service like this
        # Test seams.
        self._start_timeout = 15.0
        self._stop_timeout = 5.0

    @property
    def config(self) -> Config:
        """The forum's configuration (shared by every part: `init --php` replaces it for all)."""
        return self.site.config

    def init_forum(self, options: init_story.InitOptions, progress: Callable[[str], None] | None = None,
                   download_progress: DownloadProgress | None = None) -> InitResult:
        """Install MyBB at MYBB_ROOT with MyBB's own installer and start it (see orchestration/init.py), on
        MYBB_PHP_VERSION's PHP when one is named, or `options.php`'s, which the forum then keeps (installed
        first)."""
        if options.php is not None:
            self.site.config = php_runtime.with_release(self.config, options.php)
        notes: list[str] = []
        problem = php_runtime.ensure_build(self.config, notes)
        if problem is not None:
            return InitResult(False, self.config.mybb_root, message=problem.message, hint=problem.hint,
                              failed_step="php")
        result = init_story.init_forum(self, options, progress, download_progress)
        result.notes[:0] = notes
        return result

    # ------------------------------------------------------------------ lifecycle

    def start(
        self, port: int | None = None, force: bool = False, *, host: str | None = None, workers: int | None = None,
        dev_error_logging: bool = True,
    ) -> ServerResult:
        """Start the server; with `force`, restart it if it is already running. In development mode
        (MYBB_DEV_INI=1) and unless `dev_error_logging` is False, MyBB's error logging is switched on
        when it is off (the result says so; `forum.set_mybb_error_logging(False)` undoes it)."""
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

    def _locked(self, action: str, operation: Callable[[], ServerResult]) -> ServerResult:
        problem = self.site.forum_problem() if action != "stop" else None
        if problem:  # refused before the lock file is made: a wrong MYBB_ROOT leaves nothing beside it
            return self._bad_root_result(action, problem)
        try:
            self.site.ensure_repo_root()
            if action != "stop":  # only what may write a state and a log claims the folder's plain names
                layout.claim(self.config.mybb_root)
            while True:
                state_file = self.site.state_file
                with state_file.lock(self.site.lock_timeout):
                    # Named before another forum's first start claimed the folder: take our own lock.
                    if self.site.state_file.lock_path == state_file.lock_path:
                        return operation()
        except LockTimeout:
            return ServerResult(
                False,
                action,
                f"Another start, stop or restart on this forum held the lock for {self.site.lock_timeout:.0f} s.",
                Failure.BUSY,
                notes=[f"Lock file: {self.config.lock_file}. If no other mybb-server or mybb-mcp is working on "
                       "this forum, a hung one may hold it: check its status, then try again."],
            )
        except UnsafeFile as exc:
            return self._unsafe_file_result(action, exc)
        except FileNotFoundError as exc:
            return self._bad_root_result(action, f"cannot create files next to it: {exc}")

    def _dev_mode(self, result: ServerResult, error_logging: bool) -> ServerResult:
        """After a successful start: MyBB's error logging on if it was off (development mode), and what
        the running server makes visible."""
        if not result.success:
            return result
        config = self.config
        forum = report.diagnose_forum(config.mybb_root, result.url, check_db=False, php_settings=config.php_settings)
        state = forum.error_logging
        if config.dev_ini and error_logging and state is not None and not state.enabled:
            result.error_logging_change = self.forum.set_mybb_error_logging(True)
            if result.error_logging_change.ok:
                forum = report.diagnose_forum(config.mybb_root, result.url, check_db=False,
                                              php_settings=config.php_settings)
        running = self.site.state_file.read().state or {}
        argv = running.get("cmdline")
        result.visibility = php_runtime.visibility(config, argv if isinstance(argv, list) else None, forum)
        return result

    def _unsafe_file_result(self, action: str, exc: UnsafeFile, notes: list[str] | None = None) -> ServerResult:
        return ServerResult(False, action, f"Refused: {exc.message}", Failure.UNSAFE_FILE,
                            notes=[*(notes or []), exc.fix + "."])

    def _restart_locked(self, port: int | None, host: str | None, workers: int | None) -> ServerResult:
        notes: list[str] = []
        running = self.site.current(notes)
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

        running = self.site.current(notes, clear_dead=True)
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

        problem = self.site.forum_problem()
        if problem:
            return self._bad_root_result("start", problem, notes)
        build_problem = php_runtime.ensure_build(self.config, notes)
        if build_problem is not None:
            return ServerResult(False, "start", build_problem.message, Failure.PHP_BUILD_UNAVAILABLE, port=port,
                                host=host, notes=[*notes, build_problem.hint])
        php = php_runtime.resolve_php(self.config)
        if php is None:
            return ServerResult(
                False, "start", f"The PHP binary {config.php!r} was not found or is not executable.",
                Failure.PHP_NOT_FOUND, port=port, host=host, notes=notes,
            )
        if not process.port_is_free(host, port):
            owner = self.site.port_owner(port)
            holder = "another forum's server started by this tool" if owner and owner.forum_root else "another program"
            return ServerResult(
                False, "start", f"Port {port} on {host} is already in use by {holder}.",
                Failure.PORT_IN_USE, port=port, host=host, port_owner=owner, notes=notes,
                free_port=process.nearest_free_port(host, port),
            )
        log_file = config.log_file
        channel: dict[str, str] = {}
        try:
            self._ensure_log_dirs(log_file)
            rotated = rotate_logs(log_file, config.log_backups)
            channel = self._error_channel(log_file, notes)
            header_end = self._open_log(log_file, signed=bool(channel))
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

        argv = php_runtime.server_argv(self.config, php, host, port, signed=bool(channel))
        env = dict(os.environ)
        env.pop(signed_channel.ENV_NAME, None)
        env.update(channel)
        env.pop("PHP_CLI_SERVER_WORKERS", None)
        if workers > 1:
            env["PHP_CLI_SERVER_WORKERS"] = str(workers)
        env.pop(request_trace.ENV_NAME, None)
        workbench_off = request_trace.refusal(config) if config.use_router else None  # a warning, below
        if config.use_router and workbench_off is None:
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
        started_at = datetime.fromtimestamp(self.site.clock(), timezone.utc).isoformat(timespec="seconds")
        recorded = {"host": host, "port": port, "workers": workers, "started_at": started_at,
                    "log_file": str(log_file), "mybb_root": str(config.mybb_root)}
        if identity is not None:
            self.site.state_file.write({**identity.as_state(), **recorded})

        probe = READY_PROBE_PATH if config.use_router else READY_PROBE_PATH_PLAIN
        outcome = process.wait_ready(proc, identity, host, port, probe, self._start_timeout)
        if outcome is not process.Ready.ANSWERING or identity is None:
            exited = outcome is process.Ready.EXITED
            return self._start_failed(proc, identity, host, port, log_file, header_end, exited, notes)
        # A version-manager shim has become PHP (exec) or started it (child): record PHP, the process
        # that holds the socket, so the next status knows it and stop signals it.
        identity = process.settled_identity(identity, port) or identity
        self.site.state_file.write({**identity.as_state(), **recorded})
        registry.record(self.config.files, {**identity.as_state(), **recorded}, probe)
        warnings = self._start_warnings(host, port)
        warnings += [w for w in (readable_config_warning(config.mybb_root), workbench_off) if w]
        pool = process.wait_for_pool(identity, workers if workers > 1 else 0)
        if workers > 1 and len(pool) < workers:
            warnings.append(f"Only {len(pool)} of {workers} PHP workers had started when the server answered.")
        return ServerResult(
            True, "start", f"PHP is serving {config.mybb_root} at {server_url(host, port)}.",
            pid=identity.pid, port=port, host=host, url=server_url(host, port), log_file=log_file,
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
        self.site.state_file.clear()
        reason = _read_tail_text(log_file, header_end) or None
        owner = self.site.port_owner(port) if reason and "already in use" in reason else None
        if exited:
            code = process.exit_status(proc)
            how = process.describe_exit(code) if code is not None else "exited"
            message = f"PHP {how} before it answered on {server_url(host, port)}."
            failure = Failure.PORT_IN_USE if owner else Failure.PHP_EXITED
        else:
            message = (f"PHP did not answer on {server_url(host, port)} within {self._start_timeout:.0f} s; "
                       "it was stopped.")
            failure = Failure.START_TIMEOUT
        return ServerResult(
            False, "start", message, failure, port=port, host=host, log_file=log_file,
            port_owner=owner, reason=reason, notes=notes,
            free_port=process.nearest_free_port(host, port) if owner else None,
        )

    def _stop_locked(self, force: bool, notes: list[str]) -> ServerResult:
        died: list[DeathReport] = []
        running = self.site.current(notes, died)
        if running is None:
            config = self.config
            foreign = self.site.foreign_listener(config.host, config.port)
            if foreign is not None:  # the holder is named once, by the renderer, from port_owner
                # Another forum's server of ours on the port is not "not ours": this forum's is not running.
                ours = foreign.forum_root is not None
                return ServerResult(
                    False, "stop", "No server of this forum's is running; nothing was stopped.",
                    Failure.NOT_RUNNING if ours else Failure.NOT_OURS, port=config.port, host=config.host,
                    port_owner=foreign, notes=notes,
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

    def _stop_running(self, running: RunningServer, force: bool) -> ServerResult:
        identity, state = running.identity, running.state
        self.forum.close_warm_browser()  # stop, restart, init --force: never a browser left for a gone server
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
        self.site.state_file.clear()
        registry.forget(self.config.files, identity.pid)
        ran_for = max(0.0, self.site.clock() - identity.create_time)
        return ServerResult(
            True, "stop", f"Stopped PHP (PID {identity.pid}) serving {server_url(host, port)}.",
            pid=identity.pid, port=port, host=host, url=server_url(host, port),
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
        running = self.site.observe(notes, died)
        config = self.config
        log_file = config.log_file
        status = ServerStatus(running=running is not None, log_file=log_file, mybb_root=config.mybb_root,
                              notes=notes, died=died[0] if died else None)
        status.warnings += [f"{note}; its settings were not used." for note in config.ignored_dotenv]
        if running is not None:
            identity, state = running.identity, running.state
            status.pid = identity.pid
            status.port, status.host = int(state["port"]), str(state["host"])
            status.url = server_url(status.host, status.port)
            status.started_at = state.get("started_at")
            status.uptime_seconds = max(0.0, self.site.clock() - identity.create_time)
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
            status.foreign = self.site.foreign_listener(config.host, config.port)
            if status.foreign is not None:
                status.free_port = process.nearest_free_port(config.host, config.port)
        try:
            status.log_size = log_file.stat().st_size
        except OSError:
            status.log_size = None
        deleted = self.site.deleted_log(running)
        if deleted:
            status.warnings.append(f"The server log {log_file}: {deleted}.")
        over = self._log_over_limit()
        if over is not None:
            status.warnings.append(
                f"The log is {over / 2**20:.0f} MB, over MYBB_LOG_MAX_MB ({config.log_max_mb} MB). Status and "
                "log queries never rewrite it: start (when running, it rotates the log in place without a "
                "restart) or restart rotates it."
            )
        for warning in (open_folders_warning(config.mybb_root), readable_config_warning(config.mybb_root),
                        request_trace.refusal(config) if config.use_router else None):
            if warning:
                status.warnings.append(warning)
        php = php_runtime.resolve_php(config)
        status.forum = forum = report.diagnose_forum(config.mybb_root, status.url, php_settings=config.php_settings,
                                                     php=php)
        status.php = php_runtime.describe(config, php)
        argv = running.state.get("cmdline") if running is not None else None
        status.visibility = php_runtime.visibility(config, argv if isinstance(argv, list) else None, forum)
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
                mybb_root=entry.mybb_root, url=server_url(entry.host, entry.port), host=entry.host, port=entry.port,
                pid=identity.pid, workers=workers, started_at=entry.started_at,
                uptime_seconds=max(0.0, self.site.clock() - identity.create_time), health=health,
                exposed=not is_loopback_host(entry.host), log_file=entry.log_file,
            ))
        return sorted(listings, key=lambda listing: (str(listing.mybb_root), listing.port))

    # ------------------------------------------------------------------ plan's private API

    def _read_state(self) -> dict[str, Any] | None:
        return self.site.state_file.read().state

    def _write_state(self, state: dict[str, Any]) -> None:
        self.site.state_file.write(state)

    def _validate_state(self, state: dict[str, Any]) -> bool:
        """True only if the recorded PID is alive and is still the process we started."""
        try:
            identity = ProcessIdentity.from_state(state)
        except (KeyError, TypeError, ValueError):
            return False
        return process.is_alive(identity)

    def _clear_state(self) -> None:
        self.site.state_file.clear()

    def _check_port_available(self, port: int) -> tuple[bool, int | None]:
        if process.port_is_free(self.config.host, port):
            return True, None
        owner = process.port_owner(port)
        return False, owner.pid if owner else None

    def _check_mariadb(self) -> bool:
        return self.forum.check_mariadb()

    def _rotate_log(self) -> bool:
        return rotate_logs(self.config.log_file, self.config.log_backups)

    def _already_running(self, running: RunningServer, notes: list[str], asked_port: int | None = None) -> ServerResult:
        state = running.state
        host, port = str(state["host"]), int(state["port"])
        return ServerResult(
            False, "start", f"A server started by this tool is already serving {server_url(host, port)}.",
            Failure.ALREADY_RUNNING, pid=running.identity.pid, port=port, host=host, url=server_url(host, port),
            log_file=Path(state.get("log_file", self.config.log_file)), started_at=state.get("started_at"),
            uptime_seconds=max(0.0, self.site.clock() - running.identity.create_time),
            workers=process.worker_pids(running.identity), notes=notes,
            requested_port=asked_port if asked_port not in (None, port) else None,
        )

    def _bad_root_result(self, action: str, problem: str, notes: list[str] | None = None) -> ServerResult:
        source = self.config.sources.get("MYBB_ROOT", "configuration")
        return ServerResult(
            False, action, f"The MyBB root is not usable: {problem}.", Failure.BAD_FORUM_ROOT,
            notes=[*(notes or []), f"MYBB_ROOT came from: {source}. Set MYBB_ROOT to the directory that holds "
                   "MyBB's index.php (in the environment or a .env file).",
                   *(f"{note}; its settings were not used." for note in self.config.ignored_dotenv)],
        )

    def _error_channel(self, log_file: Path, notes: list[str]) -> dict[str, str]:
        """PHP's errors written signed by the tool (logs/signed.py): a new key, and the environment naming
        it; {} (errors logged by PHP itself, judged as before) when the configuration names its own
        auto_prepend_file or the key cannot be written."""
        if php_runtime.names_own_prepend(self.config):
            notes.append("MYBB_PHP_INI names its own auto_prepend_file: PHP logs its errors itself, unsigned, and "
                         "text a page logs can forge entries (see SECURITY.md).")
            return {}
        try:
            return signed_channel.new_key(log_file)
        except (OSError, UnsafeFile) as exc:
            notes.append(f"PHP's errors are logged unsigned: the key beside the log could not be written ({exc}).")
            return {}

    def _ensure_log_dirs(self, log_file: Path) -> None:
        """logs/ (and a forum's own folder in it): created if missing, each a real directory of ours."""
        chain, directory = [], log_file.parent
        while directory != self.config.repo_root and self.config.repo_root in directory.parents:
            chain.append(directory)
            directory = directory.parent
        for directory in reversed(chain):
            ensure_private_dir(directory)

    def _open_log(self, log_file: Path, signed: bool = False) -> int:
        """Create the new log with the zone header (saying whether PHP's errors come signed, before any
        request could write); returns where PHP's own output will begin."""
        header = format_zone_header(self._server_now()) + (signed_channel.open_header_mark() if signed else "") + "\n"
        fd = open_regular(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666, ours=True)
        try:
            os.write(fd, header.encode())
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def _server_now(self) -> datetime:
        """Now, in the zone PHP will stamp its log in: PHP inherits our TZ (or the system zone)."""
        moment = datetime.fromtimestamp(self.site.clock(), timezone.utc)
        key = local_zone_key()
        if key:
            return moment.astimezone(ZoneInfo(key))
        time.tzset()  # a TZ that zoneinfo cannot name (POSIX rules): let libc apply it as PHP will
        return moment.astimezone()

    def _start_warnings(self, host: str, port: int) -> list[str]:
        warnings: list[str] = []
        if not is_loopback_host(host):
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

    def _rotate_if_too_big(self, running: RunningServer, notes: list[str], warnings: list[str]) -> None:
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
