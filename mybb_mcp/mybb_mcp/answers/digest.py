"""The error digest -> markdown: groups by fingerprint, new / still firing / resolved, with where
each was seen and what fixed it.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING

from ..logs.digest import NEW, NOT_RECHECKED, RESOLVED, RESOLVED_EARLIER, STILL_FIRING, without_location
from .commands import MCP_COMMANDS
from .logs import entry_time, fenced_block
from .text import code

if TYPE_CHECKING:
    from ..logs.digest import Digest, ErrorGroup
    from .commands import Commands


MAX_TRACE_LINES = 8
MAX_GROUPS_SHOWN = 20
DEFAULT_DIGEST_CHARS = 12_000  # an agent's answer: what changed first, the rest as it fits


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
    seen = f"×{group.count}" if group.count else "remembered"
    if group.first_seen is not None:
        seen += f", first {entry_time(group.first_seen, zone)}"
        if group.last_seen is not None and group.last_seen != group.first_seen:
            seen += f", last {entry_time(group.last_seen, zone)}"
    if group.requests:
        seen += "; " + ", ".join(code(r, 200) for r in group.requests)
    lines.append(f"   {seen}")
    if group.left_out_by:
        lines.append(f"   caused by leaving {code(group.left_out_by, 60)} out: its code sets or defines what this "
                     "uses; not the page's own error (left out of the digest)")
    if group.compile_note:
        lines.append(f"   {group.compile_note}")
    if status and group.fixed_by:
        lines.append(f"   fixed: the same page ran again as the same role without it: {code(group.fixed_by, 200)}")
    if trace and group.example.continuation:
        shown = group.example.continuation[:MAX_TRACE_LINES]
        more = len(group.example.continuation) - len(shown)
        lines += ["   " + line for line in fenced_block(shown + ([f"... {more} more lines"] if more > 0 else []))]
    return lines


# --- the digest ----------------------------------------------------------------------------------------

DIGEST_RECHECKS_SHOWN = 1  # calls shown per item that was not re-checked (the rest counted)
DIGEST_QUIET_SHOWN = 3  # not re-checked items listed (the newest): old noise must not bury a one-line fix
DIGEST_MESSAGE_CHARS = 160


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
    line = (f"- [{group.status}] **{kind}** {code(without_location(group.example.message), DIGEST_MESSAGE_CHARS)} "
            f"{_where(group)}".rstrip() + f" (×{group.count}" + (f"; {code(last, 120)}" if last else "") + ")")
    lines = [line]
    if group.status == RESOLVED and group.fixed_by:
        lines.append(f"  fixed: ran clean since, same page, role and plugins: {code(group.fixed_by, 160)}")
    if group.compile_note:
        lines.append(f"  {group.compile_note}")
    if group.recheck and group.not_loaded:
        lines.append(f"  the last load of its page ran without plugin {code(group.not_loaded, 60)} (not active): "
                     "activate it, then re-check")
    for site in group.recheck[:DIGEST_RECHECKS_SHOWN]:
        lines.append(f"  re-check: {recheck_call(site, commands)}")
    if len(group.recheck) > DIGEST_RECHECKS_SHOWN:
        lines.append(f"  ... and {len(group.recheck) - DIGEST_RECHECKS_SHOWN} more pages it fired on.")
    return lines


def _kinds(items: list[list[str]]) -> int:
    """Error kinds among rendered items (not the "... and N older" line: those are counted already)."""
    return sum(1 for item in items if not item[0].startswith("- ... and"))


def _newest_first(groups: list[ErrorGroup]) -> list[ErrorGroup]:
    return sorted(groups, key=lambda g: -(g.last_seen.timestamp() if g.last_seen else 0.0))


def render_digest(result: Digest, zone: tzinfo | None, commands: Commands = MCP_COMMANDS,
                  budget: int = DEFAULT_DIGEST_CHARS) -> str:
    """The digest, within `budget` characters: with a cursor it leads with what changed since it (resolved,
    then new), then what still fires, then what was not re-checked, each with the call that would re-check
    it; what was resolved before the cursor is counted in one line, not listed."""
    lines = ["# Error Digest", ""]
    if result.note:
        lines += [f"Note: {result.note}.", ""]
    every = result.groups + result.before
    sections: list[tuple[str, list[list[str]]]] = []
    if result.since_cursor:
        counts: dict[str, int] = {}
        for group in every:
            counts[group.status] = counts.get(group.status, 0) + 1
        earlier = counts.pop(RESOLVED_EARLIER, 0)
        order = (RESOLVED, NEW, STILL_FIRING, NOT_RECHECKED)
        listed = sum(counts.get(s, 0) for s in order)
        lines.append(f"Since the cursor: {result.requests_since} request{'s' if result.requests_since != 1 else ''}"
                     f"; {listed} error kind{'s' if listed != 1 else ''} below"
                     + (f" ({', '.join(f'{counts[s]} {s}' for s in order if counts.get(s))})" if listed else "")
                     + (f"; {earlier} resolved earlier, not listed" if earlier else "") + ".")
        if result.matched_by:
            lines.append(f"Only errors {result.matched_by}.")
        if result.more:
            lines.append("(The range was long: only its first part was grouped; ask again with a newer cursor.)")
        lines.append("\"Resolved\": the same page ran again as the same role, with the same plugins loaded (not a "
                     "`debug` or `plugins` load), after the error's last occurrence there.")
        resolved = _newest_first([g for g in every if g.status == RESOLVED])
        new = [g for g in result.groups if g.status == NEW]
        sections.append(("## What changed since the cursor", [_compact(g, zone, commands) for g in resolved + new]))
        sections.append(("## Still firing", [_compact(g, zone, commands) for g in every if g.status == STILL_FIRING]))
        quiet = _newest_first([g for g in every if g.status == NOT_RECHECKED])
        items = [_compact(g, zone, commands) for g in quiet[:DIGEST_QUIET_SHOWN]]
        if len(quiet) > DIGEST_QUIET_SHOWN:
            items.append([f"- ... and {len(quiet) - DIGEST_QUIET_SHOWN} older ones not re-checked (load their pages "
                          f"with {commands.request} to know)."])
        sections.append(("## Not re-checked (fired before the cursor; its page was not loaded again as that "
                         "role since)", items))
    else:
        lines.append(f"Errors grouped by kind, message and file:line, in the log: {len(result.groups)} kind"
                     f"{'s' if len(result.groups) != 1 else ''} over {result.requests_since} request"
                     f"{'s' if result.requests_since != 1 else ''}.")
        if result.matched_by:
            lines.append(f"Only errors {result.matched_by}.")
        if result.more:
            lines.append("(The range was long: only its first part was grouped; ask again with a newer cursor.)")
        sections.append(("", [render_group(g, i, zone, trace=False) for i, g in enumerate(result.groups, 1)]))
    cursor = result.cursor.encode()
    footer = ["", f"Cursor: `{cursor}` — pass it to {commands.digest_since} later to see what changed "
              "after this answer."]
    lines.append("")
    if not any(items for _title, items in sections):
        lines.append("No errors." if not every else "No errors to list.")
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
