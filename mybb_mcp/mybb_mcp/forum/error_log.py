"""MyBB's own error log: whether MyBB logs errors and where (errorlogmedium, errorloglocation), and
reading its `<error>` blocks newest or oldest first, in blocks, as entry sources merged into log queries.

MyBB's error handler swallows PHP warnings raised inside MyBB, and SQL and user errors reach the php -S
log only as a bare `[503]`: this log is where their message, file and line are."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ..safe_files import open_regular
from .files import php_ini_value, read_config_php, read_settings_php

if TYPE_CHECKING:
    from ..logs.parser import LogEntry

# How a user turns MyBB's error logging on or off (the tool argument and the CLI command).
# (answers.commands.Commands.error_logging_on says the same for each face.)
ERROR_LOGGING_MCP_HINT = '`mybb_server_start` with `mybb_error_logging: "on"`'
ERROR_LOGGING_CLI_HINT = "`mybb-server errorlog on`"
# Where the same setting lives in MyBB's Admin CP.
ADMIN_CP_ERROR_LOGGING = (
    "Admin CP -> Configuration -> Settings -> Server and Optimization Options -> Error Logging Medium"
)

# --------------------------------------------------------------------------------------------
# MyBB's error logging: state and files
# --------------------------------------------------------------------------------------------

LOGGING_MEDIUMS = ("log", "both")  # errorlogmedium values with which MyBB writes its error log
DEST_OFF, DEST_SERVER_LOG, DEST_FILES = "off", "server_log", "files"


@dataclass(frozen=True)
class ErrorLoggingState:
    """MyBB's error logging as inc/settings.php has it, explained."""

    enabled: bool  # MyBB writes <error> blocks somewhere
    medium: str  # errorlogmedium: none, log, email, both
    location: str  # errorloglocation as written ('' = PHP's error_log)
    destination: str  # DEST_OFF, DEST_SERVER_LOG (php -S log) or DEST_FILES
    files: tuple[Path, ...]  # where the <error> blocks go when destination is DEST_FILES
    explanation: str
    warning: str | None = None  # when errors are invisible
    fix: str | None = None  # how to make them visible


def error_log_paths(root: Path, location: str, admin_dir: str = "admin") -> list[Path]:
    """Where a relative errorloglocation lands: php -S runs each script from its own directory,
    so front-end pages write under the forum root and the Admin CP under its directory."""
    location = location.strip()
    if not location:
        return []
    path = Path(os.path.expanduser(location))
    if path.is_absolute():
        return [path]
    return [Path(os.path.normpath(Path(root) / base / path)) for base in ("", admin_dir)]


def _fix_text() -> str:
    return (
        f"Turn it on for development with {ERROR_LOGGING_CLI_HINT} or {ERROR_LOGGING_MCP_HINT}: "
        "this sets errorlogmedium to 'log' and errorloglocation to '' in the forum's settings table and "
        "rebuilds inc/settings.php as MyBB's Admin CP does, so MyBB's errors go to PHP's error log, which is "
        "the server log, next to the requests that raised them. Turning it off restores the previous values "
        f"(or use {ADMIN_CP_ERROR_LOGGING})."
    )


def error_logging_state(
    settings: Mapping[str, str], root: Path | None = None, admin_dir: str = "admin", php_error_log: str | None = None
) -> ErrorLoggingState:
    """MyBB's error logging from its settings; with `root`, the files a relative location resolves to.
    `php_error_log` is PHP's error_log setting when the server is given one (php -d error_log=...)."""
    medium = settings.get("errorlogmedium", "none").strip() or "none"
    location = settings.get("errorloglocation", "").strip()
    enabled = medium in LOGGING_MEDIUMS
    if not enabled:
        emailed = " (errors are only emailed)" if medium in ("email", "mail") else ""
        return ErrorLoggingState(
            False, medium, location, DEST_OFF, (),
            f"MyBB error logging is off (errorlogmedium = '{medium}'){emailed}.",
            "MyBB's error logging is off: MyBB's error handler swallows PHP warnings raised inside MyBB and "
            "plugins, and SQL and user errors show only as a bare [503] in the server log; their message, "
            "file and line are recorded nowhere.",
            _fix_text(),
        )
    if not location and not php_error_log:
        return ErrorLoggingState(
            True, medium, location, DEST_SERVER_LOG, (),
            f"MyBB logs errors (errorlogmedium = '{medium}') to PHP's error log, which under php -S is the "
            "server log itself.",
        )
    target = location or php_error_log or ""
    files = tuple(error_log_paths(root, target, admin_dir)) if root is not None else ()
    if not location:
        where = f"to PHP's error log, which the server's PHP settings set to {php_error_log} instead of the server log"
    elif Path(os.path.expanduser(location)).is_absolute():
        where = f"to {location}"
    elif len(files) == 2:
        where = (
            f"to {location!r} relative to each script's directory: php -S runs every request from its "
            f"script's directory, so front-end errors land in {files[0]} and Admin CP errors in {files[1]}"
        )
    else:
        where = f"to {location!r} relative to each script's directory"
    return ErrorLoggingState(
        True, medium, location, DEST_FILES, files, f"MyBB logs errors (errorlogmedium = '{medium}') {where}."
    )


def mybb_error_log_files(
    root: Path, settings: Mapping[str, str], admin_dir: str | None = None, php_error_log: str | None = None
) -> list[Path]:
    """The existing files MyBB's errorloglocation resolves to (forum root and Admin CP directory for a
    relative path). An empty location means PHP's error_log: the php -S log itself, read anyway, so []
    here; unless the server's PHP settings name a file (`php_error_log`), which is then returned."""
    if admin_dir is None:
        cfg = read_config_php(root)
        admin_dir = cfg.admin_dir if cfg else "admin"
    location = settings.get("errorloglocation", "").strip() or php_error_log or ""
    paths = error_log_paths(root, location, admin_dir)
    unique = list(dict.fromkeys(paths))
    return [p for p in unique if p.is_file()]


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
            from ..logs import parser as log_parser

            parse = log_parser.parse_mybb_error  # type: ignore[attr-defined]
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

