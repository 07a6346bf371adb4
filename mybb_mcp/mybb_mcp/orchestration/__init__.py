"""Run `php -S` for a MyBB forum: the server process, and the plan's entry points.

The public names of the plan are re-exported here; the modules beside this file each own one
concern: `server_service` the lifecycle story (start, stop, restart, status), with `observe` (the
running server, or why there is none), `log_calls`, `forum_calls` and `workbench_calls` (the
service's calls on the logs, the forum and the workbench); `validation` the arguments; `process` PHP
processes and ports; `state` the state file and lock; `layout` where each forum's files live;
`registry` the servers this user runs; `php_dev` development mode's PHP flags; `router.php` the php -S
router; `log_parser` the plan's path to the parser. The log engine is `mybb_mcp.logs`, the forum
`mybb_mcp.forum`, the workbench `mybb_mcp.workbench`, the answers `mybb_mcp.answers`, the results
`mybb_mcp.results`, the named failures `mybb_mcp.failures`.
"""

from ..failures import Failure
from ..logs.options import LogQueryOptions
from ..logs.parser import ERROR_PATTERNS, STATIC_PATTERNS, LogEntry, is_error_line, is_static_request, parse_log_line
from ..logs.query import LogQueryResult
from ..results import DeathReport, PortOwner, ServerResult, ServerStatus
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
