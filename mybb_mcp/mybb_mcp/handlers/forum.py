"""The work functions of the forum tools (snapshots, plugins): the parsed arguments -> the service -> markdown."""

from __future__ import annotations

from ..answers.commands import MCP_COMMANDS
from ..answers.plugins import render_plugins
from ..answers.snapshot import render_snapshot
from ..orchestration import ServerOrchestrationService
from ..tools_registry import PluginsArgs, SnapshotArgs
from .edge import Progress, ToolText


def plugins(service: ServerOrchestrationService, args: PluginsArgs, progress: Progress) -> ToolText:
    result = service.plugins(args.action, args.name)
    return ToolText(render_plugins(result, MCP_COMMANDS), is_error=not result.ok)


def snapshot(service: ServerOrchestrationService, args: SnapshotArgs, progress: Progress) -> ToolText:
    result = service.snapshot(args.action, args.name)
    return ToolText(render_snapshot(result, MCP_COMMANDS), is_error=not result.ok)
