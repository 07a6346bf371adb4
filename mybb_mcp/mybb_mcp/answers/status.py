"""Status and the server list -> markdown: running or stopped (or died, with its last errors), the
forum report, what the server makes visible, MyBB's error logging.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..untrusted import code_span
from .commands import MCP_COMMANDS
from .common import bullets, entry_line, format_duration, format_size, md_table, port_taken, table_cell

if TYPE_CHECKING:
    from ..forum.dev_mode import ErrorLoggingChange
    from ..forum.report import ForumReport
    from ..results import DeathReport, ServerListing, ServerStatus
    from .commands import Commands


def died_section(died: DeathReport, commands: Commands) -> str:
    lines = [
        "\n## The server died unexpectedly",
        f"PHP (PID {died.pid}, port {died.port}) was not stopped by this tool: it "
        f"{'was ' if died.how.startswith('killed') else ''}{died.how}.",
    ]
    if died.started_at:
        lines.append(f"- Started: {died.started_at}")
    if died.ended_at:
        lines.append(f"- Ended: {died.ended_at.isoformat(timespec='seconds')}")
    if died.last_sign_of_life:
        lines.append(f"- Last log write: {died.last_sign_of_life.isoformat(timespec='seconds')}")
    if died.pid_reused_by:
        lines.append(f"- PID {died.pid} now belongs to an unrelated program ({code_span(died.pid_reused_by)}), "
                     "left alone.")
    if died.last_errors:
        lines.append("- Last errors in its log:")
        lines += [f"  - {entry_line(entry)}" for entry in died.last_errors]
    else:
        lines.append("- Its log has no error entries.")
    lines.append(f"\nStart it again with {commands.start}; see more with {commands.logs_errors}.")
    return "\n".join(lines) + "\n"


def _forum_section(
    forum: ForumReport | None, commands: Commands, visibility: Any = None
) -> tuple[list[tuple[str, Any]], list[str]]:
    """Rows for the status table and warnings, from the forum report."""
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
    if getattr(forum, "error_logging_off", False) and visibility is None:  # else its section says so
        warnings.append(
            "MyBB error logging is off: warnings and SQL errors inside MyBB never reach the server log. "
            f"Turn it on for development with {commands.error_logging_on} (reversible)."
        )
    return rows, warnings


def render_status(status: ServerStatus, commands: Commands = MCP_COMMANDS) -> str:
    forum_rows, forum_warnings = _forum_section(status.forum, commands, status.visibility)
    warnings = [*status.warnings, *forum_warnings]
    if status.running:
        out = ["# Server Status: Running\n", md_table([
            ("Port", status.port),
            ("PID", status.pid),
            ("Workers", ", ".join(map(str, status.workers)) if status.workers else None),
            ("Uptime", format_duration(status.uptime_seconds)),
            ("URL", status.url),
            ("Log File", f"{status.log_file} ({format_size(status.log_size)})"),
            ("MyBB Root", status.mybb_root),
            ("PHP", status.php),
            *forum_rows,
        ])]
        out.append(bullets("Warnings", warnings))
        out.append(render_visibility(status.visibility, commands))
        out.append(bullets("Notes", status.notes))
        out.append(f"\nNext: read errors with {commands.logs_errors}; stop with {commands.stop}.")
        return "\n".join(part for part in out if part).strip() + "\n"
    heading = "# Server Status: Died\n" if status.died else "# Server Status: Stopped\n"
    out = [heading, md_table([
        ("MyBB Root", status.mybb_root),
        ("Last Log", f"{status.log_file} ({format_size(status.log_size)})"),
        ("PHP", status.php),
        *forum_rows,
    ])]
    if status.died:
        out.append(died_section(status.died, commands))
    if status.foreign:
        warnings.insert(0, port_taken(status.port, status.foreign, status.free_port, commands))
    out.append(bullets("Warnings", warnings))
    out.append(render_visibility(status.visibility, commands, when_started=True))
    out.append(bullets("Notes", status.notes))
    if not status.died:
        out.append(f"\nStart the server with {commands.start}.")
    return "\n".join(part for part in out if part).strip() + "\n"


def render_server_list(servers: list[ServerListing], commands: Commands = MCP_COMMANDS, intro: str = "") -> str:
    """`# MyBB Servers`: every server this user runs through the tool, one row per forum."""
    if not servers:
        out = ["# MyBB Servers: None Running\n", *([intro + "\n"] if intro else []),
               f"No server started by mybb-server or mybb-mcp is running for this user. "
               f"Start one with {commands.start} (MYBB_ROOT names the forum)."]
        return "\n".join(out).strip() + "\n"
    count = f"{len(servers)} Running"
    rows = ["| Forum | URL | PID | Workers | Uptime | Health |", "|---|---|---|---|---|---|"]
    rows += [
        f"| {table_cell(str(server.mybb_root))} | {table_cell(server.url)} | {server.pid} | "
        f"{', '.join(map(str, server.workers)) or '-'} | {format_duration(server.uptime_seconds)} | {server.health} |"
        for server in servers
    ]
    warnings = [f"{server.url} ({table_cell(str(server.mybb_root))}) listens on {server.host}, not loopback: "
                "the forum, Admin CP included, is reachable from the network." for server in servers if server.exposed]
    warnings += [f"{server.url} ({table_cell(str(server.mybb_root))}) did not answer just now: check its status "
                 "and log."
                 for server in servers if server.health != "answering"]
    out = [f"# MyBB Servers: {count}\n", *([intro + "\n"] if intro else []), "\n".join(rows),
           bullets("Warnings", warnings),
           f"\nNext: for one forum's status, logs or stop, set MYBB_ROOT to it and use {commands.status}."]
    return "\n".join(part for part in out if part).strip() + "\n"


def render_visibility(visibility: Any, commands: Commands, *, brief: bool = False, when_started: bool = False) -> str:
    """`## Errors in the log`: the kinds that reach it and the kinds that do not, why, and the fix.
    `brief` (a start answer): only what is hidden, and fresh code in a line."""
    if visibility is None:
        return ""
    lead = "Once started, the server logs" if when_started else "The server logs"
    lines = ["\n## Errors in the log"]
    if not brief:
        lines.append(f"{lead} (with message, file and line):")
        lines += [f"- {kinds}: by {how}." for kinds, how in visibility.visible]
    if visibility.hidden:
        lines.append("Hidden from the log:" if not brief else "Not in the log (see status for what is):")
        for hidden in visibility.hidden:
            fix = hidden.fix or commands.error_logging_on
            lines.append(f"- {hidden.kinds}: {hidden.why}. Fix: {fix}.")
    elif brief:
        lines.append("Every error kind reaches the log: fatal errors and exceptions, warnings, SQL and user "
                     "errors, notices and deprecations.")
    if visibility.switched_on_by_tool and not brief:
        lines.append(f"MyBB's error logging was switched on by this tool; {commands.error_logging_off} restores "
                     "the forum's own setting.")
    lines.append(f"Fresh code: {visibility.fresh_code}")
    return "\n".join(lines)


def render_error_logging(change: ErrorLoggingChange, heading: str = "##") -> str:
    """The outcome of turning MyBB's error logging on or off."""
    wanted = "On" if change.enabled else "Off"
    if not change.ok:
        return (f"{heading} MyBB Error Logging: Not Changed\n\n{change.error}\n\n"
                f"**Next:** {change.hint or 'Fix the problem above and try again.'}\n")
    out = [f"{heading} MyBB Error Logging: {wanted}\n", change.explanation]
    if change.database:
        out.append(f"\n- Database: {change.database}")
    out += [f"- File changed: {path}" for path in change.files_touched]
    return "\n".join(out).strip() + "\n"
