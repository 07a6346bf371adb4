"""Diagnostics PHP raises while compiling a file, which OPcache never repeats.

PHP says `Unsupported declare`, `Using ${var} in strings is deprecated` and the like once, when it
compiles the file; OPcache then serves the compiled script and the next requests are silent although
the code still holds them. So a compile-time diagnostic stays true of its file until the file changes
(OPcache recompiles a changed file, and says it again if it is still there): "resolved" needs a change.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

# PHP 8.x messages raised by the compiler (zend_compile.c), not by running the code.
COMPILE_TIME_MESSAGES = (
    "Unsupported declare",
    "in strings is deprecated",  # Using ${var} / ${expr} (variable variables) in strings
    "declared before required parameter",
    "follows optional parameter",
    "Private methods cannot be final",
    "is deprecated, use",  # e.g. `(real)` casts, `implode()` orders: compile-time forms
    "Unparenthesized",
    "Cannot use 'static'",
    "Cannot redeclare",
)


def is_compile_time(message: str) -> bool:
    first = message.split("\n", 1)[0]
    return any(marker in first for marker in COMPILE_TIME_MESSAGES)


def source_path(where: str | None, root: Path | None) -> Path | None:
    """The file of a `file:line` place, absolute (relative places are the forum root's)."""
    if not where:
        return None
    file = where.rsplit(":", 1)[0] if where.rsplit(":", 1)[-1].isdigit() else where
    path = Path(file)
    if not path.is_absolute():
        if root is None:
            return None
        path = root / path
    return path


def unchanged_since(message: str, where: str | None, last_seen: datetime | None, root: Path | None) -> bool:
    """Whether a compile-time diagnostic's file is still the one PHP compiled when it said it (not
    modified after `last_seen`). A file that is gone has changed."""
    if not is_compile_time(message) or last_seen is None:
        return False
    path = source_path(where, root)
    if path is None:
        return False
    try:
        modified = os.stat(path).st_mtime
    except OSError:
        return False
    return modified <= last_seen.timestamp() + 1.0  # the log's stamps are whole seconds
