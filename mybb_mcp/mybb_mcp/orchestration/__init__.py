"""Run `php -S` for a MyBB forum: lifecycle, state file, log capture and log queries.

The public names of the plan are re-exported here; the modules beside this
file each own one concern (see ARCHITECTURE.md §3).
"""

from .failures import Failure
from .log_parser import (
    ERROR_PATTERNS,
    STATIC_PATTERNS,
    LogEntry,
    is_error_line,
    is_static_request,
    parse_log_line,
)
from .log_query import LogQueryOptions, LogQueryResult
from .process import PortOwner
from .server_service import DeathReport, ServerOrchestrationService, ServerResult, ServerStatus

__all__ = [
    "ERROR_PATTERNS",
    "STATIC_PATTERNS",
    "DeathReport",
    "Failure",
    "LogEntry",
    "LogQueryOptions",
    "LogQueryResult",
    "PortOwner",
    "ServerOrchestrationService",
    "ServerResult",
    "ServerStatus",
    "is_error_line",
    "is_static_request",
    "parse_log_line",
]
