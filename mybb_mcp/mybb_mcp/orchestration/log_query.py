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
from typing import Protocol

from ..errors import InvalidArgument
from .log_bounds import AnswerBudget
from .log_match import RequestMatch, validate_path_pattern
from .log_parser import (
    CONNECTION,
    ERROR,
    ERROR_HINTS,
    LEVELS,
    REQUEST,
    SOURCE_MYBB,
    SOURCE_SERVER,
    STARTUP,
    LogEntry,
    RequestRef,
    classify_origin,
    forum_relative,
    is_user_origin,
    raised_by_error_handler,
    parse_entry,
)
from .log_reader import (
    ReadStats,
    backup_path,
    iter_entries_backward,
    iter_entries_forward,
    offset_at_time,
    open_log,
    read_log_zone,
    stamps_out_of_order,
)
from .log_forgery import starts_inside_request_data

MAX_LIMIT = 1000  # a page an agent can still read; page further with offset
MAX_OFFSET = 1_000_000
MAX_SINCE_MINUTES = 10 * 366 * 24 * 60  # ten years: anything longer is "everything"
MAX_KEYWORD_LENGTH = 500
# The answer's size budget: an agent reads every character it is given. A page renders entries until
# the budget is spent, then says what it left out and how to ask for it (offset, max_chars).
DEFAULT_ANSWER_CHARS = 8_000
MIN_ANSWER_CHARS = 1_000
MAX_ANSWER_CHARS = 200_000
# Stack frames shown around the first one in the user's code, unless full_traces.
TRACE_CONTEXT_FRAMES = 2
TRACE_LINES_SHOWN = 8
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")

@dataclass(frozen=True)
class LogQueryOptions:
    """What to show of the server log.

    errors_only: only errors (PHP errors, uncaught exceptions, MyBB errors, status >= 400).
    exclude_static: hide requests for images, scripts, stylesheets and fonts that succeeded
        (a failing asset request is still shown: a broken theme link is worth seeing).
    filter_keyword: only entries containing this text on any line (literal, case-insensitive with
        full Unicode case folding: `ärger` matches `Ärger`, `strasse` matches `Straße`), or whose
        request holds it (method, path with query, status: log_match).
    path: only entries of requests to this page: a prefix of the request's path, `*` for any run of
        characters (log_match.PathPattern).
    since_minutes: only entries from the last N minutes.
    limit / offset: page size (1..MAX_LIMIT) and how many matching entries to skip first.
    tail: newest first (True) or oldest first from the start of the log (False).
    include_connections: also show `Accepted`/`Closing` connection bookkeeping.
    include_mybb: merge in MyBB's own error logs (the extra sources given to run_query).
    user_code_only: only errors whose origin is the user's code (a plugin, a template, the user's own
        scripts), not MyBB core's.
    include_core_noise: also show MyBB core's own noise (log_parser.is_core_noise), hidden by default.
    include_rotated: also search the rotated logs (server.log.1 ...), newest first after the current log.
    full_traces: show whole stack traces (default: the frames around the first one in the user's code).
    max_chars: the answer's size budget in characters (DEFAULT_ANSWER_CHARS): entries past it are left
        out, and the answer says how to see them.
    raw: every entry as logged: nothing folded into another entry, MyBB's core noise not hidden.
    """

    errors_only: bool = False
    exclude_static: bool = True
    filter_keyword: str | None = None
    since_minutes: int | None = None
    limit: int = 50
    offset: int = 0
    tail: bool = True
    include_connections: bool = False
    include_mybb: bool = True
    user_code_only: bool = False
    include_core_noise: bool = False
    include_rotated: bool = True
    full_traces: bool = False
    max_chars: int = DEFAULT_ANSWER_CHARS
    raw: bool = False
    path: str | None = None

    def validated(self) -> LogQueryOptions:
        """These options if every field is usable; else InvalidArgument naming the field and the fix."""
        return validate_options(self)

_BOOL_FIELDS = (
    "errors_only", "exclude_static", "tail", "include_connections", "include_mybb", "user_code_only",
    "include_core_noise", "include_rotated", "full_traces", "raw",
)

def _int_field(name: str, value: object, low: int, high: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be a whole number, not {value!r}.", fix)
    if not low <= value <= high:
        raise InvalidArgument(f"{name} must be between {low} and {high}, not {value}.", fix)

def validate_options(options: LogQueryOptions) -> LogQueryOptions:
    """Check every field; return the options (unchanged) or raise InvalidArgument."""
    for name in _BOOL_FIELDS:
        value = getattr(options, name)
        if not isinstance(value, bool):
            raise InvalidArgument(f"{name} must be true or false, not {value!r}.", f"Pass {name}=true or {name}=false.")
    _int_field("limit", options.limit, 1, MAX_LIMIT,
               f"Ask for at most {MAX_LIMIT} entries per page and use offset to see more.")
    _int_field("offset", options.offset, 0, MAX_OFFSET,
               "offset counts matching entries to skip: 0 for the first page, then limit, 2*limit ...")
    _int_field("max_chars", options.max_chars, MIN_ANSWER_CHARS, MAX_ANSWER_CHARS,
               f"Pass a size budget between {MIN_ANSWER_CHARS} and {MAX_ANSWER_CHARS} characters "
               f"(default {DEFAULT_ANSWER_CHARS}).")
    if options.since_minutes is not None:
        _int_field("since_minutes", options.since_minutes, 1, MAX_SINCE_MINUTES,
                   "Pass a number of minutes of at least 1, or leave since_minutes out for the whole log.")
    keyword = options.filter_keyword
    if keyword is not None:
        if not isinstance(keyword, str):
            raise InvalidArgument(f"filter_keyword must be text, not {keyword!r}.", "Pass a word or phrase to look for.")
        if not keyword.strip():
            raise InvalidArgument("filter_keyword is empty.", "Pass a word or phrase to look for, or leave the filter out.")
        if "\n" in keyword or "\r" in keyword:
            raise InvalidArgument("filter_keyword spans lines.", "Search for one line's text; the whole entry is returned.")
        if "\x00" in keyword:  # the readers mark their cuts with NUL bytes (log_bounds.CUT_MARK)
            raise InvalidArgument("filter_keyword contains a NUL character.", "Search for printable text.")
        if len(keyword) > MAX_KEYWORD_LENGTH:
            raise InvalidArgument(f"filter_keyword is longer than {MAX_KEYWORD_LENGTH} characters.",
                                  "Search for a distinctive part of it.")
    validate_path_pattern(options.path)
    return options

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
    cut_by_size: bool = False  # the page ended early: its entries' text reached log_bounds.MAX_PAGE_BYTES
    source_problems: list[str] = field(default_factory=list)
    hidden: HiddenCounts = field(default_factory=lambda: HiddenCounts())
    generations: list[Path] = field(default_factory=list)  # rotated logs searched, newest first
    origin_basis: str | None = None  # how origins were told (forum/release.basis_of), set by the service

    @property
    def shown(self) -> int:
        return len(self.entries)

@dataclass
class HiddenCounts:
    """Entries the scan met and left out by design (counted up to where the page filled)."""

    core_noise: int = 0  # MyBB core's own noise
    not_user_code: int = 0  # user_code_only: errors of MyBB core
    folded: int = 0  # duplicates folded into another entry (a fatal's request line, a 5xx of shown errors)


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

def _keyword_bytes(options: LogQueryOptions) -> bytes | None:
    """The keyword as the readers take it (they fold case: full Unicode, see log_reader)."""
    return options.filter_keyword.encode("utf-8", "surrogateescape") if options.filter_keyword else None


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
            if is_request and match.matches(entry, own):
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
    """A reader's entry -> LogEntry; a bounded one (log_bounds.EntryBytes) says what was cut where."""
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

# --- errors: their request, their origin, one entry each ---------------------------------------------

REQUEST_LOOKUP_BYTES = 1024 * 1024  # how far from an error its request line is looked for
LOOKUP_BUDGET_BYTES = 8 * 1024 * 1024  # what one query may read to pair errors with requests
_LOOKUP_BLOCK, _LOOKUP_MAX_BLOCK = 16 * 1024, 256 * 1024
_REQUEST_HINTS = (b"]: ", b"Development Server")
_ERROR_OR_REQUEST_HINTS = (*ERROR_HINTS, b"]: ", b"Development Server")
NO_REQUEST_YET = ("no request line follows it in the log: the request was still running when the log was "
                  "read, or PHP died during it")
AT_STARTUP = "raised while PHP started, before any request"
NOT_LOOKED_UP = "not looked up: this answer spent its reading budget pairing earlier errors with their requests"
BY_TIME_WINDOW = 60  # seconds after a MyBB error log entry in which its request line is looked for


def _same_worker(a: LogEntry, b: LogEntry) -> bool:
    return a.worker_pid == b.worker_pid


@dataclass
class _Known:
    """A request line found for a worker, and the earliest offset from which it is the next one."""

    since: int
    request: LogEntry | None
    note: str | None


def request_after(
    log_file: Path, entry: LogEntry, zone: tzinfo, *, stats: ReadStats | None = None, known: _Known | None = None,
) -> tuple[LogEntry | None, str | None]:
    """The request line php -S logged after `entry` (an error) in the same worker: the request that raised
    it (php -S logs a request's line when the request ends, after its errors). (None, why) if there is none.
    `known`: what a later error of this worker found; reading stops where that error began."""
    if entry.offset is None:
        return None, NO_REQUEST_YET
    stop = known.since if known is not None and known.since > entry.offset else None
    # Bounded: where no request line follows (a log of errors only), the reader must not scan on to the end.
    bound = entry.offset + REQUEST_LOOKUP_BYTES + _LOOKUP_MAX_BLOCK
    for offset, raw in iter_entries_forward(log_file, start=entry.offset, any_of=_REQUEST_HINTS, stats=stats,
                                            end=bound if stop is None else min(stop, bound), block_size=_LOOKUP_BLOCK, max_block_size=_LOOKUP_MAX_BLOCK):
        if offset == entry.offset:
            continue
        if offset - entry.offset > REQUEST_LOOKUP_BYTES:
            break
        line = parse_entry(raw.decode("utf-8", "replace"), tz=zone, offset=offset)
        if not _same_worker(line, entry):
            continue
        if line.event_type == REQUEST:
            line.location = str(log_file)
            return line, None
        if line.event_type == STARTUP and "Development Server" in line.message:
            return None, AT_STARTUP
    if stop is not None and known is not None:
        return known.request, known.note
    return None, NO_REQUEST_YET


def errors_before(
    log_file: Path, request: LogEntry, zone: tzinfo, root: str | None, *, stats: ReadStats | None = None
) -> bool:
    """Whether PHP or MyBB logged an error (not MyBB's noise) for this request, before its request line."""
    if request.offset is None:
        return False
    for offset, raw in iter_entries_backward(log_file, end=request.offset, any_of=_ERROR_OR_REQUEST_HINTS,
                                             stats=stats, block_size=_LOOKUP_BLOCK,
                                             max_block_size=_LOOKUP_MAX_BLOCK):
        if request.offset - offset > REQUEST_LOOKUP_BYTES:
            break
        entry = parse_entry(raw.decode("utf-8", "replace"), tz=zone, offset=offset)
        if not _same_worker(entry, request):
            continue
        if entry.event_type in (REQUEST, STARTUP):
            return False
        if entry.event_type == ERROR:
            classify_origin(entry, root)
            if not entry.core_noise:
                return True
    return False


def errors_raised_by(
    log_file: Path, request: LogEntry, zone: tzinfo, *, floor: int = 0, stats: ReadStats | None = None,
) -> list[LogEntry]:
    """The errors PHP or MyBB logged for this request (before its request line, in its worker), newest first."""
    found: list[LogEntry] = []
    if request.offset is None:
        return found
    location = str(log_file)
    for offset, raw in iter_entries_backward(log_file, end=request.offset, any_of=_ERROR_OR_REQUEST_HINTS,
                                             start=max(floor, request.offset - REQUEST_LOOKUP_BYTES - 1),
                                             stats=stats, block_size=_LOOKUP_BLOCK,
                                             max_block_size=_LOOKUP_MAX_BLOCK):
        if offset < floor or request.offset - offset > REQUEST_LOOKUP_BYTES:
            break
        entry = _parse_kept(raw, zone, offset)
        if not _same_worker(entry, request):
            continue
        if entry.event_type in (REQUEST, STARTUP):
            break
        if entry.event_type == ERROR and entry.is_error:
            entry.location = location
            entry.length = len(raw) + getattr(raw, "cut_bytes", 0)
            found.append(entry)
    return found


def request_by_time(log_file: Path, entry: LogEntry, zone: tzinfo) -> LogEntry | None:
    """For an entry of a separate MyBB error log (no place in the server log): the first request line
    logged at or after its time, within BY_TIME_WINDOW seconds. A guess, and labelled so."""
    if entry.timestamp is None:
        return None
    try:
        start = offset_at_time(log_file, entry.timestamp, zone)
        for offset, raw in iter_entries_forward(log_file, start=start, any_of=(b"]: ",),
                                                block_size=_LOOKUP_BLOCK, max_block_size=_LOOKUP_MAX_BLOCK):
            line = parse_entry(raw.decode("utf-8", "replace"), tz=zone, offset=offset)
            if line.timestamp is not None and line.timestamp < entry.timestamp:
                continue  # ended before the error was raised
            if line.timestamp is not None and (line.timestamp - entry.timestamp).total_seconds() > BY_TIME_WINDOW:
                return None
            if line.event_type == REQUEST and not line.internal:
                return line
    except OSError:
        return None
    return None


@dataclass
class ErrorContext:
    """What a query does to each error: origin, request, folding duplicates, hiding noise."""

    options: LogQueryOptions
    root: str | None
    server_log: Path
    hidden: HiddenCounts = field(default_factory=HiddenCounts)
    # Shown MyBB errors by their request line (file, offset): MyBB's noise of that request folds into them.
    _reported: dict[tuple[str, int], LogEntry] = field(default_factory=dict)
    # Per (log file, worker): the request line the last error looked up found (errors come newest first).
    _known: dict[tuple[str, int | None], _Known] = field(default_factory=dict)
    lookup_stats: ReadStats = field(default_factory=ReadStats)

    def _budget_left(self) -> bool:
        return self.lookup_stats.bytes_read < LOOKUP_BUDGET_BYTES

    def keep(self, entry: LogEntry, log_file: Path | None, zone: tzinfo, own_text: str | None = None) -> bool:
        """Whether to show an error, with its origin and request set. `own_text`: its case-folded text, when
        a keyword is still to be found in it or its request (else the keyword, if any, was found)."""
        if not entry.is_error:
            return True
        classify_origin(entry, self.root)
        raw = self.options.raw
        if entry.event_type == REQUEST:
            if (not raw and log_file is not None and self._budget_left()
                    and errors_before(log_file, entry, zone, self.root, stats=self.lookup_stats)):
                self.hidden.folded += 1  # the errors before it carry this request (and a fatal's message)
                return False
            entry.request = RequestRef.of(entry)
        elif entry.request is None:
            self._attach_request(entry, log_file, zone)
        match = RequestMatch.of(self.options.filter_keyword, self.options.path)
        if match is not None and not match.matches(entry, own_text):
            return False
        if entry.core_noise and not (self.options.include_core_noise or raw):
            self._fold_noise(entry)
            return False
        if self.options.user_code_only and not is_user_origin(entry.origin):
            self.hidden.not_user_code += 1
            return False
        if entry.source == SOURCE_MYBB and entry.request is not None and entry.request.offset is not None:
            self._reported.setdefault((entry.request.location or "", entry.request.offset), entry)
        return True

    def _attach_request(self, entry: LogEntry, log_file: Path | None, zone: tzinfo) -> None:
        if log_file is not None:
            if not self._budget_left():
                entry.request_note = NOT_LOOKED_UP
                return
            key = (str(log_file), entry.worker_pid)
            known = self._known.get(key) if self.options.tail else None
            line, note = request_after(log_file, entry, zone, stats=self.lookup_stats, known=known)
            if entry.offset is not None:
                self._known[key] = _Known(entry.offset, line, note)
            entry.request = RequestRef.of(line) if line is not None else None
            entry.request_note = note
            return
        line = request_by_time(self.server_log, entry, zone)
        if line is not None:
            line.location = str(self.server_log)
            entry.request = RequestRef.of(line, by_time=True)
        else:
            entry.request_note = "MyBB's error log does not record the request, and none was found by its time"

    def _fold_noise(self, entry: LogEntry) -> None:
        self.hidden.core_noise += 1
        request = entry.request
        if request is None or request.offset is None:
            return
        shown = self._reported.get((request.location or "", request.offset))
        if shown is not None and raised_by_error_handler(entry, self.root):
            message = entry.message.splitlines()[0] if entry.message else ""
            if entry.source_file:
                message = message.split(f" in {entry.source_file} on line", 1)[0]
                where = forum_relative(entry.source_file, self.root, entry.source == SOURCE_MYBB) or entry.source_file
                message += f" ({where}:{entry.source_line})"
            shown.folded.append(f"{entry.level or 'error'}: {message[:200]}")


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
        streams.append(_Stream(f"{SOURCE_SERVER}:rotated", _generation_entries(older, options, cutoff, older_stats, errors),
                               options.tail))
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
