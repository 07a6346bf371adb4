"""Byte-level searches over log blocks: where entries start, and keywords (case folded) or error
markers, so blocks without a hit are skipped unparsed. A search plans itself on a sample of the
first block (regex or anchored scan), and plans again when the sample misled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .parser import ENTRY_START

if TYPE_CHECKING:
    from .reader import ReadCut


# Hits are collected a piece of a block at a time (and not inside an entry already taken), so a block
# dense with hits costs time, not memory.
SPAN_CHUNK = 256 * 1024
OVERLAP = 2048  # longer than any needle (keywords are at most 500 characters)

# An entry start preceded by its newline: the literal "\n" prefix lets the regex engine skip fast.
_NL_START = re.compile(b"\n" + ENTRY_START.pattern)
NL = b"\n"

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


def first_start(data: bytes | bytearray, lo: int, hi: int) -> int:
    """Offset of the first entry start after data[lo] (a line start found after a newline), or -1."""
    m = _NL_START.search(data, lo, hi)
    return m.start() + 1 if m else -1


def last_start(data: bytearray, lo: int, hi: int) -> int:
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
    start = data.rfind(NL, lo, p) + 1
    while start > lo and not ENTRY_START.match(data, start, hi):
        start = data.rfind(NL, lo, start - 1) + 1
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
                newline = data.rfind(NL, pos, stop)
                if newline < 0:  # one line longer than a chunk: take it whole
                    newline = data.find(NL, stop, hi)
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
                at = data.find(NL, at, hi) + 1
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
            start = data.rfind(NL, lo, match.start()) + 1
            stop = data.find(NL, match.end(), hi)
            end = hi if stop < 0 else stop + 1
            hits += self.fold.find_all(data, max(start, lo), end)
        return sorted(set(hits))


class BlockSelector:
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

    def accepts_with(self, entry: bytes | bytearray, cut: ReadCut) -> bool:
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
            for p in source.find_all(data, max(piece, end), min(hi, stop + OVERLAP)):
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
        if source.find_all(data, piece, min(hi, piece + SPAN_CHUNK + OVERLAP)):
            return True
    return False
