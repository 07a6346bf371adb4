"""MCP handlers for the forum's reference and its doctor (validate -> service -> render)."""

from __future__ import annotations

from typing import Any

from ..answers.doctor import render_doctor
from ..orchestration import ServerOrchestrationService
from ..tools_registry import ToolName
from .orchestration import Handler, ToolText, _run


def _doctor(service: ServerOrchestrationService, args: Any) -> str:
    report = service.doctor()
    return ToolText(render_doctor(report, True), is_error=False)


async def handle_forum_doctor(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.DOCTOR, args, config, _doctor)


REFERENCE_HANDLERS: dict[str, Handler] = {
    ToolName.DOCTOR.value: handle_forum_doctor,
}
