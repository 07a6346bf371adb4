"""Reading php -S logs fast, in blocks, forwards or backwards (the zone header: zone.py; rotation:
rotation.py; the byte-level searches: finders.py).

Logs reach gigabytes and queries usually want the newest few entries, so the
readers never hold the whole file: they read blocks (64 KiB first, doubling up
to 4 MiB) into one reused buffer, cut them into entries with C-speed regex
passes, and carry only the unfinished entry across a block boundary. No entry is
held whole: past 1 MiB the carried entry is trimmed to its head and tail, and
every entry yielded is bounded the same way (bounds; the cut is counted). With a
keyword (or the errors-only hints) a block is first searched as a whole, anchored
on a rare byte like grep does, and only the entries around the hits are cut out:
a 1 GB scan for a rare word takes ~0.2 s.

An entry is a line matching `parser.ENTRY_START` plus the following lines
that do not. Readers yield `(offset, raw_bytes)`; parsing is the caller's job,
so filters can skip most entries without parsing them.

A file being appended to while it is read: the readers stop at the size seen
when they opened it, trimmed back to the last newline. A trailing line without
its newline is a write in progress (php -S writes a line with one write call,
newline included), so it is left for the next query rather than shown cut.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from io import FileIO

from ..safe_files import open_regular
from .bounds import CARRY_TRIM_BYTES, CUT_MARK, ENTRY_HEAD_BYTES, ENTRY_TAIL_BYTES, MAX_ENTRY_BYTES, keep_entry
from .finders import NL, OVERLAP, BlockSelector, first_start, last_start

# Block sizes: small first (a tail query wants the last few KiB), growing when scanning far.
BLOCK_SIZE = 64 * 1024
MAX_BLOCK_SIZE = 4 * 1024 * 1024
# Longest unterminated last line taken as it is (a write in progress is otherwise left for later).
MAX_CARRY = 16 * 1024 * 1024


@dataclass
class ReadStats:
    """What a reader did, for reporting: bytes read and the range it covered."""

    bytes_read: int = 0
    start: int = 0  # lowest offset of the range asked for
    end: int = 0  # end of the range actually read (size at open, trimmed to a newline)
    exhausted: bool = False  # the whole range was read (no early stop by the consumer)
    truncated: bool = False  # the file shrank under the reader (rotated): it stopped early


@dataclass
class ReadCut:
    """What a reader dropped from the middle of the entry it carries across blocks (bounds)."""

    bytes: int = 0
    lines: int = 0
    keyword: bool = False  # the keyword was in the dropped part
    any: bool = False  # one of the any-of needles was


def _trim(data: bytearray, lo: int, hi: int, selector: BlockSelector, cut: ReadCut) -> bytes:
    """data[lo:hi], a carried entry or a run of its lines, as head + CUT_MARK + tail; the middle
    (an earlier cut's mark included) is counted in `cut`, with whether a filter matched there."""
    front_end, tail_start = lo + ENTRY_HEAD_BYTES, hi - ENTRY_TAIL_BYTES
    mark = data.find(CUT_MARK, front_end, tail_start) if cut.bytes else -1
    cut.bytes += tail_start - front_end - (len(CUT_MARK) if mark >= 0 else 0)
    cut.lines += data.count(NL, front_end, tail_start)
    keyword, any_of = selector.hits(data, max(lo, front_end - OVERLAP), min(hi, tail_start + OVERLAP))
    cut.keyword, cut.any = cut.keyword or keyword, cut.any or any_of
    return bytes(data[lo:front_end]) + CUT_MARK + bytes(data[tail_start:hi])


def _kept(data: bytearray, start: int, end: int, cut: ReadCut | None = None) -> bytes:
    """An entry of the buffer as yielded: bounded (bounds.keep_entry)."""
    if cut is not None and cut.bytes:
        return keep_entry(data[start:end], cut.bytes, cut.lines)
    if end - start <= MAX_ENTRY_BYTES:
        return bytes(data[start:end])
    return keep_entry(data[start:end])


class _Buffer:
    """One bytearray reused for every block: a fresh multi-MiB bytes object per block (and the
    concatenation with the carry) costs page faults and copies, ~0.3 s per GB scanned."""

    def __init__(self) -> None:
        self.data = bytearray()

    def fill(self, fd: int, size: int, offset: int, *, before: bytes = b"", after: bytes = b"") -> int | None:
        """Lay out before + file[offset:offset+size] + after from index 0; the length, None if the
        file ended early (it shrank)."""
        need = len(before) + size + len(after)
        if len(self.data) < need:
            self.data = bytearray(max(need, min(2 * len(self.data), need + MAX_BLOCK_SIZE)))
        data = self.data
        data[: len(before)] = before
        with memoryview(data) as view:
            got = os.preadv(fd, [view[len(before) : len(before) + size]], offset)
        if got < size:
            return None
        data[len(before) + size : need] = after
        return need


# --- the readers ------------------------------------------------------------------------------------------

def _complete_end(fd: int, end: int) -> int:
    """`end` moved back to just after the last newline (see the module doc: partial last line)."""
    probe = end
    while probe > 0:
        size = min(64 * 1024, probe)
        chunk = os.pread(fd, size, probe - size)
        if len(chunk) < size:  # shrank meanwhile: read what is there
            return _complete_end(fd, os.fstat(fd).st_size) if os.fstat(fd).st_size < end else probe
        newline = chunk.rfind(NL)
        if newline >= 0:
            return probe - size + newline + 1
        probe -= size
        if end - probe > MAX_CARRY:  # one giant unterminated line: take it as it is
            return end
    return 0


def read_range(fd: int, start: int, end: int | None) -> tuple[int, int]:
    size = os.fstat(fd).st_size
    end = size if end is None else max(0, min(end, size))
    end = _complete_end(fd, end)
    return min(max(0, start), end), end


def iter_entries_backward(
    path: str | os.PathLike[str],
    *,
    end: int | None = None,
    keyword: bytes | None = None,
    start: int = 0,
    any_of: Sequence[bytes] | None = None,
    stats: ReadStats | None = None,
    block_size: int | None = None,
    max_block_size: int | None = None,
) -> Iterator[tuple[int, bytes]]:
    """(offset, raw entry) newest first, from `end` (default: the size now) down to `start`.

    `keyword` (UTF-8 bytes): only entries holding it on any line, case-insensitive (full Unicode
    case folding: `ärger` finds `Ärger`).
    `any_of`: only entries holding at least one of these byte strings (case-sensitive).
    `start` must be 0 or an entry start; at 0, text before the first timestamped line is
    an orphan entry of its own.
    """
    stats = stats if stats is not None else ReadStats()
    selector = BlockSelector(keyword, any_of)
    block = block_size or BLOCK_SIZE
    max_block = max(block, max_block_size or MAX_BLOCK_SIZE)
    buffer = _Buffer()
    with open_log(path) as handle:
        fd = handle.fileno()
        start, end = read_range(fd, start, end)
        stats.start, stats.end = start, end
        pos, carry = end, b""  # carry: head-less lines continuing an entry further back
        cut = ReadCut()  # what was trimmed from the carry (it never grows past CARRY_TRIM_BYTES)
        while pos > start:
            size = min(block, pos - start)
            lo_file = pos - size
            extra = 1 if lo_file > start else 0  # the byte before tells whether lo_file starts a line
            hi = buffer.fill(fd, size + extra, lo_file - extra, after=carry)
            stats.bytes_read += size + extra
            if hi is None:
                stats.truncated = True
                return
            data, base = buffer.data, lo_file - extra
            pos, block = lo_file, min(block * 2, max_block)
            # Only the block can hold an entry start (the carry has none): search it, and a stamp's length on.
            first = 0 if not extra else first_start(data, 0, min(hi, size + extra + 64))
            if first < 0:  # no entry starts here: all of it continues an entry further back
                carry = _trim(data, 1, hi, selector, cut) if hi - 1 > CARRY_TRIM_BYTES else bytes(data[1:hi])
                continue
            spans = selector.spans(data, first, hi)
            if cut.bytes:  # the last entry holds the trimmed carry: decide on all of it
                last = last_start(data, first, hi)
                last = first if last < 0 else last
                spans = [span for span in spans if span[0] != last]
                if selector.accepts_with(data[last:hi], cut):
                    spans.append((last, hi))
            carry = bytes(data[extra:first])
            for s, e in reversed(spans):
                yield base + s, _kept(data, s, e, cut if e == hi else None)
            cut = ReadCut()
        stats.exhausted = True


def iter_entries_forward(
    path: str | os.PathLike[str],
    *,
    start: int = 0,
    keyword: bytes | None = None,
    end: int | None = None,
    any_of: Sequence[bytes] | None = None,
    stats: ReadStats | None = None,
    block_size: int | None = None,
    max_block_size: int | None = None,
) -> Iterator[tuple[int, bytes]]:
    """(offset, raw entry) oldest first, from `start` (0 or an entry start) up to `end`.

    Filters as in `iter_entries_backward`.
    """
    stats = stats if stats is not None else ReadStats()
    selector = BlockSelector(keyword, any_of)
    block = block_size or BLOCK_SIZE
    max_block = max(block, max_block_size or MAX_BLOCK_SIZE)
    buffer = _Buffer()
    with open_log(path) as handle:
        fd = handle.fileno()
        start, end = read_range(fd, start, end)
        stats.start, stats.end = start, end
        pos, carry, base = start, b"", start  # carry: the entry still open, beginning at `base`
        cut = ReadCut()  # what was trimmed from the carry (it never grows past CARRY_TRIM_BYTES)
        while pos < end:
            size = min(block, end - pos)
            length = buffer.fill(fd, size, pos, before=carry)
            stats.bytes_read += size
            if length is None:
                stats.truncated = True
                return
            data = buffer.data
            pos, block = pos + size, min(block * 2, max_block)
            # Only the new block can hold an entry start (the carry holds none past its own first byte).
            hi = length if pos >= end else last_start(data, max(len(carry) - 1, 0), length)
            if hi <= 0:  # still inside one entry
                carry = _trim(data, 0, length, selector, cut) if length > CARRY_TRIM_BYTES else bytes(data[:length])
                continue
            spans = selector.spans(data, 0, hi)
            if cut.bytes:  # the first entry holds the trimmed carry: decide on all of it
                first = first_start(data, 0, hi)
                first = hi if first < 0 else first
                spans = [span for span in spans if span[0] != 0]
                if selector.accepts_with(data[0:first], cut):
                    spans.insert(0, (0, first))
            tail = bytes(data[hi:length])
            shift = cut.bytes - len(CUT_MARK) if cut.bytes else 0  # buffer -> file, past the trimmed carry
            for s, e in spans:
                yield base + s + (shift if s else 0), _kept(data, s, e, cut if s == 0 else None)
            cut = ReadCut()
            carry, base = tail, base + hi + shift
        if carry and (selector.accepts_with(carry, cut) if cut.bytes else selector.accepts(carry)):
            yield base, keep_entry(carry, cut.bytes, cut.lines)
        stats.exhausted = True


def open_log(path: str | os.PathLike[str]) -> FileIO:
    """A log opened for reading: never through a link, never blocking (a FIFO is refused), regular only."""
    own = os.fspath(path).startswith(("/dev/fd/", "/proc/self/fd/"))  # a file this process holds open
    return FileIO(open_regular(path, os.O_RDONLY, follow=own), "rb", closefd=True)
