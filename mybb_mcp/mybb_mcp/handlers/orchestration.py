"""The work functions of the server tools (start, stop, status, logs, request, restart): the parsed
arguments -> the service's call -> the answer's markdown. `edge.call_tool` runs them; `tools.py` names them.
"""

from __future__ import annotations

import time

from ..answers.commands import MCP_COMMANDS
from ..answers.cursor import render_cursor_line, render_new_entries
from ..answers.digest import render_digest
from ..answers.lifecycle import render_result
from ..answers.logs import render_log_query
from ..answers.request import render_page_result
from ..answers.status import render_error_logging, render_server_list, render_status
from ..config import Config
from ..errors import InvalidArgument
from ..failures import Failure
from ..forum.requests import PageRequest
from ..orchestration import LogQueryOptions, ServerOrchestrationService
from ..results import ServerResult
from ..tools_registry import LogsArgs, RequestArgs, RestartArgs, StartArgs, StatusArgs, StopArgs
from .edge import Progress, ToolText

# Failures that are answers rather than errors: asking to start a running server, or stop a stopped one.
_NOT_ERRORS = {Failure.ALREADY_RUNNING, Failure.NOT_RUNNING}


def _result_text(result: ServerResult) -> ToolText:
    """A start/stop/restart result; "already running" and "not running" are answers, not errors."""
    is_error = not result.success and result.failure not in _NOT_ERRORS
    return ToolText(render_result(result, MCP_COMMANDS), is_error=is_error)


def start(service: ServerOrchestrationService, args: StartArgs, progress: Progress) -> ToolText:
    change = None
    if args.mybb_error_logging is not None:
        # Before the start: MyBB reads its settings per request, so either order works; this one lets
        # a failed start still report the setting it changed.
        change = service.forum.set_mybb_error_logging(args.mybb_error_logging == "on")
    # An explicit choice replaces development mode's default (MyBB's error logging on).
    text = _result_text(service.start(args.port, args.force, workers=args.workers,
                                      dev_error_logging=args.mybb_error_logging is None))
    if change is None:
        return text
    return ToolText(text + "\n" + render_error_logging(change), is_error=text.is_error or not change.ok)


def stop(service: ServerOrchestrationService, args: StopArgs, progress: Progress) -> ToolText:
    return _result_text(service.stop(args.force))


def status(service: ServerOrchestrationService, args: StatusArgs, progress: Progress) -> ToolText:
    if args.all:
        return ToolText(render_server_list(service.list_servers(), MCP_COMMANDS))
    if no_forum_configured(service.config):
        intro = (f"No forum is configured here: MYBB_ROOT is not set and {service.config.mybb_root} holds no "
                 "index.php. Set MYBB_ROOT (environment or .env) to see one forum's status.")
        return ToolText(render_server_list(service.list_servers(), MCP_COMMANDS, intro=intro))
    return ToolText(render_status(service.get_status(), MCP_COMMANDS))


def no_forum_configured(config: Config) -> bool:
    """MYBB_ROOT unset and its default (TestForum/) is no forum: status then lists every server."""
    return config.sources.get("MYBB_ROOT") == "default" and not (config.mybb_root / "index.php").is_file()


def logs(service: ServerOrchestrationService, args: LogsArgs, progress: Progress) -> ToolText:
    if args.cursor is not None or args.digest or args.wait_seconds:
        return _logs_checkpoint(service, args, progress)
    cursor = service.logs.log_cursor()  # before the query: an entry written meanwhile shows again, never lost
    options = LogQueryOptions(
        errors_only=args.errors_only,
        exclude_static=args.exclude_static,
        filter_keyword=args.filter,
        path=args.path,
        since_minutes=args.since_minutes,
        limit=args.limit,
        offset=args.offset,
        tail=args.tail,
        include_mybb=args.mybb_errors,
        user_code_only=args.user_code_only,
        include_core_noise=args.core_noise,
        full_traces=args.full_traces,
        max_chars=args.max_chars,
    )
    answer = render_log_query(service.logs.search_logs(options), MCP_COMMANDS)
    return ToolText(answer + render_cursor_line(cursor, MCP_COMMANDS))


def _checkpoint_conflicts(args: LogsArgs) -> str | None:
    if args.offset:
        return "offset pages a query of the whole log; with cursor, digest or wait_seconds the cursor pages"
    if not args.tail:
        return ("tail=false reads from the start of the log; with cursor, digest or wait_seconds entries come "
                "oldest first")
    if args.since_minutes is not None and not args.digest:
        return "since_minutes and cursor both say where to start; pass one"
    if args.digest and args.wait_seconds:
        return "digest answers at once; wait_seconds is for waiting for new entries"
    return None


def _logs_checkpoint(service: ServerOrchestrationService, args: LogsArgs, progress: Progress) -> ToolText:
    conflict = _checkpoint_conflicts(args)
    if conflict:
        raise InvalidArgument(conflict + ".", "Drop one of the two arguments.")
    zone = None
    if args.digest:
        if args.since_minutes is not None and args.cursor is not None:
            raise InvalidArgument("since_minutes and cursor both say where the digest starts.", "Pass one.")
        digest = service.logs.error_digest(args.cursor, args.since_minutes, args.mybb_errors, args.filter, args.path)
        return ToolText(render_digest(digest, zone, MCP_COMMANDS, args.max_chars))
    options = LogQueryOptions(errors_only=args.errors_only, exclude_static=args.exclude_static,
                              filter_keyword=args.filter, path=args.path, limit=args.limit,
                              include_mybb=args.mybb_errors, include_core_noise=args.core_noise)
    waited: list[float] = []

    def on_wait(elapsed: float, total: float) -> None:
        waited.append(elapsed)
        progress(elapsed, total, f"waiting for a new log entry ({elapsed:.0f}/{total:.0f} s)")

    started = time.monotonic()
    found = service.logs.logs_since(args.cursor, options, wait_seconds=args.wait_seconds, on_wait=on_wait)
    filters = ", ".join(f for f in (
        "errors" if args.errors_only else "",
        f"keyword {args.filter!r}" if args.filter else "",
        f"path {args.path!r}" if args.path else "",
    ) if f)
    return ToolText(render_new_entries(found, str(service.config.log_file), zone, MCP_COMMANDS,
                                       waited=time.monotonic() - started if args.wait_seconds else None,
                                       filters=filters))


def request(service: ServerOrchestrationService, args: RequestArgs, progress: Progress) -> ToolText:
    request = PageRequest(
        path=args.path, method=args.method, role=args.as_, query=tuple(args.query.items()),
        form=tuple(args.form.items()), follow_redirects=args.follow_redirects, excerpt=args.excerpt,
        selector=args.selector, contains=args.contains, debug=args.debug, trace=args.trace,
        plugins=tuple(args.plugins) if isinstance(args.plugins, list) else args.plugins,
        queries=args.queries, profile=args.profile, slow_query_ms=args.slow_query_ms,
        browser=args.browser,
    )
    result = service.forum.request_page(request)
    return ToolText(render_page_result(result, MCP_COMMANDS), is_error=result.response is None)


def restart(service: ServerOrchestrationService, args: RestartArgs, progress: Progress) -> ToolText:
    return _result_text(service.restart(args.port, host=args.host, workers=args.workers))
