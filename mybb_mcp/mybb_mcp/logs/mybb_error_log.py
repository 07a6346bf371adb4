"""MyBB's own error log read as an entry source merged into log queries: its `<error>` blocks newest or
oldest first, in blocks, each parsed into a LogEntry (`forum/error_log.py` says which files MyBB writes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import tzinfo
from pathlib import Path
from typing import BinaryIO, Protocol

from ..forum.error_log import mybb_error_log_files
from ..forum.files import php_ini_value, read_config_php, read_settings_php
from ..safe_files import open_regular
from .parser import LogEntry, parse_mybb_error

# --------------------------------------------------------------------------------------------
# Reading MyBB's error log
# --------------------------------------------------------------------------------------------

# Every block MyBB's log_error() writes begins so (MyBB 1.6 to 1.8); matching the dateline too keeps the
# word "<error>" inside a message from passing for a block, and finds a block that follows a write cut short.
_START = b"<error>\n\t<dateline>"
_END = b"\n</error>"  # on a line of its own: "</error>" inside a message does not end the block
MAX_BLOCK_BYTES = 4 * 1024 * 1024  # a "block" larger than this is garbage; dropped rather than held


class _ParseBlock(Protocol):
    """logs.parser.parse_mybb_error's shape: one `<error>` block -> a LogEntry (None if it is not one)."""

    def __call__(
        self, block: str, *, tz: tzinfo | None, location: str | None, offset: int | None
    ) -> LogEntry | None: ...


def _read_at(handle: BinaryIO, start: int, end: int) -> bytes:
    handle.seek(start)
    return handle.read(end - start)


class MyBBErrorLog:
    """One MyBB error log file as an entry source for log queries (the EntrySource protocol of
    logs.query): `name`, `newest_first()` and `oldest_first()`. Reads in blocks, backwards for
    newest_first, never holding the whole file; a block still being written (no `</error>` yet) is skipped."""

    def __init__(
        self,
        path: Path,
        *,
        name: str | None = None,
        tz: tzinfo | None = None,
        chunk_size: int = 64 * 1024,
        parse: _ParseBlock | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = name or f"mybb:{self.path}"
        self.tz = tz
        self.chunk_size = max(chunk_size, 16)
        self._parse = parse

    def __repr__(self) -> str:
        return f"MyBBErrorLog({str(self.path)!r})"

    # Raw blocks: (byte offset of '<error>', the block's text from '<error>' to '</error>').

    def blocks_oldest_first(self) -> Iterator[tuple[int, str]]:
        try:
            handle = open(open_regular(self.path, os.O_RDONLY), "rb")  # no link followed, no FIFO waited on
        except OSError:
            return
        with handle:
            size = os.fstat(handle.fileno()).st_size  # what is appended meanwhile waits for the next query
            buf, base = b"", 0  # buf holds the file's bytes [base, base + len(buf))
            while True:
                start = buf.find(_START)
                while start >= 0:
                    end = buf.find(_END, start)
                    if end < 0:
                        break
                    restart = buf.find(_START, start + 1, end)
                    if restart >= 0:  # a write cut short, then a complete block: skip the former
                        start = restart
                        continue
                    stop = end + len(_END)
                    yield base + start, buf[start:stop].decode("utf-8", "replace")
                    buf, base = buf[stop:], base + stop
                    start = buf.find(_START)
                read_to = base + len(buf)
                if read_to >= size:
                    return
                if start < 0:  # no block begun: keep only what could be the head of a split marker
                    keep = min(len(buf), len(_START) - 1)
                    buf, base = buf[len(buf) - keep :], base + len(buf) - keep
                elif len(buf) - start > MAX_BLOCK_BYTES:  # no end in sight: give up on this block
                    buf, base = buf[start + 1 :], base + start + 1
                else:
                    buf, base = buf[start:], base + start
                buf += _read_at(handle, read_to, min(read_to + self.chunk_size, size))

    def blocks_newest_first(self) -> Iterator[tuple[int, str]]:
        try:
            handle = open(open_regular(self.path, os.O_RDONLY), "rb")  # no link followed, no FIFO waited on
        except OSError:
            return
        with handle:
            pos = os.fstat(handle.fileno()).st_size
            buf = b""  # buf holds the file's bytes [pos, pos + len(buf)): what lies after is done
            while True:
                start = buf.rfind(_START)
                while start >= 0:
                    end = buf.find(_END, start)
                    if end >= 0:  # else the block was cut short (or is being written): skip it
                        yield pos + start, buf[start : end + len(_END)].decode("utf-8", "replace")
                    buf = buf[:start]
                    start = buf.rfind(_START)
                if pos == 0:
                    return
                if len(buf) > MAX_BLOCK_BYTES:
                    buf = b""  # the block it belongs to is dropped (it will lack its end)
                new_pos = max(pos - self.chunk_size, 0)
                buf = _read_at(handle, new_pos, pos) + buf
                pos = new_pos

    # Entries, through log_parser.parse_mybb_error.

    def _entries(self, blocks: Iterator[tuple[int, str]]) -> Iterator[LogEntry]:
        parse = self._parse
        if parse is None:
            parse = parse_mybb_error
        location = str(self.path)
        for offset, block in blocks:
            entry = parse(block, tz=self.tz, location=location, offset=offset)
            if entry is not None:
                yield entry

    def newest_first(self) -> Iterator[LogEntry]:
        return self._entries(self.blocks_newest_first())

    def oldest_first(self) -> Iterator[LogEntry]:
        return self._entries(self.blocks_oldest_first())


def error_log_sources(root: Path, tz: tzinfo | None = None, php_settings: Sequence[str] = ()) -> list[MyBBErrorLog]:
    """Entry sources for every MyBB error log file of the forum (see mybb_error_log_files).
    `php_settings` are the server's php -d settings: an error_log there is where MyBB's errors go."""
    cfg = read_config_php(root)
    files = mybb_error_log_files(
        root, read_settings_php(root), cfg.admin_dir if cfg else "admin", php_ini_value(php_settings, "error_log")
    )
    sources = []
    for path in files:
        try:
            label = str(path.relative_to(root))
        except ValueError:
            label = str(path)
        sources.append(MyBBErrorLog(path, name=f"mybb:{label}", tz=tz))
    return sources

