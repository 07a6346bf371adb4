"""Entries that begin inside request data: possibly forged, whatever their stamp.

A log `start` opened with the signed channel (logs/signed.py; its header says so) is judged by its
signed lines. A request's output lies between its signed `begin` and `end`; there, an entry is
possibly forged when it is

- a PHP error line with no receipt written just before it and no mention in `end` (PHP's own lines
  always have one or the other: each vouches for one line);
- a php -S line (Accepted, Closing, `[200]: GET /`) other than the request line `end` describes: php -S
  writes its line about a request once, so another is text the page wrote (error_log(), request data);
- a line that looks signed but does not verify (hidden like the channel's own lines: it vouches for
  nothing).

Limits: a request whose `begin` lies more than the look-back before an entry (or whose `end` more than
SIGNED_TAIL after it) is judged without it; with several workers (MYBB_WORKERS), where php -S puts its pid
before every line, a line without one is a page's text, but a line a page forges under another worker's
pid is judged as that worker's. Text a page writes that claims nothing (not an
error, not a php -S line) is shown as it is; MyBB's own <error> blocks are written that way too and are
judged as below.

Logs without the channel (an older start, MYBB_PHP_INI naming its own auto_prepend_file):

PHP writes request data into its messages verbatim (`Undefined array key "<what the visitor sent>"`),
so a visitor's newlines make whole lines, stamped with any time they like (the current one too). A
PHP message ends with ` on line N`; one that has not ended when a stamped line starts means that
line is the visitor's text, and so is every stamped line after it until php -S writes its own next
line about a request (Accepted, Closing, `[200]: GET /`). Such entries are marked and left out of
the counts; they are still shown (hiding them would let a visitor hide real ones).

A visitor who also forges a php -S request line ends the region early: what follows that line is
judged as any other line (and still by its stamp's order, reader.stamps_out_of_order).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .parser import REQUEST, is_php_error_suffix
from .reader import open_log
from .signed import BEGIN, END, SIGNED_BYTES, SignedLine, log_is_signed, read_keys, verify
from .timeline import lookback_windows

if TYPE_CHECKING:
    from .parser import LogEntry

__all__ = ["forged", "forged_entries", "starts_inside_request_data", "without_forged"]

_STAMP = re.compile(rb"(?:\[(\d{1,10})\] )?\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] ")
_PHP_MESSAGE = re.compile(rb"PHP [A-Z][a-z]+(?: [a-z]+)*:  ")  # "PHP Warning:  ", "PHP Fatal error:  "
_MESSAGE_END = re.compile(rb" on line \d+\r?$")
SIGNED_TAIL = 64 * 1024  # read past an entry for its request's `end` (a page's shutdown work may write first)
_SERVER_LINE = re.compile(rb"(?:\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):\d+ (?:Accepted|Closing|\[\d{3}\]: )")


def _flag_lines(data: bytes, base: int, targets: set[int], skip_first: bool) -> set[int]:
    """The targets (line starts, absolute) that begin while a PHP message or forged region is open."""
    flagged: set[int] = set()
    open_message = region = False
    position = 0
    lines = data.split(b"\n")
    for index, line in enumerate(lines):
        start = base + position
        position += len(line) + 1
        if index == 0 and skip_first:
            continue  # cut: it may be the middle of a line
        stamp = _STAMP.match(line)
        if stamp is None:
            if open_message and _MESSAGE_END.search(line):
                open_message = False
            continue
        body = line[stamp.end():]
        inside = open_message or region
        if _SERVER_LINE.match(body):  # php -S's own line about a request: the message has ended
            region = open_message = False
            continue
        if inside and start in targets:
            flagged.add(start)
        region = inside
        if region:
            open_message = False
        else:
            open_message = bool(_PHP_MESSAGE.match(body)) and not _MESSAGE_END.search(line)
    return flagged


_REQUEST_LINE = re.compile(
    rb"(?:\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):(\d+) \[(\d{3})\]: (\S+) (\S*)(?: - (.*))?\r?$")


def _is_the_request_line(body: bytes, begin: SignedLine, end: SignedLine | None) -> bool:
    """Whether `body` is php -S's line about the request `begin` opened, as its `end` describes it."""
    match = _REQUEST_LINE.match(body)
    if match is None:
        return False
    port, status, method, uri, suffix = match.groups()
    data = begin.data
    if (int(port), method.decode("latin-1"), uri.decode("utf-8", "replace")) != (
            data.get("port"), data.get("method"), data.get("uri")):
        return False
    if end is None:  # the request is still running, or its end lies past what was read
        return True
    fatal = end.data.get("fatal")
    if int(status) != end.data.get("status"):
        return False
    if fatal:
        return suffix is not None and suffix.decode("utf-8", "replace").startswith(str(fatal))
    # No fatal error: a suffix may only say what php -S or the router says (" - No such file or directory").
    return suffix is None or not is_php_error_suffix(suffix.decode("utf-8", "replace"), int(status))


def _flag_signed(data: bytes, base: int, targets: set[int], skip_first: bool, keys: list[bytes]) -> set[int]:
    """The targets that are possibly forged in a log written with the signed channel (see above)."""
    lines: list[tuple[int, bytes | None, bytes, SignedLine | None, bool]] = []  # start, worker, body, signed, looks
    ends: dict[str, SignedLine] = {}
    position = 0
    for index, line in enumerate(data.split(b"\n")):
        start = base + position
        position += len(line) + 1
        stamp = _STAMP.match(line)
        if stamp is None or (index == 0 and skip_first):
            continue
        body = line[stamp.end():].rstrip(b"\r")
        looks = SIGNED_BYTES.match(body) is not None
        signed = verify(keys, body) if looks else None
        if signed is not None and signed.kind == END:
            ends.setdefault(signed.request, signed)
        lines.append((start, stamp.group(1), body, signed, looks))
    flagged: set[int] = set()
    frames: dict[bytes | None, _Frame] = {}  # worker pid (None: a single worker) -> its open request
    # With several workers php -S puts its pid before every line: one without claims nothing of PHP's.
    workers = any(worker is not None for _, worker, _, signed, _ in lines if signed is not None)
    for start, worker, body, signed, looks in lines:
        frame = frames.get(worker)
        if workers and worker is None and not looks:
            forged = bool(_PHP_MESSAGE.match(body) or _SERVER_LINE.match(body))
        elif looks:  # the channel's own lines are hidden; a forged one only has to vouch for nothing
            if signed is not None and signed.kind == BEGIN:
                frames[worker] = _Frame(signed, ends.get(signed.request))
            elif signed is not None and frame is not None and signed.request == frame.begin.request:
                if signed.kind == END:
                    frames.pop(worker, None)
                else:
                    frame.receipts.append(str(signed.data.get("line")))
            forged = signed is None
        elif _PHP_MESSAGE.match(body):
            forged = frame is not None and not frame.vouches(body.decode("utf-8", "replace"))
        elif frame is not None and _SERVER_LINE.match(body):
            forged = not _is_the_request_line(body, frame.begin, frame.end)
        else:
            forged = False
        if forged and start in targets:
            flagged.add(start)
    return flagged


class _Frame:
    """One request's frame in a worker: its `begin`, its `end` (when read), the receipts not yet used."""

    def __init__(self, begin: SignedLine, end: SignedLine | None) -> None:
        self.begin, self.end = begin, end
        self.receipts: list[str] = []
        unhandled = end.data.get("unhandled") if end is not None else None
        self.unhandled = [str(u) for u in unhandled] if isinstance(unhandled, list) else []

    def vouches(self, line: str) -> bool:
        """Whether this PHP error line is PHP's own: its receipt was just written (the line follows it at
        once), or `end` names it (an error no handler sees). Each vouches for one line."""
        if self.receipts and self.receipts[-1] == line:
            self.receipts.pop()
            return True
        if line in self.unhandled:
            self.unhandled.remove(line)
            return True
        return False


def starts_inside_request_data(path: str | os.PathLike[str], offsets: Sequence[int], start: int = 0) -> set[int]:
    """Of entry starts in one file, those possibly forged: inside a PHP message's request data (see above),
    or, in a log with the signed channel, not vouched for by its signatures.

    Each is judged from the LOOKBACK bytes before it (entries close together share one read); past
    MARK_BUDGET bytes read, from the MARK_LOOKBACK bytes before each only."""
    flagged: set[int] = set()
    with open_log(path) as handle:
        signed = log_is_signed(handle.read(1024))
    keys = read_keys(path) if signed else []
    # 256: the last entry's head too; with the channel, its request's `end` line too (it follows php -S's line).
    for lo, members, data in lookback_windows(path, offsets, start, SIGNED_TAIL if signed else 256):
        if signed:
            flagged |= _flag_signed(data, lo, set(members), lo > start, keys)
        else:
            flagged |= _flag_lines(data, lo, set(members), skip_first=lo > start)
            flagged |= _flag_signed_looking(data, lo, set(members), lo > start)
    return flagged


def _flag_signed_looking(data: bytes, base: int, targets: set[int], skip_first: bool) -> set[int]:
    """In a log without the channel, a line that looks signed is a page's text (nothing could sign it)."""
    flagged: set[int] = set()
    position = 0
    for index, line in enumerate(data.split(b"\n")):
        start = base + position
        position += len(line) + 1
        if index == 0 and skip_first or start not in targets:
            continue
        stamp = _STAMP.match(line)
        if stamp is not None and SIGNED_BYTES.match(line[stamp.end():]):
            flagged.add(start)
    return flagged


def forged(path: str | os.PathLike[str], offset: int | None) -> bool:
    """Whether the entry at `offset` is possibly forged (see starts_inside_request_data): what ties an error
    to its request skips such a line, so a php -S line a page wrote never claims a real error."""
    if offset is None:
        return False
    try:
        return offset in starts_inside_request_data(path, [offset])
    except OSError:
        return False


def forged_entries(entries: Sequence[LogEntry], requests_only: bool = False) -> set[tuple[str | None, int | None]]:
    """(file, offset) of the entries a page wrote (possibly forged, see starts_inside_request_data), each
    file read once; `requests_only`: only php -S request lines are judged (what ties errors to requests)."""
    wanted: dict[str, list[int]] = {}
    for entry in entries:
        if entry.location and entry.offset is not None and (not requests_only or entry.event_type == REQUEST):
            wanted.setdefault(entry.location, []).append(entry.offset)
    found: set[tuple[str | None, int | None]] = set()
    for location, offsets in wanted.items():
        try:
            found |= {(location, offset) for offset in starts_inside_request_data(location, offsets)}
        except OSError:
            continue
    return found


def without_forged(entries: Sequence[LogEntry]) -> list[LogEntry]:
    """The entries PHP and php -S wrote: what counts (the digest), never a page's forged lines."""
    fake = forged_entries(entries)
    return [entry for entry in entries if (entry.location, entry.offset) not in fake] if fake else list(entries)
