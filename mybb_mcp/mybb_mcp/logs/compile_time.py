"""Diagnostics PHP raises while compiling a file, which OPcache never repeats; kept per file.

PHP says `Unsupported declare`, `Using ${var} in strings is deprecated` and the like once, when it
compiles the file; OPcache then serves the compiled script and the next requests are silent although
the code still holds them. So a compile-time diagnostic stays true of its file until the file changes
(OPcache recompiles a changed file, and says it again if it is still there): "resolved" needs a change.

Each one seen is kept in `compile_time.journal` (the private sessions directory) with its file, so the
digest still lists it after it has left the log's window, for as long as the file is unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..forum.request_roles import write_private_json
from ..safe_files import read_own_json
from .digest import STILL_FIRING, STOPS_THE_SCRIPT, ErrorGroup, Fingerprint, normalise_message
from .parser import LogEntry

STORE_NAME = "compile_time.journal"
MAX_KEPT = 500
MAX_STORE_BYTES = 1024 * 1024

# PHP 8.x messages raised by the compiler (zend_compile.c), not by running the code.
COMPILE_TIME_MESSAGES = (
    "Unsupported declare",
    "in strings is deprecated",  # Using ${var} / ${expr} (variable variables) in strings
    "declared before required parameter",
    "follows optional parameter",
    "Private methods cannot be final",
    "is deprecated, use",  # e.g. `(real)` casts, `implode()` orders: compile-time forms
    "Unparenthesized",
    "Cannot use 'static'",
    "Cannot redeclare",
)


def is_compile_time(message: str) -> bool:
    first = message.split("\n", 1)[0]
    return any(marker in first for marker in COMPILE_TIME_MESSAGES)


def source_path(where: str | None, root: Path | None) -> Path | None:
    """The file of a `file:line` place, absolute (relative places are the forum root's)."""
    if not where:
        return None
    file = where.rsplit(":", 1)[0] if where.rsplit(":", 1)[-1].isdigit() else where
    path = Path(file)
    if not path.is_absolute():
        if root is None:
            return None
        path = root / path
    return path


def unchanged_since(message: str, where: str | None, last_seen: datetime | None, root: Path | None) -> bool:
    """Whether a compile-time diagnostic's file is still the one PHP compiled when it said it (not
    modified after `last_seen`). A file that is gone has changed."""
    if not is_compile_time(message) or last_seen is None:
        return False
    path = source_path(where, root)
    if path is None:
        return False
    try:
        modified = os.stat(path).st_mtime
    except OSError:
        return False
    return modified <= last_seen.timestamp() + 1.0  # the log's stamps are whole seconds


@dataclass(frozen=True)
class Kept:
    """A compile-time diagnostic as last seen: its fingerprint's parts and when PHP said it."""

    key: str
    kind: str
    message: str
    where: str
    seen: float  # Unix time of its last occurrence

    @property
    def last_seen(self) -> datetime:
        return datetime.fromtimestamp(self.seen, timezone.utc)


def _load(directory: Path) -> dict[str, Kept]:
    items = read_own_json(Path(directory) / STORE_NAME, MAX_STORE_BYTES)
    kept = {}
    for item in items if isinstance(items, list) else []:
        try:
            entry = Kept(str(item["key"]), str(item["kind"]), str(item["message"]), str(item["where"]),
                         float(item["seen"]))
        except (KeyError, TypeError, ValueError):
            continue
        kept[entry.key] = entry
    return kept


def standing(directory: Path, root: Path | None) -> list[Kept]:
    """The kept diagnostics whose file has not changed since PHP said them. Not those that stopped the
    script (`Cannot redeclare` ...): OPcache keeps nothing of a script that died, so the next load of the
    page says them again if they are still there, and a clean load is the proof they are gone."""
    return [k for k in _load(directory).values()
            if k.kind not in STOPS_THE_SCRIPT and unchanged_since(k.message, k.where, k.last_seen, root)]


def remember(directory: Path, seen: Iterable[Kept], root: Path | None) -> None:
    """Keep these diagnostics (newer occurrences win) and drop those whose file changed since."""
    kept = {k.key: k for k in standing(directory, root)}
    changed = False
    for item in seen:
        if not is_compile_time(item.message) or item.kind in STOPS_THE_SCRIPT:
            continue
        old = kept.get(item.key)
        if old is None or old.seen < item.seen:
            kept[item.key] = item
            changed = True
    if not changed and len(kept) == len(_load(directory)):
        return
    latest = sorted(kept.values(), key=lambda k: k.seen)[-MAX_KEPT:]
    write_private_json(Path(directory), STORE_NAME, [k.__dict__ for k in latest])


def from_groups(groups: Iterable[ErrorGroup]) -> list[Kept]:
    return [Kept(g.key, g.fingerprint.kind, g.example.message, g.fingerprint.where or "", g.last_seen.timestamp())
            for g in groups if g.last_seen is not None and g.fingerprint.where and is_compile_time(g.example.message)]


def standing_groups(directory: Path, root: Path | None, present: set[str]) -> list[ErrorGroup]:
    """Kept diagnostics not in the digest's own range, whose file is unchanged: still in the code."""
    groups = []
    for kept in standing(directory, root):
        if kept.key in present:
            continue
        example = LogEntry(kept.last_seen, "error", kept.message, is_error=True, level=kept.kind)
        group = ErrorGroup(Fingerprint(kept.kind, normalise_message(kept.message), kept.where), example, count=0,
                           first_seen=kept.last_seen, last_seen=kept.last_seen, status=STILL_FIRING)
        group.compile_note = (f"compile-time: PHP said this when it compiled the file, last "
                              f"{kept.last_seen:%Y-%m-%d %H:%M:%S} UTC; the file has not changed since, so it is "
                              "still in the code (OPcache serves the compiled file silently)")
        groups.append(group)
    return groups


def for_included(directory: Path, root: Path | None, included: Iterable[str], present: set[str]) -> list[ErrorGroup]:
    """The kept diagnostics of files this request included (PHP's get_included_files()), unchanged since
    PHP said them and not said again now: OPcache served the compiled file silently, the code still holds
    them. Shown with the request, as they would be on a load that compiled the file."""
    files = {str(Path(p)) for p in included}
    groups = []
    for kept in standing(directory, root):
        path = source_path(kept.where, root)
        if kept.key in present or path is None or str(path) not in files:
            continue
        example = LogEntry(kept.last_seen, "error", kept.message, is_error=True, level=kept.kind)
        group = ErrorGroup(Fingerprint(kept.kind, normalise_message(kept.message), kept.where), example, count=0,
                           first_seen=kept.last_seen, last_seen=kept.last_seen)
        group.compile_note = (f"compile-time, not said again by this load: PHP said it when it compiled the file, "
                              f"last {kept.last_seen:%Y-%m-%d %H:%M:%S} UTC; the file has not changed since and this "
                              "page includes it, so it is still in the code (OPcache served the compiled file)")
        groups.append(group)
    return groups
