"""The results every layer passes up: the outcome of start, stop and restart, the status, a crash.

Data flows one way: a face (MCP handler or CLI) calls the service, the service uses the mechanics
(`orchestration.*`, `forum.*`), and returns one of these; `answers` turns it into markdown.
This module imports the types it names only for annotations, so importing it imports nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .failures import Failure
    from .forum.dev_mode import ErrorLoggingChange, Visibility
    from .forum.pages import DebugReport
    from .forum.report import ForumReport
    from .forum.requests import PageRequest, PageResponse
    from .logs.digest import ErrorGroup
    from .logs.parser import LogEntry

__all__ = ["DeathReport", "PortOwner", "InitResult", "PageResult", "ServerListing", "ServerResult", "ServerStatus"]


@dataclass(frozen=True)
class PortOwner:
    """Who listens on a port. Fields are None when the OS would not tell us."""

    pid: int | None
    name: str | None
    cmdline: tuple[str, ...]
    # Set when the holder is a server this tool started for another forum (from the registry).
    forum_root: str | None = None
    forum_url: str | None = None

    def describe(self) -> str:
        from .untrusted import code_span  # (this module imports nothing at run time)

        if self.forum_root is not None:
            return (f"this tool's server for the forum {code_span(str(self.forum_root))} "
                    f"({code_span(str(self.forum_url))}, PID {self.pid})")
        if self.pid is None:
            return "a process this user cannot inspect"
        # Another user's program chooses its own name and command line: shown as code, never as markup.
        command = " ".join(self.cmdline) if self.cmdline else self.name or "unknown program"
        return f"PID {self.pid} ({code_span(self.name or 'unknown')}: {code_span(command)})"


@dataclass
class DeathReport:
    """A server we started is gone without being stopped by us."""

    pid: int
    port: int
    started_at: str | None
    last_sign_of_life: datetime | None  # the log's last write
    how: str  # how it ended, as far as this process can know
    ended_at: datetime | None = None  # known when this process spawned it
    pid_reused_by: str | None = None  # the unrelated program that now has its PID
    last_errors: list[LogEntry] = field(default_factory=list)


@dataclass
class ServerResult:
    """The outcome of start, stop or restart. `failure` is None on success."""

    success: bool
    action: str
    message: str
    failure: Failure | None = None
    pid: int | None = None
    port: int | None = None
    host: str | None = None
    url: str | None = None
    log_file: Path | None = None
    started_at: str | None = None
    uptime_seconds: float | None = None  # how long it has run (running) or ran (stopped)
    workers: list[int] = field(default_factory=list)
    port_owner: PortOwner | None = None
    reason: str | None = None  # PHP's own words when it would not start
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was done along the way
    died: DeathReport | None = None
    free_port: int | None = None  # the nearest free port, when the port was refused
    requested_port: int | None = None  # a port asked of a start that found the server running elsewhere
    error_logging_change: ErrorLoggingChange | None = None  # MyBB's error logging switched for development
    visibility: Visibility | None = None  # which error kinds reach the log


@dataclass
class ServerStatus:
    running: bool
    pid: int | None = None
    port: int | None = None
    host: str | None = None
    url: str | None = None
    started_at: str | None = None
    uptime_seconds: float | None = None
    workers: list[int] = field(default_factory=list)
    log_file: Path | None = None
    log_size: int | None = None
    mybb_root: Path | None = None
    died: DeathReport | None = None
    foreign: PortOwner | None = None  # something we did not start listens on the configured port
    free_port: int | None = None  # the nearest free port, when the configured one is taken
    forum: ForumReport | None = None  # database, error logging, bburl
    visibility: Visibility | None = None  # which error kinds reach the log, and how fresh code is ensured
    php: str | None = None  # the PHP the forum runs (or would run) on: version and where it comes from
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ServerListing:
    """One server this user runs through the tool (any forum), as `list` shows it."""

    mybb_root: Path
    url: str
    host: str
    port: int
    pid: int
    workers: list[int] = field(default_factory=list)
    started_at: str | None = None
    uptime_seconds: float | None = None
    health: str = "answering"  # "answering", "not answering", or "workers only" (PHP's main process is gone)
    exposed: bool = False  # bound to an address other machines can reach
    log_file: Path | None = None


@dataclass
class PageResult:
    """The answer to one page request: what the browser ended with and the errors it raised."""

    request: PageRequest
    response: PageResponse | None  # None: no page (the server is not running, a login was refused ...)
    failure: Failure | None = None  # why there is no page
    problem: str = ""  # the failure in this request's words
    hint: str | None = None
    errors: list[ErrorGroup] = field(default_factory=list)  # in order of first appearance
    errors_known: bool = True  # False: the log could not be tied to the request; "no errors" is not claimed
    errors_note: str | None = None
    visibility_note: str | None = None  # what kinds of error cannot reach the logs now, and the fix
    cursor: str = ""
    excerpt: str | None = None
    excerpt_cut: bool = False
    selector_count: int | None = None
    contains_found: str | None = None  # "text", "html" (in the markup only) or "" (absent); None: not asked
    debug: DebugReport | None = None
    flash: str | None = None  # the Admin CP's success message
    refresh_to: str | None = None  # where MyBB's friendly redirect page points
    log_file: Path | None = None
    workbench: Any = None  # workbench.request_trace.RequestTrace: what the request ran
    json_verdict: Any = None  # workbench.json_answer.JsonVerdict: an answer that should be JSON, judged
    browser: Any = None  # workbench.browser.BrowserReport: what the page did in Chromium

    @property
    def ok(self) -> bool:
        return self.failure is None

    def fail(self, failure: Failure, problem: str, hint: str | None) -> None:
        self.failure, self.problem, self.hint = failure, problem, hint


@dataclass
class InitResult:
    """The outcome of init: a forum installed (and started), or the step that failed with nothing left."""

    success: bool
    root: Path
    message: str = ""
    hint: str = ""
    failed_step: str | None = None  # None: the install went through (the start may still have failed)
    url: str | None = None
    admin_user: str | None = None
    admin_password: str | None = field(default=None, repr=False)  # shown once, kept in credentials_file
    credentials_file: Path | None = None
    database: str | None = None
    version: str | None = None
    source: str = ""
    sha256: str | None = None
    verified: bool = False  # the archive matched a pinned or given SHA-256
    install_seconds: float | None = None
    seconds: float = 0.0
    start: ServerResult | None = None
    notes: list[str] = field(default_factory=list)
