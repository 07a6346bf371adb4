"""Tool name -> handler. Other handler groups of the wider MyBB MCP server register here the same way."""

from __future__ import annotations

from typing import Any

from .forum import FORUM_HANDLERS
from .orchestration import ORCHESTRATION_HANDLERS, Handler, ToolText
from .reference import REFERENCE_HANDLERS
from .workbench import WORKBENCH_HANDLERS

HANDLER_REGISTRY: dict[str, Handler] = {}
HANDLER_REGISTRY.update(ORCHESTRATION_HANDLERS)
HANDLER_REGISTRY.update(FORUM_HANDLERS)
HANDLER_REGISTRY.update(WORKBENCH_HANDLERS)
HANDLER_REGISTRY.update(REFERENCE_HANDLERS)


class UnknownTool(LookupError):
    """No handler is registered under that name."""


async def dispatch_tool(name: str, args: dict[str, Any] | None, db: Any, config: Any, sync_service: Any) -> str:
    handler = HANDLER_REGISTRY.get(name)
    if handler is None:
        raise UnknownTool(name)
    return await handler(args if args is not None else {}, db, config, sync_service)


__all__ = ["HANDLER_REGISTRY", "ToolText", "UnknownTool", "dispatch_tool"]
