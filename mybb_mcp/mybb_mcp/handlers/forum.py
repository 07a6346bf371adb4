"""MCP handlers for the forum tools (snapshots): validate -> call the service off the loop -> render."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import anyio
import anyio.lowlevel

from ..answers.commands import MCP_COMMANDS
from ..answers.lifecycle import render_error
from ..answers.matrix import render_matrix
from ..answers.plugins import render_plugins
from ..answers.snapshot import render_snapshot
from ..errors import InvalidArgument, MybbMcpError
from ..orchestration import ServerOrchestrationService
from ..tools_registry import ToolName
from ..workbench.matrix import MatrixCancelled, MatrixRequest
from .orchestration import Handler, ToolText, _run, current_progress


def _plugins(service: ServerOrchestrationService, args: Any) -> str:
    result = service.plugins(args.action, args.name)
    return ToolText(render_plugins(result), is_error=not result.ok)


async def handle_forum_plugins(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.PLUGINS, args, config, _plugins)


def _snapshot(service: ServerOrchestrationService, args: Any) -> str:
    result = service.snapshot(args.action, args.name)
    return ToolText(render_snapshot(result, MCP_COMMANDS), is_error=not result.ok)


async def handle_forum_snapshot(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.SNAPSHOT, args, config, _snapshot)


async def handle_forum_matrix(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    report = current_progress.get()
    cancel = threading.Event()
    loop = anyio.lowlevel.current_token()  # the cells' threads are not anyio's: they reach the loop by its token

    def progress(message: str, done: int, total: int) -> None:  # on a worker thread: hop to the event loop
        if report is not None:
            with contextlib.suppress(Exception):  # a client gone away must not end the matrix
                anyio.from_thread.run(report, float(done), float(total) or None, message, token=loop)

    def work(service: ServerOrchestrationService, parsed: Any) -> str:
        request = MatrixRequest(parsed.plugin, tuple(parsed.php), tuple(parsed.mybb), tuple(parsed.pages))
        try:
            return ToolText(render_matrix(service.matrix(request, progress, cancel)), is_error=False)
        except MatrixCancelled:
            return ToolText("Matrix cancelled: every cell's server was stopped.", is_error=True)
        except InvalidArgument:
            raise  # the shared "Invalid Arguments" answer
        except MybbMcpError as exc:  # a PHP build or a MyBB release that could not be installed: nothing ran
            return ToolText(render_error("Matrix Not Run", exc.message, exc.hint or "Fix it and call again."), True)

    try:
        return await _run(ToolName.MATRIX, args, config, work)
    finally:
        cancel.set()  # a cancelled or timed-out call: the cells still running stop their servers


FORUM_HANDLERS: dict[str, Handler] = {
    ToolName.SNAPSHOT.value: handle_forum_snapshot,
    ToolName.PLUGINS.value: handle_forum_plugins,
    ToolName.MATRIX.value: handle_forum_matrix,
}
