"""Results -> markdown, for agents (MCP) and people (CLI) alike.

The agent cannot see a terminal: every answer says what happened, what it
means and what to do next. Headings are a contract (ARCHITECTURE.md §4.4).
Each face names its own commands (`Commands`), so a next step reads right
wherever it is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..failures import Failure
from ..logs.parser import CONNECTION, REQUEST, SOURCE_MYBB, LogEntry
from ..logs.bounds import MAX_ANSWER_BYTES, MAX_ENTRY_BYTES
from ..logs.options import TRACE_CONTEXT_FRAMES, TRACE_LINES_SHOWN
from ..logs.query import LogQueryResult
from ..untrusted import code_block, code_span, one_line

if TYPE_CHECKING:
    from ..forum.dev_mode import ErrorLoggingChange
    from ..forum.report import ForumReport
    from ..forum.snapshot import Change, SnapshotDiff, SnapshotInfo, SnapshotResult
    from ..results import DeathReport, InitResult, ServerListing, ServerResult, ServerStatus
    from .process import PortOwner

# An entry whose stamp goes back in time (log_reader): PHP logs request data verbatim, so it may be a
# line a visitor wrote.
OUT_OF_ORDER_MARK = "⚠ *(stamp earlier than the entries before it: may be forged by request data)*"
INSIDE_REQUEST_DATA_MARK = "⚠ *(begins inside request data PHP logged verbatim: may be forged)*"

# Long entries are cut so one page stays readable; the log itself keeps everything.
MAX_CONTINUATION_LINES = 60
MAX_LINE_CHARS = 1000


def render_log_query(result: LogQueryResult, commands: Commands | None = None) -> str:
    """`# Server Logs`: what is shown of how many, the log file, the filters, the entries, a summary."""
    commands = commands or MCP_COMMANDS
    lines = ["# Server Logs", ""]
    if not result.log_exists and result.problem is None:
        lines += _missing_log(result, commands)
        if not result.entries:
            return "\n".join(lines).rstrip() + "\n"
    elif result.problem is not None:
        lines += [f"**The server log {code_span(str(result.log_file))} could not be read completely:** "
                  f"{one_line(result.problem)}.", ""]
    lines.append(_shown_line(result))
    if result.log_exists:
        lines.append(_log_file_line(result))
    lines.append(f"Times: server local time, {_zone_name(result.zone, result)}.")
    lines.append(f"Filters: {_filters_line(result)}.")
    if result.source_problems:
        lines.append("Could not read (entries from it are missing): "
                     + "; ".join(one_line(p) for p in result.source_problems) + ".")
    hidden = _hidden_line(result, commands)
    if hidden:
        lines.append(hidden)
    if result.origin_basis and any(e.is_error for e in result.entries):
        lines.append(f"Origin: {result.origin_basis}.")
    lines.append("")
    if not result.entries:
        lines += _empty(result, commands)
        return "\n".join(lines).rstrip() + "\n"
    # The agent-facing budget (max_chars, at most MAX_ANSWER_CHARS) sits inside the hard cap
    # (log_bounds.MAX_ANSWER_BYTES) that holds whatever the entries contain.
    budget = min(result.options.max_chars, MAX_ANSWER_BYTES) - sum(len(line) + 1 for line in lines) - _FOOTER_RESERVE
    body, shown = _entries_within(result, budget)
    lines += body
    lines.append("")
    lines.append(_summary_line(result))
    options = result.options
    if shown < len(result.entries):
        lines.append(
            f"**Cut to fit the answer budget of {options.max_chars} characters:** {len(result.entries) - shown} "
            f"more entr{'y' if len(result.entries) - shown == 1 else 'ies'} of this page not shown. See them with "
            + commands.offset.format(options.offset + shown) + f", or raise the budget with {commands.max_chars}."
        )
    elif result.cut_by_size:
        lines.append(f"**This answer stopped at its size cap ({MAX_ANSWER_BYTES // 1024} KiB) after {shown} "
                     "entries.** Narrow it (a keyword, errors only, a shorter since window, a smaller limit) "
                     f"or page on with {commands.offset.format(options.offset + shown)}.")
    elif result.has_more:
        lines.append("More entries match: ask again with " + commands.offset.format(options.offset + shown) + ".")
    if _traces_cut(result, shown):
        lines.append("Stack traces show the frames around the first one in your code; whole traces: "
                     f"{commands.full_traces}.")
    return "\n".join(lines).rstrip() + "\n"


_FOOTER_RESERVE = 600  # summary and paging lines written after the entries


def _entries_within(result: LogQueryResult, budget: int) -> tuple[list[str], int]:
    """The entries' lines, newest first as queried, until the budget is spent (the first always shows)."""
    lines: list[str] = []
    seen: set[tuple[str | None, str, str | None]] = set()
    shown = 0
    for entry in result.entries:
        key = (entry.level, entry.message, entry.place)
        repeat = entry.is_error and key in seen
        block = render_entry(entry, result.zone, str(result.log_file), repeat=repeat,
                             full_traces=result.options.full_traces)
        cost = sum(len(line) + 1 for line in block)
        if shown and cost > budget:
            break
        lines += block
        budget -= cost
        shown += 1
        if entry.is_error:
            seen.add(key)
    return lines, shown


def _traces_cut(result: LogQueryResult, shown: int) -> bool:
    if result.options.full_traces:
        return False
    return any(len(entry.continuation) > TRACE_LINES_SHOWN for entry in result.entries[:shown])


def _hidden_line(result: LogQueryResult, commands: Commands) -> str:
    hidden, parts = result.hidden, []
    if hidden.core_noise:
        parts.append(f"{hidden.core_noise} MyBB core noise entr{'y' if hidden.core_noise == 1 else 'ies'} "
                     f"(raised by MyBB itself, e.g. PHP 8.2 deprecations; show with {commands.core_noise})")
    if hidden.not_user_code:
        parts.append(f"{hidden.not_user_code} error{'s' if hidden.not_user_code != 1 else ''} of MyBB core "
                     f"(user code only; show with {commands.all_origins})")
    if hidden.folded:
        parts.append(f"{hidden.folded} duplicate line{'s' if hidden.folded != 1 else ''} folded into the errors "
                     "they repeat (a fatal's request line, the status line of a page whose errors are shown)")
    return ("Left out while reading: " + "; ".join(parts) + ".") if parts else ""


# --- the header ------------------------------------------------------------------------------------

def _missing_log(result: LogQueryResult, commands: Commands) -> list[str]:
    return [
        f"No server log at {code_span(str(result.log_file))}: the PHP server has probably never been started for this "
        "forum (the log is created when it starts).",
        f"Start it with {commands.start}, open the page that fails, "
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
    size = format_size(result.log_size or 0)
    return f"Log file: {code_span(str(result.log_file))} ({size}; {format_size(result.bytes_scanned)} read for this answer)."


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
        parts.append(f"containing {options.filter_keyword!r} in the entry or its request (case-insensitive)")
    if options.path:
        parts.append(f"raised by requests to {options.path!r} (a path or its start, * for any text)")
    if options.since_minutes:
        since = f" (since {_time(result.since, result.zone)})" if result.since else ""
        parts.append(f"last {options.since_minutes} minute{'s' if options.since_minutes != 1 else ''}{since}")
    if options.user_code_only:
        parts.append("only errors of your code (plugins, templates, edited MyBB files, your own scripts)")
    if result.generations:
        names = [path.name for path in result.generations]
        parts.append("rotated logs searched too (" + (", ".join(names) if len(names) <= 3 else
                     f"{names[0]} ... {names[-1]}") + ")")
    mybb = [name for name in result.sources if not name.startswith("server")]
    if not options.include_mybb:
        parts.append("MyBB error logs not included")
    elif mybb:
        parts.append("merged with " + ", ".join(f"`{name}`" for name in mybb))
    return "; ".join(parts)


def _empty(result: LogQueryResult, commands: Commands) -> list[str]:
    options, relax = result.options, []
    if options.offset:
        relax.append(f"{commands.offset.format(0)} (only {result.matched} match)")
    if options.filter_keyword:
        relax.append(f"a shorter or different filter than {options.filter_keyword!r}")
    if options.errors_only:
        relax.append(commands.all_kinds)
    if options.since_minutes:
        relax.append(commands.wider_since.format(options.since_minutes))
    if options.exclude_static:
        relax.append(commands.include_static)
    lines = ["Nothing in the log matches these filters."]
    if relax:
        lines.append("To see more, try: " + "; ".join(relax) + ".")
    elif result.log_exists and not result.log_size:
        lines.append("The log is empty: the server has not logged anything yet.")
    return lines


# --- entries ----------------------------------------------------------------------------------------

def render_entry(
    entry: LogEntry, zone: tzinfo | None, server_log: str, *, repeat: bool = False, full_traces: bool = True
) -> list[str]:
    """One entry as a markdown list item. An error: level, origin, message and where, then the request that
    raised it, then its stack trace fenced (the frames that matter unless full_traces). `repeat`: the same
    error was shown above in this answer, so only its time and request are.

    Everything the log says is shown as code (`untrusted`): a visitor's request data cannot become
    markup, and the prose around it is ours."""
    parts = [f"`{_time(entry.timestamp, zone)}`"]
    if entry.out_of_order:
        parts.append(OUT_OF_ORDER_MARK)
    if entry.inside_request_data:
        parts.append(INSIDE_REQUEST_DATA_MARK)
    if entry.is_error and entry.doubtful:
        parts.append(f"(claims to be {(entry.level or 'error').lower()}; not counted)")
    elif entry.is_error:
        parts.append(f"**{(entry.level or 'error').upper()}**")
        if entry.origin:
            parts.append(f"[{entry.origin}]")
    if entry.source == SOURCE_MYBB:
        # MyBB errors sit in the server log when MyBB's errorloglocation is empty; else in its error.log.
        parts.append("(MyBB's log)" if entry.location in (None, server_log) else f"(MyBB's{_where(entry.location)})")
    if repeat:
        parts.append("same error as above")
    else:
        parts.append(_headline(entry))
    own_request = entry.event_type == REQUEST
    if entry.worker_pid is not None and (own_request or not entry.is_error):
        parts.append(f"(worker {entry.worker_pid})")
    lines = ["- " + " ".join(p for p in parts if p)]
    if entry.is_error and not own_request:
        lines.append("  " + _request_line(entry))
    elif own_request and entry.is_error and not entry.message and not repeat:
        hint = _bare_status_hint(entry)
        if hint:
            lines.append("  " + hint)
    if entry.folded and not repeat:
        lines.append(f"  Folded in: {len(entry.folded)} more raised by MyBB's error handler while reporting it: "
                     + "; ".join(code_span(_cut(f, 160)) for f in entry.folded[:3]) + ".")
    if entry.continuation and not repeat:
        lines += _fenced(entry.continuation if full_traces else _frames_that_matter(entry))
    if entry.cut_bytes:
        where = (f" at byte {entry.offset} of {code_span(entry.location)}"
                 if entry.location and entry.offset is not None else "")
        lines.append(f"  *({format_size(entry.cut_bytes)} and {entry.cut_lines} lines cut from the middle of this "
                     f"entry: answers keep an entry's first and last {MAX_ENTRY_BYTES // 1024} KiB at most; "
                     f"the log has it whole{where}.)*")
    return lines


def _request_line(entry: LogEntry) -> str:
    request = entry.request
    if request is None:
        return f"Request: none — {entry.request_note or 'not known'}."
    worker = f", worker {request.worker_pid}" if request.worker_pid is not None else ""
    guess = " (matched by time: MyBB's error log does not name the request)" if request.by_time else ""
    return f"Request: {code_span(f'{request.method} {_cut(request.path, 300)}')} → {request.status}{worker}{guess}"


def _frames_that_matter(entry: LogEntry) -> list[str]:
    """A long trace cut to the first frame in the user's code and its neighbours (TRACE_CONTEXT_FRAMES)."""
    lines = entry.continuation
    if len(lines) <= TRACE_LINES_SHOWN:
        return lines
    anchor = _user_frame_index(entry)
    lo = max(0, anchor - TRACE_CONTEXT_FRAMES)
    hi = min(len(lines), max(anchor + TRACE_CONTEXT_FRAMES + 1, lo + TRACE_LINES_SHOWN - 2))
    shown = []
    if lo > 0:
        shown.append(f"... {lo} line{'s' if lo != 1 else ''} above")
    shown += lines[lo:hi]
    if hi < len(lines):
        shown.append(f"... {len(lines) - hi} more line{'s' if len(lines) - hi != 1 else ''}")
    return shown


def _user_frame_index(entry: LogEntry) -> int:
    if entry.user_frame is not None:
        path, line = entry.user_frame
        needles = [f"{path}({line})", f"{path}:{line}"]
        for index, text in enumerate(entry.continuation):
            if any(needle in text for needle in needles):
                return index
    return 0


def _headline(entry: LogEntry) -> str:
    if entry.event_type == REQUEST and not entry.is_error:
        text = f"{code_span(f'{entry.method} {_cut(entry.path or str())}')} → {entry.status_code}"
        return f"{text} — {code_span(_cut(entry.message))}" if entry.message else text
    if entry.event_type == REQUEST:  # an error only its request line tells of
        text = f"{code_span(f'{entry.method} {_cut(entry.path or str(), 300)}')} → {entry.status_code}"
        return f"{text} — {_with_place(_message_first_line(entry), entry)}" if entry.message else text
    if entry.event_type == CONNECTION:
        return code_span(f"{entry.client_ip}:{entry.client_port} {_cut(entry.message)}")
    return _with_place(_message_first_line(entry), entry)


def _message_first_line(entry: LogEntry) -> str:
    """The message's first line as code, without the ` in FILE on line N` PHP appends (the place is shown
    on its own)."""
    text = entry.message.split("\n", 1)[0]
    if entry.source_file:
        for suffix in (f" in {entry.source_file} on line {entry.source_line}",
                       f" in {entry.source_file}:{entry.source_line}"):
            if text.endswith(suffix):
                text = text[: -len(suffix)]
                break
    return code_span(_cut(text)) if text else ""


def _with_place(text: str, entry: LogEntry) -> str:
    return f"{text} — at {code_span(entry.place)}" if entry.place else text


def _bare_status_hint(entry: LogEntry) -> str | None:
    """What a bare 5xx request line (no error logged for it) means."""
    status = entry.status_code or 0
    if status == 503:
        return ("Nothing was logged about why: MyBB shows its error page with 503 for SQL and user errors, and "
                "its error logging was off for this page (see status).")
    if status >= 500:
        return "Nothing was logged about why (the script set this status itself, or PHP logs errors elsewhere)."
    return None


def _fenced(lines: list[str]) -> list[str]:
    shown = [_cut(line, 300) for line in lines[:MAX_CONTINUATION_LINES]]
    if len(lines) > MAX_CONTINUATION_LINES:
        shown.append(f"... {len(lines) - MAX_CONTINUATION_LINES} more lines in the log")
    return code_block(shown, indent="  ")


def _where(location: str | None) -> str:
    if not location:
        return ""
    path = Path(location)
    return f" {'/'.join(path.parts[-2:])}"


def _cut(text: str, limit: int = MAX_LINE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


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
    suspicious = sum(1 for e in result.entries if e.doubtful)
    doubt = (f" {suspicious} entries shown go back in time or begin inside request data (marked ⚠, not "
             "counted): request data can forge log lines, so do not trust those." if suspicious else "")
    return f"**Summary of the entries shown:** {requests}; {errors}.{doubt}"


# --- server results and status -----------------------------------------------------------------------

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
    start_port: str  # start on the port {}
    restart_port: str  # restart on the port {}
    list_all: str  # every server of this user's
    logs_since: str  # a log query given "this cursor"
    digest_since: str
    request: str
    error_logging_on: str
    error_logging_off: str
    # How a log-query option is said on this face (relaxing filters, paging).
    offset: str
    all_kinds: str
    include_static: str
    wider_since: str
    # A snapshot action, with and without a name ("{action}", "{name}" filled in by `snapshot()`).
    snapshot_action: str = ""
    snapshot_named: str = ""
    request_as: str = "{path} as {role}"  # the request of a page as a role ("{path}", "{role}" filled in)
    max_chars: str = "`max_chars`"
    full_traces: str = "`full_traces: true`"
    core_noise: str = "`core_noise: true`"
    all_origins: str = "`user_code_only: false`"

    def snapshot(self, action: str, name: str | None = None) -> str:
        if name is None:
            return self.snapshot_action.format(action=action)
        return self.snapshot_named.format(action=action, name=name)


MCP_COMMANDS = Commands(
    start="`mybb_server_start`",
    stop="`mybb_server_stop`",
    stop_force="`mybb_server_stop` with `force: true`",
    restart="`mybb_server_restart`",
    status="`mybb_server_status`",
    logs_errors="`mybb_server_logs` with `errors_only: true`",
    start_other_port="`mybb_server_start` with another `port`",
    start_port="`mybb_server_start` with `port: {}`",
    restart_port="`mybb_server_restart` with `port: {}`",
    list_all="`mybb_server_status` with `all: true`",
    logs_since="`mybb_server_logs` with this `cursor`",
    digest_since="`mybb_server_logs` with `digest: true` and this `cursor`",
    request="`mybb_server_request`",
    error_logging_on="`mybb_server_start` with `mybb_error_logging: \"on\"`",
    error_logging_off="`mybb_server_start` with `mybb_error_logging: \"off\"`",
    offset="offset={}",
    all_kinds="errors_only=false",
    include_static="exclude_static=false",
    wider_since="a larger since_minutes than {}",
    snapshot_action='`mybb_forum_snapshot` with `action: "{action}"`',
    snapshot_named='`mybb_forum_snapshot` with `action: "{action}", name: "{name}"`',
    request_as='`mybb_server_request` with `path: "{path}", as: "{role}"`',
)
CLI_COMMANDS = Commands(
    start="`mybb-server start`",
    stop="`mybb-server stop`",
    stop_force="`mybb-server stop --force`",
    restart="`mybb-server restart`",
    status="`mybb-server status`",
    logs_errors="`mybb-server logs --errors`",
    start_other_port="`mybb-server start --port N`",
    start_port="`mybb-server start --port {}`",
    restart_port="`mybb-server restart --port {}`",
    list_all="`mybb-server list`",
    logs_since="`mybb-server logs --cursor CURSOR`",
    digest_since="`mybb-server logs --digest --cursor CURSOR`",
    request="`mybb-server request`",
    error_logging_on="`mybb-server errorlog on`",
    error_logging_off="`mybb-server errorlog off`",
    offset="--offset {}",
    all_kinds="no --errors",
    include_static="--include-static",
    wider_since="a larger --since than {}",
    snapshot_action="`mybb-server snapshot {action}`",
    snapshot_named="`mybb-server snapshot {action} {name}`",
    request_as="`mybb-server request '{path}' --as '{role}'`",
    max_chars="`--max-chars N`",
    full_traces="`--full-traces`",
    core_noise="`--core-noise`",
    all_origins="no `--user-code`",
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
    # Values come from the forum's files and other processes too: one line each, `|` escaped.
    lines += [f"| {name} | {one_line(str(value), cell=True)} |" for name, value in rows if value is not None]
    return "\n".join(lines)


def _bullets(title: str, items: list[str]) -> str:
    return f"\n## {title}\n" + "\n".join(f"- {one_line(item)}" for item in items) if items else ""


def _entry_line(entry: LogEntry) -> str:
    when = entry.timestamp.strftime("%H:%M:%S") if entry.timestamp else "--:--:--"
    level = (entry.level or entry.event_type).upper()
    text = entry.message if len(entry.message) <= 300 else entry.message[:297] + "..."
    return f"`{when}` **{level}** {code_span(text)}"


def _died_section(died: DeathReport, commands: Commands) -> str:
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
        lines += [f"  - {_entry_line(entry)}" for entry in died.last_errors]
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
        out.append(render_visibility(status.visibility, commands))
        out.append(_bullets("Notes", status.notes))
        out.append(f"\nNext: read errors with {commands.logs_errors}; stop with {commands.stop}.")
        return "\n".join(part for part in out if part).strip() + "\n"
    heading = "# Server Status: Died\n" if status.died else "# Server Status: Stopped\n"
    out = [heading, _table([
        ("MyBB Root", status.mybb_root),
        ("Last Log", f"{status.log_file} ({format_size(status.log_size)})"),
        *forum_rows,
    ])]
    if status.died:
        out.append(_died_section(status.died, commands))
    if status.foreign:
        warnings.insert(0, _port_taken(status.port, status.foreign, status.free_port, commands))
    out.append(_bullets("Warnings", warnings))
    out.append(render_visibility(status.visibility, commands, when_started=True))
    out.append(_bullets("Notes", status.notes))
    if not status.died:
        out.append(f"\nStart the server with {commands.start}.")
    return "\n".join(part for part in out if part).strip() + "\n"


def _port_taken(port: int | None, owner: PortOwner, free_port: int | None, commands: Commands) -> str:
    """Who holds the configured port, and what to do: one sentence for status."""
    if owner.forum_root is not None:
        text = f"Port {port} is in use by {owner.describe()}, not this forum's."
    else:
        text = f"Port {port} is in use by {owner.describe()}, which this tool did not start and will not touch."
    return f"{text} {_other_port(free_port, commands)}"


def _other_port(free_port: int | None, commands: Commands) -> str:
    if free_port is None:
        return f"Stop that program or use {commands.start_other_port}."
    return f"Port {free_port} is free: {commands.start_port.format(free_port)}."


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
        f"| {_cell(str(server.mybb_root))} | {_cell(server.url)} | {server.pid} | "
        f"{', '.join(map(str, server.workers)) or '-'} | {format_duration(server.uptime_seconds)} | {server.health} |"
        for server in servers
    ]
    warnings = [f"{server.url} ({_cell(str(server.mybb_root))}) listens on {server.host}, not loopback: "
                "the forum, Admin CP included, is reachable from the network." for server in servers if server.exposed]
    warnings += [f"{server.url} ({_cell(str(server.mybb_root))}) did not answer just now: check its status and log."
                 for server in servers if server.health != "answering"]
    out = [f"# MyBB Servers: {count}\n", *([intro + "\n"] if intro else []), "\n".join(rows),
           _bullets("Warnings", warnings),
           f"\nNext: for one forum's status, logs or stop, set MYBB_ROOT to it and use {commands.status}."]
    return "\n".join(part for part in out if part).strip() + "\n"


def _cell(text: str) -> str:
    """Text for a table cell: no line breaks, no column separators."""
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("|", "\\|")


def _next_step(result: ServerResult, commands: Commands) -> str:
    failure = result.failure
    owner = result.port_owner
    if failure is Failure.ALREADY_RUNNING:
        return (f"Nothing to do if this is the server you want. To pick up changed settings use {commands.restart}; "
                f"to stop it use {commands.stop}.")
    if failure in (Failure.PORT_IN_USE, Failure.NOT_OURS):
        if owner is not None and owner.forum_root is not None:
            first = (f"Leave that forum's server alone, or stop it from that forum "
                     f"({code_span('MYBB_ROOT=' + owner.forum_root)}); "
                     f"{commands.list_all} shows every server this tool runs.")
        elif failure is Failure.NOT_OURS:
            first = "That program was started some other way: stop it there if it should not run."
        else:
            first = "Stop the program holding the port (this tool never stops a process it did not start)."
        return f"{first} {_other_port(result.free_port, commands)}"
    if failure is Failure.NOT_RUNNING and owner is not None:
        held = (f"Port {result.port} serves another forum of this tool's; leave it, or stop it from that forum "
                f"({code_span('MYBB_ROOT=' + owner.forum_root)}). " if owner.forum_root is not None else "")
        return f"{held}To run this forum beside it: {_other_port(result.free_port, commands)}"
    if failure is Failure.NOT_RUNNING:
        return f"Start it with {commands.start}."
    if failure is Failure.BAD_FORUM_ROOT:
        return "Point MYBB_ROOT at the directory holding MyBB's index.php (environment or .env), then start again."
    if failure is Failure.PHP_NOT_FOUND:
        return ("Install the PHP CLI (Debian/Ubuntu: `apt-get install php-cli php-sqlite3 php-mysql`) or set MYBB_PHP "
                "to the php binary's full path.")
    if failure is Failure.LOG_UNWRITABLE:
        return "Make the logs/ directory next to the forum writable (or free disk space), then start again."
    if failure is Failure.PHP_EXITED:
        if not result.reason:
            return ("PHP printed nothing: check that MYBB_PHP is the PHP CLI (`php -v`) and that "
                    f"{commands.logs_errors} shows nothing older, then start again.")
        return f"Fix what PHP reported above, then start again. Full output: {commands.logs_errors}."
    if failure is Failure.START_TIMEOUT:
        return f"Check the log with {commands.logs_errors}; the forum's router or index.php may hang."
    if failure is Failure.STOP_TIMEOUT:
        return f"Use {commands.stop_force} to kill it."
    if failure is Failure.BUSY:
        return f"Wait for the other operation, then check {commands.status}."
    if failure is Failure.UNSAFE_FILE:
        return ("Fix that file as the note says, then try again. This tool never writes through a link, into "
                "another user's file, or into anything but a regular file.")
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
        if result.requested_port is not None:
            out.append(f"\n**The port was not changed:** the server still listens on port {result.port}, not "
                       f"{result.requested_port}. To move it, use {commands.restart_port.format(result.requested_port)}.")
    else:
        out = [f"# Error: {_failure_heading(result)}\n", result.message]
        if result.reason:
            out.append("\nPHP said:\n" + "\n".join(code_block(result.reason.split("\n"))))
        owner = result.port_owner
        if owner and owner.forum_root is not None:
            out.append(f"\nPort {result.port} is held by {owner.describe()}.")
        elif owner:
            out.append(f"\nPort {result.port} is held by {owner.describe()}, which this tool did not start; "
                       "it was not touched.")
        if result.died:
            out.append(_died_section(result.died, commands))
    out.append(_bullets("Warnings", result.warnings))
    out.append(_bullets("Notes", result.notes))
    step = _next_step(result, commands)
    if step:
        out.append(f"\n**Next:** {step}")
    return "\n".join(part for part in out if part).strip() + "\n"


def _failure_heading(result: ServerResult) -> str:
    """The heading, chosen once the body's facts are known: a port held by a server of ours (another
    forum's) is never headed as a stranger's."""
    failure = result.failure
    assert failure is not None
    owner = result.port_owner
    if failure is Failure.NOT_OURS and owner is not None and owner.forum_root is not None:
        return Failure.NOT_RUNNING.title
    return failure.title


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
        next_step = f"Open {result.url} in a browser; read errors with {commands.logs_errors}."
    out.append(_bullets("Warnings", result.warnings))
    if result.error_logging_change is not None:
        out.append("\n" + render_error_logging(result.error_logging_change).rstrip()
                   + f"\n\nSwitched on because the server runs in development mode (MYBB_DEV_INI=1); "
                   f"undo with {commands.error_logging_off}.")
    out.append(render_visibility(result.visibility, commands, brief=True))
    out.append(_bullets("Notes", result.notes))
    out.append(f"\n**Next:** {next_step}")
    return "\n".join(part for part in out if part).strip() + "\n"


# init's own steps; any other failed step is a page of MyBB's installer, whose words are shown as data.
_INIT_STEPS = {"php extensions", "target", "source", "download", "checksum", "unpack", "database",
               "move into place", "configure", "stop"}


def render_init(result: InitResult, commands: Commands = CLI_COMMANDS) -> str:
    """Markdown for `init`: the new forum with its admin password (shown this once), or the failed step."""
    if result.failed_step is not None:
        step = result.failed_step
        if step in _INIT_STEPS:
            what = result.message
        else:
            what = "MyBB's installer stopped at its `" + step + "` page:\n```\n" + result.message + "\n```"
        out = ["# Error: Install Failed\n", f"Step: **{step}**. {what}\n",
               f"Nothing was installed: {result.root} is as it was.",
               _bullets("Notes", result.notes),
               f"\n**Next:** {result.hint or 'Fix the problem above and run init again.'}"]
        return "\n".join(part for part in out if part).strip() + "\n"
    started = result.start is not None and result.start.success
    heading = "# Forum Installed" if started else "# Forum Installed, Server Not Started"
    kept = (f" (shown once; kept in {result.credentials_file}, mode 0600)" if result.credentials_file
            else " (shown once)")
    source = result.source + (f" (SHA-256 {result.sha256}{', checked' if result.verified else ''})"
                              if result.sha256 else "")
    where = f"MyBB {result.version or ''} is installed at {result.root}".replace("  ", " ")
    out = [heading + "\n", where + (" and running.\n" if started else ".\n"),
           _table([
               ("URL", result.url),
               ("Admin", result.admin_user),
               ("Password", f"`{result.admin_password}`{kept}" if result.admin_password else None),
               ("Database", result.database),
               ("Source", source or None),
               ("Took", f"{result.seconds:.1f} s (install {result.install_seconds:.1f} s, then start)"
                if result.install_seconds is not None else f"{result.seconds:.1f} s"),
               ("PID", result.start.pid if started and result.start else None),
               ("Log File", result.start.log_file if started and result.start else None),
           ]),
           _bullets("Notes", result.notes)]
    if started:
        out.append(f"\n**Next:** Open {result.url}/ (Admin CP: {result.url}/admin/); "
                   f"read errors with {commands.logs_errors}.")
    elif result.start is not None:
        out.append("\n" + render_result(result.start, commands))
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


def render_error(title: str, problem: str, fix: str) -> str:
    """Any failure outside the catalogue (bad arguments, configuration, internal errors)."""
    return f"# Error: {title}\n\n{problem}\n\n**Next:** {fix}\n"


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


# --- snapshots ---------------------------------------------------------------------------------------

MAX_DIFF_NAMES = 40  # names listed per line of a diff; the rest are counted
MAX_VALUE_CHARS = 80


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """No terminal control characters from data (a value could hold an escape sequence)."""
    return _CONTROL.sub("\ufffd", text)


def _block(text: str) -> str:
    """Another program's output, fenced: shown as it is, never read as markup."""
    lines = [_cut(_printable(line)) for line in text.splitlines()[-MAX_CONTINUATION_LINES:]]
    fence = "```"
    while any(fence in line for line in lines):
        fence += "`"
    return "\n".join([fence, *lines, fence])


def _code(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """Forum data (a setting value, a template title) as inline code: one line, cut, never markup."""
    text = _printable(text.replace("\r\n", "\n").replace("\n", "⏎"))
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text)} chars)"
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _value(text: str) -> str:
    """A setting's value: inline code, or a word for the empty string (empty code spans do not show)."""
    return _code(text) if text else "(empty)"


def _names(names: list[str]) -> str:
    shown = ", ".join(_code(name) for name in names[:MAX_DIFF_NAMES])
    return shown + (f" and {len(names) - MAX_DIFF_NAMES} more" if len(names) > MAX_DIFF_NAMES else "")


def _snapshot_next(result: SnapshotResult, commands: Commands) -> str:
    failure, name = Failure(result.failure), result.name
    if failure is Failure.FORUM_NOT_INSTALLED:
        return "Point MYBB_ROOT at an installed forum (its inc/config.php names the database), then try again."
    if failure is Failure.UNSUPPORTED_DATABASE:
        return "Back this database up with its own tools; snapshots cover SQLite and MySQL/MariaDB."
    if failure is Failure.DUMP_TOOL_MISSING:
        return ("Install the database client tools (Debian/Ubuntu: `apt-get install mariadb-client`, or "
                "`default-mysql-client`), then try again. Nothing was changed.")
    if failure is Failure.SNAPSHOT_NOT_FOUND:
        return f"See the snapshots there are with {commands.snapshot('list')}."
    if failure is Failure.SNAPSHOT_EXISTS:
        return f"Choose another name, or delete the old one first with {commands.snapshot('delete', name)}."
    if failure is Failure.DATABASE_MISMATCH:
        return "Point inc/config.php back at the snapshot's database, or save a new snapshot of this one."
    if failure is Failure.STORAGE_UNSAFE:
        return f"Move `{result.storage}` aside (it must be a directory you own), then try again."
    if failure is Failure.BUSY:
        return "Wait for the other snapshot operation to finish, then try again."
    if failure is Failure.SNAPSHOT_FAILED and result.action == "restore" and result.automatic:
        return (f"Fix the problem above and restore again, or go back to how the forum was with "
                f"{commands.snapshot('restore', result.automatic.name)}.")
    return "Fix the problem above and try again; nothing was changed."


def _when(created: str) -> str:
    """An ISO 8601 UTC time as people read it: to the second."""
    return created[:19].replace("T", " ") + " UTC" if created else "unknown"


def _snapshot_row(info: SnapshotInfo) -> str:
    kind = f"automatic ({info.reason})" if info.automatic else "saved"
    return (f"| {_code(info.name)} | {_when(info.created)} | {kind} | "
            f"{format_size(info.size_bytes)} |")


def render_snapshot(result: SnapshotResult, commands: Commands = MCP_COMMANDS) -> str:
    """Markdown for a snapshot save, restore, list, delete or diff."""
    if not result.ok:
        assert result.failure is not None
        out = [f"# Error: {Failure(result.failure).title}\n", result.message]
        if result.detail:
            out.append("\nThe database tool said:\n" + _block(result.detail))
        out.append(f"\n**Next:** {_snapshot_next(result, commands)}")
        return "\n".join(out).strip() + "\n"
    render = {"save": _render_saved, "restore": _render_restored, "list": _render_list,
              "delete": _render_deleted, "diff": _render_diff}[result.action]
    out = render(result, commands)
    next_step = out.pop() if out and out[-1].startswith("\n**Next:**") else ""
    if result.skipped:
        out.append(_bullets("Left alone", [f"`{path}`: a symlink or special file; never followed or replaced"
                                           for path in result.skipped[:MAX_DIFF_NAMES]]))
    out.append(_bullets("Notes", result.notes))
    out.append(next_step)
    return "\n".join(part for part in out if part).strip() + "\n"


def _info_rows(info: SnapshotInfo | None) -> list[tuple[str, Any]]:
    if info is None:
        return []
    return [("Saved", _when(info.created)), ("Database", info.database),
            ("MyBB", info.mybb_version), ("Forum files", info.files), ("Size", format_size(info.size_bytes)),
            ("Folder", f"`{info.path}`")]


def _render_saved(result: SnapshotResult, commands: Commands) -> list[str]:
    return [f"# Snapshot Saved: {result.name}\n", result.message + "\n",
            _table([*_info_rows(result.snapshot), ("Took", f"{result.seconds:.2f} s")]),
            f"\n**Next:** see what changes with {commands.snapshot('diff', result.name)}; "
            f"go back to this state with {commands.snapshot('restore', result.name)}."]


def _render_restored(result: SnapshotResult, commands: Commands) -> list[str]:
    kept = result.automatic
    out = [f"# Snapshot Restored: {result.name}\n", result.message + "\n", _table([
        ("Database", result.snapshot.database if result.snapshot else None),
        ("Files written", result.files_written), ("Files removed", result.files_removed),
        ("Kept before restoring", f"`{kept.name}`" if kept else None),
        ("Took", f"{result.seconds:.2f} s"),
    ])]
    if result.pruned:
        out.append(_bullets("Older automatic snapshots removed", [f"`{name}`" for name in result.pruned]))
    if kept:
        out.append(f"\n**Next:** undo this restore with {commands.snapshot('restore', kept.name)}.")
    return out


def _render_list(result: SnapshotResult, commands: Commands) -> list[str]:
    if not result.snapshots:
        return ["# Snapshots\n", f"No snapshots of this forum yet (they are kept in `{result.storage}`).",
                f"\n**Next:** save one with {commands.snapshot('save', 'NAME')}."]
    rows = ["| name | saved | kind | size |", "|---|---|---|---|", *map(_snapshot_row, result.snapshots)]
    return ["# Snapshots\n", f"{result.message} Kept in `{result.storage}`, oldest first.\n", "\n".join(rows),
            f"\n**Next:** compare with {commands.snapshot('diff', 'NAME')}; "
            f"go back with {commands.snapshot('restore', 'NAME')}."]


def _render_deleted(result: SnapshotResult, commands: Commands) -> list[str]:
    return [f"# Snapshot Deleted: {result.name}\n", result.message]


def _change_line(change: Change, value: bool) -> str:
    where = f" (group {_code(change.group)})" if change.group else " (in no setting group)" if value else ""
    if change.kind == "added":
        return f"added {_code(change.name)}{where}" + (f" = {_value(change.after or '')}" if value else "")
    if change.kind == "removed":
        return f"removed {_code(change.name)}{where}" + (f", was {_value(change.before or '')}" if value else "")
    if value and change.before == change.after:
        return f"definition changed {_code(change.name)}{where} (title, options or description)"
    return f"changed {_code(change.name)}{where}" + (
        f": {_value(change.before or '')} → {_value(change.after or '')}" if value else "")


def _grouped_lines(changes: tuple[Change, ...], noun: str) -> list[str]:
    by_group: dict[tuple[str, str], list[str]] = {}
    for change in changes:
        by_group.setdefault((change.group or "", change.kind), []).append(change.name)
    return [f"{_code(group) if noun == 'files' else group}: {kind} {_names(names)}"
            for (group, kind), names in by_group.items()]


def _render_diff(result: SnapshotResult, commands: Commands) -> list[str]:
    diff = result.diff
    assert diff is not None
    info = result.snapshot
    out = [f"# Snapshot Diff: {result.name}\n", result.message + (f" Database: {info.database}." if info else "")]
    if diff.empty:
        out.append("\nNo changes: tables, row counts, columns, indexes, settings, templates, stylesheets, datacache and the files "
                   "MyBB writes are as in the snapshot.")
    table_lines = []
    for table in diff.tables:
        if table.rows_before is None:
            table_lines.append(f"added {_code(table.table)} ({table.rows_after} rows)")
        elif table.rows_after is None:
            table_lines.append(f"removed {_code(table.table)} (had {table.rows_before} rows)")
        else:
            delta = table.rows_after - table.rows_before
            table_lines.append(f"{_code(table.table)}: {table.rows_before} → {table.rows_after} rows ({delta:+d})")
    out.append(_bullets("Tables", table_lines))
    out.append(_bullets("Columns and indexes", [
        f"{_code(c.table)}: {c.kind} {c.what} {_code(c.name)}"
        + (f" {_code(c.after or '')}" if c.kind == "added" else f" (was {_code(c.before or '')})"
           if c.kind == "removed" else f": {_code(c.before or '')} → {_code(c.after or '')}")
        for c in diff.schema[:MAX_DIFF_NAMES]] + ([f"and {len(diff.schema) - MAX_DIFF_NAMES} more"]
                                                  if len(diff.schema) > MAX_DIFF_NAMES else [])))
    out.append(_bullets("Setting groups", [
        f"{c.kind} {_code(c.name)} ({_code(c.after if c.after is not None else c.before or '')})"
        if c.kind != "changed" else f"changed {_code(c.name)}: title {_code(c.before or '')} → {_code(c.after or '')}"
        for c in diff.setting_groups]))
    out.append(_bullets("Settings", [_change_line(c, value=True) for c in diff.settings]))
    out.append(_bullets("Templates", _grouped_lines(diff.templates, "templates")))
    out.append(_bullets("Stylesheets", _grouped_lines(diff.stylesheets, "stylesheets")))
    datacache = {}
    for change in diff.datacache:
        datacache.setdefault(change.kind, []).append(change.name)
    lines = [f"{kind} {_names(names)}" for kind, names in datacache.items()]
    if "plugins" in datacache.get("changed", []) and diff.plugins_before == diff.plugins_after:
        lines.append("(`plugins` was rewritten, but the same plugins are active: "
                     f"{', '.join(diff.plugins_after or ()) or 'none'})")
    out.append(_bullets("Datacache entries", lines))
    if diff.plugins_before != diff.plugins_after:
        before = ", ".join(diff.plugins_before or ()) or "none"
        after = ", ".join(diff.plugins_after or ()) or "none"
        out.append(_bullets("Active plugins", [f"then: {before}", f"now: {after}"]))
    out.append(_bullets("Files MyBB writes", [
        f"{c.kind} `{c.name}`" + (f" ({c.before} → {c.after} bytes)" if c.kind == "changed" else "")
        for c in diff.files[:MAX_DIFF_NAMES]] + ([f"and {len(diff.files) - MAX_DIFF_NAMES} more"]
                                                 if len(diff.files) > MAX_DIFF_NAMES else [])))
    out.append(_bullets("Not compared", list(diff.unknown)))
    if not diff.empty:
        out.append(f"\n**Next:** throw these changes away with {commands.snapshot('restore', result.name)} "
                   "(what is replaced is kept as an automatic snapshot first).")
    return out
