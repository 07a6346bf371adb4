"""Entries that begin inside request data: possibly forged, whatever their stamp.

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

from .timeline import lookback_windows

__all__ = ["starts_inside_request_data"]

_STAMP = re.compile(rb"(?:\[\d{1,10}\] )?\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\] ")
_PHP_MESSAGE = re.compile(rb"PHP [A-Z][a-z]+(?: [a-z]+)*:  ")  # "PHP Warning:  ", "PHP Fatal error:  "
_MESSAGE_END = re.compile(rb" on line \d+\r?$")
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


def starts_inside_request_data(path: str | os.PathLike[str], offsets: Sequence[int], start: int = 0) -> set[int]:
    """Of entry starts in one file, those that begin inside a PHP message's request data (see above).

    Each is judged from the LOOKBACK bytes before it (entries close together share one read); past
    MARK_BUDGET bytes read, from the MARK_LOOKBACK bytes before each only."""
    flagged: set[int] = set()
    for lo, members, data in lookback_windows(path, offsets, start, 256):  # 256: the last entry's head too
        flagged |= _flag_lines(data, lo, set(members), skip_first=lo > start)
    return flagged
