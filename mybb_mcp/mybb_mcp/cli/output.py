"""How the CLI writes: markdown (coloured on a terminal, control characters escaped) or JSON; its exit
codes.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, TextIO

from ..answers.commands import CLI_COMMANDS
from ..answers.lifecycle import render_result
from ..logs.parser import LEVELS
from ..untrusted import terminal_safe

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..orchestration import ServerResult


PROG = "mybb-server"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


# ---------------------------------------------------------------------------- output


def to_jsonable(value: Any) -> Any:
    """Dataclasses -> dicts with every field (stable keys); paths, datetimes and enums -> strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):  # before str: Failure is a str enum
        return to_jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (PurePath, datetime, date)):
        return value.isoformat() if isinstance(value, (datetime, date)) else str(value)
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    return str(value)


BOLD, RED, YELLOW, RESET = "\x1b[1m", "\x1b[31m", "\x1b[33m", "\x1b[0m"
_RED_LEVELS = {"fatal", "parse", "exception", "sql", "error", "http_5xx"}
_YELLOW_LEVELS = {"warning", "http_4xx"}
# Level tags as the renderers write them: **FATAL**, **WARNING** ...
_LEVEL_TAG = re.compile(r"\*\*(" + "|".join(re.escape(level.upper()) for level in LEVELS) + r")\*\*")


def use_colour(stream: TextIO) -> bool:
    """ANSI colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def colourize(markdown: str) -> str:
    def tag(match: re.Match[str]) -> str:
        level = match.group(1).lower()
        colour = RED if level in _RED_LEVELS else YELLOW if level in _YELLOW_LEVELS else ""
        return f"{colour}{match.group(0)}{RESET}" if colour else match.group(0)

    lines = []
    for line in markdown.split("\n"):
        if line.startswith("# Error"):
            line = f"{BOLD}{RED}{line}{RESET}"
        elif line.startswith("#"):
            line = f"{BOLD}{line}{RESET}"
        else:
            line = _LEVEL_TAG.sub(tag, line)
        lines.append(line)
    return "\n".join(lines)


@dataclass
class Output:
    """Where a command writes: markdown (coloured on a terminal) or JSON."""

    as_json: bool
    stream: TextIO

    def markdown(self, text: str) -> None:
        # Log lines and other processes' words are in it: no escape sequence reaches the terminal.
        text = terminal_safe(text)
        self.stream.write(colourize(text) if use_colour(self.stream) else text)
        self.stream.flush()

    def show(self, value: Any, markdown: Callable[[], str]) -> None:
        """A command's result: as JSON with --json, else the markdown `markdown()` makes of it."""
        if self.as_json:
            self.data(value)
        else:
            self.markdown(markdown())

    def data(self, value: Any, compact: bool = False) -> None:
        indent = None if compact else 2
        text = json.dumps(to_jsonable(value), indent=indent, ensure_ascii=False)
        self.stream.write(terminal_safe(text, json=True) + "\n")
        self.stream.flush()


# ---------------------------------------------------------------------------- commands


def result_exit(out: Output, result: ServerResult) -> int:
    out.show(result, lambda: render_result(result, CLI_COMMANDS))
    return EXIT_OK if result.success else EXIT_FAILED
