"""Two catalogs (then and now) -> the changes, grouped in MyBB's terms.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .. import schema as table_schema
from .model import Change, SnapshotDiff, TableChange

# ----------------------------------------------------------------------------------------- comparing


def _changes(then: Mapping[str, str], now: Mapping[str, str], group: str | None = None) -> list[Change]:
    changes = [Change(name, group, then[name], None) for name in sorted(set(then) - set(now))]
    changes += [Change(name, group, None, now[name]) for name in sorted(set(now) - set(then))]
    changes += [Change(name, group, then[name], now[name]) for name in sorted(set(then) & set(now))
                if then[name] != now[name]]
    return sorted(changes, key=lambda c: (c.kind != "added", c.kind != "removed", c.name))


def _grouped(then: Mapping[str, Mapping[str, str]], now: Mapping[str, Mapping[str, str]],
             labels: Mapping[str, str]) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(set(then) | set(now), key=lambda k: (int(k) if k.lstrip("-").isdigit() else 0, k)):
        changes += _changes(then.get(key, {}), now.get(key, {}), labels.get(key, key))
    return changes


def compare(then: Mapping[str, Any], now: Mapping[str, Any]) -> SnapshotDiff:
    """The difference between two catalogs (with their `files`), in MyBB's terms."""
    unknown: list[str] = []
    tables_then, tables_now = then.get("tables", {}), now.get("tables", {})
    tables = [TableChange(t, tables_then.get(t), tables_now.get(t))
              for t in sorted(set(tables_then) | set(tables_now)) if tables_then.get(t) != tables_now.get(t)]
    tables.sort(key=lambda c: (c.rows_before is not None, c.rows_after is not None, c.table))

    def section(key: str) -> tuple[Any, Any] | None:
        if key in then and key in now:
            return then[key], now[key]
        if key in then or key in now:
            unknown.append(f"{key}: the {'snapshot' if key not in then else 'forum now'} has no such table")
        return None

    settings: list[Change] = []
    groups: list[Change] = []
    if found := section("settings"):
        old, new = found
        for change in _changes({k: json.dumps(v, sort_keys=True) for k, v in old.items()},
                               {k: json.dumps(v, sort_keys=True) for k, v in new.items()}):
            before, after = old.get(change.name), new.get(change.name)
            settings.append(Change(change.name, (after or before or {}).get("group"),
                                   before["value"] if before else None, after["value"] if after else None))
        groups = _changes(then.get("setting_groups", {}), now.get("setting_groups", {}))
    templates: list[Change] = []
    if found := section("templates"):
        labels = {**then.get("template_sets", {}), **now.get("template_sets", {})}
        templates = _grouped(found[0], found[1], labels)
    stylesheets: list[Change] = []
    if found := section("stylesheets"):
        labels = {**then.get("themes", {}), **now.get("themes", {})}
        stylesheets = _grouped(found[0], found[1], {k: f"theme {v}" for k, v in labels.items()})
    datacache: list[Change] = []
    if found := section("datacache"):
        datacache = _changes(found[0], found[1])
    files_then = {p: str(m.get("size")) + ":" + str(m.get("sha256")) for p, m in then.get("files", {}).items()}
    files_now = {p: str(m.get("size")) + ":" + str(m.get("sha256")) for p, m in now.get("files", {}).items()}
    files = [Change(c.name, None, c.before and c.before.split(":")[0], c.after and c.after.split(":")[0])
             for c in _changes(files_then, files_now)]
    plugins_then, plugins_now = then.get("plugins"), now.get("plugins")
    shapes: list[table_schema.SchemaChange] = []
    if "schema" in then and "schema" in now:
        shapes = table_schema.compare_schemas(then["schema"], now["schema"])
    elif "schema" in now:
        unknown.append("columns and indexes: the snapshot was saved before snapshots recorded them")
    return SnapshotDiff(
        tasks=tuple(_tasks(then.get("tasks"), now.get("tasks"))),
        usergroups=tuple(_usergroups(then.get("usergroups"), now.get("usergroups"))),
        tables=tuple(tables), setting_groups=tuple(groups), settings=tuple(settings), templates=tuple(templates),
        stylesheets=tuple(stylesheets), datacache=tuple(datacache),
        plugins_before=tuple(plugins_then) if plugins_then is not None else None,
        plugins_after=tuple(plugins_now) if plugins_now is not None else None,
        files=tuple(files), unknown=tuple(unknown), schema=tuple(shapes),
    )


def _tasks(then: Any, now: Any) -> list[Change]:
    """MyBB's scheduled tasks added, removed, enabled or disabled (a snapshot without them compares nothing)."""
    if not isinstance(then, dict) or not isinstance(now, dict):
        return []

    def state(task: Any) -> str | None:
        if not isinstance(task, dict):
            return None
        return "enabled" if str(task.get("enabled")) == "1" else "disabled"

    changes = []
    for title in sorted(set(then) | set(now)):
        old, new = then.get(title), now.get(title)
        if old == new:
            continue
        before, after = state(old), state(new)
        if before == after and old and new:
            after = f"{after}; definition changed"
        changes.append(Change(title, None, before, after))
    return changes


def _usergroups(then: Any, now: Any) -> list[Change]:
    """Permission columns whose value changed in a usergroup both hold (new columns are the schema's)."""
    if not isinstance(then, dict) or not isinstance(now, dict):
        return []
    changes = []
    for group in sorted(set(then) & set(now)):
        old, new = then[group], now[group]
        for column in sorted(set(old) & set(new)):
            if old[column] != new[column]:
                changes.append(Change(column, group, old[column], new[column]))
    return changes


# ----------------------------------------------------------------------------------------- the store


def when_text(meta: Mapping[str, Any]) -> str:
    return str(meta.get("created", ""))[:19].replace("T", " ") + " UTC"
