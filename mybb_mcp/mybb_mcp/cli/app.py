"""`mybb-server`: the commands, the parser, and `main` (exit codes, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from .. import __version__
from ..answers.commands import CLI_COMMANDS
from ..answers.lifecycle import render_failure
from ..config import load_config
from ..errors import ConfigError, MybbMcpError
from ..failures import Failure
from ..orchestration import ServerOrchestrationService
from ..orchestration.process import resume_paused
from . import agent_setup, reference, workbench
from .errorlog import add_errorlog, run_errorlog
from .init import add_init, run_init
from .logs import add_logs, run_logs
from .matrix import add_matrix, run_matrix
from .output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG, Output
from .plugins import add_plugins, run_plugins
from .request import add_request, run_request
from .server import (
    add_list,
    add_restart,
    add_start,
    add_status,
    add_stop,
    run_list,
    run_restart,
    run_start,
    run_status,
    run_stop,
)
from .snapshot import add_snapshot, run_snapshot


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, its flags, and what it runs. Add a row to COMMANDS to add a command."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, ServerOrchestrationService, Output], int]
    json: bool = True  # whether it takes --json


COMMANDS: dict[str, Command] = {
    "init": Command("install MyBB into MYBB_ROOT with MyBB's own installer, and start it", add_init, run_init),
    "start": Command("start the PHP built-in server for the forum", add_start, run_start),
    "stop": Command("stop the server and its workers", add_stop, run_stop),
    "restart": Command("stop (if running) and start again", add_restart, run_restart),
    "status": Command("whether the server runs, its URL, log and database", add_status, run_status),
    "list": Command("every server this user runs through mybb-server or mybb-mcp, any forum", add_list, run_list),
    "logs": Command("query the server log (and MyBB's error log)", add_logs, run_logs),
    "request": Command("load a forum page as guest, admin or a member; what MyBB showed and the errors it raised",
                       add_request, run_request),
    "errorlog": Command("turn MyBB's own error logging on (into the server log) or off again",
                        add_errorlog, run_errorlog),
    "snapshot": Command("save, restore, list, delete or diff snapshots of the forum's database and the files "
                        "MyBB writes", add_snapshot, run_snapshot),
    "plugins": Command("list, install, activate, deactivate, uninstall or check the forum's plugins with MyBB's "
                       "own code", add_plugins, run_plugins),
    "matrix": Command("a plugin on several PHP and MyBB releases side by side: one table of verdicts",
                      add_matrix, run_matrix),
    # The workbench (cli/workbench.py).
    "sql": Command("one read-only SQL statement on the forum's database, or --describe TABLE",
                   workbench.add_sql, workbench.run_sql),
    "members": Command("add a member (MyBB's user data handler) or list them", workbench.add_members,
                       workbench.run_members),
    "templates": Command("read a template in every set, or find/replace in it (a dry run unless --apply)",
                         workbench.add_templates, workbench.run_templates),
    "php": Command("run PHP inside the booted forum (global.php loaded), with a timeout and memory limit",
                   workbench.add_php, workbench.run_php),
    # The forum's reference and doctor (cli/reference.py).
    "ref": Command("MyBB's own reference from this forum: hooks, functions, templates, settings, caches, language "
                   "strings, or search", reference.add_ref, reference.run_ref),
    "doctor": Command("named health checks of the forum, each with its fix", reference.add_doctor,
                      reference.run_doctor),
    "agent-setup": Command("connect an agent: MCP client configuration (Claude Code, Cursor, VS Code) and an "
                           "AGENTS.md guide, merged; then the server started and its tools listed",
                           agent_setup.add_agent_setup, agent_setup.run_agent_setup),
}

EXAMPLES = f"""\
examples:
  {PROG} init                       install MyBB into MYBB_ROOT (downloaded) and start it
  {PROG} init --from mybb_1837.zip --db mysql://mybb:secret@127.0.0.1/mybb
  {PROG} start                      serve MYBB_ROOT on 127.0.0.1:MYBB_PORT (8022)
  {PROG} start --port 8080 --workers 4
  {PROG} status --json
  {PROG} list                       every forum's server this user runs: URL, PID, uptime, health
  {PROG} logs --errors              the newest errors, stack traces included
  {PROG} logs --grep login --since 10
  {PROG} logs --errors --follow     watch for new errors (Ctrl-C to stop)
  {PROG} request index.php --as admin       load a page; what it showed and the errors it raised
  {PROG} request admin/index.php -q module=config-settings -q action=change -d upsetting[bbname]=X --as admin
  {PROG} logs --digest --cursor CURSOR    errors since a cursor: new, still firing, resolved
  {PROG} errorlog on                MyBB logs the warnings and SQL errors it would hide
  {PROG} snapshot save clean        keep the database and the files MyBB writes
  {PROG} snapshot diff clean        what changed since, in MyBB's terms
  {PROG} snapshot restore clean     throw the changes away (the current state is kept first)
  {PROG} plugins list               every plugin: compatible, installed, active
  {PROG} plugins install myplugin   the Admin CP's Install & Activate click; errors and what changed
  {PROG} plugins check myplugin     its hooks against the hooks MyBB runs
  {PROG} sql "SELECT uid, username FROM mybb_users"    read the database (read-only, enforced by it)
  {PROG} sql --describe users       columns, types, defaults, indexes
  {PROG} members add mod1 --role moderator    then: request index.php --as mod1
  {PROG} templates replace header '<navigation>' '<navigation> NEW'    a dry run (add --apply)
  {PROG} php 'return $mybb->settings["bbname"];'
  {PROG} ref postbit                 whatever is called postbit: hook call sites, template sets, ...
  {PROG} ref function build_postbit   its signature, file:line and doc; `ref search WORDS` searches
  {PROG} doctor                     health checks of the forum, each with its fix
  {PROG} agent-setup --client claude --client vscode    connect an agent to this forum, checked
  {PROG} restart
  {PROG} stop

exit codes: 0 success, 1 the operation failed, 2 bad usage or configuration (nothing changed).
configuration: MYBB_ROOT, MYBB_PORT, MYBB_HOST, MYBB_PHP, MYBB_WORKERS ... from the environment or a .env file.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """argparse's usage error, plus where to read the usage."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nSee '{self.prog} --help'.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Run a MyBB forum on PHP's built-in web server: start, stop, restart, status, logs.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help[0].upper() + command.help[1:] + ".")
        command.add_arguments(sub)
        if command.json:
            sub.add_argument("--json", action="store_true", help="machine-readable JSON instead of markdown")
    return parser


def _usage_error(exc: MybbMcpError) -> int:
    """Bad configuration or a rejected argument: say what and how to fix it, on stderr."""
    failure = Failure.CONFIGURATION if isinstance(exc, ConfigError) else Failure.INVALID_ARGUMENTS
    Output(False, sys.stderr).markdown(render_failure(failure, exc.message, exc.hint, CLI_COMMANDS))
    return EXIT_USAGE


class _Terminated(Exception):
    """SIGTERM: unwinds like Ctrl-C, so every `finally` (continuing a paused PHP first) runs."""


def _on_sigterm(signum: int, frame: object) -> None:
    resume_paused()
    raise _Terminated


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    out = Output(getattr(args, "json", False), sys.stdout)
    try:
        service = ServerOrchestrationService(load_config())
        return COMMANDS[args.command].run(args, service, out)
    except MybbMcpError as exc:
        return _usage_error(exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except _Terminated:
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        # A reader such as `head` went away: not an error. Point stdout at devnull so the exit flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # a file we cannot use, met where no result could carry it: say which and why
        path = getattr(exc, "filename", None)
        where = f" ({path})" if path else ""
        Output(False, sys.stderr).markdown(render_failure(
            Failure.FILE_PROBLEM, f"{exc.strerror or exc}{where}.", None, CLI_COMMANDS))
        return EXIT_FAILED
    finally:
        resume_paused()

