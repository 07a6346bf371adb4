"""What the service sees before it acts: the running server it started (its state verified), a
server that died and why, who else holds a port.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..logs.options import LogQueryOptions
from ..logs.query import run_query
from ..logs.zone import read_log_zone
from ..results import DeathReport
from ..safe_files import UnsafeFile
from . import process, registry
from .process import PortOwner, ProcessIdentity
from .state import LockTimeout
from .validation import server_url

if TYPE_CHECKING:
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


class Observation:
    """The running server, or why there is none (for every operation of the service).

    Mixed into `ServerOrchestrationService`, whose config, clock, timeouts and state file it uses."""

    def _observe(self, notes: list[str], died: list[DeathReport] | None = None) -> RunningServer | None:
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

    # ------------------------------------------------------------------ helpers

    def _current(
        self, notes: list[str], died: list[DeathReport] | None = None, clear_dead: bool = False
    ) -> RunningServer | None:
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
            return RunningServer(identity, state, leader_alive=True)
        if process.group_members(identity):
            self._continue_if_stopped(identity, notes)
            return RunningServer(identity, state, leader_alive=False)
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
        return replace(owner, forum_root=str(entry.mybb_root), forum_url=server_url(entry.host, entry.port))
