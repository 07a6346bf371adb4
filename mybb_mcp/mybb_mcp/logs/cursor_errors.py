"""A cursor read's errors shown as a log query shows them: with their request, origin and place, MyBB
core's noise left out, and a failed request's status line folded into the errors logged for it.

A cursor read has every entry since the cursor in log order, so the request of an error is simply
the next request line its worker logged (php -S logs a request's line when the request ends).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from .context import AT_STARTUP, BY_TIME_WINDOW, NO_REQUEST_YET, request_by_time
from .forgery import forged_entries
from .options import LogQueryOptions
from .parser import ERROR, REQUEST, STARTUP, LogEntry, RequestRef, classify_origin
from .query import entry_matches


def annotate(entries: Sequence[LogEntry], root: str | None, options: LogQueryOptions) -> list[LogEntry]:
    """Server log entries (log order) with requests and origins set; folded and noise entries left out."""
    pending: dict[int | None, list[LogEntry]] = {}
    dropped: set[int] = set()
    fake = forged_entries(entries, requests_only=True)
    for entry in entries:
        if entry.is_error:
            classify_origin(entry, root)
        worker = entry.worker_pid
        if entry.event_type == REQUEST and entry.method is not None and (entry.location, entry.offset) not in fake:
            waiting = pending.pop(worker, [])
            ref = RequestRef.of(entry)
            for error in waiting:
                error.request = ref
            if entry.is_error:
                entry.request = ref
                if not options.raw and any(not e.core_noise for e in waiting):
                    dropped.add(id(entry))  # its errors carry this request (as queries fold it)
        elif entry.event_type == STARTUP and "Development Server" in entry.message:
            for error in pending.pop(worker, []):
                error.request_note = AT_STARTUP
        elif entry.event_type == ERROR and entry.is_error:
            pending.setdefault(worker, []).append(entry)
    for waiting in pending.values():
        for error in waiting:
            error.request_note = NO_REQUEST_YET
    shown = options.include_core_noise or options.raw
    return [e for e in entries if id(e) not in dropped and (shown or not e.core_noise)]


def annotate_mybb(entries: Sequence[LogEntry], root: str | None, log_file: Path, zone: tzinfo,
                  options: LogQueryOptions) -> list[LogEntry]:
    """Entries of MyBB's separate error logs: origin set, the request found by time (as queries do)."""
    kept = []
    for entry in entries:
        classify_origin(entry, root)
        if entry.core_noise and not (options.include_core_noise or options.raw):
            continue
        line = request_by_time(log_file, entry, zone) if entry.request is None else None
        if line is not None:
            line.location = str(log_file)
            entry.request = RequestRef.of(line, by_time=True)
        elif entry.request is None:
            entry.request_note = "MyBB's error log does not record the request, and none was found by its time"
        kept.append(entry)
    return kept


def first_unfinished(entries: Sequence[LogEntry], options: LogQueryOptions) -> LogEntry | None:
    """With a keyword or a path, the first error whose request line is not logged yet (its request still
    runs): whether it matches is known only then, so a cursor read stops before it."""
    if not (options.filter_keyword or options.path):
        return None
    recent = datetime.now(timezone.utc) - timedelta(seconds=BY_TIME_WINDOW)  # else PHP died during it
    return next((e for e in entries if e.request_note == NO_REQUEST_YET
                 and e.timestamp is not None and e.timestamp >= recent), None)


def matching(entries: Sequence[LogEntry], options: LogQueryOptions) -> list[LogEntry]:
    return [e for e in entries if entry_matches(e, options)]
