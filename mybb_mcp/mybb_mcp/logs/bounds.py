"""Hard bounds on what one log query holds and answers, whatever the log contains.

A visitor decides what PHP writes: eleven POSTs whose data lands in error messages made a 92 MB
log of a few giant entries (one of 10 MB, millions of continuation lines), and one query then took
2.3 GB of memory and answered 3 MB. These limits hold for any content:

- an entry is kept as its first ENTRY_HEAD_BYTES and last ENTRY_TAIL_BYTES (`keep_entry`); what lies
  between is counted (bytes, lines) and said, never held. The readers trim an entry still being
  read across blocks the same way (past CARRY_TRIM_BYTES), so no entry is ever held whole;
- the entries of one answer hold at most MAX_PAGE_BYTES of text (`AnswerBudget`, the memory bound),
  and the answer itself is at most MAX_ANSWER_BYTES (answers.logs); past either the page ends early and
  says how to narrow or page on.

A softer answer budget for agents (settable per call) may sit above these; nothing goes beyond them.
"""

from __future__ import annotations

from dataclasses import dataclass

ENTRY_HEAD_BYTES = 48 * 1024
ENTRY_TAIL_BYTES = 16 * 1024
MAX_ENTRY_BYTES = ENTRY_HEAD_BYTES + ENTRY_TAIL_BYTES  # of one entry, kept
CARRY_TRIM_BYTES = 1024 * 1024  # an entry being read across blocks is trimmed to head + tail past this
MAX_PAGE_BYTES = 4 * 1024 * 1024  # the entries' kept text one query holds
MAX_ANSWER_BYTES = 200 * 1024  # the text of one answer: the hard cap

# Where a reader cut an entry it carried across blocks. NUL bytes: they cannot start an entry (a
# line start) nor be part of a keyword (refused) or of the errors-only hints.
CUT_MARK = b"\x00\x00"


class EntryBytes(bytes):
    """An entry's bytes as kept: whole, or head + tail with what lay between counted."""

    cut_bytes: int = 0  # bytes dropped from the middle
    cut_lines: int = 0  # newlines among them
    cut_at: int = -1  # where in these bytes the cut is (-1: nothing cut)


def _count(cut: bytes | bytearray | memoryview) -> tuple[int, int]:
    return len(cut), bytes(cut).count(b"\n") if isinstance(cut, memoryview) else cut.count(b"\n")


def keep_entry(raw: bytes | bytearray | memoryview, cut_bytes: int = 0, cut_lines: int = 0) -> EntryBytes:
    """`raw` bounded to MAX_ENTRY_BYTES: its head and tail, with the cut counted (`cut_bytes`,
    `cut_lines`: what a reader already dropped at the CUT_MARK in `raw`)."""
    data = bytes(raw) if not isinstance(raw, bytes) else raw
    mark = data.find(CUT_MARK) if cut_bytes else -1
    head, tail = (data[:mark], data[mark + len(CUT_MARK):]) if mark >= 0 else (data, b"")
    if mark < 0 and len(head) <= MAX_ENTRY_BYTES:
        return EntryBytes(head)
    if not tail:  # one piece too long: its end becomes the tail
        head, tail = head[: len(head) - ENTRY_TAIL_BYTES], head[len(head) - ENTRY_TAIL_BYTES:]
    if len(head) > ENTRY_HEAD_BYTES:
        size, lines = _count(head[ENTRY_HEAD_BYTES:])
        head, cut_bytes, cut_lines = head[:ENTRY_HEAD_BYTES], cut_bytes + size, cut_lines + lines
    if len(tail) > ENTRY_TAIL_BYTES:
        size, lines = _count(tail[: len(tail) - ENTRY_TAIL_BYTES])
        tail, cut_bytes, cut_lines = tail[len(tail) - ENTRY_TAIL_BYTES:], cut_bytes + size, cut_lines + lines
    # Cut at line ends where there are any, so the lines shown are whole.
    end = head.rfind(b"\n") + 1
    if end > 0 and end < len(head):
        size, lines = _count(head[end:])
        head, cut_bytes, cut_lines = head[:end], cut_bytes + size, cut_lines + lines
    start = tail.find(b"\n") + 1
    if 0 < start < len(tail):
        size, lines = _count(tail[:start])
        tail, cut_bytes, cut_lines = tail[start:], cut_bytes + size, cut_lines + lines
    kept = EntryBytes(head + tail)
    kept.cut_bytes, kept.cut_lines, kept.cut_at = cut_bytes, cut_lines, len(head)
    return kept


@dataclass
class AnswerBudget:
    """Counts the text of the entries taken into one answer against MAX_PAGE_BYTES."""

    limit: int = MAX_PAGE_BYTES
    used: int = 0
    refused: bool = False  # an entry did not fit: the answer ends before it

    def take(self, size: int) -> bool:
        """Whether an entry of `size` bytes still fits (the first always does: it is bounded)."""
        if self.used and self.used + size > self.limit:
            self.refused = True
            return False
        self.used += size
        return True


__all__ = [
    "AnswerBudget",
    "CARRY_TRIM_BYTES",
    "CUT_MARK",
    "ENTRY_HEAD_BYTES",
    "ENTRY_TAIL_BYTES",
    "EntryBytes",
    "MAX_ANSWER_BYTES",
    "MAX_ENTRY_BYTES",
    "MAX_PAGE_BYTES",
    "keep_entry",
]
