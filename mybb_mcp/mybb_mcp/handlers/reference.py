"""The work functions of the forum's reference and its doctor: the parsed arguments -> the service -> markdown."""

from __future__ import annotations

from ..answers.commands import MCP_COMMANDS
from ..answers.doctor import render_doctor
from ..answers.lifecycle import render_failure
from ..answers.reference import render_reference
from ..errors import MybbMcpError
from ..failures import Failure
from ..orchestration import ServerOrchestrationService
from ..tools_registry import DoctorArgs, ReferenceArgs
from .edge import Progress, ToolText


def doctor(service: ServerOrchestrationService, args: DoctorArgs, progress: Progress) -> ToolText:
    report = service.forum.doctor()
    return ToolText(render_doctor(report, MCP_COMMANDS), is_error=False)


def reference(service: ServerOrchestrationService, args: ReferenceArgs, progress: Progress) -> ToolText:
    try:
        answer = service.forum.reference(args.kind, args.name, args.search)
    except MybbMcpError as exc:
        return ToolText(render_failure(Failure.REFERENCE_FAILED, exc.message, exc.hint, MCP_COMMANDS), True)
    return ToolText(render_reference(answer, MCP_COMMANDS), is_error=False)
