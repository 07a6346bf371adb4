"""The exceptions mybb-mcp raises, one hierarchy for every face.

    MybbMcpError            base class: catch this to catch everything below
    ├── ConfigError         the environment or a `.env` file holds a bad value
    └── InvalidArgument     a caller passed a bad value to a service method

Operational outcomes (port in use, already running, PHP exited on start...)
are not exceptions: the service returns them as results carrying a
`Failure` (see `orchestration.failures`), which each face renders once.
"""

from __future__ import annotations

from typing import Any

SHOWN_VALUE_CHARS = 80


def shown_value(value: Any) -> str:
    """A rejected value as a message quotes it: its repr, cut (a 1 MB argument is not echoed back)."""
    text = repr(value)
    if len(text) <= SHOWN_VALUE_CHARS:
        return text
    return f"{text[:SHOWN_VALUE_CHARS]}... ({len(text):,} characters in all)"


class MybbMcpError(Exception):
    """Base class. `str(err)` names the problem; `hint` says how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ConfigError(MybbMcpError):
    """A configuration value (environment variable or `.env` entry) is unusable."""


class InvalidArgument(MybbMcpError):
    """An argument given to the service (or a tool, or a command) is out of range or of the wrong type."""
