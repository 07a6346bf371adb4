"""The plan's path for the log parser: it lives in the log engine (`mybb_mcp.logs.parser`); its public
names are re-exported here."""

from ..logs.parser import (
    ERROR_PATTERNS,
    LEVELS,
    STATIC_PATTERNS,
    LogEntry,
    format_php_timestamp,
    head_timestamp,
    is_error_line,
    is_static_request,
    parse_entry,
    parse_log_line,
    parse_mybb_error,
)

__all__ = [
    "ERROR_PATTERNS",
    "LEVELS",
    "STATIC_PATTERNS",
    "LogEntry",
    "format_php_timestamp",
    "head_timestamp",
    "is_error_line",
    "is_static_request",
    "parse_entry",
    "parse_log_line",
    "parse_mybb_error",
]
