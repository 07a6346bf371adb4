"""Page requests, cursor reads and the error digest -> markdown (shared by the MCP face and the CLI).

Everything that comes from a page or a log (titles, MyBB's messages, error text, excerpts) is data:
it goes out in code spans or fences, never as markdown of its own.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from ..logs.digest import NEW, NOT_RECHECKED, RESOLVED, STILL_FIRING, Digest, ErrorGroup, without_location
from ..logs.cursors import NewEntries
from ..logs.parser import LogEntry
from .render import MCP_COMMANDS, Commands, _fenced, _time, render_entry

MAX_TRACE_LINES = 8
MAX_GROUPS_SHOWN = 20
DEFAULT_DIGEST_CHARS = 12_000  # an agent's answer: what changed first, the rest as it fits
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


_SECRETS = re.compile(r"((?:my_post_key|logoutkey|adminsid|sid)=)[0-9a-f]{8,}")


def redact(text: str) -> str:
    """Session secrets (my_post_key, logoutkey, session ids) in URLs, shown as `…`."""
    return _SECRETS.sub(r"\1…", text)


def code(text: str, limit: int = 600) -> str:
    """Text from a page or a log as an inline code span (control characters dropped, secrets redacted, cut to
    `limit`)."""
    text = " ".join(redact(_CONTROL.sub("", text)).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if not text:
        return "(empty)"
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _where(group: ErrorGroup) -> str:
    origin = getattr(group.example, "origin", None)
    parts = []
    if group.fingerprint.where:
        parts.append(f"at {code(group.fingerprint.where)}")
    if origin:
        parts.append(f"({origin})")
    return " ".join(parts)


def render_group(group: ErrorGroup, index: int, zone: tzinfo | None, *, trace: bool = True,
                 status: bool = False) -> list[str]:
    kind = group.fingerprint.kind.upper()
    head = f"{index}. **{kind}** {code(without_location(group.example.message), 400)} {_where(group)}".rstrip()
    if status and group.status:
        head = f"{index}. [{group.status}] **{kind}** " + head.split(f"**{kind}** ", 1)[1]
    lines = [head]
    seen = f"×{group.count}"
    if group.first_seen is not None:
        seen += f", first {_time(group.first_seen, zone)}"
        if group.last_seen is not None and group.last_seen != group.first_seen:
            seen += f", last {_time(group.last_seen, zone)}"
    if group.requests:
        seen += "; " + ", ".join(code(r, 200) for r in group.requests)
    lines.append(f"   {seen}")
    if status and group.fixed_by:
        lines.append(f"   fixed: the same page ran again as the same role without it: {code(group.fixed_by, 200)}")
    if trace and group.example.continuation:
        shown = group.example.continuation[:MAX_TRACE_LINES]
        more = len(group.example.continuation) - len(shown)
        lines += ["   " + line for line in _fenced(shown + ([f"... {more} more lines"] if more > 0 else []))]
    return lines


# --- mybb_server_request --------------------------------------------------------------------------

def render_page_result(result: Any, commands: Commands = MCP_COMMANDS) -> str:
    """The answer to one page request (forum.requests.PageResult)."""
    request = result.request
    asked = f"{request.method} {request.path}"
    if result.response is None:
        lines = [f"# Request Failed: {asked} as {request.role}", "", f"**Problem:** {result.failure.rstrip('.')}.",
                 "", f"**Next:** {result.hint}"]
        if result.errors or not result.errors_known:
            lines += [""] + _errors_section(result, "the login request")
        if result.cursor:
            lines += ["", f"Cursor: `{result.cursor}`"]
        return "\n".join(lines) + "\n"
    response = result.response
    hops = response.hops
    last = hops[-1]
    first = hops[0]
    chain = "" if len(hops) == 1 else f"{code(first.method + ' ' + first.target, 200)} → … → "
    lines = [f"# Page: {chain}{code(last.method + ' ' + last.target, 300)} → {response.status} (as {request.role})", ""]
    rows = [
        ("URL", code(response.url, 400)),
        ("Status", f"{response.status} {response.reason}"),
        ("Time", _ms(response.seconds) + (f" over {len(hops)} exchanges" if len(hops) > 1 else "")),
        ("Title", code(_title(response.body)) if response.content_type == "text/html" else response.content_type),
    ]
    if len(hops) > 1:
        rows.append(("Redirects", " → ".join(
            f"{h.status} {code(h.target, 120)}" + (" (MyBB's redirect page)" if h.status == 200 and h is not last else "")
            for h in hops)))
    if response.redirect_not_followed:
        rows.append(("Redirect not followed", code(response.redirect_not_followed, 300)))
    if response.logins:
        rows.append(("Logged in", "; ".join(response.logins) + " (credentials from configuration)"))
    lines += ["| | |", "|---|---|"] + [f"| {name} | {value} |" for name, value in rows] + [""]
    redirect = response.redirect_page
    if redirect is not None:
        followed = "not followed" if response.redirect_not_followed else "followed"
        lines.append(f"**MyBB's redirect page: the request succeeded.** MyBB said {code(redirect.message or '(no message)')}"
                     f" and points to {code(redirect.url, 300)} ({followed}"
                     + (", as a GET" if followed == "followed" else "; pass `follow_redirects: true` to load it")
                     + ").")
    if response.page_error is not None and response.page_error.kind in STOP_KINDS:
        lines.append(f"**MyBB stopped:** {response.page_error.title}. MyBB's words: {code(response.page_error.message)}")
    elif response.page_error is not None and response.page_error.kind == "confirm":
        lines.append(f"**{response.page_error.title}:** {code(response.page_error.message)} — to go ahead, POST "
                     "the same path (the form's Yes button); nothing is done by this GET.")
    elif response.page_error is not None:
        lines.append(f"**MyBB showed an error instead of the page:** {response.page_error.title}: "
                     f"{code(response.page_error.message)}")
    elif redirect is not None:
        pass
    elif response.status >= 500:
        lines.append(f"**No page:** the script stopped with status {response.status}"
                     + (" and an empty response" if not response.body.strip() else "")
                     + " (PHP's words are in the errors below).")
    else:
        lines.append("MyBB showed the page (no MyBB error page, no-permission page or login page).")
    if result.flash:
        lines.append(f"MyBB's message: {code(result.flash)}")
    if result.refresh_to:
        lines.append(f"The page refreshes to {code(result.refresh_to, 300)} (not followed).")
    for note in response.notes:
        lines.append(f"Note: {note}.")
    lines.append("")
    lines += _errors_section(result)
    from ..answers.request_trace import render_workbench  # the workbench's part of the answer

    lines += render_workbench(result.workbench, request.trace, request.plugins)
    lines += _on_demand(result)
    lines += ["", f"Cursor: `{result.cursor}` — what came after this request: {commands.logs_since}; "
              f"after your next request, whether these errors are fixed: {commands.digest_since}."]
    return "\n".join(lines).rstrip() + "\n"


def _title(body: str) -> str:
    from ..forum.pages import page_title

    return page_title(body) or "(no title)"


STOP_KINDS = ("language_stop", "stopped")


def _errors_section(result: Any, what: str = "this request") -> list[str]:
    hops = result.response.hops if result.response is not None else []
    ports = ", ".join(str(h.client_port) for h in hops)
    groups = result.errors
    if not groups:
        if not result.errors_known:
            return [f"## Errors raised by {what}: unknown", "", f"The logs could not be tied to it: "
                    f"{result.errors_note}."]
        lines = [f"## Errors raised by {what}: none", "",
                 f"No errors: the server log and MyBB's error log recorded nothing for this request's "
                 f"exchanges (client port{'s' if ',' in ports else ''} {ports})."]
        if result.errors_note:
            lines.append(f"Note: {result.errors_note}.")
        if getattr(result, "visibility_note", None):
            lines.append(f"Note: {result.visibility_note}")
        return lines
    total = sum(g.count for g in groups)
    lines = [f"## Errors raised by {what}: {len(groups)}"
             + (f" ({total} occurrences)" if total != len(groups) else ""), ""]
    for index, group in enumerate(groups[:MAX_GROUPS_SHOWN], 1):
        lines += render_group(group, index, None)
    if len(groups) > MAX_GROUPS_SHOWN:
        lines.append(f"... and {len(groups) - MAX_GROUPS_SHOWN} more kinds of error.")
    if result.errors_note:
        lines.append(f"Note: {result.errors_note}.")
    return lines


def _on_demand(result: Any) -> list[str]:
    request, lines = result.request, []
    if request.selector is not None:
        count = result.selector_count or 0
        lines.append(f"Selector {code(request.selector)}: " + (f"present ({count} element{'s' if count != 1 else ''})."
                                                              if count else "not present."))
    if request.contains is not None:
        found = {"text": "present in the page text.", "html": "present only in the HTML markup, not the visible text.",
                 "": "not present."}[result.contains_found or ""]
        lines.append(f"Text {code(request.contains, 200)}: {found}")
    if request.debug:
        debug = result.debug
        if debug is None:
            lines.append("Debug report: MyBB did not show one (it shows it to users who may use the Admin CP, "
                         "on front-end pages: request as admin).")
        else:
            lines += ["", "## MyBB debug report", "",
                      f"- Page generation: {debug.generation_time}; PHP {debug.php_time}; database {debug.db_time}",
                      f"- Queries: {debug.query_count}",
                      f"- Templates: {debug.templates_used}"]
            if debug.extra_templates:
                lines.append("- Templates that needed extra queries (not in the page's template cache): "
                             + ", ".join(code(t, 80) for t in debug.extra_templates))
    if result.excerpt is not None:
        cut = " (cut)" if result.excerpt_cut else ""
        lines += ["", f"## Page text{cut}", ""] + _text_block(result.excerpt)
    return ([""] + lines) if lines else []


def _text_block(text: str) -> list[str]:
    """Page text in a fence, as many lines as the excerpt holds (its size is the caller's argument, already
    bounded), control characters dropped and a fence longer than any backtick run inside."""
    body = [_CONTROL.sub("", line) for line in text.split("\n")]
    fence = "```"
    while any(fence in line for line in body):
        fence += "`"
    return [fence + "text", *body, fence]


# --- cursor reads -----------------------------------------------------------------------------------

def render_new_entries(found: NewEntries, log_file: str, zone: tzinfo | None, commands: Commands = MCP_COMMANDS,
                       *, waited: float | None = None, filters: str = "") -> str:
    lines = ["# New Log Entries", ""]
    if found.note:
        lines += [f"Note: {found.note}.", ""]
    if not found.entries:
        lines.append("Nothing new" + (f" matching {filters}" if filters else "") + " since the cursor"
                     + (f" (waited {waited:.0f} s)." if waited else "."))
    else:
        lines.append(f"{len(found.entries)} new entr{'ies' if len(found.entries) != 1 else 'y'}"
                     + (f" matching {filters}" if filters else "") + ", oldest first"
                     + (" (more follow: pass the cursor below to read on)." if found.more else "."))
        lines.append("")
        for entry in found.entries:
            lines += render_entry(entry, zone, log_file)
    cursor = found.cursor.encode()
    lines += ["", f"Cursor: `{cursor}` — pass it to {commands.logs_since} to see only what comes after "
              "this answer."]
    return "\n".join(lines).rstrip() + "\n"


def render_cursor_line(cursor: str, commands: Commands = MCP_COMMANDS) -> str:
    return f"\nCursor: `{cursor}` — pass it to {commands.logs_since} to see only what comes after this answer.\n"


# --- the digest ----------------------------------------------------------------------------------------

DIGEST_RECHECKS_SHOWN = 2  # calls shown per item that was not re-checked
DIGEST_QUIET_SHOWN = 5  # not re-checked items listed (the newest): old noise must not bury a one-line fix


def recheck_call(site: tuple[str, str | None], commands: Commands) -> str:
    """The call that loads a page as the role that raised an error there."""
    page, role = site
    path = page.lstrip("/") or "index.php"
    if role is None:
        return (f"{commands.request} on {code(path, 200)} as the role that raised it (a client other than this "
                "tool sent that request; the tool knows the roles of its own requests only)")
    return commands.request_as.format(path=path.replace('"', "%22"), role=role.replace('"', "'"))


def _compact(group: ErrorGroup, zone: tzinfo | None, commands: Commands) -> list[str]:
    kind = group.fingerprint.kind.upper()
    last = group.requests[-1] if group.requests else ""
    line = (f"- [{group.status}] **{kind}** {code(without_location(group.example.message), 200)} {_where(group)}"
            .rstrip() + f" (×{group.count}" + (f"; {code(last, 160)}" if last else "") + ")")
    lines = [line]
    if group.compile_note:
        lines.append(f"  {group.compile_note}")
    for site in group.recheck[:DIGEST_RECHECKS_SHOWN]:
        lines.append(f"  re-check: {recheck_call(site, commands)}")
    if len(group.recheck) > DIGEST_RECHECKS_SHOWN:
        lines.append(f"  ... and {len(group.recheck) - DIGEST_RECHECKS_SHOWN} more pages it fired on.")
    return lines


def _kinds(items: list[list[str]]) -> int:
    """Error kinds among rendered items (not the "... and N older" line: those are counted already)."""
    return sum(1 for item in items if not item[0].startswith("- ... and"))


def render_digest(result: Digest, zone: tzinfo | None, commands: Commands = MCP_COMMANDS,
                  budget: int = DEFAULT_DIGEST_CHARS) -> str:
    """The digest, within `budget` characters: with a cursor it leads with what changed (resolved, then
    new), then what still fires, then what was not re-checked, each with the call that would re-check it."""
    lines = ["# Error Digest", ""]
    if result.note:
        lines += [f"Note: {result.note}.", ""]
    scope = "since the cursor" if result.since_cursor else "in the log"
    lines.append(f"Errors grouped by kind, message and file:line, {scope}: {len(result.groups)} kind"
                 f"{'s' if len(result.groups) != 1 else ''} over {result.requests_since} request"
                 f"{'s' if result.requests_since != 1 else ''}.")
    if result.matched_by:
        lines.append(f"Only errors {result.matched_by}.")
    if result.more:
        lines.append("(The range was long: only its first part was grouped; ask again with a newer cursor.)")
    every = result.groups + result.before
    sections: list[tuple[str, list[list[str]]]] = []
    if result.since_cursor:
        counts: dict[str, int] = {}
        for group in every:
            counts[group.status] = counts.get(group.status, 0) + 1
        order = (RESOLVED, NEW, STILL_FIRING, NOT_RECHECKED)
        lines.append("Since the cursor: " + (", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))
                                             or "no errors before or after it") + ". \"Resolved\" means the same "
                     "page ran again as the same role after the error's last occurrence there.")
        resolved = sorted((g for g in every if g.status == RESOLVED),
                          key=lambda g: -(g.last_seen.timestamp() if g.last_seen else 0.0))
        new = [g for g in result.groups if g.status == NEW]
        changed = [render_group(g, i, zone, trace=False, status=True) for i, g in enumerate(resolved + new, 1)]
        sections.append(("## What changed (resolved, new)", changed))
        sections.append(("## Still firing", [_compact(g, zone, commands) for g in every if g.status == STILL_FIRING]))
        quiet = sorted((g for g in every if g.status == NOT_RECHECKED),
                       key=lambda g: -(g.last_seen.timestamp() if g.last_seen else 0.0))
        items = [_compact(g, zone, commands) for g in quiet[:DIGEST_QUIET_SHOWN]]
        if len(quiet) > DIGEST_QUIET_SHOWN:
            items.append([f"- ... and {len(quiet) - DIGEST_QUIET_SHOWN} older ones not re-checked (load their pages "
                          f"with {commands.request} to know)."])
        sections.append(("## Not re-checked (fired before the cursor; its page was not loaded again as that "
                         "role since)", items))
    else:
        sections.append(("", [render_group(g, i, zone, trace=False) for i, g in enumerate(result.groups, 1)]))
    cursor = result.cursor.encode()
    footer = ["", f"Cursor: `{cursor}` — pass it to {commands.digest_since} later to see what changed "
              "after this answer."]
    lines.append("")
    if not every:
        lines.append("No errors.")
    room = budget - sum(len(line) + 1 for line in lines + footer) - 200
    left_out = 0
    for title, items in sections:
        if not items:
            continue
        if left_out:
            left_out += _kinds(items)
            continue
        head = [title, ""] if title else []
        shown: list[str] = []
        for index, item in enumerate(items):
            size = sum(len(line) + 1 for line in head + item)
            if size > room:
                left_out += _kinds(items[index:])
                break
            shown += head + item
            room -= size
            head = []
        if shown:
            lines += shown + [""]
    if left_out:
        lines.append(f"**Left out to fit the answer budget of {budget} characters:** {left_out} more kind"
                     f"{'s' if left_out != 1 else ''} (the least changed ones). Ask again with the cursor below "
                     "after your next fix, or read them with " + commands.logs_errors + ".")
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines + footer).rstrip() + "\n"


# --- one line per entry (logs --follow) -----------------------------------------------------------------

def render_entry_line(entry: LogEntry, zone: tzinfo | None, max_chars: int = 2000) -> str:
    """One entry on one line: time, level, headline, file:line, then its continuation lines joined
    by ' ⏎ ' (control characters dropped), cut to `max_chars`."""
    parts = [_time(entry.timestamp, zone)]
    if entry.is_error:
        parts.append((entry.level or "error").upper())
    if entry.event_type == "request":
        parts.append(f"{entry.method} {entry.path} → {entry.status_code}")
        if entry.message:
            parts.append("— " + entry.message.split("\n", 1)[0])
    else:
        parts.append(entry.message.split("\n", 1)[0])
        if entry.source == "mybb" and entry.source_file:
            parts.append(f"({entry.source_file}:{entry.source_line or 0})")
    if entry.worker_pid is not None:
        parts.append(f"(worker {entry.worker_pid})")
    text = " ".join(p for p in parts if p)
    if entry.continuation:
        text += " ⏎ " + " ⏎ ".join(line.strip() for line in entry.continuation if line.strip())
    text = _CONTROL.sub("", text)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
