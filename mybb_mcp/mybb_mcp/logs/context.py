"""The request an error belongs to: found by the php -S log's own order (a worker logs `Accepted`,
the errors its script raised, then the request line), bounded in bytes read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from .forgery import forged
from .match import RequestMatch
from .parser import (
    ERROR,
    ERROR_HINTS,
    REQUEST,
    SOURCE_MYBB,
    STARTUP,
    RequestRef,
    classify_origin,
    forum_relative,
    is_user_origin,
    parse_entry,
    raised_by_error_handler,
)
from .reader import ReadStats, iter_entries_backward, iter_entries_forward
from .timeline import offset_at_time

if TYPE_CHECKING:
    from .options import LogQueryOptions
    from .parser import LogEntry


@dataclass
class HiddenCounts:
    """Entries the scan met and left out by design (counted up to where the page filled)."""

    core_noise: int = 0  # MyBB core's own noise
    not_user_code: int = 0  # user_code_only: errors of MyBB core
    folded: int = 0  # duplicates folded into another entry (a fatal's request line, a 5xx of shown errors)


# --- errors: their request, their origin, one entry each ---------------------------------------------

REQUEST_LOOKUP_BYTES = 1024 * 1024  # how far from an error its request line is looked for
LOOKUP_BUDGET_BYTES = 8 * 1024 * 1024  # what one query may read to pair errors with requests
LOOKUP_BLOCK, LOOKUP_MAX_BLOCK = 16 * 1024, 256 * 1024
_REQUEST_HINTS = (b"]: ", b"Development Server")
ERROR_OR_REQUEST_HINTS = (*ERROR_HINTS, b"]: ", b"Development Server")
NO_REQUEST_YET = ("no request line follows it in the log: the request was still running when the log was "
                  "read, or PHP died during it")
AT_STARTUP = "raised while PHP started, before any request"
NOT_LOOKED_UP = "not looked up: this answer spent its reading budget pairing earlier errors with their requests"
BY_TIME_WINDOW = 60  # seconds after a MyBB error log entry in which its request line is looked for


def same_worker(a: LogEntry, b: LogEntry) -> bool:
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
    bound = entry.offset + REQUEST_LOOKUP_BYTES + LOOKUP_MAX_BLOCK
    for offset, raw in iter_entries_forward(log_file, start=entry.offset, any_of=_REQUEST_HINTS, stats=stats,
                                            end=bound if stop is None else min(stop, bound), block_size=LOOKUP_BLOCK,
                                            max_block_size=LOOKUP_MAX_BLOCK):
        if offset == entry.offset:
            continue
        if offset - entry.offset > REQUEST_LOOKUP_BYTES:
            break
        line = parse_entry(raw.decode("utf-8", "replace"), tz=zone, offset=offset)
        if not same_worker(line, entry):
            continue
        if line.event_type == REQUEST:
            if forged(log_file, offset):  # a php -S line a page wrote: not this error's request
                continue
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
    for offset, raw in iter_entries_backward(log_file, end=request.offset, any_of=ERROR_OR_REQUEST_HINTS,
                                             stats=stats, block_size=LOOKUP_BLOCK,
                                             max_block_size=LOOKUP_MAX_BLOCK):
        if request.offset - offset > REQUEST_LOOKUP_BYTES:
            break
        entry = parse_entry(raw.decode("utf-8", "replace"), tz=zone, offset=offset)
        if not same_worker(entry, request):
            continue
        if entry.event_type in (REQUEST, STARTUP):
            return False
        if entry.event_type == ERROR and not forged(log_file, offset):
            classify_origin(entry, root)
            if not entry.core_noise:
                return True
    return False


def request_by_time(log_file: Path, entry: LogEntry, zone: tzinfo) -> LogEntry | None:
    """For an entry of a separate MyBB error log (no place in the server log): the first request line
    logged at or after its time, within BY_TIME_WINDOW seconds. A guess, and labelled so."""
    if entry.timestamp is None:
        return None
    try:
        start = offset_at_time(log_file, entry.timestamp, zone)
        for offset, raw in iter_entries_forward(log_file, start=start, any_of=(b"]: ",),
                                                block_size=LOOKUP_BLOCK, max_block_size=LOOKUP_MAX_BLOCK):
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
