"""MCP handlers for the forum tools (snapshots): validate -> call the service off the loop -> render."""

from __future__ import annotations

from typing import Any

from ..answers.commands import MCP_COMMANDS
from ..answers.plugins import render_plugins
from ..answers.snapshot import render_snapshot
from ..orchestration import ServerOrchestrationService
from ..tools_registry import ToolName
from .orchestration import Handler, ToolText, _run


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


FORUM_HANDLERS: dict[str, Handler] = {
    ToolName.SNAPSHOT.value: handle_forum_snapshot,
    ToolName.PLUGINS.value: handle_forum_plugins,
}
