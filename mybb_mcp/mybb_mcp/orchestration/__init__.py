"""Run `php -S` for a MyBB forum: lifecycle, state file, log capture and log queries.

The public names of the plan are re-exported here; the modules beside this file each own one
concern: `server_service` the lifecycle story, `process` PHP processes and ports, `state` the state
file and lock, `log_parser` lines -> entries, `log_reader` reading and rotating logs, `log_query`
filters and paging, `render` markdown, `failures` the named failures, `router.php` the php -S router.
What the forum itself knows lives in `mybb_mcp.forum`; the results in `mybb_mcp.results`.
"""

from ..failures import Failure
from ..logs.parser import ERROR_PATTERNS, STATIC_PATTERNS, LogEntry, is_error_line, is_static_request, parse_log_line
from ..logs.options import LogQueryOptions
from ..logs.query import LogQueryResult
from .process import PortOwner
from ..results import DeathReport, ServerResult, ServerStatus
from .server_service import ServerOrchestrationService

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
