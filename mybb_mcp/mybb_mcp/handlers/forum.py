"""The work functions of the forum tools (snapshots, plugins, the matrix): the parsed arguments -> the service ->
markdown."""

from __future__ import annotations

from ..answers.commands import MCP_COMMANDS
from ..answers.lifecycle import render_failure
from ..answers.matrix import render_matrix
from ..answers.plugins import render_plugins
from ..answers.snapshot import render_snapshot
from ..errors import InvalidArgument, MybbMcpError
from ..failures import Failure
from ..orchestration import ServerOrchestrationService
from ..tools_registry import MatrixArgs, PluginsArgs, SnapshotArgs
from ..workbench.matrix import MatrixCancelled, MatrixRequest
from .edge import Progress, ToolText


def plugins(service: ServerOrchestrationService, args: PluginsArgs, progress: Progress) -> ToolText:
    result = service.workbench.plugins(args.action, args.name)
    return ToolText(render_plugins(result, MCP_COMMANDS), is_error=not result.ok)


def snapshot(service: ServerOrchestrationService, args: SnapshotArgs, progress: Progress) -> ToolText:
    result = service.forum.snapshot(args.action, args.name)
    return ToolText(render_snapshot(result, MCP_COMMANDS), is_error=not result.ok)


def matrix(service: ServerOrchestrationService, args: MatrixArgs, progress: Progress) -> ToolText:
    def cell_done(message: str, done: int, total: int) -> None:  # from the cells' own threads
        progress(float(done), float(total) or None, message)

    request = MatrixRequest(args.plugin, tuple(args.php), tuple(args.mybb), tuple(args.pages))
    try:
        # progress.cancelled: a call cancelled or timed out stops the cells still running, and their servers.
        return ToolText(render_matrix(service.workbench.matrix(request, cell_done, progress.cancelled)), is_error=False)
    except MatrixCancelled:
        return ToolText("Matrix cancelled: every cell's server was stopped.", is_error=True)
    except InvalidArgument:
        raise  # the shared "Invalid Arguments" answer
    except MybbMcpError as exc:  # a PHP build or a MyBB release that could not be installed: nothing ran
        return ToolText(render_failure(Failure.MATRIX_NOT_RUN, exc.message, exc.hint, MCP_COMMANDS), True)
