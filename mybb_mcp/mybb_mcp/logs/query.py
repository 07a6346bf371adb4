"""Log queries: options checked, filters applied, sources merged by time, one page -> a result.

Cost grows with the answer, not the file: the server log is read backwards
(tail) or forwards (head) in blocks and reading stops once the page is full
(plus one entry, to know whether more exist). A keyword or `errors_only` is
first tested on raw bytes so non-matching entries are never parsed, and
`since_minutes` bisects the file for the window's start.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .bounds import AnswerBudget
from .context import (
    ERROR_OR_REQUEST_HINTS,
    LOOKUP_BLOCK,
    LOOKUP_MAX_BLOCK,
    REQUEST_LOOKUP_BYTES,
    ErrorContext,
    HiddenCounts,
    same_worker,
)
from .forgery import forged, starts_inside_request_data
from .match import RequestMatch
from .options import DEFAULT_ANSWER_CHARS, MAX_LIMIT, STATUS_CLASSES, LogQueryOptions, validate_options
from .parser import CONNECTION, ERROR, ERROR_HINTS, LEVELS, REQUEST, SOURCE_SERVER, STARTUP, RequestRef, parse_entry
from .reader import ReadStats, iter_entries_backward, iter_entries_forward, open_log
from .rotation import backup_path
from .timeline import offset_at_time, stamps_out_of_order
from .zone import read_log_zone

if TYPE_CHECKING:
    from .parser import LogEntry


class EntrySource(Protocol):
    """Another log merged into queries (MyBB's error logs): entries with aware timestamps, in time order."""

    name: str

    def newest_first(self) -> Iterator[LogEntry]: ...

    def oldest_first(self) -> Iterator[LogEntry]: ...


@dataclass
class LogSummary:
    """Counts over the entries shown."""

    requests: dict[str, int] = field(default_factory=dict)  # by status class: "2xx" ... "5xx"
    errors: dict[str, int] = field(default_factory=dict)  # by level, most severe first

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass
class LogQueryResult:
    """One page of a log query and what is known about the rest."""

    options: LogQueryOptions
    log_file: Path
    log_exists: bool
    log_size: int | None  # bytes, None when missing
    entries: list[LogEntry]  # in display order (tail: newest first; head: oldest first)
    matched: int  # matching entries found: the exact total if matched_exact, else a lower bound
    matched_exact: bool  # the scan covered the whole range asked for
    has_more: bool  # more matching entries exist beyond this page
    bytes_scanned: int
    summary: LogSummary
    sources: list[str]  # names of the logs read: "server" first, then MyBB error logs
    zone: tzinfo | None = None  # the zone the server log's timestamps are in (display zone)
    since: datetime | None = None  # start of the since_minutes window
    end_offset: int = 0  # where the server log's readable range ended (follow from here)
    problem: str | None = None  # the server log exists but could not be read
    cut_by_size: bool = False  # the page ended early: its entries' text reached bounds.MAX_PAGE_BYTES
    source_problems: list[str] = field(default_factory=list)
    hidden: HiddenCounts = field(default_factory=lambda: HiddenCounts())
    generations: list[Path] = field(default_factory=list)  # rotated logs searched, newest first
    origin_basis: str | None = None  # how origins were told (forum/release.basis_of), set by the service

    @property
    def shown(self) -> int:
        return len(self.entries)


# --- filtering -----------------------------------------------------------------------------------

def _keyword_text(entry: LogEntry) -> str:
    """What a keyword is matched against for entries that come parsed (extra sources), case-folded."""
    parts = [entry.message, entry.level or "", entry.source_file or "", entry.path or "", *entry.continuation]
    return "\n".join(parts).casefold()


def _wanted(entry: LogEntry, options: LogQueryOptions, cutoff: datetime | None) -> bool:
    """The filters every entry meets, whatever its source (keyword: see _keyword_wanted)."""
    if entry.internal:
        return False
    if entry.event_type == CONNECTION and not options.include_connections:
        return False
    if options.errors_only and not entry.is_error:
        return False
    if options.exclude_static and entry.is_static and not entry.is_error:
        return False
    if cutoff is not None and (entry.timestamp is None or entry.timestamp < cutoff):
        return False
    return True


def entry_matches(entry: LogEntry, options: LogQueryOptions) -> bool:
    """One parsed entry against a query's filters, keyword and path included (time windows aside): the
    keyword in its text or its request's, the path its request's (log_match)."""
    if not _wanted(entry, options, None):
        return False
    match = RequestMatch.of(options.filter_keyword, options.path)
    return match is None or match.matches(entry, _keyword_text(entry))


# --- streams ---------------------------------------------------------------------------------------

@dataclass
class _Stream:
    """One source's entries as (sort key, entry) for heapq.merge."""

    name: str
    entries: Iterable[LogEntry]
    newest_first: bool

    def keyed(self) -> Iterator[tuple[float, LogEntry]]:
        # Entries without a timestamp (text before the first stamped line) keep their neighbour's key.
        last = math.inf if self.newest_first else -math.inf
        for entry in self.entries:
            if entry.timestamp is not None:
                last = entry.timestamp.timestamp()
            yield last, entry


def _aware(entry: LogEntry, zone: tzinfo) -> LogEntry:
    if entry.timestamp is not None and entry.timestamp.tzinfo is None:
        entry.timestamp = entry.timestamp.replace(tzinfo=zone)
    return entry


def _server_entries(
    log_file: Path, options: LogQueryOptions, zone: tzinfo, cutoff: datetime | None, stats: ReadStats,
    start: int | None = None, errors: ErrorContext | None = None,
) -> Iterator[LogEntry]:
    """The server log's wanted entries, from `start` (default: where the since window begins), in log order
    (tail: backwards)."""
    if options.filter_keyword is None and options.path is None:
        yield from (entry for _, entry in _scan(log_file, options, zone, cutoff, stats, start, errors) if entry)
        return
    # A request line brings errors logged before it: hold entries until no later find can precede them.
    held: list[tuple[int, int, LogEntry]] = []
    sign = -1 if options.tail else 1
    for mark, entry in _scan(log_file, options, zone, cutoff, stats, start, errors):
        if entry is not None:
            heapq.heappush(held, (sign * (entry.offset or 0), id(entry), entry))
            continue
        bound = sign * (mark if options.tail else mark - REQUEST_LOOKUP_BYTES)
        while held and held[0][0] < bound:
            yield heapq.heappop(held)[2]
    while held:
        yield heapq.heappop(held)[2]


def _scan(
    log_file: Path, options: LogQueryOptions, zone: tzinfo, cutoff: datetime | None, stats: ReadStats,
    start: int | None, errors: ErrorContext | None,
) -> Iterator[tuple[int, LogEntry | None]]:
    """The wanted entries as (offset, entry), with (offset, None) before each entry read (how far the scan is).

    With a keyword or a path, a matching request line brings the errors logged for it (before it, in its
    worker), which rarely name their page themselves (log_match)."""
    match = RequestMatch.of(options.filter_keyword, options.path)
    keyword = match.scan_bytes() if match is not None else None
    any_of = ERROR_HINTS if options.errors_only and match is None else None
    if start is None:
        start = offset_at_time(log_file, cutoff, zone) if cutoff is not None else 0
    read = iter_entries_backward if options.tail else iter_entries_forward
    location = str(log_file)
    brought: set[int] = set()  # offsets of the entries met or brought (each shown once)
    for offset, raw in read(log_file, start=start, keyword=keyword, any_of=any_of, stats=stats):
        if match is not None:
            yield offset, None
        if offset in brought:
            continue
        entry = _parse_kept(raw, zone, offset)
        entry.location = location
        entry.length = len(raw) + getattr(raw, "cut_bytes", 0)
        if match is not None:
            is_request = entry.event_type == REQUEST and entry.method is not None and not entry.internal
            own = _keyword_text(entry) if match.path is not None else None  # else: the scan found it
            # A php -S line a page wrote (forgery) brings no error: the real request's line does.
            if is_request and match.matches(entry, own) and not forged(log_file, offset):
                floor = start if not options.tail else 0
                raised = errors_raised_by(log_file, entry, zone, floor=floor,
                                          stats=errors.lookup_stats if errors is not None else None)
                for error in (raised if options.tail else reversed(raised)):
                    error.request = RequestRef.of(entry)
                    if error.offset in brought or not match.matches(error, _keyword_text(error)):
                        continue
                    brought.add(error.offset or 0)
                    if _wanted(error, options, cutoff) and (errors is None or errors.keep(error, log_file, zone)):
                        yield offset, error
            elif is_request or (match.path is not None and not entry.is_error):
                continue
            elif errors is None and not match.matches(entry, own):
                continue  # following without requests attached: a path needs the request line
            brought.add(offset)  # a request line after it brings it no second time
        if _wanted(entry, options, cutoff) and (errors is None or errors.keep(entry, log_file, zone)):
            yield offset, entry


def _parse_kept(raw: bytes, zone: tzinfo, offset: int) -> LogEntry:
    """A reader's entry -> LogEntry; a bounded one (bounds.EntryBytes) says what was cut where."""
    cut_at = getattr(raw, "cut_at", -1)
    if cut_at < 0:
        return parse_entry(raw.decode("utf-8", "replace"), tz=zone, offset=offset)
    head, tail = raw[:cut_at], raw[cut_at:]
    joined = head.endswith(b"\n") or not head  # else the cut is inside a line
    text = head.decode("utf-8", "replace") + ("" if joined else " … ") + tail.decode("utf-8", "replace")
    entry = parse_entry(text, tz=zone, offset=offset)
    entry.cut_bytes, entry.cut_lines = raw.cut_bytes, raw.cut_lines  # type: ignore[attr-defined]
    entry.cut_after = head.count(b"\n") - 1  # continuation lines wholly before the cut
    return entry


def entry_size(entry: LogEntry) -> int:
    """About how much text an entry puts into an answer (what the answer cap counts)."""
    return 80 + len(entry.message) + len(entry.path or "") + sum(len(line) + 1 for line in entry.continuation)


def _source_entries(
    source: EntrySource, options: LogQueryOptions, zone: tzinfo, cutoff: datetime | None, problems: list[str],
    errors: ErrorContext | None = None,
) -> Iterator[LogEntry]:
    match = RequestMatch.of(options.filter_keyword, options.path)
    try:
        entries = source.newest_first() if options.tail else source.oldest_first()
        for entry in entries:
            entry = _aware(entry, zone)
            # No early stop at the first entry older than the window: request data can forge an old
            # one (MyBB logs messages verbatim), and the real ones before it would be lost.
            if not _wanted(entry, options, cutoff):
                continue
            own = _keyword_text(entry) if match is not None else None
            if errors is None:
                if match is None or match.matches(entry, own):
                    yield entry
            elif errors.keep(entry, None, zone, own):  # the keyword may be in the request found by time
                yield entry
    except OSError as exc:  # one unreadable MyBB log must not sink the whole answer
        problems.append(f"{source.name}: {exc.strerror or exc}")


def errors_raised_by(
    log_file: Path, request: LogEntry, zone: tzinfo, *, floor: int = 0, stats: ReadStats | None = None,
) -> list[LogEntry]:
    """The errors PHP or MyBB logged for this request (before its request line, in its worker), newest first."""
    found: list[LogEntry] = []
    if request.offset is None:
        return found
    location = str(log_file)
    for offset, raw in iter_entries_backward(log_file, end=request.offset, any_of=ERROR_OR_REQUEST_HINTS,
                                             start=max(floor, request.offset - REQUEST_LOOKUP_BYTES - 1),
                                             stats=stats, block_size=LOOKUP_BLOCK,
                                             max_block_size=LOOKUP_MAX_BLOCK):
        if offset < floor or request.offset - offset > REQUEST_LOOKUP_BYTES:
            break
        entry = _parse_kept(raw, zone, offset)
        if not same_worker(entry, request):
            continue
        if entry.event_type in (REQUEST, STARTUP):
            break
        if entry.event_type == ERROR and entry.is_error:
            entry.location = location
            entry.length = len(raw) + getattr(raw, "cut_bytes", 0)
            found.append(entry)
    return found


def generations(log_file: Path, limit: int = 100) -> list[Path]:
    """The rotated logs beside `log_file` (server.log.1, .2 ...), newest first, up to the first gap."""
    found = []
    for number in range(1, limit + 1):
        path = backup_path(log_file, number)
        if not path.is_file():
            break
        found.append(path)
    return found


# --- the query -------------------------------------------------------------------------------------------

def summarize(entries: Sequence[LogEntry]) -> LogSummary:
    requests = dict.fromkeys(STATUS_CLASSES, 0)
    errors = dict.fromkeys(LEVELS, 0)
    for entry in entries:
        if entry.doubtful:  # possibly forged by request data: counts come only from what PHP wrote
            continue
        if entry.status_code is not None:
            label = f"{entry.status_code // 100}xx"
            requests[label] = requests.get(label, 0) + 1
        if entry.is_error:
            level = entry.level or "error"
            errors[level] = errors.get(level, 0) + 1
    return LogSummary(
        requests={k: v for k, v in requests.items() if v},
        errors={k: v for k, v in errors.items() if v},
    )


def run_query(
    log_file: Path,
    options: LogQueryOptions,
    *,
    now: datetime | None = None,
    extra_sources: Sequence[EntrySource] = (),
    zone: tzinfo | None = None,
    forum_root: Path | str | None = None,
) -> LogQueryResult:
    """One page of the server log, its rotated generations (include_rotated) and MyBB's error logs
    (include_mybb), filtered. Errors carry their origin and request (`forum_root` names user code).

    A missing log file is a result saying so (log_exists False), never an exception.
    """
    options = validate_options(options)
    log_file = Path(log_file)
    zone = zone or read_log_zone(log_file)
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=zone)
    cutoff = now - timedelta(minutes=options.since_minutes) if options.since_minutes else None
    errors = ErrorContext(options, str(forum_root) if forum_root is not None else None, log_file)

    stats = ReadStats()
    log_size, problem = _log_size(log_file)
    streams: list[_Stream] = []
    if log_size is not None and problem is None:
        streams.append(_Stream(SOURCE_SERVER, _server_entries(log_file, options, zone, cutoff, stats, errors=errors),
                               options.tail))
    older = _older_generations(log_file, options, cutoff)
    older_stats = [ReadStats() for _ in older]
    if older:
        streams.append(_Stream(f"{SOURCE_SERVER}:rotated",
                               _generation_entries(older, options, cutoff, older_stats, errors), options.tail))
    source_problems: list[str] = []
    if options.include_mybb:
        for source in extra_sources:
            entries = _source_entries(source, options, zone, cutoff, source_problems, errors)
            streams.append(_Stream(source.name, entries, options.tail))

    want = options.offset + options.limit
    page: list[LogEntry] = []
    found = 0
    budget = AnswerBudget()
    try:
        merged = heapq.merge(*(s.keyed() for s in streams), key=lambda pair: pair[0], reverse=options.tail)
        for _, entry in merged:
            found += 1
            if found > want:
                break  # one more than the page: there is more
            if found > options.offset:
                if not budget.take(entry_size(entry)):
                    break  # the hard cap on an answer: this entry and the rest are for the next page
                page.append(entry)
    except OSError as exc:  # vanished or unreadable midway (e.g. removed by hand)
        problem = f"reading stopped early: {exc.strerror or exc}"
    _mark_out_of_order(log_file, page, zone)
    truncated = stats.truncated or any(s.truncated for s in older_stats)
    exact = found <= want and problem is None and not truncated and not budget.refused
    if truncated:
        problem = "the log was rotated while it was being read; run the query again for the new log"
    return LogQueryResult(
        options=options,
        log_file=log_file,
        log_exists=log_size is not None,
        log_size=log_size,
        entries=page,
        matched=found,
        matched_exact=exact,
        has_more=found > want or budget.refused,
        cut_by_size=budget.refused,
        bytes_scanned=stats.bytes_read + sum(s.bytes_read for s in older_stats),
        summary=summarize(page),
        sources=[s.name for s in streams],
        zone=zone,
        since=cutoff,
        end_offset=stats.end,
        problem=problem,
        source_problems=source_problems,
        hidden=errors.hidden,
        generations=older,
    )


def _mark_out_of_order(log_file: Path, entries: Sequence[LogEntry], zone: tzinfo) -> None:
    """Mark the server log's entries whose stamp goes back in time (possibly forged by request data)."""
    location = str(log_file)
    offsets = [e.offset for e in entries if e.location == location and e.offset is not None]
    if not offsets:
        return
    try:
        flagged = stamps_out_of_order(log_file, offsets, zone)
        inside = starts_inside_request_data(log_file, offsets)
    except OSError:
        return
    for entry in entries:
        if entry.location == location and entry.offset in flagged:
            entry.out_of_order = True
        if entry.location == location and entry.offset in inside:
            entry.inside_request_data = True


def _older_generations(log_file: Path, options: LogQueryOptions, cutoff: datetime | None) -> list[Path]:
    """The rotated logs worth reading: all of them, but none last written before the since window."""
    if not options.include_rotated:
        return []
    older = generations(log_file)
    if cutoff is None:
        return older
    kept = []
    for path in older:
        try:
            if path.stat().st_mtime >= cutoff.timestamp():
                kept.append(path)
        except OSError:
            continue
    return kept


def _generation_entries(
    older: list[Path], options: LogQueryOptions, cutoff: datetime | None, stats: list[ReadStats],
    errors: ErrorContext,
) -> Iterator[LogEntry]:
    """The rotated logs one after the other: newest first (server.log.1 first) or oldest first."""
    order = list(zip(older, stats))
    if not options.tail:
        order.reverse()
    for path, read_stats in order:
        try:
            zone = read_log_zone(path)
            yield from _server_entries(path, options, zone, cutoff, read_stats, errors=errors)
        except FileNotFoundError:  # rotated away meanwhile: what is left is in the next generation
            continue


def _log_size(log_file: Path) -> tuple[int | None, str | None]:
    """(size, problem): size None when missing; a problem when it exists but cannot be read."""
    try:
        size = log_file.stat().st_size
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"cannot read it: {exc.strerror or exc}"
    if log_file.is_dir():
        return None, "it is a directory, not a file"
    try:
        with open_log(log_file):  # not through a link, and a FIFO is refused rather than waited on
            pass
    except OSError as exc:
        return size, f"cannot read it: {exc.strerror or exc}"
    return size, None


def new_entries(
    log_file: Path, options: LogQueryOptions, after: int, *, zone: tzinfo | None = None, max_entries: int = MAX_LIMIT,
    restart_if_shrunk: bool = True,
) -> tuple[list[LogEntry], int]:
    """For following a log: entries written since offset `after` (oldest first) and the offset to
    continue from. Filters of `options` apply; paging and since do not. A log that shrank below
    `after` was rotated: it is read from its start (or, `restart_if_shrunk` False, not at all).
    """
    options = replace(validate_options(options), since_minutes=None, tail=False)
    log_file = Path(log_file)
    zone = zone or read_log_zone(log_file)
    try:
        size = log_file.stat().st_size
    except OSError:
        return [], 0
    if after > size and not restart_if_shrunk:
        return [], after
    start = after if after <= size else 0
    stats = ReadStats()
    found: list[LogEntry] = []
    for entry in _server_entries(log_file, options, zone, None, stats, start=start):
        if len(found) == max_entries:  # continue from this entry next time
            _mark_out_of_order(log_file, found, zone)
            return found, entry.offset if entry.offset is not None else stats.end
        found.append(entry)
    _mark_out_of_order(log_file, found, zone)
    if stats.truncated:  # it shrank while being read (rotated): what was read is up to the last entry
        last = found[-1] if found else None
        return found, last.offset + last.length if last and last.offset is not None and last.length else start
    return found, max(stats.end, start)


__all__ = [
    "DEFAULT_ANSWER_CHARS",
    "EntrySource",
    "LogQueryOptions",
    "LogQueryResult",
    "LogSummary",
    "MAX_LIMIT",
    "new_entries",
    "run_query",
    "summarize",
    "validate_options",
]
