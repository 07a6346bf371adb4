"""Cursor reads -> markdown and text: the entries new since a cursor, the cursor line to read on
from, and one entry on one line (for `logs --follow`).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING

from .commands import MCP_COMMANDS
from .logs import entry_time, render_entry
from .text import CONTROL

if TYPE_CHECKING:
    from ..logs.cursors import NewEntries
    from ..logs.parser import LogEntry
    from .commands import Commands


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


# --- one line per entry (logs --follow) -----------------------------------------------------------------

def render_entry_line(entry: LogEntry, zone: tzinfo | None, max_chars: int = 2000) -> str:
    """One entry on one line: time, level, headline, file:line, then its continuation lines joined
    by ' ⏎ ' (control characters dropped), cut to `max_chars`."""
    parts = [entry_time(entry.timestamp, zone)]
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
    text = CONTROL.sub("", text)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
