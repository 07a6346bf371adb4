"""Time in a log: the offset where a time begins (bisection on stamps), and stamps that go back in
time (a visitor may forge a line; it never moves a `since` search).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from .finders import first_start
from .parser import ENTRY_START, head_timestamp
from .reader import BLOCK_SIZE, open_log, read_range

# --- finding a time in the file -----------------------------------------------------------------------

def _entry_time_after(fd: int, pos: int, end: int, tz: tzinfo | None) -> tuple[int, datetime] | None:
    """The first entry start at or after `pos` (within ~1 MiB) and its timestamp."""
    lo = max(pos - 1, 0)
    # An entry starts within a few hundred bytes almost always: read a page first, 1 MiB only if not.
    for size in (4096, 1024 * 1024):
        chunk = os.pread(fd, min(size, end - lo), lo)
        found = 0 if pos == 0 and ENTRY_START.match(chunk) else first_start(chunk, 0, len(chunk))
        if found >= 0 or len(chunk) < size:
            break
    if found < 0:
        return None
    moment = head_timestamp(chunk[found : found + 64].decode("ascii", "replace"), tz)
    return (lo + found, moment) if moment is not None else None


# php -S stamps lines when it writes them, so files are in time order but for workers racing
# within a second; look this much earlier than asked so no in-window entry is skipped.
TIME_SLACK = timedelta(seconds=60)

# But PHP also writes request data verbatim: a visitor's newlines make lines with any stamp they like.
# A stamp earlier than one written before it (by more than this) went back in time: it may be forged.
OUT_OF_ORDER_TOLERANCE = timedelta(seconds=5)
# How far back a stamp is compared: a forged run (one PHP message) longer than this, all of it in
# order, cannot be told from real old entries, here or anywhere else.
LOOKBACK = 256 * 1024
MARK_LOOKBACK = 16 * 1024  # the entries of an answer: checked within LOOKBACK while MARK_BUDGET lasts,
MARK_BUDGET = 16 * 1024 * 1024  # then within MARK_LOOKBACK (they are marked, never hidden)

_STAMP_AFTER_NL = re.compile(rb"\n(?:\[\d{1,10}\] )?(\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\])")


def _latest_stamp(chunk: bytes, tz: tzinfo | None) -> datetime | None:
    """The latest stamp that starts a line of `chunk` (its first line excluded: it may be cut)."""
    latest = None
    for text in set(_STAMP_AFTER_NL.findall(chunk)):
        moment = head_timestamp(text.decode("ascii"), tz)
        if moment is not None and (latest is None or moment > latest):
            latest = moment
    return latest


def _went_back(fd: int, pos: int, moment: datetime, tz: tzinfo | None, window: int, floor: int = 0) -> bool:
    """Whether a stamp in the `window` bytes before `pos` is later than `moment` (beyond tolerance)."""
    lo = max(pos - window, floor)
    if lo >= pos:
        return False
    before = _latest_stamp(b"\n" + os.pread(fd, pos - lo, lo) if lo == floor else os.pread(fd, pos - lo, lo), tz)
    return before is not None and before - moment > OUT_OF_ORDER_TOLERANCE


def offset_at_time(
    path: str | os.PathLike[str], cutoff: datetime, tz: tzinfo | None, *, start: int = 0, end: int | None = None
) -> int:
    """An entry start (or `start`) before which all entries are older than `cutoff` (bisection).

    O(log size) small reads. Relies on the log being in time order (php -S appends as it
    goes); a wall clock stepping back (DST ending) can make it start too late in that hour.
    Only a stamp in order with the LOOKBACK bytes before it may move the start later: a line
    going back in time (request data forging an old stamp) makes the search look earlier instead,
    so it can cost reading, never hide a recent entry.
    """
    target = cutoff - TIME_SLACK
    with open_log(path) as handle:
        fd = handle.fileno()
        lo, hi = read_range(fd, start, end)
        end_ = hi
        while hi - lo > BLOCK_SIZE:
            mid = (lo + hi) // 2
            found = _entry_time_after(fd, mid, end_, tz)
            if found is None or found[1] >= target or found[0] >= hi:
                hi = mid
            elif _went_back(fd, found[0], found[1], tz, LOOKBACK, start):
                hi = mid  # not to be believed: look earlier
            else:
                lo = found[0]
        return lo


def lookback_windows(path: str | os.PathLike[str], offsets: Sequence[int], start: int,
                     tail: int) -> Iterator[tuple[int, list[int], bytes]]:
    """For entry starts in one file, what is read to judge them by the bytes before them: (read from,
    the entry starts judged, the bytes from there to `tail` bytes past the last start). Each read holds
    the LOOKBACK bytes before its entries, and entries close together share one; past MARK_BUDGET bytes
    read in all, only the MARK_LOOKBACK bytes before each (the budget is spent: a short look only)."""
    groups: list[tuple[int, list[int]]] = []  # (read from, entry starts), ascending
    for offset in sorted(set(offsets)):
        lo = max(start, offset - LOOKBACK)
        if groups and lo <= groups[-1][1][-1]:
            groups[-1][1].append(offset)
        else:
            groups.append((lo, [offset]))
    budget = MARK_BUDGET
    with open_log(Path(path)) as handle:
        fd = handle.fileno()
        for lo, members in groups:
            if members[-1] - lo > budget:
                lo = max(start, members[-1] - MARK_LOOKBACK)
                members = [offset for offset in members if offset >= lo] or members[-1:]
            data = os.pread(fd, members[-1] + tail - lo, lo)
            budget -= len(data)
            yield lo, members, data


def stamps_out_of_order(path: str | os.PathLike[str], offsets: Sequence[int], tz: tzinfo | None,
                        start: int = 0) -> set[int]:
    """Of entry starts in one file, those whose head stamp is earlier than a stamp written in the
    LOOKBACK bytes before it (see OUT_OF_ORDER_TOLERANCE): possibly forged. The stamps compared are
    the lines' own (for a MyBB error block in the server log too, whatever its dateline says).

    Entries close together share one read; past MARK_BUDGET bytes read, the rest are compared with
    the MARK_LOOKBACK bytes before each only."""
    flagged: set[int] = set()
    for lo, members, read in lookback_windows(path, offsets, start, 64):  # 64: the last entry's own stamp
        data = b"\n" + read
        heads = [(m.start() + lo, m.group(1)) for m in _STAMP_AFTER_NL.finditer(data)]  # (line start, stamp)
        own = dict(heads)
        latest: datetime | None = None
        index = 0
        for offset in members:
            while index < len(heads) and heads[index][0] < offset:
                seen = head_timestamp(heads[index][1].decode("ascii"), tz)
                if seen is not None and (latest is None or seen > latest):
                    latest = seen
                index += 1
            mine = own.get(offset)
            moment = head_timestamp(mine.decode("ascii"), tz) if mine else None
            if latest is not None and moment is not None and latest - moment > OUT_OF_ORDER_TOLERANCE:
                flagged.add(offset)
    return flagged
