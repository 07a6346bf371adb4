"""Pieces every answer uses: durations, sizes, tables, bullet lists, a port someone else holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..untrusted import code_span, one_line

if TYPE_CHECKING:
    from ..logs.parser import LogEntry
    from ..results import PortOwner
    from .commands import Commands


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


def md_table(rows: list[tuple[str, Any]]) -> str:
    lines = ["| | |", "|---|---|"]
    # Values come from the forum's files and other processes too: one line each, `|` escaped.
    lines += [f"| {name} | {one_line(str(value), cell=True)} |" for name, value in rows if value is not None]
    return "\n".join(lines)


def bullets(title: str, items: list[str]) -> str:
    return f"\n## {title}\n" + "\n".join(f"- {one_line(item)}" for item in items) if items else ""


def entry_line(entry: LogEntry) -> str:
    when = entry.timestamp.strftime("%H:%M:%S") if entry.timestamp else "--:--:--"
    level = (entry.level or entry.event_type).upper()
    text = entry.message if len(entry.message) <= 300 else entry.message[:297] + "..."
    return f"`{when}` **{level}** {code_span(text)}"


def port_taken(port: int | None, owner: PortOwner, free_port: int | None, commands: Commands) -> str:
    """Who holds the configured port, and what to do: one sentence for status."""
    if owner.forum_root is not None:
        text = f"Port {port} is in use by {owner.describe()}, not this forum's."
    else:
        text = f"Port {port} is in use by {owner.describe()}, which this tool did not start and will not touch."
    return f"{text} {other_port_step(free_port, commands)}"


def other_port_step(free_port: int | None, commands: Commands) -> str:
    if free_port is None:
        return f"Stop that program or use {commands.start_other_port}."
    return f"Port {free_port} is free: {commands.start_port.format(free_port)}."


def table_cell(text: str) -> str:
    """Text for a table cell: no line breaks, no column separators."""
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("|", "\\|")
