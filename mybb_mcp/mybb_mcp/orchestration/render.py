"""Results -> markdown for an AI agent that cannot see a terminal (shared by the MCP face and the CLI)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path

from .log_parser import CONNECTION, REQUEST, SOURCE_MYBB, LogEntry
from .log_query import LogQueryResult

# Long entries are cut so one page stays readable; the log itself keeps everything.
MAX_CONTINUATION_LINES = 60
MAX_LINE_CHARS = 1000


def render_log_query(result: LogQueryResult) -> str:
    """`# Server Logs`: what is shown of how many, the log file, the filters, the entries, a summary."""
    lines = ["# Server Logs", ""]
    if not result.log_exists and result.problem is None:
        lines += _missing_log(result)
        if not result.entries:
            return "\n".join(lines).rstrip() + "\n"
    elif result.problem is not None:
        lines += [f"**The server log `{result.log_file}` could not be read completely:** {result.problem}.", ""]
    lines.append(_shown_line(result))
    if result.log_exists:
        lines.append(_log_file_line(result))
    lines.append(f"Times: server local time, {_zone_name(result.zone, result)}.")
    lines.append(f"Filters: {_filters_line(result)}.")
    if result.source_problems:
        lines.append("Could not read (entries from it are missing): " + "; ".join(result.source_problems) + ".")
    lines.append("")
    if not result.entries:
        lines += _empty(result)
    else:
        for entry in result.entries:
            lines += _entry(entry, result.zone, str(result.log_file))
        lines.append("")
        lines.append(_summary_line(result))
        if _fatal_logged_twice(result.entries):
            lines.append("(php -S logs a fatal error twice: as a `PHP Fatal error` line and again after the "
                         "request line of the page that raised it; the summary counts both.)")
        if result.has_more:
            options = result.options
            lines.append(f"More entries match: ask again with offset={options.offset + len(result.entries)}.")
    return "\n".join(lines).rstrip() + "\n"


# --- the header ------------------------------------------------------------------------------------

def _missing_log(result: LogQueryResult) -> list[str]:
    return [
        f"No server log at `{result.log_file}`: the PHP server has probably never been started for this "
        "forum (the log is created when it starts).",
        "Start it with the `mybb_server_start` tool (CLI: `mybb-server start`), open the page that fails, "
        "then query the logs again.",
        "",
    ]


def _shown_line(result: LogQueryResult) -> str:
    options, shown = result.options, len(result.entries)
    order = "most recent" if options.tail else "oldest"
    total = str(result.matched) if result.matched_exact else f"at least {result.matched}"
    noun = "entry" if result.matched == 1 and result.matched_exact else "entries"
    if shown == 0:
        if options.offset and result.matched:
            return f"Nothing at offset {options.offset}: only {result.matched} matching {noun}."
        return "No matching entries."
    if options.offset == 0:
        return f"Showing {shown} {order} of {total} matching {noun}."
    first, last = options.offset + 1, options.offset + shown
    direction = "newest first" if options.tail else "oldest first"
    return f"Showing matching entries {first}-{last} ({direction}) of {total}."


def _log_file_line(result: LogQueryResult) -> str:
    size = _size(result.log_size or 0)
    return f"Log file: `{result.log_file}` ({size}; {_size(result.bytes_scanned)} read for this answer)."


def _zone_name(zone: tzinfo | None, result: LogQueryResult) -> str:
    if zone is None:
        return "zone unknown"
    key = getattr(zone, "key", None)
    moment = result.since or datetime.now(zone)
    offset = zone.utcoffset(moment.replace(tzinfo=None))
    text = ""
    if offset is not None:
        minutes = int(offset.total_seconds()) // 60
        text = f"UTC{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"{key} ({text})" if key else text or str(zone)


def _filters_line(result: LogQueryResult) -> str:
    options, parts = result.options, []
    parts.append("errors only" if options.errors_only else "all kinds")
    if options.exclude_static:
        parts.append("successful static-asset requests hidden")
    if not options.include_connections:
        parts.append("connection open/close lines hidden")
    if options.filter_keyword:
        parts.append(f"containing {options.filter_keyword!r} (case-insensitive)")
    if options.since_minutes:
        since = f" (since {_time(result.since, result.zone)})" if result.since else ""
        parts.append(f"last {options.since_minutes} minute{'s' if options.since_minutes != 1 else ''}{since}")
    mybb = [name for name in result.sources if name != "server"]
    if not options.include_mybb:
        parts.append("MyBB error logs not included")
    elif mybb:
        parts.append("merged with " + ", ".join(f"`{name}`" for name in mybb))
    return "; ".join(parts)


def _empty(result: LogQueryResult) -> list[str]:
    options, relax = result.options, []
    if options.offset:
        relax.append(f"offset=0 (only {result.matched} match)")
    if options.filter_keyword:
        relax.append(f"a shorter or different filter than {options.filter_keyword!r}")
    if options.errors_only:
        relax.append("errors_only=false")
    if options.since_minutes:
        relax.append(f"a larger since_minutes than {options.since_minutes}")
    if options.exclude_static:
        relax.append("exclude_static=false")
    lines = ["Nothing in the log matches these filters."]
    if relax:
        lines.append("To see more, try: " + "; ".join(relax) + ".")
    elif result.log_exists and not result.log_size:
        lines.append("The log is empty: the server has not logged anything yet.")
    return lines


# --- entries ----------------------------------------------------------------------------------------

def _entry(entry: LogEntry, zone: tzinfo | None, server_log: str) -> list[str]:
    parts = [f"`{_time(entry.timestamp, zone)}`"]
    if entry.is_error:
        parts.append(f"**{(entry.level or 'error').upper()}**")
    if entry.source == SOURCE_MYBB:
        # MyBB errors sit in the server log when MyBB's errorloglocation is empty; else in its error.log.
        parts.append("[MyBB]" if entry.location in (None, server_log) else f"[MyBB{_where(entry.location)}]")
    parts.append(_headline(entry))
    if entry.worker_pid is not None:
        parts.append(f"(worker {entry.worker_pid})")
    lines = ["- " + " ".join(p for p in parts if p)]
    if entry.continuation:
        lines += _fenced(entry.continuation)
    return lines


def _headline(entry: LogEntry) -> str:
    if entry.event_type == REQUEST:
        text = f"`{entry.method} {_cut(entry.path or '')}` → {entry.status_code}"
        return f"{text} — {_cut(entry.message)}" if entry.message else text
    if entry.event_type == CONNECTION:
        return f"{entry.client_ip}:{entry.client_port} {_cut(entry.message)}"
    text = _cut(entry.message)
    if entry.source == SOURCE_MYBB and entry.source_file:
        line = f":{entry.source_line}" if entry.source_line else ""
        text += f" (`{entry.source_file}{line}`)"
    return text


def _fenced(lines: list[str]) -> list[str]:
    shown = [_cut(line) for line in lines[:MAX_CONTINUATION_LINES]]
    if len(lines) > MAX_CONTINUATION_LINES:
        shown.append(f"... {len(lines) - MAX_CONTINUATION_LINES} more lines in the log")
    fence = "```"
    while any(fence in line for line in shown):
        fence += "`"
    return [f"  {fence}", *(f"  {line}" for line in shown), f"  {fence}"]


def _where(location: str | None) -> str:
    if not location:
        return ""
    path = Path(location)
    return f" {'/'.join(path.parts[-2:])}"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS] + f"… ({len(text)} chars)"


def _time(moment: datetime | None, zone: tzinfo | None) -> str:
    if moment is None:
        return "no time"
    if moment.tzinfo is not None and zone is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# --- the summary ---------------------------------------------------------------------------------------

def _summary_line(result: LogQueryResult) -> str:
    summary = result.summary
    requests = (
        f"{summary.request_count} request{'s' if summary.request_count != 1 else ''} ("
        + ", ".join(f"{label}: {count}" for label, count in summary.requests.items()) + ")"
        if summary.requests else "no requests"
    )
    errors = (
        f"{summary.error_count} error{'s' if summary.error_count != 1 else ''} ("
        + ", ".join(f"{count} {level}" for level, count in summary.errors.items()) + ")"
        if summary.errors else "no errors"
    )
    return f"**Summary of the entries shown:** {requests}; {errors}."


def _fatal_logged_twice(entries: list[LogEntry]) -> bool:
    suffixes = {e.message for e in entries if e.event_type == REQUEST and e.level in ("fatal", "parse", "exception")}
    return any(e.event_type != REQUEST and e.message in suffixes for e in entries)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"
