"""Snapshot results -> markdown: saved, restored (with the automatic snapshot that undoes it), the list,
and the diff in MyBB's terms (settings, plugins, templates, tables, files). Names and values from the
forum go out as code.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..failures import Failure
from .commands import MCP_COMMANDS
from .common import bullets, format_size, md_table
from .logs import MAX_CONTINUATION_LINES, cut_text

if TYPE_CHECKING:
    from ..forum.snapshot.model import Change, SnapshotInfo, SnapshotResult
    from .commands import Commands


# --- snapshots ---------------------------------------------------------------------------------------

MAX_DIFF_NAMES = 40  # names listed per line of a diff; the rest are counted
MAX_VALUE_CHARS = 80

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """No terminal control characters from data (a value could hold an escape sequence)."""
    return CONTROL.sub("\ufffd", text)


def _block(text: str) -> str:
    """Another program's output, fenced: shown as it is, never read as markup."""
    lines = [cut_text(_printable(line)) for line in text.splitlines()[-MAX_CONTINUATION_LINES:]]
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
    """The catalogue's next step, with this result's facts (its name, where snapshots are kept)."""
    failure = Failure(result.failure)
    if failure is Failure.BUSY:
        return "Wait for what holds it (named above) to finish, then try again; nothing was changed."
    if failure is Failure.SNAPSHOT_FAILED and result.action == "restore" and result.automatic:
        return (f"Fix the problem above and restore again, or go back to how the forum was with "
                f"{commands.snapshot('restore', result.automatic.name)}.")
    if failure not in SNAPSHOT_FAILURES:
        failure = Failure.SNAPSHOT_FAILED
    return failure.next_step(commands.words(snapshot_delete=commands.snapshot("delete", result.name),
                                            storage=str(result.storage)))


# The failures a snapshot answers with; any other is the generic snapshot failure's step.
SNAPSHOT_FAILURES = {Failure.FORUM_NOT_INSTALLED, Failure.UNSUPPORTED_DATABASE, Failure.DUMP_TOOL_MISSING,
                     Failure.SNAPSHOT_NOT_FOUND, Failure.SNAPSHOT_EXISTS, Failure.DATABASE_MISMATCH,
                     Failure.STORAGE_UNSAFE, Failure.SNAPSHOT_FAILED}


def when_text(created: str) -> str:
    """An ISO 8601 UTC time as people read it: to the second."""
    return created[:19].replace("T", " ") + " UTC" if created else "unknown"


def _snapshot_row(info: SnapshotInfo) -> str:
    kind = f"automatic ({info.reason})" if info.automatic else "saved"
    return (f"| {_code(info.name)} | {when_text(info.created)} | {kind} | "
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
        out.append(bullets("Left alone", [f"`{path}`: a symlink or special file; never followed or replaced"
                                           for path in result.skipped[:MAX_DIFF_NAMES]]))
    out.append(bullets("Notes", result.notes))
    out.append(next_step)
    return "\n".join(part for part in out if part).strip() + "\n"


def _info_rows(info: SnapshotInfo | None) -> list[tuple[str, Any]]:
    if info is None:
        return []
    return [("Saved", when_text(info.created)), ("Database", info.database),
            ("MyBB", info.mybb_version), ("Forum files", info.files), ("Size", format_size(info.size_bytes)),
            ("Folder", f"`{info.path}`")]


def _render_saved(result: SnapshotResult, commands: Commands) -> list[str]:
    return [f"# Snapshot Saved: {result.name}\n", result.message + "\n",
            md_table([*_info_rows(result.snapshot), ("Took", f"{result.seconds:.2f} s")]),
            f"\n**Next:** see what changes with {commands.snapshot('diff', result.name)}; "
            f"go back to this state with {commands.snapshot('restore', result.name)}."]


def _render_restored(result: SnapshotResult, commands: Commands) -> list[str]:
    kept = result.automatic
    out = [f"# Snapshot Restored: {result.name}\n", result.message + "\n", md_table([
        ("Database", result.snapshot.database if result.snapshot else None),
        ("Files written", result.files_written), ("Files removed", result.files_removed),
        ("Kept before restoring", f"`{kept.name}`" if kept else None),
        ("Took", f"{result.seconds:.2f} s"),
    ])]
    if result.pruned:
        out.append(bullets("Older automatic snapshots removed", [f"`{name}`" for name in result.pruned]))
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
        out.append("\nNo changes: tables, row counts, columns, indexes, settings, templates, stylesheets, tasks, "
                   "usergroup permissions, datacache and the files MyBB writes are as in the snapshot.")
    table_lines = []
    for table in diff.tables:
        if table.rows_before is None:
            table_lines.append(f"added {_code(table.table)} ({table.rows_after} rows)")
        elif table.rows_after is None:
            table_lines.append(f"removed {_code(table.table)} (had {table.rows_before} rows)")
        else:
            delta = table.rows_after - table.rows_before
            table_lines.append(f"{_code(table.table)}: {table.rows_before} → {table.rows_after} rows ({delta:+d})")
    out.append(bullets("Tables", table_lines))
    out.append(bullets("Columns and indexes", [
        f"{_code(c.table)}: {c.kind} {c.what} {_code(c.name)}"
        + (f" {_code(c.after or '')}" if c.kind == "added" else f" (was {_code(c.before or '')})"
           if c.kind == "removed" else f": {_code(c.before or '')} → {_code(c.after or '')}")
        for c in diff.schema[:MAX_DIFF_NAMES]] + ([f"and {len(diff.schema) - MAX_DIFF_NAMES} more"]
                                                  if len(diff.schema) > MAX_DIFF_NAMES else [])))
    out.append(bullets("Setting groups", [
        f"{c.kind} {_code(c.name)} ({_code(c.after if c.after is not None else c.before or '')})"
        if c.kind != "changed" else f"changed {_code(c.name)}: title {_code(c.before or '')} → {_code(c.after or '')}"
        for c in diff.setting_groups]))
    out.append(bullets("Settings", [_change_line(c, value=True) for c in diff.settings]))
    out.append(bullets("Templates", _grouped_lines(diff.templates, "templates")))
    out.append(bullets("Stylesheets", _grouped_lines(diff.stylesheets, "stylesheets")))
    out.append(bullets("Tasks", [
        f"{c.kind} {_code(c.name)}"
        + (f": {c.before} → {c.after}" if c.kind == "changed" else f" ({c.after or c.before})")
        for c in diff.tasks]))
    out.append(bullets("Usergroup permissions", [
        f"{_code(c.group or '')}: {_code(c.name)} {_code(c.before or '')} → {_code(c.after or '')}"
        for c in diff.usergroups[:MAX_DIFF_NAMES]]))
    datacache: dict[str, list[str]] = {}
    for change in diff.datacache:
        datacache.setdefault(change.kind, []).append(change.name)
    lines = [f"{kind} {_names(names)}" for kind, names in datacache.items()]
    if "plugins" in datacache.get("changed", []) and diff.plugins_before == diff.plugins_after:
        lines.append("(`plugins` was rewritten, but the same plugins are active: "
                     f"{', '.join(diff.plugins_after or ()) or 'none'})")
    out.append(bullets("Datacache entries", lines))
    if diff.plugins_before != diff.plugins_after:
        before = ", ".join(diff.plugins_before or ()) or "none"
        after = ", ".join(diff.plugins_after or ()) or "none"
        out.append(bullets("Active plugins", [f"then: {before}", f"now: {after}"]))
    out.append(bullets("Files MyBB writes", [
        f"{c.kind} `{c.name}`" + (f" ({c.before} → {c.after} bytes)" if c.kind == "changed" else "")
        for c in diff.files[:MAX_DIFF_NAMES]] + ([f"and {len(diff.files) - MAX_DIFF_NAMES} more"]
                                                 if len(diff.files) > MAX_DIFF_NAMES else [])))
    out.append(bullets("Not compared", list(diff.unknown)))
    if not diff.empty:
        out.append(f"\n**Next:** throw these changes away with {commands.snapshot('restore', result.name)} "
                   "(what is replaced is kept as an automatic snapshot first).")
    return out
