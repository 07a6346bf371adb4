"""Reading php -S logs fast, in blocks, forwards or backwards; the zone header; rotation.

Logs reach gigabytes and queries usually want the newest few entries, so the
readers never hold the whole file: they read blocks (64 KiB first, doubling up
to 4 MiB) into one reused buffer, cut them into entries with C-speed regex
passes, and carry only the unfinished entry across a block boundary. No entry is
held whole: past 1 MiB the carried entry is trimmed to its head and tail, and
every entry yielded is bounded the same way (log_bounds; the cut is counted). With a keyword (or the errors-only hints) a block is first
searched as a whole, anchored on a rare byte like grep does, and only the
entries around the hits are cut out: a 1 GB scan for a rare word takes ~0.2 s.

An entry is a line matching `log_parser.ENTRY_START` plus the following lines
that do not. Readers yield `(offset, raw_bytes)`; parsing is the caller's job,
so filters can skip most entries without parsing them.

A file being appended to while it is read: the readers stop at the size seen
when they opened it, trimmed back to the last newline. A trailing line without
its newline is a write in progress (php -S writes a line with one write call,
newline included), so it is left for the next query rather than shown cut.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from io import FileIO
from pathlib import Path

from .log_bounds import CARRY_TRIM_BYTES, CUT_MARK, ENTRY_HEAD_BYTES, ENTRY_TAIL_BYTES, MAX_ENTRY_BYTES, keep_entry
from .log_parser import ENTRY_START, ORCHESTRATOR_TAG, format_php_timestamp, head_timestamp
from ..safe_files import check_regular_or_absent, open_regular

try:  # Python >= 3.9 always has zoneinfo; tzdata may still be missing
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover
    ZoneInfo = None  # type: ignore[assignment,misc]

# Block sizes: small first (a tail query wants the last few KiB), growing when scanning far.
BLOCK_SIZE = 64 * 1024
MAX_BLOCK_SIZE = 4 * 1024 * 1024
# Longest unterminated last line taken as it is (a write in progress is otherwise left for later).
MAX_CARRY = 16 * 1024 * 1024
# Hits are collected a piece of a block at a time (and not inside an entry already taken), so a block
# dense with hits costs time, not memory.
SPAN_CHUNK = 256 * 1024
_OVERLAP = 2048  # longer than any needle (keywords are at most 500 characters)

# An entry start preceded by its newline: the literal "\n" prefix lets the regex engine skip fast.
_NL_START = re.compile(b"\n" + ENTRY_START.pattern)
_NL = b"\n"


@dataclass
class ReadStats:
    """What a reader did, for reporting: bytes read and the range it covered."""

    bytes_read: int = 0
    start: int = 0  # lowest offset of the range asked for
    end: int = 0  # end of the range actually read (size at open, trimmed to a newline)
    exhausted: bool = False  # the whole range was read (no early stop by the consumer)
    truncated: bool = False  # the file shrank under the reader (rotated): it stopped early


# --- searching blocks ------------------------------------------------------------------------------

SAMPLE_SIZE = 64 * 1024  # bytes of the first block searched that decide a search plan


class _Finder:
    """All occurrences of one literal in blocks of bytes, optionally ASCII case-insensitive.

    A multi-byte `find` runs at ~1 GB/s and lower-casing a block costs ~0.5 s/GB, while a
    one-byte `find` is memchr (~20 GB/s). So, like grep, anchor on the needle's rarest byte
    (both cases of a letter when ignoring case), measured on a sample, and verify each anchor
    hit; when anchors turn out common, search the whole needle instead.
    """

    # Above this many anchor hits per byte, verifying each in Python costs more than a full search:
    DENSE = 1 / 200  # measured break-even: one hit per ~200 bytes

    def __init__(self, needle: bytes, *, ignore_case: bool) -> None:
        self.ignore_case = ignore_case
        self.needle = needle.lower() if ignore_case else needle
        self.length = len(needle)
        self._anchor: tuple[int, tuple[bytes, ...]] = (0, (self.needle[:1],))  # (index in needle, byte variants)
        self.dense: bool | None = None  # None until a sample decided

    def _variants(self, code: int) -> tuple[bytes, ...]:
        char = bytes([code])
        return (char, char.upper()) if self.ignore_case and char.upper() != char else (char,)

    def plan(self, sample: bytes) -> None:
        """Choose the anchor with the fewest hits in `sample` (each case variant costs a pass)."""
        best: tuple[int, int] | None = None
        counts: dict[int, int] = {}
        for index, code in enumerate(self.needle):
            if code not in counts:
                variants = self._variants(code)
                counts[code] = sum(sample.count(v) for v in variants) + len(sample) // 100_000 * (len(variants) - 1)
            if best is None or counts[code] < best[0]:
                best = (counts[code], index)
        assert best is not None
        self._anchor = (best[1], self._variants(self.needle[best[1]]))
        self.dense = best[0] > len(sample) * self.DENSE

    def find_all(self, data: bytearray, lo: int, hi: int) -> list[int]:
        """Sorted offsets p in [lo, hi - len] where the needle starts."""
        if self.dense is None:
            self.plan(bytes(data[lo : min(hi, lo + SAMPLE_SIZE)]))
        if self.dense:
            return self._find_whole(data, lo, hi)
        hits, anchors = self._find_anchored(data, lo, hi)
        if anchors > (hi - lo) * self.DENSE * 4:  # the sample misled: plan again on this block
            self.plan(bytes(data[lo : min(hi, lo + SAMPLE_SIZE)]))
        return hits

    def _find_whole(self, data: bytearray, lo: int, hi: int) -> list[int]:
        if self.ignore_case:
            data, base, lo, hi = data[lo:hi].lower(), lo, 0, hi - lo
        else:
            base = 0
        needle, hits = self.needle, []
        p = data.find(needle, lo, hi)
        while p >= 0:
            hits.append(base + p)
            p = data.find(needle, p + 1, hi)
        return hits

    def _find_anchored(self, data: bytearray, lo: int, hi: int) -> tuple[list[int], int]:
        index, variants = self._anchor
        needle, length, hits, anchors = self.needle, self.length, [], 0
        first, stop = lo + index, hi - length + index + 1  # anchors where the whole needle fits
        for variant in variants:
            a = data.find(variant, first, stop)
            while a >= 0:
                anchors += 1
                p = a - index
                window = data[p : p + length]
                if (window.lower() if self.ignore_case else window) == needle:
                    hits.append(p)
                a = data.find(variant, a + 1, stop)
        if len(variants) > 1:
            hits.sort()
        return hits, anchors


class _AnyOf:
    """Case-sensitive 'contains any of these needles' (the errors-only superset filter).

    Needles with a rare byte are searched by anchor; the common ones together by one regex
    (sre factors a shared prefix: `" [4"|" [5"` runs as `" \\[[45]"`).
    """

    def __init__(self, needles: Sequence[bytes]) -> None:
        self.needles = tuple(needles)
        self._finders = [_Finder(n, ignore_case=False) for n in self.needles]
        self._regex: re.Pattern[bytes] | None = None
        self._planned = False

    def _plan(self, sample: bytes) -> None:
        for finder in self._finders:
            finder.plan(sample)
        dense = [f.needle for f in self._finders if f.dense]
        self._finders = [f for f in self._finders if not f.dense]
        self._regex = re.compile(b"|".join(re.escape(n) for n in dense)) if dense else None
        self._planned = True

    def find_all(self, data: bytearray, lo: int, hi: int) -> list[int]:
        if not self._planned:
            self._plan(bytes(data[lo : min(hi, lo + SAMPLE_SIZE)]))
        hits: list[int] = []
        for finder in self._finders:
            hits += finder.find_all(data, lo, hi)
        if self._regex is not None:
            hits += [m.start() for m in self._regex.finditer(data, lo, hi)]
        hits.sort()
        return hits

    def matches(self, entry: bytes | bytearray) -> bool:
        return any(needle in entry for needle in self.needles)


# --- entries within one buffer --------------------------------------------------------------------------
# Buffers are reused bytearrays longer than their contents: every search is bounded by `hi`.

def _starts(data: bytearray, lo: int, hi: int) -> list[int]:
    """Offsets of entry starts in data[lo:hi] (lo itself excluded: callers know whether it is one)."""
    return [m.start() + 1 for m in _NL_START.finditer(data, lo, hi)]


def _first_start(data: bytearray, lo: int, hi: int) -> int:
    """Offset of the first entry start after data[lo] (a line start found after a newline), or -1."""
    m = _NL_START.search(data, lo, hi)
    return m.start() + 1 if m else -1


def _last_start(data: bytearray, lo: int, hi: int) -> int:
    """Offset of the last entry start in data(lo:hi), or -1.

    Searched with the C-speed pattern in windows growing back from `hi` (a block of millions of
    short continuation lines costs a scan, not a Python step per line)."""
    window = 4096
    top = hi
    while top > lo:
        bottom = max(lo, top - window)
        last = -1
        for match in _NL_START.finditer(data, bottom, hi):  # to hi: a stamp may straddle `top`
            last = match.start() + 1
        if last > lo:
            return last
        top, window = bottom, window * 4
    return -1


def _entry_around(data: bytearray, p: int, lo: int, hi: int) -> tuple[int, int]:
    """The entry [start, end) holding offset p, given that lo is an entry start and hi an end."""
    start = data.rfind(_NL, lo, p) + 1
    while start > lo and not ENTRY_START.match(data, start, hi):
        start = data.rfind(_NL, lo, start - 1) + 1
    start = max(start, lo)
    m = _NL_START.search(data, p, hi)
    end = m.start() + 1 if m else hi
    return start, end


# Characters outside ASCII whose full case fold contains ASCII letters (the Kelvin sign folds to "k",
# "ß" to "ss", the "ﬁ" ligature to "fi" ...): the only way non-ASCII text can match an ASCII keyword.
_FOLDS_TO_ASCII = {
    chr(code): chr(code).casefold() for code in (
        0xDF, 0x130, 0x149, 0x17F, 0x1F0, 0x1E96, 0x1E97, 0x1E98, 0x1E99, 0x1E9A, 0x1E9E, 0x212A,
        0xFB00, 0xFB01, 0xFB02, 0xFB03, 0xFB04, 0xFB05, 0xFB06,
    )
}
FOLD_CHUNK = 1024 * 1024  # text decoded and case-folded at a time by the Unicode scan


def fold_keyword(keyword: bytes) -> str:
    """The keyword as matched: UTF-8 text, fully case-folded (`Ärger` and `ärger` alike, `STRASSE` and
    `straße` alike); undecodable bytes stay as they are (surrogate-escaped)."""
    return keyword.decode("utf-8", "surrogateescape").casefold()


def fold_text(data: bytes | bytearray) -> str:
    return data.decode("utf-8", "surrogateescape").casefold()


class _FoldFinder:
    """Lines holding a keyword under full Unicode case folding, in blocks of bytes.

    Case folding can change a character's length ("ß" -> "ss"), so hits are found in folded text
    and located by line: folding never adds or removes a newline, so the n-th line of the folded
    text is the n-th line of the bytes. Works on FOLD_CHUNK pieces cut at newlines (memory stays
    bounded); returns the byte offset of the start of each line that holds a hit."""

    def __init__(self, folded: str) -> None:
        self.needle = folded

    def find_all(self, data: bytearray, lo: int, hi: int) -> list[int]:
        hits: list[int] = []
        pos = lo
        while pos < hi:
            stop = min(hi, pos + FOLD_CHUNK)
            if stop < hi:
                newline = data.rfind(_NL, pos, stop)
                if newline < 0:  # one line longer than a chunk: take it whole
                    newline = data.find(_NL, stop, hi)
                stop = newline + 1 if newline >= 0 else hi
            self._hits_in(data, pos, stop, hits)
            pos = stop
        return hits

    def _hits_in(self, data: bytearray, lo: int, hi: int, hits: list[int]) -> None:
        text = fold_text(data[lo:hi])
        needle = self.needle
        line, counted = 0, 0  # text[:counted] holds `line` newlines
        walked, at = 0, lo  # the bytes' line `walked` starts at offset `at`
        i = text.find(needle)
        while i >= 0:
            line += text.count("\n", counted, i)
            counted = i
            while walked < line:
                at = data.find(_NL, at, hi) + 1
                walked += 1
            hits.append(at)
            next_line = text.find("\n", i)
            if next_line < 0:
                break
            i = text.find(needle, next_line + 1)


class _KeywordFinder:
    """A keyword under full Unicode case folding, as fast as the text allows.

    An ASCII keyword is found by the anchored ASCII-case-insensitive `_Finder` (memchr speed) in
    every block that holds no character that folds into ASCII; a block that holds one (rare in
    logs), and any keyword with non-ASCII letters, goes through the `_FoldFinder` scan."""

    def __init__(self, keyword: bytes) -> None:
        folded = fold_keyword(keyword)
        self.fold = _FoldFinder(folded)
        self.ascii = _Finder(folded.encode("ascii"), ignore_case=True) if folded.isascii() else None
        letters = set(folded)
        folding_into = [char.encode() for char, fold in _FOLDS_TO_ASCII.items() if letters & set(fold)]
        self._folding_into = re.compile(b"|".join(map(re.escape, folding_into))) if folding_into else None

    def find_all(self, data: bytearray, lo: int, hi: int) -> list[int]:
        if self.ascii is None:
            return self.fold.find_all(data, lo, hi)
        hits = self.ascii.find_all(data, lo, hi)
        # Only lines holding a character that folds into the keyword's letters need full folding; an ASCII
        # block (the common case, told at memory speed) holds none. A line the ASCII search already found
        # is found either way.
        if self._folding_into is None or data[lo:hi].isascii():
            return hits
        end = lo
        for match in self._folding_into.finditer(data, lo, hi):
            if match.start() < end:
                continue  # on a line already folded
            start = data.rfind(_NL, lo, match.start()) + 1
            stop = data.find(_NL, match.end(), hi)
            end = hi if stop < 0 else stop + 1
            hits += self.fold.find_all(data, max(start, lo), end)
        return sorted(set(hits))


class _Selector:
    """Picks entries of a buffer: all of them, or those a keyword / needles select."""

    def __init__(self, keyword: bytes | None, any_of: Sequence[bytes] | None) -> None:
        self.keyword = fold_keyword(keyword) if keyword else None
        self.any_of = _AnyOf(any_of) if any_of else None
        # A keyword spanning lines cannot be located by line; test whole entries instead.
        self._per_entry = bool(self.keyword and "\n" in self.keyword)
        self.finder = _KeywordFinder(keyword) if keyword and not self._per_entry else None

    @property
    def selects_all(self) -> bool:
        return self.keyword is None and self.any_of is None

    def accepts(self, entry: bytes | bytearray) -> bool:
        """The whole-entry test (used where hits cannot be located: orphans, multi-line keywords)."""
        if self.keyword is not None and self.keyword not in fold_text(entry):
            return False
        return self.any_of is None or self.any_of.matches(entry)

    def accepts_with(self, entry: bytes | bytearray, cut: _Cut) -> bool:
        """The whole-entry test for an entry a reader trimmed: what `cut` saw of the dropped part counts."""
        if self.keyword is not None and not cut.keyword and self.keyword not in fold_text(entry):
            return False
        return self.any_of is None or cut.any or self.any_of.matches(entry)

    def _source(self) -> _KeywordFinder | _AnyOf:
        return self.finder if self.finder is not None else self.any_of  # type: ignore[return-value]

    def hits(self, data: bytearray, lo: int, hi: int) -> tuple[bool, bool]:
        """(keyword found, any-of needle found) in data[lo:hi], stopping at the first of each."""
        keyword = False
        if self.keyword is not None:
            if self.finder is None:
                keyword = self.keyword in fold_text(data[lo:hi])
            else:
                keyword = _any_hit(self.finder, data, lo, hi)
        return keyword, self.any_of is not None and _any_hit(self.any_of, data, lo, hi)

    def spans(self, data: bytearray, lo: int, hi: int) -> list[tuple[int, int]]:
        """Selected entries [start, end) of data[lo:hi], ascending; lo is an entry start, hi an end."""
        if self.selects_all or self._per_entry:
            bounds = [lo, *_starts(data, lo, hi), hi]
            spans = list(zip(bounds, bounds[1:]))
            if self._per_entry:
                spans = [(s, e) for s, e in spans if self.accepts(bytes(data[s:e]))]
            return spans
        source = self._source()
        spans = []
        end = lo
        for piece in range(lo, hi, SPAN_CHUNK):
            stop = min(hi, piece + SPAN_CHUNK)
            if end >= stop:
                continue  # inside the entry just taken
            for p in source.find_all(data, max(piece, end), min(hi, stop + _OVERLAP)):
                if p >= stop:
                    break  # the next piece finds it
                if p < end:
                    continue  # inside the entry just taken
                start, end = _entry_around(data, p, lo, hi)
                if self.finder is None or self.any_of is None or self.any_of.matches(data[start:end]):
                    spans.append((start, end))
        return spans


def _any_hit(source: _KeywordFinder | _AnyOf, data: bytearray, lo: int, hi: int) -> bool:
    for piece in range(lo, hi, SPAN_CHUNK):
        if source.find_all(data, piece, min(hi, piece + SPAN_CHUNK + _OVERLAP)):
            return True
    return False


@dataclass
class _Cut:
    """What a reader dropped from the middle of the entry it carries across blocks (log_bounds)."""

    bytes: int = 0
    lines: int = 0
    keyword: bool = False  # the keyword was in the dropped part
    any: bool = False  # one of the any-of needles was


def _trim(data: bytearray, lo: int, hi: int, selector: _Selector, cut: _Cut) -> bytes:
    """data[lo:hi], a carried entry or a run of its lines, as head + CUT_MARK + tail; the middle
    (an earlier cut's mark included) is counted in `cut`, with whether a filter matched there."""
    front_end, tail_start = lo + ENTRY_HEAD_BYTES, hi - ENTRY_TAIL_BYTES
    mark = data.find(CUT_MARK, front_end, tail_start) if cut.bytes else -1
    cut.bytes += tail_start - front_end - (len(CUT_MARK) if mark >= 0 else 0)
    cut.lines += data.count(_NL, front_end, tail_start)
    keyword, any_of = selector.hits(data, max(lo, front_end - _OVERLAP), min(hi, tail_start + _OVERLAP))
    cut.keyword, cut.any = cut.keyword or keyword, cut.any or any_of
    return bytes(data[lo:front_end]) + CUT_MARK + bytes(data[tail_start:hi])


def _kept(data: bytearray, start: int, end: int, cut: _Cut | None = None) -> bytes:
    """An entry of the buffer as yielded: bounded (log_bounds.keep_entry)."""
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
        newline = chunk.rfind(_NL)
        if newline >= 0:
            return probe - size + newline + 1
        probe -= size
        if end - probe > MAX_CARRY:  # one giant unterminated line: take it as it is
            return end
    return 0


def _range(fd: int, start: int, end: int | None) -> tuple[int, int]:
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
    selector = _Selector(keyword, any_of)
    block = block_size or BLOCK_SIZE
    max_block = max(block, max_block_size or MAX_BLOCK_SIZE)
    buffer = _Buffer()
    with open_log(path) as handle:
        fd = handle.fileno()
        start, end = _range(fd, start, end)
        stats.start, stats.end = start, end
        pos, carry = end, b""  # carry: head-less lines continuing an entry further back
        cut = _Cut()  # what was trimmed from the carry (it never grows past CARRY_TRIM_BYTES)
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
            first = 0 if not extra else _first_start(data, 0, min(hi, size + extra + 64))
            if first < 0:  # no entry starts here: all of it continues an entry further back
                carry = _trim(data, 1, hi, selector, cut) if hi - 1 > CARRY_TRIM_BYTES else bytes(data[1:hi])
                continue
            spans = selector.spans(data, first, hi)
            if cut.bytes:  # the last entry holds the trimmed carry: decide on all of it
                last = _last_start(data, first, hi)
                last = first if last < 0 else last
                spans = [span for span in spans if span[0] != last]
                if selector.accepts_with(data[last:hi], cut):
                    spans.append((last, hi))
            carry = bytes(data[extra:first])
            for s, e in reversed(spans):
                yield base + s, _kept(data, s, e, cut if e == hi else None)
            cut = _Cut()
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
    selector = _Selector(keyword, any_of)
    block = block_size or BLOCK_SIZE
    max_block = max(block, max_block_size or MAX_BLOCK_SIZE)
    buffer = _Buffer()
    with open_log(path) as handle:
        fd = handle.fileno()
        start, end = _range(fd, start, end)
        stats.start, stats.end = start, end
        pos, carry, base = start, b"", start  # carry: the entry still open, beginning at `base`
        cut = _Cut()  # what was trimmed from the carry (it never grows past CARRY_TRIM_BYTES)
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
            hi = length if pos >= end else _last_start(data, max(len(carry) - 1, 0), length)
            if hi <= 0:  # still inside one entry
                carry = _trim(data, 0, length, selector, cut) if length > CARRY_TRIM_BYTES else bytes(data[:length])
                continue
            spans = selector.spans(data, 0, hi)
            if cut.bytes:  # the first entry holds the trimmed carry: decide on all of it
                first = _first_start(data, 0, hi)
                first = hi if first < 0 else first
                spans = [span for span in spans if span[0] != 0]
                if selector.accepts_with(data[0:first], cut):
                    spans.insert(0, (0, first))
            tail = bytes(data[hi:length])
            shift = cut.bytes - len(CUT_MARK) if cut.bytes else 0  # buffer -> file, past the trimmed carry
            for s, e in spans:
                yield base + s + (shift if s else 0), _kept(data, s, e, cut if s == 0 else None)
            cut = _Cut()
            carry, base = tail, base + hi + shift
        if carry and (selector.accepts_with(carry, cut) if cut.bytes else selector.accepts(carry)):
            yield base, keep_entry(carry, cut.bytes, cut.lines)
        stats.exhausted = True


# --- finding a time in the file -----------------------------------------------------------------------

def _entry_time_after(fd: int, pos: int, end: int, tz: tzinfo | None) -> tuple[int, datetime] | None:
    """The first entry start at or after `pos` (within ~1 MiB) and its timestamp."""
    lo = max(pos - 1, 0)
    # An entry starts within a few hundred bytes almost always: read a page first, 1 MiB only if not.
    for size in (4096, 1024 * 1024):
        chunk = os.pread(fd, min(size, end - lo), lo)
        found = 0 if pos == 0 and ENTRY_START.match(chunk) else _first_start(chunk, 0, len(chunk))
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
        lo, hi = _range(fd, start, end)
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


def stamps_out_of_order(path: str | os.PathLike[str], offsets: Sequence[int], tz: tzinfo | None,
                        start: int = 0) -> set[int]:
    """Of entry starts in one file, those whose head stamp is earlier than a stamp written in the
    LOOKBACK bytes before it (see OUT_OF_ORDER_TOLERANCE): possibly forged. The stamps compared are
    the lines' own (for a MyBB error block in the server log too, whatever its dateline says).

    Entries close together share one read; past MARK_BUDGET bytes read, the rest are compared with
    the MARK_LOOKBACK bytes before each only."""
    flagged: set[int] = set()
    groups: list[tuple[int, list[int]]] = []  # (read from, entry starts), ascending
    for offset in sorted(set(offsets)):
        lo = max(start, offset - LOOKBACK)
        if groups and lo <= groups[-1][1][-1]:
            groups[-1][1].append(offset)
        else:
            groups.append((lo, [offset]))
    budget = MARK_BUDGET
    with open_log(path) as handle:
        fd = handle.fileno()
        for lo, members in groups:
            if members[-1] - lo > budget:  # the budget is spent: a short look only
                lo = max(start, members[-1] - MARK_LOOKBACK)
                members = [offset for offset in members if offset >= lo] or members[-1:]
            hi = members[-1] + 64  # the last entry's own stamp
            data = b"\n" + os.pread(fd, hi - lo, lo)
            budget -= len(data)
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


# --- the zone header ------------------------------------------------------------------------------------

_ZONE_HEADER = re.compile(
    re.escape(ORCHESTRATOR_TAG)
    + r"log opened; timestamps are local time, zone (?:(?P<key>[^\s()]+) \((?P<o1>UTC[+-]\d\d:\d\d)\)"
    + r"|(?P<o2>UTC[+-]\d\d:\d\d))"
)


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_zone_header(now: datetime) -> str:
    """The first line of a fresh server log (no newline: the writer adds it), naming the stamps' zone.

    `now` is aware, in the zone the PHP server runs in (its TZ). Written in php's own stamp
    format so the readers treat it as an ordinary entry.
    """
    offset = now.utcoffset()
    if offset is None:
        raise ValueError("format_zone_header needs an aware datetime")
    key = getattr(now.tzinfo, "key", None)
    zone = f"{key} ({_format_offset(offset)})" if key else _format_offset(offset)
    return f"[{format_php_timestamp(now)}] {ORCHESTRATOR_TAG}log opened; timestamps are local time, zone {zone}"


def _parse_offset(text: str) -> timezone:
    sign = -1 if text[3] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[4:6]), minutes=int(text[7:9])))


def _zone(key: str) -> tzinfo | None:
    if ZoneInfo is None or not key:
        return None
    try:
        return ZoneInfo(key)
    except (ValueError, OSError, KeyError):  # unknown key, bad path, missing tzdata
        return None


def read_log_zone(path: str | os.PathLike[str]) -> tzinfo:
    """The zone the log's timestamps are in, from its header; else this process's zone (offset now)."""
    try:
        with open_log(path) as handle:
            head = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        head = ""
    return _zone_of_head(head)


def _zone_of_head(head: str) -> tzinfo:
    match = _ZONE_HEADER.search(head)
    if match:
        key = match.group("key")
        zone = _zone(key) if key else None
        return zone or _parse_offset(match.group("o1") or match.group("o2"))
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local


def local_zone_key() -> str | None:
    """The IANA key of this process's zone: TZ (without a leading ':'), else /etc/localtime's target."""
    if "TZ" in os.environ:
        key = os.environ["TZ"].lstrip(":") or "UTC"  # an empty TZ means UTC to libc
        if key.startswith("/"):
            key = key.split("zoneinfo/", 1)[1] if "zoneinfo/" in key else ""
        return key if _zone(key) is not None else None
    target = os.path.realpath("/etc/localtime")
    if "zoneinfo/" not in target:
        return None
    key = target.split("zoneinfo/", 1)[1]
    return key if _zone(key) is not None else None


def open_log(path: str | os.PathLike[str]) -> FileIO:
    """A log opened for reading: never through a link, never blocking (a FIFO is refused), regular only."""
    own = os.fspath(path).startswith(("/dev/fd/", "/proc/self/fd/"))  # a file this process holds open
    return FileIO(open_regular(path, os.O_RDONLY, follow=own), "rb", closefd=True)


# --- rotation --------------------------------------------------------------------------------------------

def backup_path(path: str | os.PathLike[str], number: int) -> Path:
    path = Path(path)
    return path.with_name(f"{path.name}.{number}")


def _shift_backups(path: Path, backups: int) -> None:
    """.N-1 -> .N, ..., .1 -> .2 (replacing .N drops the oldest); .1 is then free."""
    for number in range(backups - 1, 0, -1):
        older = backup_path(path, number)
        if os.path.lexists(older):
            os.replace(older, backup_path(path, number + 1))


def rotate_logs(path: str | os.PathLike[str], backups: int) -> bool:
    """On server start: server.log -> .1 -> ... -> .N (the oldest dropped). True if a log was moved.

    Renames keep each file's mode. backups <= 0 just removes the old log. Anything but a regular
    file (or a link, which a rename replaces without following) among them is an UnsafeFile, before
    anything is moved.
    """
    path = Path(path)
    for number in range(1, max(backups, 0) + 1):
        check_regular_or_absent(backup_path(path, number))
    if not check_regular_or_absent(path):
        return False
    if backups <= 0:
        path.unlink()
        return True
    _shift_backups(path, backups)
    os.replace(path, backup_path(path, 1))
    return True


def _existing_backups(path: Path, backups: int) -> list[Path]:
    return [backup_path(path, n) for n in range(1, backups + 1) if backup_path(path, n).exists()]


@dataclass
class InPlaceRotation:
    """What rotate_in_place did."""

    rotated: bool
    backup: Path | None = None
    bytes_copied: int = 0  # total bytes now in the backup
    bytes_during_freeze: int = 0  # of those, appended while the first copy ran
    reason: str = ""


class RotationRefused(OSError):
    """An in-place rotation that was not done (disk too full, ...): nothing was changed or left behind."""


# Free space a rotation leaves untouched: the server keeps logging, the machine keeps working.
ROTATION_DISK_MARGIN = 64 * 1024 * 1024


def _copy(src: int, dst: int, start: int, limit: int | None) -> int:
    """Copy src[start:limit] (limit None: to EOF) to the same offsets of dst; returns the end offset.

    Only data is copied: holes of a sparse log (SEEK_DATA/SEEK_HOLE) stay holes, so a 3 GB sparse
    file does not become 3 GB of zeros on disk. The caller sets dst's size to the returned end.
    """
    end = os.fstat(src).st_size if limit is None else limit
    pos = start
    while pos < end:
        try:
            data = os.lseek(src, pos, os.SEEK_DATA)
            hole = min(os.lseek(src, data, os.SEEK_HOLE), end)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                break  # only a hole from here to the end
            data, hole = pos, end  # no SEEK_DATA here: copy it all
        while data < hole:
            chunk = os.pread(src, min(1024 * 1024, hole - data), data)
            if not chunk:
                return data
            os.pwrite(dst, chunk, data)
            data += len(chunk)
        pos = hole
    return end


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO = _Auto()  # rotate_in_place: re-write the log's zone header if it had one


def _check_room(path: Path, src: int) -> None:
    """Refuse, before writing anything, a copy the disk cannot hold with room to spare."""
    info = os.fstat(src)
    needed = info.st_blocks * 512  # what the copy allocates: the data, not the holes
    try:
        disk = os.statvfs(path.parent)
    except OSError:
        return
    free = disk.f_bavail * disk.f_frsize
    if needed + ROTATION_DISK_MARGIN > free:
        raise RotationRefused(
            errno.ENOSPC, f"rotating {path.name} needs {needed // 2**20} MiB of free disk space plus "
            f"{ROTATION_DISK_MARGIN // 2**20} MiB to spare, and {free // 2**20} MiB are free; "
            "nothing was changed (free some space, or delete old server.log.N files)", str(path))


def rotate_in_place(
    path: str | os.PathLike[str],
    backups: int,
    freeze: Callable[[], AbstractContextManager[object]],
    *,
    header: str | None | _Auto = AUTO,
) -> InPlaceRotation:
    """Rotate a log that running writers hold open with O_APPEND (so it cannot be renamed).

    Copy the log to .1.partial (holes stay holes), shift the backups, then inside `with freeze():`
    (the caller pauses the writers) copy what was appended meanwhile, put .1 in place and truncate
    the log to 0; the writers' next appends land at offset 0. No line is lost or doubled. `header`
    is written to the emptied log while still frozen; by default a fresh zone header when the log
    had one (so later queries still know the zone). backups <= 0: just truncate.

    Links are not followed and only regular files are used (UnsafeFile otherwise); a full disk is
    a RotationRefused before anything is written, or, if it fills during the copy, after the partial
    copy is removed: either way nothing is left behind and the log is untouched.
    """
    path = Path(path)
    try:
        log = open_regular(path, os.O_RDWR, ours=True)
    except FileNotFoundError:
        return InPlaceRotation(False, reason=f"{path} does not exist")
    try:
        return _rotate_open_log(path, log, backups, freeze, header)
    finally:
        os.close(log)


def _rotate_open_log(
    path: Path, log: int, backups: int, freeze: Callable[[], AbstractContextManager[object]],
    header: str | None | _Auto,
) -> InPlaceRotation:
    mode = stat.S_IMODE(os.fstat(log).st_mode)
    if isinstance(header, _Auto):
        header = _fresh_zone_header(log)
    if backups <= 0:
        with freeze():
            os.ftruncate(log, 0)
            _append(log, header)
        return InPlaceRotation(True, reason="truncated (no backups kept)")
    for number in range(1, backups + 1):
        check_regular_or_absent(backup_path(path, number))
    target = backup_path(path, 1)
    temporary = target.with_name(target.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)  # a leftover of a killed rotation (or a planted link: unlinked, not followed)
    _check_room(path, log)
    dst = open_regular(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, ours=True)
    placed = False
    try:
        os.fchmod(dst, mode)
        copied = _copy(log, dst, 0, os.fstat(log).st_size)
        os.ftruncate(dst, copied)
        os.fsync(dst)  # the bulk reaches the disk before the writers are paused
        _shift_backups(path, backups)
        with freeze():  # short: the forum does not answer meanwhile
            end = _copy(log, dst, copied, None)
            # PHP writes a line over 8 KiB in pieces; the pause may fall between two. Keep that
            # line whole: its first pieces move to the new log, where the rest will follow.
            partial = _unfinished_line(log, end)
            os.ftruncate(dst, end - len(partial))
            os.replace(temporary, target)
            placed = True
            os.ftruncate(log, 0)
            _append(log, header)
            _append(log, partial.decode("utf-8", "surrogateescape") if partial else None, raw=True)
        os.fsync(dst)
    except OSError as exc:
        if not placed:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        if exc.errno == errno.ENOSPC and not isinstance(exc, RotationRefused):
            raise RotationRefused(errno.ENOSPC, "the disk filled up while the log was copied; the copy was removed "
                                  "and the log left as it was (free some space, or delete old server.log.N "
                                  "files)", str(path)) from exc
        raise
    finally:
        os.close(dst)
    return InPlaceRotation(True, target, end - len(partial), end - copied, reason="size limit")


def _fresh_zone_header(fd: int) -> str | None:
    head = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    if not _ZONE_HEADER.search(head):
        return None
    return format_zone_header(datetime.now(_zone_of_head(head)))


def _unfinished_line(fd: int, size: int, limit: int = 1024 * 1024) -> bytes:
    """The bytes after the file's last newline (b"" when it ends with one, or none in `limit`)."""
    lo = max(size - limit, 0)
    data = os.pread(fd, size - lo, lo)
    cut = data.rfind(b"\n")
    if cut < 0 and lo > 0:
        return b""  # a line longer than the limit: leave it where it is
    return data[cut + 1 :]


def _append(fd: int, text: str | None, raw: bool = False) -> None:
    """Append a line (newline added unless `raw`) through `fd`, at its end."""
    if text:
        data = text.encode("utf-8", "surrogateescape")
        data = data if raw or text.endswith("\n") else data + b"\n"
        os.pwrite(fd, data, os.fstat(fd).st_size)
