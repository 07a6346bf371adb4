"""Log query results -> markdown: `# Server Logs` with what is shown of how many, the filters, the
entries (log text only in code spans and fences) and a summary line, within the answer budget.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from ..logs.bounds import MAX_ANSWER_BYTES, MAX_ENTRY_BYTES
from ..logs.options import TRACE_CONTEXT_FRAMES, TRACE_LINES_SHOWN
from ..logs.parser import CONNECTION, REQUEST, SOURCE_MYBB
from ..untrusted import code_block, code_span, one_line
from .commands import MCP_COMMANDS
from .common import format_size

if TYPE_CHECKING:
    from ..logs.parser import LogEntry
    from ..logs.query import LogQueryResult
    from .commands import Commands


# An entry whose stamp goes back in time (logs.timeline): PHP logs request data verbatim, so it may be a
# line a visitor wrote.
OUT_OF_ORDER_MARK = "⚠ *(stamp earlier than the entries before it: may be forged by request data)*"
INSIDE_REQUEST_DATA_MARK = ("⚠ *(begins inside request data: text a page logged, or PHP copied verbatim, that nothing "
                            "signed vouches for: may be forged)*")

# Long entries are cut so one page stays readable; the log itself keeps everything.
MAX_CONTINUATION_LINES = 60
MAX_LINE_CHARS = 1000


def render_log_query(result: LogQueryResult, commands: Commands = MCP_COMMANDS) -> str:
    """`# Server Logs`: what is shown of how many, the log file, the filters, the entries, a summary."""
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
    # (logs.bounds.MAX_ANSWER_BYTES) that holds whatever the entries contain.
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
    return (f"Log file: {code_span(str(result.log_file))} ({size}; {format_size(result.bytes_scanned)} "
            "read for this answer).")


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
        since = f" (since {entry_time(result.since, result.zone)})" if result.since else ""
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
    parts = [f"`{entry_time(entry.timestamp, zone)}`"]
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
                     + "; ".join(code_span(cut_text(f, 160)) for f in entry.folded[:3]) + ".")
    if entry.continuation and not repeat:
        lines += fenced_block(entry.continuation if full_traces else _frames_that_matter(entry))
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
    return f"Request: {code_span(f'{request.method} {cut_text(request.path, 300)}')} → {request.status}{worker}{guess}"


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
        text = f"{code_span(f'{entry.method} {cut_text(entry.path or str())}')} → {entry.status_code}"
        return f"{text} — {code_span(cut_text(entry.message))}" if entry.message else text
    if entry.event_type == REQUEST:  # an error only its request line tells of
        text = f"{code_span(f'{entry.method} {cut_text(entry.path or str(), 300)}')} → {entry.status_code}"
        return f"{text} — {_with_place(_message_first_line(entry), entry)}" if entry.message else text
    if entry.event_type == CONNECTION:
        return code_span(f"{entry.client_ip}:{entry.client_port} {cut_text(entry.message)}")
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
    return code_span(cut_text(text)) if text else ""


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


def fenced_block(lines: list[str]) -> list[str]:
    shown = [cut_text(line, 300) for line in lines[:MAX_CONTINUATION_LINES]]
    if len(lines) > MAX_CONTINUATION_LINES:
        shown.append(f"... {len(lines) - MAX_CONTINUATION_LINES} more lines in the log")
    return code_block(shown, indent="  ")


def _where(location: str | None) -> str:
    if not location:
        return ""
    path = Path(location)
    return f" {'/'.join(path.parts[-2:])}"


def cut_text(text: str, limit: int = MAX_LINE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def entry_time(moment: datetime | None, zone: tzinfo | None) -> str:
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
