"""php -S log text -> LogEntry. (Skeleton: the parser is being written.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Event types
REQUEST, ERROR, CONNECTION, STARTUP, INFO = "request", "error", "connection", "startup", "info"

# Error levels, most severe first (the order summaries use).
LEVELS = ("fatal", "parse", "exception", "sql", "error", "warning", "notice", "deprecated", "http_5xx", "http_4xx")

# Where an entry came from.
SOURCE_SERVER = "server"  # the php -S log
SOURCE_MYBB = "mybb"  # MyBB's own error log (<error> blocks), wherever it was written


@dataclass
class LogEntry:
    """One log entry: a timestamped line plus the continuation lines below it."""

    timestamp: datetime | None
    event_type: str
    message: str
    client_ip: str | None = None
    client_port: int | None = None
    status_code: int | None = None
    method: str | None = None
    path: str | None = None
    is_static: bool = False
    is_error: bool = False
    level: str | None = None
    source_file: str | None = None
    source_line: int | None = None
    continuation: list[str] = field(default_factory=list)
    worker_pid: int | None = None
    source: str = SOURCE_SERVER
    location: str | None = None  # file the entry was read from (for MyBB logs: which error.log)
    offset: int | None = None  # byte offset of the entry in that file
