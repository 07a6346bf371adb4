"""Server results and status -> markdown, for agents (MCP) and people (CLI) alike.

Headings are a contract (ARCHITECTURE.md §4.4). Each face names its own
commands, so the next step reads right wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .failures import Failure
from .log_parser import LogEntry
from .server_service import DeathReport, ServerResult, ServerStatus


@dataclass(frozen=True)
class Commands:
    """How a reader invokes each action on the face they are using."""

    start: str
    stop: str
    stop_force: str
    restart: str
    status: str
    logs_errors: str
    start_other_port: str
    error_logging_on: str


MCP_COMMANDS = Commands(
    start="`mybb_server_start`",
    stop="`mybb_server_stop`",
    stop_force="`mybb_server_stop` with `force: true`",
    restart="`mybb_server_restart`",
    status="`mybb_server_status`",
    logs_errors="`mybb_server_logs` with `errors_only: true`",
    start_other_port="`mybb_server_start` with another `port`",
    error_logging_on="`mybb_server_start` with `mybb_error_logging: \"on\"`",
)
CLI_COMMANDS = Commands(
    start="`mybb-server start`",
    stop="`mybb-server stop`",
    stop_force="`mybb-server stop --force`",
    restart="`mybb-server restart`",
    status="`mybb-server status`",
    logs_errors="`mybb-server logs --errors`",
    start_other_port="`mybb-server start --port N`",
    error_logging_on="`mybb-server errorlog on`",
)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def format_size(size: int | None) -> str:
    if size is None:
        return "no file"
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def _table(rows: list[tuple[str, Any]]) -> str:
    lines = ["| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows if value is not None]
    return "\n".join(lines)


def _bullets(title: str, items: list[str]) -> str:
    return f"\n## {title}\n" + "\n".join(f"- {item}" for item in items) + "\n" if items else ""


def _entry_line(entry: LogEntry) -> str:
    when = entry.timestamp.strftime("%H:%M:%S") if entry.timestamp else "--:--:--"
    level = (entry.level or entry.event_type).upper()
    text = entry.message if len(entry.message) <= 300 else entry.message[:297] + "..."
    return f"`{when}` **{level}** {text}"


def _died_section(died: DeathReport, commands: Commands) -> str:
    lines = [
        "\n## The server died unexpectedly",
        f"PHP (PID {died.pid}, port {died.port}) was not stopped by this tool: it {died.how}.",
    ]
    if died.started_at:
        lines.append(f"- Started: {died.started_at}")
    if died.last_sign_of_life:
        lines.append(f"- Last log write: {died.last_sign_of_life.isoformat(timespec='seconds')}")
    if died.last_errors:
        lines.append("- Last errors in its log:")
        lines += [f"  - {_entry_line(entry)}" for entry in died.last_errors]
    else:
        lines.append("- Its log has no error entries.")
    lines.append(f"\nStart it again with {commands.start}; see more with {commands.logs_errors}.")
    return "\n".join(lines) + "\n"


def _forum_section(forum: Any, commands: Commands) -> tuple[list[tuple[str, Any]], list[str]]:
    """Rows for the status table and warnings, from a mybb.ForumReport (duck-typed)."""
    if forum is None:
        return [], []
    rows: list[tuple[str, Any]] = []
    warnings: list[str] = list(getattr(forum, "warnings", []) or [])
    summary = getattr(forum, "database_summary", None)
    if summary:
        rows.append(("Database", summary))
    version = getattr(forum, "mybb_version", None)
    if version:
        rows.append(("MyBB", version))
    logging = getattr(forum, "error_logging_summary", None)
    if logging:
        rows.append(("MyBB error logging", logging))
    if getattr(forum, "error_logging_off", False):
        warnings.append(
            "MyBB error logging is off: warnings and SQL errors inside MyBB never reach the server log. "
            f"Turn it on for development with {commands.error_logging_on} (reversible)."
        )
    return rows, warnings


def render_status(status: ServerStatus, commands: Commands = MCP_COMMANDS) -> str:
    forum_rows, forum_warnings = _forum_section(status.forum, commands)
    warnings = [*status.warnings, *forum_warnings]
    if status.running:
        out = ["# Server Status: Running\n", _table([
            ("Port", status.port),
            ("PID", status.pid),
            ("Workers", ", ".join(map(str, status.workers)) if status.workers else None),
            ("Uptime", format_duration(status.uptime_seconds)),
            ("URL", status.url),
            ("Log File", f"{status.log_file} ({format_size(status.log_size)})"),
            ("MyBB Root", status.mybb_root),
            *forum_rows,
        ])]
        out.append(_bullets("Warnings", warnings))
        out.append(_bullets("Notes", status.notes))
        out.append(f"\nNext: read errors with {commands.logs_errors}; stop with {commands.stop}.")
        return "\n".join(part for part in out if part).strip() + "\n"
    out = ["# Server Status: Stopped\n", _table([
        ("MyBB Root", status.mybb_root),
        ("Last Log", f"{status.log_file} ({format_size(status.log_size)})"),
        *forum_rows,
    ])]
    if status.died:
        out.append(_died_section(status.died, commands))
    if status.foreign:
        warnings.insert(0, (
            f"Port {status.port} is in use by {status.foreign.describe()}, which this tool "
            f"did not start and will not touch. Stop that program or use {commands.start_other_port}."
        ))
    out.append(_bullets("Warnings", warnings))
    out.append(_bullets("Notes", status.notes))
    if not status.died:
        out.append(f"\nStart the server with {commands.start}.")
    return "\n".join(part for part in out if part).strip() + "\n"


def _next_step(result: ServerResult, commands: Commands) -> str:
    failure = result.failure
    if failure is Failure.ALREADY_RUNNING:
        return (f"Nothing to do if this is the server you want. To pick up changed settings use {commands.restart}; "
                f"to stop it use {commands.stop}.")
    if failure is Failure.PORT_IN_USE:
        return (f"Stop the program holding the port, or use {commands.start_other_port}. "
                "This tool never stops a process it did not start.")
    if failure is Failure.NOT_RUNNING:
        return f"Start it with {commands.start}."
    if failure is Failure.NOT_OURS:
        return (f"That program was started some other way; stop it there, or use {commands.start_other_port}.")
    if failure is Failure.BAD_FORUM_ROOT:
        return "Point MYBB_ROOT at the directory holding MyBB's index.php (environment or .env), then start again."
    if failure is Failure.PHP_NOT_FOUND:
        return ("Install the PHP CLI (Debian/Ubuntu: `apt-get install php-cli php-sqlite3 php-mysql`) or set MYBB_PHP "
                "to the php binary's full path.")
    if failure is Failure.LOG_UNWRITABLE:
        return "Make the logs/ directory next to the forum writable (or free disk space), then start again."
    if failure is Failure.PHP_EXITED:
        return f"Fix what PHP reported above, then start again. Full output: {commands.logs_errors}."
    if failure is Failure.START_TIMEOUT:
        return f"Check the log with {commands.logs_errors}; the forum's router or index.php may hang."
    if failure is Failure.STOP_TIMEOUT:
        return f"Use {commands.stop_force} to kill it."
    if failure is Failure.BUSY:
        return f"Wait for the other operation, then check {commands.status}."
    return ""


def render_result(result: ServerResult, commands: Commands = MCP_COMMANDS) -> str:
    """Markdown for a start, stop or restart outcome."""
    if result.success:
        return _render_success(result, commands)
    failure = result.failure
    assert failure is not None
    if failure is Failure.ALREADY_RUNNING:
        out = ["# Server Already Running\n", result.message + "\n", _table([
            ("Port", result.port), ("PID", result.pid), ("Uptime", format_duration(result.uptime_seconds)),
            ("URL", result.url), ("Log File", result.log_file),
        ])]
    else:
        out = [f"# Error: {failure.title}\n", result.message]
        if result.reason:
            out.append("\nPHP said:\n```\n" + result.reason + "\n```")
        if result.port_owner:
            out.append(f"\nPort {result.port} is held by {result.port_owner.describe()}.")
        if result.died:
            out.append(_died_section(result.died, commands))
    out.append(_bullets("Warnings", result.warnings))
    out.append(_bullets("Notes", result.notes))
    step = _next_step(result, commands)
    if step:
        out.append(f"\n**Next:** {step}")
    return "\n".join(part for part in out if part).strip() + "\n"


def _render_success(result: ServerResult, commands: Commands) -> str:
    if result.action == "stop":
        out = ["# Server Stopped\n", result.message + "\n", _table([
            ("Previous PID", result.pid),
            ("Stopped workers", ", ".join(map(str, result.workers)) if result.workers else None),
            ("Ran for", format_duration(result.uptime_seconds)),
            ("Log preserved", result.log_file),
        ])]
        next_step = f"Start it again with {commands.start}."
    else:
        heading = "# Server Restarted" if result.action == "restart" else "# Server Started"
        out = [heading + "\n", result.message + "\n", _table([
            ("Port", result.port),
            ("PID", result.pid),
            ("Workers", ", ".join(map(str, result.workers)) if result.workers else None),
            ("URL", result.url),
            ("Log File", result.log_file),
        ])]
        next_step = f"Open {result.url} ; read errors with {commands.logs_errors}."
    out.append(_bullets("Warnings", result.warnings))
    out.append(_bullets("Notes", result.notes))
    out.append(f"\n**Next:** {next_step}")
    return "\n".join(part for part in out if part).strip() + "\n"


def render_error(title: str, problem: str, fix: str) -> str:
    """Any failure outside the catalogue (bad arguments, configuration, internal errors)."""
    return f"# Error: {title}\n\n{problem}\n\n**Next:** {fix}\n"


def render_error_logging(change: Any, heading: str = "##") -> str:
    """The outcome of turning MyBB's error logging on or off (a mybb.ErrorLoggingChange)."""
    wanted = "On" if change.enabled else "Off"
    if not change.ok:
        return (f"{heading} MyBB Error Logging: Not Changed\n\n{change.error}\n\n"
                f"**Next:** {change.hint or 'Fix the problem above and try again.'}\n")
    out = [f"{heading} MyBB Error Logging: {wanted}\n", change.explanation]
    if change.database:
        out.append(f"\n- Database: {change.database}")
    out += [f"- Wrote: {path}" for path in change.files_touched]
    return "\n".join(out).strip() + "\n"
