"""The work functions of the workbench tools (init, sql, members, templates, php): the parsed arguments ->
the service -> markdown."""

from __future__ import annotations

import os
from dataclasses import replace

from ..answers.commands import MCP_COMMANDS
from ..answers.init import render_init
from ..answers.lifecycle import render_failure
from ..answers.members import render_member_added, render_member_list
from ..answers.php_eval import render_php, render_php_disabled
from ..answers.sql import render_sql, render_table
from ..answers.templates import render_replace, render_template, render_template_writes_disabled
from ..errors import MybbMcpError
from ..failures import Failure
from ..orchestration import ServerOrchestrationService
from ..orchestration.init import InitOptions
from ..tools_registry import InitArgs, MembersArgs, PhpArgs, SqlArgs, TemplatesArgs
from ..workbench.templates import TemplateRefused
from .edge import Progress, ToolText

ALLOW_PHP = "MYBB_ALLOW_PHP"


def _refused(exc: MybbMcpError, failure: Failure) -> ToolText:
    return ToolText(render_failure(failure, exc.message, exc.hint, MCP_COMMANDS), True)


def init(service: ServerOrchestrationService, args: InitArgs, progress: Progress) -> ToolText:
    steps: list[str] = []

    def step(name: str) -> None:
        steps.append(name)
        progress(float(len(steps)), None, name)

    options = InitOptions(source=args.from_, database_url=args.db, force=args.force, mybb=args.mybb,
                          php=args.php)
    result = service.init_forum(options, progress=step)
    if result.failed_step is None and result.admin_password:
        kept = result.credentials_file
        note = (f"The admin password is kept in {kept} (mode 0600), not shown here; `mybb_server_request` with "
                "`as: \"admin\"` logs in with it." if kept else
                "The admin password could not be kept (see the notes); run `mybb-server init` in a terminal instead.")
        result = replace(result, admin_password=None, notes=[*result.notes, note])
    return ToolText(render_init(result, MCP_COMMANDS), is_error=not result.success)


def sql(service: ServerOrchestrationService, args: SqlArgs, progress: Progress) -> ToolText:
    try:
        if args.table is not None:
            desc = service.workbench.describe_table(args.table)
            return ToolText(render_table(desc, MCP_COMMANDS), is_error=not desc.columns)
        assert args.sql is not None  # the model takes exactly one of sql and table
        return ToolText(render_sql(service.workbench.sql(args.sql, args.limit), MCP_COMMANDS))
    except MybbMcpError as exc:
        return _refused(exc, Failure.SQL_REFUSED)


def members(service: ServerOrchestrationService, args: MembersArgs, progress: Progress) -> ToolText:
    try:
        if args.action == "list":
            return ToolText(render_member_list(service.workbench.list_members(), MCP_COMMANDS))
        assert args.name is not None  # the model requires a name to add
        added = service.workbench.add_member(args.name, args.role, args.password)
        return ToolText(render_member_added(added, MCP_COMMANDS))
    except MybbMcpError as exc:
        return _refused(exc, Failure.MEMBER_NOT_ADDED if args.action == "add" else Failure.MEMBERS_UNREADABLE)


def templates(service: ServerOrchestrationService, args: TemplatesArgs, progress: Progress) -> ToolText:
    try:
        if args.action == "get":
            view = service.workbench.get_template(args.title)
            return ToolText(render_template(view, MCP_COMMANDS), is_error=not view.copies)
        if args.apply and not php_allowed():  # a template is code MyBB evaluates: gated like mybb_forum_php
            return ToolText(render_template_writes_disabled(args.title), is_error=True)
        assert args.find is not None and args.replace is not None  # the model requires both to replace
        replaced = service.workbench.replace_in_template(args.title, args.find, args.replace, args.set, args.apply)
        return ToolText(render_replace(replaced, MCP_COMMANDS))
    except MybbMcpError as exc:
        refused = isinstance(exc, TemplateRefused)
        return _refused(exc, Failure.TEMPLATE_REFUSED if refused else Failure.TEMPLATE_FAILED)


def php_allowed() -> bool:
    return os.environ.get(ALLOW_PHP, "") == "1"


def php(service: ServerOrchestrationService, args: PhpArgs, progress: Progress) -> ToolText:
    if not php_allowed():
        return ToolText(render_php_disabled(), is_error=True)
    try:
        result = service.workbench.eval_php(args.code, args.timeout_seconds)
    except MybbMcpError as exc:
        return _refused(exc, Failure.PHP_NOT_RUN)
    return ToolText(render_php(result), is_error=not result.finished or result.exception is not None)
