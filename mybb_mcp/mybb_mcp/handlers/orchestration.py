"""MCP handlers for the orchestration tools: validate -> call the service off the loop -> render.

Signature of the wider MyBB MCP server's dispatcher: `(args, db, config, sync_service) -> str`
(`db` and `sync_service` are unused here). A handler never raises: every outcome,
bad input and internal errors included, is markdown the agent can act on.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from anyio.lowlevel import RunVar
from pydantic import BaseModel, ValidationError

from ..answers.commands import MCP_COMMANDS
from ..answers.cursor import render_cursor_line, render_new_entries
from ..answers.digest import render_digest
from ..answers.lifecycle import render_error, render_result
from ..answers.request import render_page_result
from ..answers.status import render_error_logging, render_server_list, render_status
from ..config import Config, load_config
from ..errors import ConfigError, InvalidArgument
from ..failures import Failure
from ..forum.requests import PageRequest
from ..orchestration import LogQueryOptions, ServerOrchestrationService
from ..tools_registry import ARGUMENT_MODELS, ToolName, describe_validation_error

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any, Any, Any], Awaitable[str]]
T = TypeVar("T")

# Failures that are answers rather than errors: asking to start a running server, or stop a stopped one.
_NOT_ERRORS = {Failure.ALREADY_RUNNING, Failure.NOT_RUNNING}

# Every call answers within this time. The slowest honest call waits for the forum's lock (30 s), stops
# the old server (5 s, then SIGKILL) and starts PHP (15 s); a call still running then is stuck, and the
# agent gets an answer saying so while the thread is abandoned.
CALL_TIMEOUT_SECONDS = 90.0
# Tool calls get their own pool of threads: calls stuck in the kernel can never take the threads the
# transport needs to read stdin, so tools/list and every other request are still answered.
CALL_THREADS = 8
_call_limiter: RunVar[anyio.CapacityLimiter] = RunVar("mybb_mcp_call_limiter")


def _limiter() -> anyio.CapacityLimiter:
    try:
        return _call_limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(CALL_THREADS)
        _call_limiter.set(limiter)
        return limiter


class ToolText(str):
    """Markdown for the agent, plus whether the MCP result should carry isError."""

    is_error: bool = False

    def __new__(cls, text: str, is_error: bool = False) -> ToolText:
        obj = super().__new__(cls, text)
        obj.is_error = is_error
        return obj


_service: ServerOrchestrationService | None = None
_service_lock = threading.Lock()


def get_orchestration_service(config: Config) -> ServerOrchestrationService:
    """The process-wide service; rebuilt when the configuration changes (e.g. an edited .env)."""
    global _service
    with _service_lock:
        if _service is None or _service.config != config:
            _service = ServerOrchestrationService(config)
            _service.keep_browser_warm = True  # the long-lived MCP server (workbench/browser_pool.py)
        return _service


async def _run(
    tool: ToolName, args: Any, config: Config | None, work: Callable[[ServerOrchestrationService, Any], str]
) -> str:
    """Shared shape of every handler: arguments, configuration, service call off the event loop."""
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return ToolText(render_error("Invalid Arguments", f"{tool.value} takes an object of named arguments, "
                                     f"got {type(args).__name__}.", "Call it with an object such as {}."), True)
    model: type[BaseModel] = ARGUMENT_MODELS[tool.value]
    try:
        parsed = model.model_validate(args)
    except ValidationError as exc:
        return ToolText(render_error(
            "Invalid Arguments",
            f"{tool.value} was called with arguments it cannot use; nothing was changed.\n\n"
            + describe_validation_error(tool.value, exc),
            "Call it again with the arguments corrected.",
        ), True)
    try:
        config = config if isinstance(config, Config) else load_config()
    except ConfigError as exc:
        return ToolText(render_error("Configuration", exc.message, exc.hint or "Fix the setting and call again."),
                        True)
    service = get_orchestration_service(config)
    try:
        # A call that was asked to wait (logs' wait_seconds) gets that long on top.
        timeout = CALL_TIMEOUT_SECONDS + float(getattr(parsed, "wait_seconds", 0) or 0) \
            + float(getattr(model, "extra_call_seconds", 0.0))
        with anyio.move_on_after(timeout):
            return await anyio.to_thread.run_sync(work, service, parsed, abandon_on_cancel=True,
                                                  limiter=_limiter())
        log.error("%s did not finish within %.0f s", tool.value, timeout)
        return ToolText(render_error(
            "Timed Out",
            f"{tool.value} did not finish within {timeout:.0f} s and was given up; what it was "
            "doing may still complete in the background.",
            "Check the server with `mybb_server_status`. If a file beside the forum is a FIFO or on a hung "
            "disk, or another mybb-server holds the forum's lock, fix that first.",
        ), True)
    except InvalidArgument as exc:
        return ToolText(render_error("Invalid Arguments", exc.message + " Nothing was changed.", exc.hint), True)
    except Exception as exc:  # never let an exception reach the protocol as a bare JSON-RPC error
        log.exception("%s failed", tool.value)
        return ToolText(render_error(
            "Internal Error",
            f"{tool.value} failed unexpectedly: {type(exc).__name__}: {exc}",
            "Check the server's state with `mybb_server_status`; if this repeats, report it with this message.",
        ), True)


def _result_text(result: Any) -> ToolText:
    """A start/stop/restart result; "already running" and "not running" are answers, not errors."""
    is_error = not result.success and result.failure not in _NOT_ERRORS
    return ToolText(render_result(result, MCP_COMMANDS), is_error=is_error)


def _start(service: ServerOrchestrationService, args: Any) -> str:
    change = None
    if args.mybb_error_logging is not None:
        # Before the start: MyBB reads its settings per request, so either order works; this one lets
        # a failed start still report the setting it changed.
        change = service.set_mybb_error_logging(args.mybb_error_logging == "on")
    # An explicit choice replaces development mode's default (MyBB's error logging on).
    text = _result_text(service.start(args.port, args.force, workers=args.workers,
                                      dev_error_logging=args.mybb_error_logging is None))
    if change is None:
        return text
    return ToolText(text + "\n" + render_error_logging(change), is_error=text.is_error or not change.ok)


def _stop(service: ServerOrchestrationService, args: Any) -> str:
    return _result_text(service.stop(args.force))


def _status(service: ServerOrchestrationService, args: Any) -> str:
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


ProgressReporter = Callable[[float, "float | None", "str | None"], Awaitable[None]]
# Set by the MCP server for the tool call in progress: how a waiting handler reports progress.
current_progress: contextvars.ContextVar[ProgressReporter | None] = contextvars.ContextVar(
    "current_progress", default=None)


def _logs(service: ServerOrchestrationService, args: Any) -> str:
    if args.cursor is not None or args.digest or args.wait_seconds:
        return _logs_checkpoint(service, args)
    cursor = service.log_cursor()  # before the query: an entry written meanwhile shows again, never lost
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
    return ToolText(service.query_logs(options) + render_cursor_line(cursor, MCP_COMMANDS))


def _checkpoint_conflicts(args: Any) -> str | None:
    if args.offset:
        return "offset pages a query of the whole log; with cursor, digest or wait_seconds the cursor pages"
    if not args.tail:
        return "tail=false reads from the start of the log; with cursor, digest or wait_seconds entries come oldest first"
    if args.since_minutes is not None and not args.digest:
        return "since_minutes and cursor both say where to start; pass one"
    if args.digest and args.wait_seconds:
        return "digest answers at once; wait_seconds is for waiting for new entries"
    return None


def _logs_checkpoint(service: ServerOrchestrationService, args: Any, progress: Any = None) -> str:
    conflict = _checkpoint_conflicts(args)
    if conflict:
        raise InvalidArgument(conflict + ".", "Drop one of the two arguments.")
    zone = None
    if args.digest:
        if args.since_minutes is not None and args.cursor is not None:
            raise InvalidArgument("since_minutes and cursor both say where the digest starts.", "Pass one.")
        digest = service.error_digest(args.cursor, args.since_minutes, args.mybb_errors, args.filter, args.path)
        return ToolText(render_digest(digest, zone, MCP_COMMANDS, args.max_chars))
    options = LogQueryOptions(errors_only=args.errors_only, exclude_static=args.exclude_static,
                              filter_keyword=args.filter, path=args.path, limit=args.limit,
                              include_mybb=args.mybb_errors, include_core_noise=args.core_noise)
    waited: list[float] = []

    def on_wait(elapsed: float, total: float) -> None:
        waited.append(elapsed)
        if progress is not None:
            progress(elapsed, total)

    started = time.monotonic()
    found = service.logs_since(args.cursor, options, wait_seconds=args.wait_seconds, on_wait=on_wait)
    filters = ", ".join(f for f in (
        "errors" if args.errors_only else "",
        f"keyword {args.filter!r}" if args.filter else "",
        f"path {args.path!r}" if args.path else "",
    ) if f)
    return ToolText(render_new_entries(found, str(service.config.log_file), zone, MCP_COMMANDS,
                                       waited=time.monotonic() - started if args.wait_seconds else None,
                                       filters=filters))


def _request(service: ServerOrchestrationService, args: Any) -> str:
    request = PageRequest(
        path=args.path, method=args.method, role=args.as_, query=tuple(args.query.items()),
        form=tuple(args.form.items()), follow_redirects=args.follow_redirects, excerpt=args.excerpt,
        selector=args.selector, contains=args.contains, debug=args.debug, trace=args.trace,
        plugins=tuple(args.plugins) if isinstance(args.plugins, list) else args.plugins,
        queries=args.queries, profile=args.profile, slow_query_ms=args.slow_query_ms,
        browser=args.browser,
    )
    result = service.request_page(request)
    return ToolText(render_page_result(result, MCP_COMMANDS), is_error=result.response is None)


def _restart(service: ServerOrchestrationService, args: Any) -> str:
    return _result_text(service.restart(args.port, host=args.host, workers=args.workers))


async def handle_server_start(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.START, args, config, _start)


async def handle_server_stop(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.STOP, args, config, _stop)


async def handle_server_status(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.STATUS, args, config, _status)


async def handle_server_logs(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    report = current_progress.get()
    if report is None or not isinstance(args, dict) or not args.get("wait_seconds"):
        return await _run(ToolName.LOGS, args, config, _logs)

    def progress(elapsed: float, total: float) -> None:  # on the worker thread: hop to the event loop
        with contextlib.suppress(Exception):  # a client gone away must not end the wait with an error
            anyio.from_thread.run(report, elapsed, total, f"waiting for a new log entry ({elapsed:.0f}/{total:.0f} s)")

    return await _run(ToolName.LOGS, args, config, lambda service, parsed: (
        _logs_checkpoint(service, parsed, progress)))


async def handle_server_request(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.REQUEST, args, config, _request)


async def handle_server_restart(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.RESTART, args, config, _restart)


ORCHESTRATION_HANDLERS: dict[str, Handler] = {
    ToolName.START.value: handle_server_start,
    ToolName.STOP.value: handle_server_stop,
    ToolName.STATUS.value: handle_server_status,
    ToolName.LOGS.value: handle_server_logs,
    ToolName.RESTART.value: handle_server_restart,
    ToolName.REQUEST.value: handle_server_request,
}
