"""MCP handlers for the workbench tools: init, sql, members, templates, php (validate -> service -> render)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from typing import Any

import anyio

from ..answers.commands import MCP_COMMANDS
from ..answers.init import render_init
from ..answers.lifecycle import render_error
from ..answers.members import render_member_added, render_member_list
from ..answers.php_eval import render_php, render_php_disabled
from ..answers.sql import render_sql, render_table
from ..answers.templates import render_replace, render_template, render_template_writes_disabled
from ..errors import MybbMcpError
from ..forum.init import InitOptions
from ..orchestration import ServerOrchestrationService
from ..tools_registry import ToolName
from ..workbench.templates import TemplateRefused
from .orchestration import Handler, ToolText, _run, current_progress

ALLOW_PHP = "MYBB_ALLOW_PHP"


def _refused(exc: MybbMcpError, title: str) -> ToolText:
    return ToolText(render_error(title, exc.message, exc.hint or "Fix it and call again."), True)


def _init(service: ServerOrchestrationService, args: Any, progress: Any = None) -> str:
    options = InitOptions(source=args.from_, database_url=args.db, force=args.force, mybb=args.mybb)
    result = service.init_forum(options, progress=progress)
    if result.failed_step is None and result.admin_password:
        kept = result.credentials_file
        note = (f"The admin password is kept in {kept} (mode 0600), not shown here; `mybb_server_request` with "
                "`as: \"admin\"` logs in with it." if kept else
                "The admin password could not be kept (see the notes); run `mybb-server init` in a terminal instead.")
        result = replace(result, admin_password=None, notes=[*result.notes, note])
    return ToolText(render_init(result, MCP_COMMANDS), is_error=not result.success)


async def handle_forum_init(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    report = current_progress.get()
    steps: list[str] = []

    def progress(step: str) -> None:  # on the worker thread: hop to the event loop
        steps.append(step)
        if report is not None:
            with contextlib.suppress(Exception):  # a client gone away must not end the install
                anyio.from_thread.run(report, float(len(steps)), None, step)

    return await _run(ToolName.INIT, args, config, lambda service, parsed: _init(service, parsed, progress))


def _sql(service: ServerOrchestrationService, args: Any) -> str:
    tool = "`mybb_forum_sql`"
    try:
        if args.table is not None:
            desc = service.describe_table(args.table)
            return ToolText(render_table(desc, tool), is_error=not desc.columns)
        return ToolText(render_sql(service.sql(args.sql, args.limit), tool))
    except MybbMcpError as exc:
        return _refused(exc, "SQL Refused")


def _members(service: ServerOrchestrationService, args: Any) -> str:
    try:
        if args.action == "list":
            return ToolText(render_member_list(service.list_members(), True))
        return ToolText(render_member_added(service.add_member(args.name, args.role, args.password), True))
    except MybbMcpError as exc:
        return _refused(exc, "Member Not Added" if args.action == "add" else "Members")


def _templates(service: ServerOrchestrationService, args: Any) -> str:
    try:
        if args.action == "get":
            view = service.get_template(args.title)
            return ToolText(render_template(view, True), is_error=not view.copies)
        if args.apply and not php_allowed():  # a template is code MyBB evaluates: gated like mybb_forum_php
            return ToolText(render_template_writes_disabled(args.title), is_error=True)
        return ToolText(render_replace(service.replace_in_template(args.title, args.find, args.replace, args.set,
                                                                   args.apply), True))
    except MybbMcpError as exc:
        return _refused(exc, "Template Refused" if isinstance(exc, TemplateRefused) else "Template")


def php_allowed() -> bool:
    return os.environ.get(ALLOW_PHP, "") == "1"


def _php(service: ServerOrchestrationService, args: Any) -> str:
    if not php_allowed():
        return ToolText(render_php_disabled(), is_error=True)
    try:
        result = service.eval_php(args.code, args.timeout_seconds)
    except MybbMcpError as exc:
        return _refused(exc, "PHP Not Run")
    return ToolText(render_php(result), is_error=not result.finished or result.exception is not None)


async def handle_forum_sql(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.SQL, args, config, _sql)


async def handle_forum_members(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.MEMBERS, args, config, _members)


async def handle_forum_templates(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.TEMPLATES, args, config, _templates)


async def handle_forum_php(args: dict[str, Any], db: Any, config: Any, sync_service: Any) -> str:
    return await _run(ToolName.PHP, args, config, _php)


WORKBENCH_HANDLERS: dict[str, Handler] = {
    ToolName.INIT.value: handle_forum_init,
    ToolName.SQL.value: handle_forum_sql,
    ToolName.MEMBERS.value: handle_forum_members,
    ToolName.TEMPLATES.value: handle_forum_templates,
    ToolName.PHP.value: handle_forum_php,
}
