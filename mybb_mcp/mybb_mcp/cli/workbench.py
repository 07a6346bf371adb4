"""The workbench's CLI commands: `sql`, `members`, `templates`, `php` (parsers and what they run).

`cli/app.py` lists them in its COMMANDS table; each run function has its signature (args, service, out).
The CLI always runs PHP (a person typed it); the MCP face only when MYBB_ALLOW_PHP=1.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..answers.commands import CLI_COMMANDS
from ..answers.lifecycle import render_failure
from ..answers.members import render_member_added, render_member_list
from ..answers.php_eval import render_php
from ..answers.sql import render_sql, render_table
from ..answers.templates import render_replace, render_template
from ..errors import InvalidArgument, MybbMcpError
from ..failures import Failure
from ..workbench.members import ROLE_GROUPS
from ..workbench.php_eval import MAX_TIMEOUT
from ..workbench.sql import DEFAULT_LIMIT, MAX_LIMIT
from ..workbench.templates import TemplateRefused
from .options import int_in_range, int_option

EXIT_OK, EXIT_FAILED = 0, 1


def _failed(out: Any, exc: MybbMcpError, failure: Failure) -> int:
    if isinstance(exc, InvalidArgument):
        raise exc  # a usage error: the CLI's own handling (exit 2)
    out.show({"ok": False, "error": exc.message, "hint": exc.hint},
             lambda: render_failure(failure, exc.message, exc.hint, CLI_COMMANDS))
    return EXIT_FAILED


def add_sql(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", nargs="?", help="one statement that reads (table names carry the forum's prefix)")
    parser.add_argument("--describe", metavar="TABLE", help="describe TABLE instead: columns, types, indexes")
    parser.add_argument("--limit", type=int_option("limit", int_in_range("limit", 1, MAX_LIMIT)), default=DEFAULT_LIMIT,
                        help=f"rows to show (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})")


def run_sql(args: argparse.Namespace, service: Any, out: Any) -> int:
    if (args.sql is None) == (args.describe is None):
        raise InvalidArgument("Pass one SQL statement or --describe TABLE.", "e.g. mybb-server sql 'SELECT 1'.")
    try:
        if args.describe is not None:
            desc = service.workbench.describe_table(args.describe)
            out.show(desc, lambda: render_table(desc, CLI_COMMANDS))
            return EXIT_OK if desc.columns else EXIT_FAILED
        answer = service.workbench.sql(args.sql, args.limit)
    except MybbMcpError as exc:
        return _failed(out, exc, Failure.SQL_REFUSED)
    out.show(answer, lambda: render_sql(answer, CLI_COMMANDS))
    return EXIT_OK


def add_members(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="a real user made by MyBB's user data handler")
    add.add_argument("name")
    add.add_argument("--role", choices=list(ROLE_GROUPS), default="member")
    add.add_argument("--password", help="default: a random one, kept in the forum's credentials file (0600)")
    actions.add_parser("list", help="the users, and which ones `request --as` can log in as")


def run_members(args: argparse.Namespace, service: Any, out: Any) -> int:
    try:
        result = (service.workbench.list_members() if args.action == "list"
                  else service.workbench.add_member(args.name, args.role, args.password))
    except MybbMcpError as exc:
        return _failed(out, exc, Failure.MEMBER_NOT_ADDED if args.action == "add" else Failure.MEMBERS_UNREADABLE)
    out.show(result, lambda: render_member_list(result, CLI_COMMANDS) if args.action == "list"
             else render_member_added(result, CLI_COMMANDS))
    return EXIT_OK


def add_templates(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = actions.add_parser("get", help="the master template and every set's copy")
    get.add_argument("title")
    rep = actions.add_parser("replace", help="find/replace literal text: a dry run unless --apply")
    rep.add_argument("title")
    rep.add_argument("find")
    rep.add_argument("replace")
    rep.add_argument("--set", type=int_option("set", int_in_range("set", 1, 2**31 - 1)), dest="sid",
                     help="only this template set (sid)")
    rep.add_argument("--apply", action="store_true", help="make the change (MyBB's find_replace_templatesets)")


def run_templates(args: argparse.Namespace, service: Any, out: Any) -> int:
    try:
        if args.action == "get":
            view = service.workbench.get_template(args.title)
            out.show(view, lambda: render_template(view, CLI_COMMANDS))
            return EXIT_OK if view.copies else EXIT_FAILED
        result = service.workbench.replace_in_template(args.title, args.find, args.replace, args.sid, args.apply)
    except MybbMcpError as exc:
        refused = isinstance(exc, TemplateRefused)
        return _failed(out, exc, Failure.TEMPLATE_REFUSED if refused else Failure.TEMPLATE_FAILED)
    out.show(result, lambda: render_replace(result, CLI_COMMANDS))
    return EXIT_OK


def add_php(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("code", help="PHP without <?php; `return X;` to get X back")
    parser.add_argument("--timeout", type=int_option("timeout", int_in_range("timeout", 1, MAX_TIMEOUT)), default=10,
                        help=f"seconds (1-{MAX_TIMEOUT}, default 10)")


def run_php(args: argparse.Namespace, service: Any, out: Any) -> int:
    try:
        result = service.workbench.eval_php(args.code, args.timeout)
    except MybbMcpError as exc:
        return _failed(out, exc, Failure.PHP_NOT_RUN)
    out.show(result, lambda: render_php(result))
    return EXIT_OK if result.finished and result.exception is None else EXIT_FAILED
