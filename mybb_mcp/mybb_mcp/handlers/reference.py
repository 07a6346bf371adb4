"""The work functions of the forum's reference and its doctor: the parsed arguments -> the service -> markdown."""

from __future__ import annotations

from ..answers.doctor import render_doctor
from ..answers.lifecycle import render_error
from ..answers.reference import render_reference
from ..errors import MybbMcpError
from ..orchestration import ServerOrchestrationService
from ..tools_registry import DoctorArgs, ReferenceArgs
from .edge import Progress, ToolText


def doctor(service: ServerOrchestrationService, args: DoctorArgs, progress: Progress) -> ToolText:
    report = service.doctor()
    return ToolText(render_doctor(report, True), is_error=False)


def reference(service: ServerOrchestrationService, args: ReferenceArgs, progress: Progress) -> ToolText:
    try:
        answer = service.reference(args.kind, args.name, args.search)
    except MybbMcpError as exc:
        return ToolText(render_error("Reference", exc.message, exc.hint or "Fix it and call again."), True)
    return ToolText(render_reference(answer, True), is_error=False)
