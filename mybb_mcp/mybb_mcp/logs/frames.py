"""Stack frames of an error entry, with the call made at each (PHP's trace, MyBB's back trace, Xdebug's
stack); which frames are the tool's own PHP (its router and request wrapper), shown as such; and the
statement behind an SQL error MyBB's SQLite layer reports without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..forum.php_text import call_end

# Stack frames, as a call site (file, line) and the call made there. PHP's trace and MyBB's back trace
# list the innermost call first; Xdebug's stack lists {main} first.
PHP_FRAME = re.compile(r"#\d+ (.+?)\((\d+)\): (.*)")  # #0 /srv/forum/inc/class_plugins.php(142): f()
MYBB_FRAME = re.compile(r"#\d+\s+(.*?) called at \[(.+?):(\d+)\]")  # #2  f() called at [/inc/x.php:142]
XDEBUG_FRAME = re.compile(r"\s*\d+\. (.*)\s(/\S*(?:\(\d+\) : eval\(\)'d code)?):(\d+)$")  # 3. f() /x.php:100
INCLUDE = re.compile(r"^(?:include|require)(?:_once)?\b")

Frame = tuple[str, "int | None", str]  # file, line, the call made there ("" where the error happened)


def frames(source_file: str | None, source_line: int | None, continuation: Sequence[str]) -> list[Frame]:
    """Where the error happened, then each call site outwards (innermost first), with its call."""
    found: list[Frame] = []
    if source_file:
        found.append((source_file, source_line, ""))
    xdebug: list[Frame] = []
    for line in continuation:
        match = PHP_FRAME.match(line)
        if match:
            found.append((match.group(1), int(match.group(2)), match.group(3)))
            continue
        match = MYBB_FRAME.match(line)
        if match:
            found.append((match.group(2), int(match.group(3)), match.group(1)))
            continue
        match = XDEBUG_FRAME.match(line)
        if match:
            xdebug.append((match.group(2), int(match.group(3)), match.group(1)))
    found.extend(reversed(xdebug))
    return [(path, line, call) for path, line, call in found if path and path != "Unknown" and line != 0]


# --- the tool's own PHP ---------------------------------------------------------------------------------

_PACKAGE = Path(__file__).parent.parent
TOOL_PHP_DIRS = tuple(sorted({f"{base / folder}/" for base in (_PACKAGE, _PACKAGE.resolve())
                              for folder in ("orchestration", "workbench")}))
TOOL_FRAME = "[mybb-mcp's request wrapper, not the forum's code]/"


def is_tool_frame(path: str) -> bool:
    """A frame of the tool's own PHP (its router and request wrapper around MyBB's objects): neither the
    forum's code nor MyBB's."""
    return path.startswith(TOOL_PHP_DIRS) or path.startswith(TOOL_FRAME)


def tool_frames_named(continuation: list[str]) -> list[str]:
    """Stack lines with the tool's own PHP named as such, not shown as if they were the forum's code."""
    if not any(d in line for line in continuation for d in TOOL_PHP_DIRS):
        return continuation
    named = []
    for line in continuation:
        for directory in TOOL_PHP_DIRS:
            line = line.replace(directory, TOOL_FRAME)
        named.append(line)
    return named


# --- SQL errors on SQLite -----------------------------------------------------------------------------------

# MyBB 1.8's DB_SQLite::query() passes PDO's message as the statement and its code as the query object, so
# its error reads `SQL Error: 0 - Array` (errorInfo() as text) and `Query:` holds the error, not the SQL.
_SQLITE_LOST = re.compile(r"^SQL Error: \d+ - Array\s+Query: (SQLSTATE\[\w+\].*)$", re.DOTALL)
_QUERY_CALL = re.compile(r"(?:\$\w+(?:\s*->\s*\w+)*\s*)?->\s*(?:query|write_query|simple_select|insert_query"
                         r"|insert_query_multiple|update_query|delete_query|replace_query)\s*\(")
MAX_STATEMENT_CHARS = 600


def sqlite_error(message: str) -> str | None:
    """PDO's own words when MyBB's SQLite layer garbled the message; None for any other message."""
    match = _SQLITE_LOST.match(message.strip())
    return " ".join(match.group(1).split()) if match else None


def statement_at(path: Path, line: int | None) -> str | None:
    """The `$db->query(...)` call (or simple_select, update_query ...) written at `path`:`line`: its
    statement as the code builds it, read from the file; None when it cannot be read or is not there."""
    if line is None or line < 1:
        return None
    try:
        with open(path, "rb") as handle:
            text = handle.read(4 * 1024 * 1024).decode("utf-8", "replace").split("\n")
    except OSError:
        return None
    chunk = "\n".join(text[line - 1:line + 9])
    match = _QUERY_CALL.search(chunk)
    if not match:
        return None
    end = call_end(chunk, match.end() - 1)
    call = chunk[match.start():end] if end else chunk[match.start():]
    call = " ".join(call.split())
    return call if len(call) <= MAX_STATEMENT_CHARS else call[:MAX_STATEMENT_CHARS - 1] + "…"


def explained_sql(message: str, source: Path | None, line: int | None, place: str) -> str | None:
    """An SQL error MyBB's SQLite layer garbled, in PDO's own words once, with the statement the code at
    `place` runs; None when the message is not such a one."""
    words = sqlite_error(message)
    if words is None:
        return None
    statement = statement_at(source, line) if source is not None else None
    said = (f"; the statement (MyBB's SQLite layer reports PDO's message in its place), as {place} builds it: "
            f"{statement}") if statement else "; MyBB's SQLite layer did not report the statement"
    return words + said
