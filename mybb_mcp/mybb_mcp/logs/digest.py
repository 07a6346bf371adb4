"""The error digest: errors tied to the requests that raised them (by the php -S log's own order) and
grouped by fingerprint (kind + normalised message + file:line); since a cursor, which are new,
still firing or resolved.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from .cursors import (
    Segment,
    hash_key,
    mark_file,
    matching_files,
    mybb_blocks,
    mybb_new,
    resolve,
    server_entries_in,
    take_cursor,
)
from .forgery import without_forged
from .parser import CONNECTION, ORIGIN_PLUGIN_PREFIX, REQUEST, classify_origin
from .reader import iter_entries_forward
from .timeline import offset_at_time
from .zone import read_log_zone

if TYPE_CHECKING:
    from .cursors import Cursor, Resolution
    from .match import RequestMatch
    from .parser import LogEntry


BASELINE_WINDOW = timedelta(minutes=30)  # how far before a cursor the digest looks for what it fixed
MAX_BASELINE_BYTES = 64 * 1024 * 1024


# --- errors tied to requests ----------------------------------------------------------------------

@dataclass(frozen=True)
class RequestRef:
    """The request an error came from, as the server log names it."""

    method: str
    path: str
    status: int
    client_port: int | None
    worker_pid: int | None
    timestamp: datetime | None
    order: int = -1  # position of its request line in the range read (log order), -1 unknown
    role: str | None = None  # who sent it, when the tool did (forum/request_roles.py); None: not known
    rechecks: bool = True  # False: a load that re-checks nothing (MyBB's debug page, plugins left out)
    side: frozenset[str] = frozenset()  # fingerprint keys it raised only because plugins were left out
    loaded: frozenset[str] | None = None  # the plugins its code ran with, when the tool knows

    def label(self) -> str:
        return f"{self.method} {self.path} → {self.status}" + (f" as {self.role}" if self.role else "")


def tie_to_requests(entries: Sequence[LogEntry]) -> list[tuple[LogEntry, RequestRef | None]]:
    """Each non-request entry with the request it belongs to (None when it belongs to none).

    Entries must be in log order. A php -S process serves one request at a time and logs the
    request line when the request ends, so what a worker logged since its last request line
    belongs to its next one. An entry carrying its own request (`entry.request`) keeps it.
    """
    pending: dict[int | None, list[LogEntry]] = {}
    tied: dict[int, RequestRef | None] = {}
    order: list[LogEntry] = []
    for position, entry in enumerate(entries):
        worker = entry.worker_pid
        if entry.event_type == REQUEST and entry.method is not None:
            ref = RequestRef(entry.method, entry.path or "", entry.status_code or 0, entry.client_port, worker,
                             entry.timestamp, position)
            for waiting in pending.pop(worker, []):
                tied[id(waiting)] = ref
            if entry.level is not None and entry.message:  # a fatal carried on the request line itself
                tied[id(entry)] = ref
                order.append(entry)
            continue
        if entry.event_type == CONNECTION:
            if entry.message == "Accepted":
                pending.setdefault(worker, [])
            continue
        pending.setdefault(worker, []).append(entry)
        order.append(entry)
    result = []
    for entry in order:
        own = getattr(entry, "request", None)
        result.append((entry, own if isinstance(own, RequestRef) else tied.get(id(entry))))
    return result


def entries_of_port(entries: Sequence[LogEntry], port: int, worker: int | None = None) -> tuple[
        list[LogEntry], LogEntry | None]:
    """The entries between `PORT Accepted` and `PORT [status]` (inclusive), and that request line.

    With workers, only lines of the worker that accepted the connection count."""
    inside = False
    owner: int | None = worker
    mine: list[LogEntry] = []
    for entry in entries:
        if entry.client_port == port and entry.event_type == CONNECTION and entry.message == "Accepted":
            inside, owner, mine = True, entry.worker_pid, []
            continue
        if not inside:
            continue
        if entry.worker_pid != owner:
            continue
        if entry.client_port == port and entry.event_type == REQUEST:
            if entry.level is not None and entry.message:
                mine.append(entry)
            return mine, entry
        if entry.event_type not in (REQUEST, CONNECTION):
            mine.append(entry)
    return mine, None


# --- fingerprints and the digest ------------------------------------------------------------------

# The location PHP appends is after the LAST " in " (a message may hold its own: `Unknown column 'x' in
# 'ORDER BY' in /srv/f.php:3`): the greedy head keeps everything before it.
_LOCATION_SUFFIX = re.compile(r"^(.*)\s+in \S.*?(?: on line \d+|:\d+)\s*$", re.DOTALL)
_NUMBER = re.compile(r"\b\d+\b")
_HEX_ID = re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{16,}\b")
_SPACE = re.compile(r"\s+")
KIND_NAMES = {"exception": "uncaught exception", "sql": "SQL error", "http_5xx": "HTTP 5xx", "http_4xx": "HTTP 4xx"}


def without_location(message: str) -> str:
    """The first line of a message without PHP's ` in FILE on line N` / ` in FILE:N`."""
    return _strip_location(message.split("\n", 1)[0])


def _strip_location(line: str) -> str:
    match = _LOCATION_SUFFIX.match(line)
    return match.group(1) if match else line


def normalise_message(message: str) -> str:
    """The message without what changes between occurrences: location, numbers, ids, spacing."""
    first = message.split("\n", 1)[0]
    first = _strip_location(first)
    first = _HEX_ID.sub("#", first)
    first = _NUMBER.sub("#", first)
    return _SPACE.sub(" ", first).strip()[:300]


def short_path(path: str | None, root: Path | None) -> str | None:
    """A source path relative to the forum root when inside it (MyBB's own log writes them so)."""
    if not path:
        return None
    if root is not None:
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            pass
    return path.lstrip("/") if not os.path.isabs(path) else path


@dataclass(frozen=True)
class Fingerprint:
    kind: str
    message: str
    where: str | None  # file:line

    def key(self) -> str:
        return hash_key(f"{self.kind}\0{self.message}\0{self.where or ''}".encode())


def _classified(entry: LogEntry, root: Path | None) -> LogEntry:
    """The entry with its origin, the first place in the user's code and whether it is MyBB's own noise
    (parser.classify_origin), once."""
    if entry.is_error and entry.origin is None:
        classify_origin(entry, str(root) if root is not None else None)
    return entry


def fingerprint(entry: LogEntry, root: Path | None = None) -> Fingerprint:
    _classified(entry, root)
    file = short_path(entry.source_file, root)
    where = entry.place or (f"{file}:{entry.source_line}" if file and entry.source_line else file)
    # The fatal php -S repeats on the request line has the PHP line's text: one fingerprint for both.
    return Fingerprint(entry.level or "error", normalise_message(entry.message), where)


@dataclass
class ErrorGroup:
    """One fingerprint's occurrences."""

    fingerprint: Fingerprint
    example: LogEntry
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    requests: list[str] = field(default_factory=list)  # distinct request labels, first ones
    scripts: set[str] = field(default_factory=set)  # the pages (path and query) that raised it
    status: str = ""  # digest with a cursor: new | still firing | resolved | not seen since
    last_order: int = -1  # log position of the last request that raised it (in the range read)
    fixed_by: str | None = None  # the clean request to the same page that came after its last occurrence
    # (page, role) -> log position of the last request there that raised it: "resolved" needs each re-run
    sites: dict[tuple[str, str | None], int] = field(default_factory=dict)
    recheck: list[tuple[str, str | None]] = field(default_factory=list)  # sites not re-run clean since
    compile_note: str | None = None  # why a compile-time diagnostic still stands (its file did not change)
    left_out_by: str | None = None  # the plugin whose leaving out (request `plugins`) caused it, not the page
    not_loaded: str | None = None  # its plugin, which the last load of its page did not run (deactivated)
    ran_with: set[str] = field(default_factory=set)  # plugins loaded when it fired (as far as the tool knows)

    @property
    def key(self) -> str:
        return self.fingerprint.key()


MAX_REQUESTS_PER_GROUP = 5


def _script(path: str) -> str:
    """What makes two requests "the same page": the path with its query (a plugin's branch often hangs
    on a query field), its fields in a fixed order, without the session's my_post_key."""
    base, _, query = path.split("#", 1)[0].partition("?")
    fields = sorted(f for f in query.split("&") if f and not f.startswith("my_post_key="))
    return (base or "/") + ("?" + "&".join(fields) if fields else "")


def group_errors(
    tied: Iterable[tuple[LogEntry, RequestRef | None]], root: Path | None = None,
    noise: list[LogEntry] | None = None,
) -> list[ErrorGroup]:
    """Error entries grouped by fingerprint, in order of first appearance. The fatal php -S logs twice
    (the PHP line and again on the request line) counts once per request. MyBB core's own noise
    (deprecations and notices with no user code on the stack) is left out, into `noise` if given."""
    groups: dict[str, ErrorGroup] = {}
    seen_per_request: set[tuple[str, int | None, object]] = set()
    for entry, ref in tied:
        if not entry.is_error:
            continue
        if entry.event_type == REQUEST and entry.level in ("http_4xx", "http_5xx"):
            continue  # a status is not an error message; the request itself says it
        if _classified(entry, root).core_noise:
            if noise is not None:
                noise.append(entry)
            continue
        fp = fingerprint(entry, root)
        key = fp.key()
        if ref is not None and key in ref.side:
            continue  # caused by leaving a plugin out for that request, not the page's own error
        request_key = (key, ref.client_port if ref else None, ref.timestamp if ref else id(entry))
        if ref is not None and request_key in seen_per_request:
            continue
        seen_per_request.add(request_key)
        group = groups.get(key)
        if group is None:
            group = groups[key] = ErrorGroup(fp, entry)
        group.count += 1
        if entry.timestamp is not None:
            if group.first_seen is None or entry.timestamp < group.first_seen:
                group.first_seen = entry.timestamp
            if group.last_seen is None or entry.timestamp > group.last_seen:
                group.last_seen = entry.timestamp
        if ref is not None:
            group.ran_with |= ref.loaded or set()
            group.last_order = max(group.last_order, ref.order)
            group.scripts.add(_script(ref.path))
            site = (_script(ref.path), ref.role)
            group.sites[site] = max(group.sites.get(site, -1), ref.order)
            label = ref.label()
            if label not in group.requests and len(group.requests) < MAX_REQUESTS_PER_GROUP:
                group.requests.append(label)
    return list(groups.values())


NEW, STILL_FIRING, RESOLVED, NOT_RECHECKED = "new", "still firing", "resolved", "not re-checked"
RESOLVED_EARLIER = "resolved earlier"  # fired before the cursor and re-checked clean before it too
NOT_SEEN = NOT_RECHECKED  # the former name: seen before the cursor, its page not re-run clean since


@dataclass
class Digest:
    """Errors grouped by fingerprint; with a cursor, each group's fate since it."""

    groups: list[ErrorGroup]  # since the cursor (or in the window), most frequent first
    before: list[ErrorGroup]  # with a cursor: groups seen before it and not since (resolved / not seen)
    requests_since: int  # requests logged in the range read
    cursor: Cursor
    note: str | None = None
    since_cursor: bool = False
    more: bool = False
    matched_by: str | None = None  # the keyword / path the errors were selected by, in words


RoleLookup = Callable[[int | None, datetime | None], str | None]


def _identified(ref: RequestRef, role_of: RoleLookup | None) -> RequestRef:
    """The request with who sent it and whether it re-checks (the tool's journal, forum/request_roles)."""
    if role_of is None:
        return ref
    record_of = getattr(role_of, "record_of", None)
    found = record_of(ref.client_port, ref.timestamp) if record_of is not None else None
    if found is None:
        return replace(ref, role=role_of(ref.client_port, ref.timestamp))
    return replace(ref, role=found.role, rechecks=found.rechecks, side=frozenset(found.side),
                   loaded=None if found.loaded is None else frozenset(found.loaded))


def _requests_in(entries: Sequence[LogEntry], role_of: RoleLookup | None = None) -> list[RequestRef]:
    return [
        _identified(RequestRef(e.method, e.path or "", e.status_code or 0, e.client_port, e.worker_pid, e.timestamp,
                               position), role_of)
        for position, e in enumerate(entries) if e.event_type == REQUEST and e.method is not None and not e.internal
    ]


def _with_roles(tied: list[tuple[LogEntry, RequestRef | None]],
                role_of: RoleLookup | None) -> list[tuple[LogEntry, RequestRef | None]]:
    if role_of is None:
        return tied
    return [(e, _identified(r, role_of) if r is not None else None) for e, r in tied]


def _latest(requests: Iterable[RequestRef]) -> dict[tuple[str, str | None], RequestRef]:
    """In log order, the last request to each page as each role that re-checks (a plain or traced load:
    not MyBB's debug page, not a load with plugins left out)."""
    return {(_script(r.path), r.role): r for r in requests if r.rechecks}


def _ran_its_plugin(group: ErrorGroup, rerun: RequestRef) -> bool:
    """Whether a load could say anything of a plugin's error: it ran that plugin, when the error fired with
    it loaded (as far as the tool knows). A page that loads clean with the plugin deactivated says nothing
    of the bug still in its file."""
    origin = group.example.origin or ""
    name = origin[len(ORIGIN_PLUGIN_PREFIX):] if origin.startswith(ORIGIN_PLUGIN_PREFIX) else None
    if rerun.loaded is None or name is None or name not in group.ran_with or name in rerun.loaded:
        return True
    group.not_loaded = name
    return False


def _judge(group: ErrorGroup, latest: dict[tuple[str, str | None], RequestRef], since_cursor: bool) -> bool:
    """Whether every page the group fired on ran again, as the same role, after its last occurrence there:
    fills `fixed_by` (the latest such run) and `recheck` (the pages and roles still to load)."""
    clean: list[RequestRef] = []
    group.recheck = []
    for site, last in sorted(group.sites.items(), key=lambda item: item[1]):
        rerun = latest.get(site) if site[1] is not None else None
        if rerun is not None and rerun.order > (last if since_cursor else -1) and _ran_its_plugin(group, rerun):
            clean.append(rerun)
        else:
            group.recheck.append(site)
    group.fixed_by = max(clean, key=lambda r: r.order).label() if clean and not group.recheck else None
    return bool(group.sites) and not group.recheck


def _judge_before(group: ErrorGroup, before: dict[tuple[str, str | None], RequestRef],
                  since: dict[tuple[str, str | None], RequestRef]) -> str:
    """The fate of an error seen before the cursor only: each page it fired on ran again clean as the same
    role after its last occurrence there, before the cursor (resolved earlier: a resolution stays until
    the error fires again) or since it (resolved, what changed); else not re-checked."""
    group.recheck, fixes = [], []
    for site, last in sorted(group.sites.items(), key=lambda item: item[1]):
        earlier, now = before.get(site), since.get(site)
        clean_before = earlier is not None and earlier.order > last and _ran_its_plugin(group, earlier)
        now = now if now is not None and _ran_its_plugin(group, now) else None
        if site[1] is None or (not clean_before and now is None):
            group.recheck.append(site)
        elif not clean_before and now is not None:
            fixes.append(now)
    if not group.sites or group.recheck:
        group.fixed_by = None
        return NOT_RECHECKED
    group.fixed_by = max(fixes, key=lambda r: r.order).label() if fixes else None
    return RESOLVED if fixes else RESOLVED_EARLIER


def _baseline(cursor: Cursor, resolution: Resolution, zone: tzinfo, root: Path | None,
              mybb_files: Sequence[Path], role_of: RoleLookup | None = None,
              match: RequestMatch | None = None) -> tuple[list[ErrorGroup], list[RequestRef]]:
    """Error groups in the BASELINE_WINDOW before the cursor (at most MAX_BASELINE_BYTES of log), and the
    requests logged there (what re-checked them before the cursor)."""
    if cursor.server is None or resolution.generation is None:
        return [], []
    path, end = resolution.generation, cursor.server.offset
    cutoff = datetime.fromtimestamp(cursor.issued, timezone.utc) - BASELINE_WINDOW
    try:
        start = offset_at_time(path, cutoff, zone, end=end)
    except OSError:
        return [], []
    start = max(start, 0)
    if end - start > MAX_BASELINE_BYTES:
        start = _entry_start_after(path, end - MAX_BASELINE_BYTES, end)
    entries = without_forged([e for e in server_entries_in([Segment(path, start, end)], zone)
                              if not e.internal and not (e.event_type == CONNECTION and e.message != "Accepted")])
    requests = _requests_in(entries, role_of)
    marks = dict(cursor.mybb)
    for file in mybb_files:
        now = mark_file(file)
        mark = marks.get(f"{now.dev}:{now.ino}") if now is not None else None
        if mark is not None:
            for entry in mybb_blocks(file, max(0, mark.offset - 4 * 1024 * 1024), mark.offset):
                if entry.timestamp is not None and entry.timestamp >= cutoff:
                    entries.append(entry)
    return group_errors(matching_files(_with_roles(tie_to_requests(entries), role_of), match), root), requests


STOPS_THE_SCRIPT = ("fatal", "parse", "exception", "error")  # PHP stops: a clean load of the page is proof


def _still_compiled(group: ErrorGroup, unchanged_since: Callable[[ErrorGroup], bool] | None) -> bool:
    """A compile-time diagnostic whose file has not changed since PHP said it: still in the code, though
    OPcache serves the compiled file without saying it again (logs/compile_time.py)."""
    if group.fingerprint.kind in STOPS_THE_SCRIPT:
        return False  # the script died: OPcache keeps nothing, so the next load says it again if it is there
    if unchanged_since is None or not unchanged_since(group):
        return False
    group.compile_note = ("compile-time: PHP says this once, when it compiles the file; the file has not "
                          "changed since, so it is still in the code (OPcache serves the compiled file silently)")
    return True


def _entry_start_after(path: Path, position: int, end: int) -> int:
    for offset, _raw in iter_entries_forward(path, start=position, end=end):
        return offset
    return end


def digest(
    log_file: Path,
    backups: int,
    mybb_files: Sequence[Path] = (),
    *,
    cursor: Cursor | None = None,
    since: datetime | None = None,
    root: Path | None = None,
    zone: tzinfo | None = None,
    max_entries: int = 200_000,
    role_of: RoleLookup | None = None,
    unchanged_since: Callable[[ErrorGroup], bool] | None = None,
    match: RequestMatch | None = None,
) -> Digest:
    """Errors grouped by fingerprint: since `cursor` (with their fate), else since `since` (or the
    whole current log).

    With a cursor, a group is "resolved" only when each page it fired on (path and query) ran again as
    the same role (`role_of`: who sent a logged request) after its last occurrence there, and the code
    it names can have changed (`unchanged_since`: a compile-time diagnostic of a file not changed since
    is still in the code); else it is still firing, new, or (seen before the cursor only) not re-checked.
    `match`: only errors holding its keyword or raised by a request it matches (log_match)."""
    log_file = Path(log_file)
    zone = zone or read_log_zone(log_file)
    note = None
    if cursor is not None:
        resolution = resolve(cursor, log_file, backups)
        note = resolution.note
        segments = resolution.segments
        extra = mybb_new(cursor, mybb_files)
    else:
        resolution = None
        start = 0
        if since is not None and log_file.is_file():
            start = offset_at_time(log_file, since, zone)
        segments = [Segment(log_file, start, None)] if log_file.is_file() else []
        extra = [e for f in mybb_files for e in mybb_blocks(f, 0)
                 if since is None or (e.timestamp is not None and e.timestamp >= since)]
    entries: list[LogEntry] = []
    more = False
    for entry in server_entries_in(segments, zone):
        if since is not None and cursor is None and entry.timestamp is not None and entry.timestamp < since:
            continue
        if entry.internal or (entry.event_type == CONNECTION and entry.message != "Accepted"):
            continue
        entries.append(entry)
        if len(entries) >= max_entries:
            more = True
            break
    after = take_cursor(log_file, mybb_files)
    entries = without_forged(entries)  # a page's forged lines: no error of their own, no request re-checked
    tied = _with_roles(tie_to_requests(entries), role_of) + [(e, None) for e in extra]
    groups = group_errors(matching_files(tied, match), root)
    requests = _requests_in(entries, role_of)
    before: list[ErrorGroup] = []
    if cursor is not None and resolution is not None:
        baseline, earlier_requests = _baseline(cursor, resolution, zone, root, mybb_files, role_of, match)
        now_keys = {g.key for g in groups}
        then_keys = {g.key for g in baseline}
        latest = _latest(requests)
        latest_before = _latest(earlier_requests)
        for group in groups:
            compiled = _still_compiled(group, unchanged_since)
            if _judge(group, latest, True) and not compiled:
                group.status = RESOLVED
            else:
                group.status, group.fixed_by = (STILL_FIRING if group.key in then_keys else NEW), None
        for group in baseline:
            if group.key in now_keys:
                continue
            if _still_compiled(group, unchanged_since):
                group.status, group.fixed_by = STILL_FIRING, None
            else:
                group.status = _judge_before(group, latest_before, latest)
            before.append(group)
    groups.sort(key=lambda g: (-g.count, g.first_seen.timestamp() if g.first_seen else 0.0))
    return Digest(groups, before, len(requests), after, note, cursor is not None, more,
                  match.describe() if match is not None else None)
