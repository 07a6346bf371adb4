"""MCP handlers for the forum's reference and its doctor (validate -> service -> render)."""

from __future__ import annotations

from typing import Any

from ..answers.doctor import render_doctor
from ..answers.lifecycle import render_error
from ..answers.reference import render_reference
from ..errors import MybbMcpError
from ..orchestration import ServerOrchestrationService
from ..tools_registry import ToolName
from .orchestration import Handler, ToolText, _run


def _doctor(service: ServerOrchestrationService, args: Any) -> str:
    report = service.doctor()
    return ToolText(render_doctor(report, True), is_error=False)


async def handle_forum_doctor(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.DOCTOR, args, config, _doctor)


def _reference(service: ServerOrchestrationService, args: Any) -> str:
    try:
        answer = service.reference(args.kind, args.name, args.search)
    except MybbMcpError as exc:
        return ToolText(render_error("Reference", exc.message, exc.hint or "Fix it and call again."), True)
    return ToolText(render_reference(answer, True), is_error=False)


async def handle_forum_reference(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.REFERENCE, args, config, _reference)


REFERENCE_HANDLERS: dict[str, Handler] = {
    ToolName.REFERENCE.value: handle_forum_reference,
    ToolName.DOCTOR.value: handle_forum_doctor,
}
