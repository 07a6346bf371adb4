"""The MCP edge: one function, `call_tool`, between the protocol and a tool's work.

It validates the arguments with the tool's model, loads the configuration, runs the work function in a
thread of its own pool with a timeout, and returns a typed answer (`ToolText`: markdown plus whether
it is an error). A call never raises: every outcome, bad input and internal errors included, is
markdown the agent can act on.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anyio
import anyio.lowlevel
from anyio.lowlevel import RunVar
from mcp import types
from pydantic import BaseModel, ValidationError

from ..answers.commands import MCP_COMMANDS
from ..answers.lifecycle import render_error, render_failure
from ..config import Config, load_config
from ..errors import ConfigError, InvalidArgument
from ..failures import Failure
from ..orchestration import ServerOrchestrationService
from ..tools_registry import ToolName, describe_validation_error, input_schema

log = logging.getLogger(__name__)

# Every call answers within this time. The slowest honest call waits for the forum's lock (30 s), stops
# the old server (5 s, then SIGKILL) and starts PHP (15 s); a call still running then is stuck, and the
# agent gets an answer saying so while the thread is abandoned.
CALL_TIMEOUT_SECONDS = 90.0
# Tool calls get their own pool of threads: calls stuck in the kernel can never take the threads the
# transport needs to read stdin, so tools/list and every other request are still answered.
CALL_THREADS = 8
_call_limiter: RunVar[anyio.CapacityLimiter] = RunVar("mybb_mcp_call_limiter")


class ToolText(str):
    """Markdown for the agent, plus whether the MCP result should carry isError."""

    is_error: bool = False

    def __new__(cls, text: str, is_error: bool = False) -> ToolText:
        obj = super().__new__(cls, text)
        obj.is_error = is_error
        return obj


# How the MCP server reports progress for the call in progress (the SDK's, on the event loop).
ProgressReporter = Callable[[float, "float | None", "str | None"], Coroutine[Any, Any, None]]


class Progress:
    """A work function's progress, from any thread (anyio's or one of its own): `progress(done, total,
    message)` reaches the client on the event loop, or nowhere when it did not ask. `cancelled` is set once
    the call is over (finished, timed out or cancelled): work still running in threads of its own stops."""

    def __init__(self, report: ProgressReporter | None = None) -> None:
        self.cancelled = threading.Event()
        self._report = report
        self._loop = anyio.lowlevel.current_token() if report is not None else None

    def __call__(self, done: float, total: float | None, message: str) -> None:
        if self._report is None:
            return
        with contextlib.suppress(Exception):  # a client gone away must not end the call with an error
            anyio.from_thread.run(self._report, done, total, message, token=self._loop)

ArgsT = TypeVar("ArgsT", bound=BaseModel)
Work = Callable[[ServerOrchestrationService, ArgsT, Progress], ToolText]


@dataclass(frozen=True)
class Hints:
    """The MCP annotations a client may use to decide whether to ask before a call."""

    read_only: bool
    destructive: bool
    idempotent: bool


READS = Hints(read_only=True, destructive=False, idempotent=True)
CHANGES = Hints(read_only=False, destructive=False, idempotent=False)
UNDOES = Hints(read_only=False, destructive=True, idempotent=True)  # stop: what ran is gone, again and again
DESTROYS = Hints(read_only=False, destructive=True, idempotent=False)
REPEATS = Hints(read_only=False, destructive=False, idempotent=True)  # writes (a cache), the same each time


@dataclass(frozen=True)
class ToolRow(Generic[ArgsT]):
    """One MCP tool: its name, its argument model (schema and validator), its words, its hints, its work."""

    name: ToolName
    model: type[ArgsT]
    title: str
    description: str
    hints: Hints
    work: Work[ArgsT]

    def tool(self) -> types.Tool:
        """The tool as tools/list shows it."""
        return types.Tool(
            name=self.name.value,
            title=self.title,
            description=self.description,
            input_schema=input_schema(self.model),
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.hints.read_only,
                destructive_hint=self.hints.destructive,
                idempotent_hint=self.hints.idempotent,
                open_world_hint=False,
            ),
        )


def _limiter() -> anyio.CapacityLimiter:
    try:
        return _call_limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(CALL_THREADS)
        _call_limiter.set(limiter)
        return limiter


_service: ServerOrchestrationService | None = None
_service_lock = threading.Lock()


def get_orchestration_service(config: Config) -> ServerOrchestrationService:
    """The process-wide service; rebuilt when the configuration changes (e.g. an edited .env)."""
    global _service
    with _service_lock:
        if _service is None or _service.config != config:
            _service = ServerOrchestrationService(config)
            _service.forum.keep_browser_warm = True  # the long-lived MCP server (workbench/browser_pool.py)
        return _service


async def call_tool(row: ToolRow[Any], args: Any, config: Config | None = None,
                    report: ProgressReporter | None = None) -> ToolText:
    """Validate, configure, run the work off the event loop within the time limit; always an answer."""
    tool = row.name.value
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return ToolText(render_error(Failure.INVALID_ARGUMENTS, f"{tool} takes an object of named arguments, "
                                     f"got {type(args).__name__}.", "Call it with an object such as {}."), True)
    try:
        parsed = row.model.model_validate(args)
    except ValidationError as exc:
        return ToolText(render_failure(
            Failure.INVALID_ARGUMENTS,
            f"{tool} was called with arguments it cannot use; nothing was changed.\n\n"
            + describe_validation_error(tool, row.model, exc),
            None, MCP_COMMANDS,
        ), True)
    try:
        config = config if isinstance(config, Config) else load_config()
    except ConfigError as exc:
        return ToolText(render_failure(Failure.CONFIGURATION, exc.message, exc.hint, MCP_COMMANDS), True)
    service = get_orchestration_service(config)
    progress = Progress(report)
    try:
        # A call that was asked to wait (logs' wait_seconds; init's own allowance) gets that long on top, and
        # a tool whose model allows more (the matrix installs PHP builds) that much more.
        timeout = CALL_TIMEOUT_SECONDS + float(getattr(parsed, "wait_seconds", 0) or 0) \
            + float(getattr(row.model, "extra_call_seconds", 0.0))
        with anyio.move_on_after(timeout):
            return await anyio.to_thread.run_sync(row.work, service, parsed, progress, abandon_on_cancel=True,
                                                  limiter=_limiter())
        log.error("%s did not finish within %.0f s", tool, timeout)
        return ToolText(render_failure(
            Failure.TIMED_OUT,
            f"{tool} did not finish within {timeout:.0f} s and was given up; what it was "
            "doing may still complete in the background.",
            None, MCP_COMMANDS,
        ), True)
    except InvalidArgument as exc:
        return ToolText(render_error(Failure.INVALID_ARGUMENTS, exc.message + " Nothing was changed.", exc.hint),
                        True)
    except Exception as exc:  # never let an exception reach the protocol as a bare JSON-RPC error
        log.exception("%s failed", tool)
        return ToolText(render_failure(
            Failure.INTERNAL_ERROR, f"{tool} failed unexpectedly: {type(exc).__name__}: {exc}", None, MCP_COMMANDS,
        ), True)
    finally:
        progress.cancelled.set()  # a call over (or given up): work in threads of its own stops
