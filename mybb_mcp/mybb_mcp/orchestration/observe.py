"""The forum as every part of the service sees it (`ForumSite`): its configuration, the clock, and before
any act the running server it started (its state verified), a server that died and why, who else holds a
port, where MyBB logs its errors and whether the root is a forum at all.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..forum import release
from ..logs import mybb_error_log
from ..logs.options import LogQueryOptions
from ..logs.query import run_query
from ..logs.zone import read_log_zone
from ..results import DeathReport, PortOwner
from ..safe_files import UnsafeFile
from . import php_runtime, process, registry
from .process import ProcessIdentity
from .state import LockTimeout, StateFile
from .validation import server_url

if TYPE_CHECKING:
    from ..config import Config
    from ..logs.parser import LogEntry


LAST_ERRORS_SHOWN = 3


@dataclass
class RunningServer:
    identity: ProcessIdentity
    state: dict[str, Any]
    leader_alive: bool


def _shown(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


class ForumSite:
    """One forum as the service's parts share it. `config` is replaced, not changed, when `init --php`
    names a build; every part reads it here. `clock` and `lock_timeout` are test seams."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.clock: Callable[[], float] = time.time
        self.lock_timeout = 30.0

    @property
    def state_file(self) -> StateFile:
        """This forum's state file and lock, named afresh on each use: until the folder's plain names
        are claimed, another forum's first start may claim them (see layout.py)."""
        files = self.config.files
        return StateFile(files.state_file, files.lock_file)

    def observe(self, notes: list[str], died: list[DeathReport] | None = None) -> RunningServer | None:
        """What status and log queries see first: the running server, its stale state cleared. Under
        the lock, so they never act on a state a concurrent restart just replaced (an orphan). They
        rewrite no file: a log over the size limit is rotated by the next start or restart. No state
        file: nothing to act on, and no lock file is created."""
        if not os.path.lexists(self.state_file.path):
            return None
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.state_file.lock(self.lock_timeout))
            except LockTimeout:  # a hung operation: observe without the lock
                pass
            except UnsafeFile as exc:
                notes.append(f"Observed without the lock: {exc} ")
            return self.current(notes, died)

    def current(
        self, notes: list[str], died: list[DeathReport] | None = None, clear_dead: bool = False
    ) -> RunningServer | None:
        """The running server we started, or None. Sets an unusable state aside, saying so in `notes`.

        The state of a server that died is its crash record: every reader (status, logs, stop) reports
        from it, as often as asked; only the next start (`clear_dead`) clears it.
        """
        read = self.state_file.read()
        if read.problem:
            kept = self.state_file.set_aside()
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
            kept = self.state_file.set_aside()
            notes.append(
                f"The state file {self.config.state_file.name} was not believed because {mismatch}; "
                + (f"it was moved to {kept.name}" if kept else "it was ignored")
                + " and no process it names was signalled."
            )
            return None
        identity = ProcessIdentity.from_state(state)
        if process.is_alive(identity):
            self._continue_if_stopped(identity, notes)
            return RunningServer(identity, state, leader_alive=True)
        if process.group_members(identity):
            self._continue_if_stopped(identity, notes)
            return RunningServer(identity, state, leader_alive=False)
        if clear_dead:
            how = self._death_report(identity, state, with_errors=False).how
            self.state_file.clear()
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
                now=datetime.fromtimestamp(self.clock(), timezone.utc), zone=read_log_zone(log_file),
                forum_root=self.config.mybb_root,
            )
        except OSError:
            return []
        return list(result.entries)

    def foreign_listener(self, host: str, port: int) -> PortOwner | None:
        if process.port_is_free(host, port):
            return None
        return self.port_owner(port) or PortOwner(None, None, ())

    def port_owner(self, port: int) -> PortOwner | None:
        """Who listens on `port`; when it is a server of ours for another forum, which forum and URL."""
        owner = process.port_owner(port)
        if owner is None or owner.pid is None:
            return owner
        live = registry.holding(owner.pid)
        if live is None:
            return owner
        entry = live.entry
        return replace(owner, forum_root=str(entry.mybb_root), forum_url=server_url(entry.host, entry.port))

    # ------------------------------------------------------------------ the forum's own files

    def forum_problem(self) -> str | None:
        """Why MYBB_ROOT is not a MyBB root, or None."""
        root = self.config.mybb_root
        if not root.exists():
            return f"{root} does not exist"
        if not root.is_dir():
            return f"{root} is not a directory"
        if not (root / "index.php").is_file():
            return f"{root} has no index.php, so it is not a MyBB root"
        return None

    def ensure_repo_root(self) -> None:
        # The lock file lives beside the forum; a missing forum is reported by start, not by a crash here.
        if not self.config.repo_root.is_dir():
            raise FileNotFoundError(f"{self.config.repo_root} does not exist")

    def mybb_error_files(self) -> list[Path]:
        """Where MyBB's own error log is written (logs/mybb_error_log.py)."""
        sources = mybb_error_log.error_log_sources(self.config.mybb_root, php_settings=self.config.php_settings)
        return [source.path for source in sources]

    def know_release(self) -> None:
        """Tell the log's origin where this forum's manifest of MyBB's files is (init writes it), and which
        release archive is at hand for a forum init did not make (forum/release.py)."""
        archive = Path(self.config.archive) if self.config.archive and "://" not in self.config.archive else None
        release.register(self.config.mybb_root, self.config.release_manifest_file,
                         (archive,) if archive is not None else ())

    def php(self) -> str:
        """The PHP that runs MyBB's code for the workbench: MYBB_PHP_VERSION's build installed on first use
        and its cache checked to be ours, as start does; else the configured one (PHP then says why when
        it cannot run). Raises PhpBuildError when the build cannot be installed."""
        problem = php_runtime.ensure_build(self.config, [])
        if problem is not None:
            raise problem
        return php_runtime.resolve_php(self.config) or self.config.php

    def deleted_log(self, running: RunningServer | None) -> str | None:
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
