"""mybb-server: the command-line face of the orchestration service, for people.

argparse -> ServerOrchestrationService -> the same markdown the MCP face renders
(with CLI command names), or `--json`. Exit codes: 0 success, 1 the operation
failed, 2 bad usage or configuration (nothing was changed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime, tzinfo
from enum import Enum
from pathlib import Path, PurePath
from typing import Any, NoReturn, TextIO, TYPE_CHECKING

from . import __version__, cli_workbench as workbench
from .cli_options import checked, int_in_range, int_option
from .config import load_config
from .errors import ConfigError, InvalidArgument, MybbMcpError
from .forum.install import holds_forum
from .forum.snapshot.model import ACTIONS, MAX_NAME_LENGTH, validate_name
from .orchestration import LogQueryOptions, ServerOrchestrationService
from .failures import Failure
from .forum.init import InitOptions
from .logs.parser import LEVELS
from .orchestration.process import resume_paused
from .answers.commands import CLI_COMMANDS
from .answers.lifecycle import render_error, render_result
from .answers.status import render_error_logging, render_server_list, render_status
from .answers.init import render_init
from .answers.logs import render_log_query
from .answers.snapshot import render_snapshot
from .answers.cursor import render_cursor_line, render_entry_line, render_new_entries
from .answers.digest import render_digest
from .answers.request import render_page_result
from .orchestration.validation import validate_host, validate_port, validate_workers
from .untrusted import terminal_safe
from .forum.requests import PageRequest
from .logs.follow import Position, _file_id, _mark_at, _open_position, _poll

if TYPE_CHECKING:
    from .orchestration import ServerResult


PROG = "mybb-server"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
FOLLOW_POLL_SECONDS = 0.25


# ---------------------------------------------------------------------------- argument types
# Each flag is checked at parse time by the validator the service or the query applies itself: the CLI
# and the MCP face cannot disagree on a range, and a bad value is a usage error before anything runs.


def _log_option(name: str) -> Callable[[Any], object]:
    """A validator for one LogQueryOptions field."""
    return lambda value: LogQueryOptions(**{name: value}).validated()


port_arg = int_option("port", validate_port)
workers_arg = int_option("workers", validate_workers)
limit_arg = int_option("limit", _log_option("limit"))
offset_arg = int_option("offset", _log_option("offset"))
since_arg = int_option("since", _log_option("since_minutes"))
max_chars_arg = int_option("max-chars", _log_option("max_chars"))
excerpt_arg = int_option("excerpt", int_in_range("excerpt", 0, 20_000))


def _wait_check(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 300:
        raise InvalidArgument(f"wait must be 0 to 300 seconds, not {value!r}.", "e.g. --wait 60")


def host_arg(text: str) -> str:
    return checked(validate_host, text).strip()


def keyword_arg(text: str) -> str:
    return checked(_log_option("filter_keyword"), text)


def path_arg(text: str) -> str:
    return checked(_log_option("path"), text)


# ---------------------------------------------------------------------------- output


def to_jsonable(value: Any) -> Any:
    """Dataclasses -> dicts with every field (stable keys); paths, datetimes and enums -> strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):  # before str: Failure is a str enum
        return to_jsonable(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (PurePath, datetime, date)):
        return value.isoformat() if isinstance(value, (datetime, date)) else str(value)
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(item) for item in value]
    return str(value)


BOLD, RED, YELLOW, RESET = "\x1b[1m", "\x1b[31m", "\x1b[33m", "\x1b[0m"
_RED_LEVELS = {"fatal", "parse", "exception", "sql", "error", "http_5xx"}
_YELLOW_LEVELS = {"warning", "http_4xx"}
# Level tags as the renderers write them: **FATAL**, **WARNING** ...
_LEVEL_TAG = re.compile(r"\*\*(" + "|".join(re.escape(level.upper()) for level in LEVELS) + r")\*\*")


def use_colour(stream: TextIO) -> bool:
    """ANSI colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def colourize(markdown: str) -> str:
    def tag(match: re.Match[str]) -> str:
        level = match.group(1).lower()
        colour = RED if level in _RED_LEVELS else YELLOW if level in _YELLOW_LEVELS else ""
        return f"{colour}{match.group(0)}{RESET}" if colour else match.group(0)

    lines = []
    for line in markdown.split("\n"):
        if line.startswith("# Error"):
            line = f"{BOLD}{RED}{line}{RESET}"
        elif line.startswith("#"):
            line = f"{BOLD}{line}{RESET}"
        else:
            line = _LEVEL_TAG.sub(tag, line)
        lines.append(line)
    return "\n".join(lines)


@dataclass
class Output:
    """Where a command writes: markdown (coloured on a terminal) or JSON."""

    as_json: bool
    stream: TextIO

    def markdown(self, text: str) -> None:
        # Log lines and other processes' words are in it: no escape sequence reaches the terminal.
        text = terminal_safe(text)
        self.stream.write(colourize(text) if use_colour(self.stream) else text)
        self.stream.flush()

    def data(self, value: Any, compact: bool = False) -> None:
        indent = None if compact else 2
        text = json.dumps(to_jsonable(value), indent=indent, ensure_ascii=False)
        self.stream.write(terminal_safe(text, json=True) + "\n")
        self.stream.flush()


# ---------------------------------------------------------------------------- commands


def _result(out: Output, result: ServerResult) -> int:
    if out.as_json:
        out.data(result)
    else:
        out.markdown(render_result(result, CLI_COMMANDS))
    return EXIT_OK if result.success else EXIT_FAILED


def run_start(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    config = service.config
    root = config.mybb_root
    if config.sources.get("MYBB_ROOT") == "default" and not holds_forum(root) and _empty_or_missing(root):
        # The README's first command on a fresh clone: no forum yet at the default place, so make one.
        sys.stderr.write(f"no forum at {root}: installing MyBB there (mybb-server init)\n")
        return _init(InitOptions(source=config.archive, port=args.port), service, out, from_start=True)
    result = service.start(args.port, args.force, host=args.host, workers=args.workers)
    if result.failure is Failure.BAD_FORUM_ROOT and not holds_forum(root):
        result.notes.append(f"To install MyBB at {root}: {init_command(config.archive)}")
    return _result(out, result)


def init_command(archive: str | None) -> str:
    """The one command that installs a forum at MYBB_ROOT."""
    return "`mybb-server init" + (f" --from {archive}`" if archive else "` (offline: add `--from ARCHIVE`)")


def _empty_or_missing(folder: Path) -> bool:
    try:
        return not any(folder.iterdir())
    except FileNotFoundError:
        return True
    except OSError:
        return False


def run_init(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    options = InitOptions(source=args.source, sha256=args.sha256, database_url=args.db, admin=args.admin,
                          force=args.force, port=args.port, insecure=args.insecure)
    return _init(options, service, out)


def _init(options: InitOptions, service: ServerOrchestrationService, out: Output, from_start: bool = False) -> int:
    on_terminal = sys.stderr.isatty()
    bar = ProgressBar(sys.stderr) if on_terminal else None
    result = service.init_forum(options, progress=_say if on_terminal else None,
                                download_progress=bar.update if bar else None)
    if bar:
        bar.close()
    if from_start and result.failed_step == "download":
        result.notes.append("Offline? Point MYBB_ARCHIVE at a MyBB release archive you have, e.g. "
                            "`MYBB_ARCHIVE=../shared/mybb/mybb_1837.tar.gz ./dev start`.")
    if out.as_json:
        out.data(result)
    else:
        out.markdown(render_init(result, CLI_COMMANDS))
    return EXIT_OK if result.success else EXIT_FAILED


def _say(step: str) -> None:
    sys.stderr.write(f"init: {step}\n")
    sys.stderr.flush()


class ProgressBar:
    """A one-line download bar on a terminal: `[#####.....]  52%  2.4/4.6 MB`."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False
        self._last = -1.0

    def update(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and (total is None or done < total):
            return  # at most ten redraws a second
        self._last = now
        mb = f"{done / 1e6:.1f}" + (f"/{total / 1e6:.1f}" if total else "") + " MB"
        if total:
            filled = min(self.WIDTH, self.WIDTH * done // total)
            line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {100 * done // total:3d}%  {mb}"
        else:
            line = f"downloading  {mb}"
        self.stream.write("\r" + line)
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def run_stop(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    return _result(out, service.stop(args.force))


def run_restart(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    return _result(out, service.restart(args.port, host=args.host, workers=args.workers))


def run_status(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    status = service.get_status()
    if out.as_json:
        out.data(status)
    else:
        out.markdown(render_status(status, CLI_COMMANDS))
    return EXIT_OK


def run_list(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    servers = service.list_servers()
    if out.as_json:
        out.data(servers)
    else:
        out.markdown(render_server_list(servers, CLI_COMMANDS))
    return EXIT_OK


def run_errorlog(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    change = service.set_mybb_error_logging(args.state == "on")
    if out.as_json:
        out.data(change)
    else:
        out.markdown(render_error_logging(change, heading="#"))
    return EXIT_OK if change.ok else EXIT_FAILED


def run_snapshot(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    if args.action == "list" and args.name is not None:
        raise InvalidArgument("`snapshot list` takes no name.", "Run `mybb-server snapshot list`.")
    if args.action != "list" and args.name is None:
        raise InvalidArgument(f"`snapshot {args.action}` needs the snapshot's name.",
                              f"Run `mybb-server snapshot {args.action} NAME`; see the names with "
                              "`mybb-server snapshot list`.")
    result = service.snapshot(args.action, args.name)
    if out.as_json:
        out.data(result)
    else:
        out.markdown(render_snapshot(result, CLI_COMMANDS))
    return EXIT_OK if result.ok else EXIT_FAILED


def snapshot_name_arg(text: str) -> str:
    return checked(validate_name, text)


def _add_snapshot(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS,
                        help="save NAME | restore NAME (keeps the current state as an automatic snapshot first) "
                             "| list | delete NAME | diff NAME (what changed since)")
    parser.add_argument("name", nargs="?", type=snapshot_name_arg,
                        help=f"the snapshot's name: 1-{MAX_NAME_LENGTH} letters, digits, '.', '_', '-'")


def _add_init(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", metavar="PATH|URL",
                        help="a MyBB release archive (.zip with Upload/ or a repository .tar.gz), a folder holding "
                             "MyBB, or a URL (default: download the newest MyBB 1.8 release known, checked by SHA-256)")
    parser.add_argument("--sha256", metavar="HEX", help="the archive's expected SHA-256 (checked before installing)")
    parser.add_argument("--insecure", action="store_true",
                        help="install from a plain http:// URL without --sha256 (anyone on the way could swap it)")
    parser.add_argument("--db", metavar="URL",
                        help="mysql://USER:PASSWORD@HOST[:PORT]/DATABASE for MySQL/MariaDB "
                             "(default: SQLite beside the forum folder)")
    parser.add_argument("--admin", default="admin", metavar="NAME", help="the admin's user name (default: admin)")
    parser.add_argument("--port", type=port_arg, help="port the forum is served on (default: MYBB_PORT or 8022)")
    parser.add_argument("--force", action="store_true",
                        help="replace a forum already in MYBB_ROOT (its files and its SQLite database)")


def _add_errorlog(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("state", choices=("on", "off"),
                        help="on: MyBB logs its errors into the server log; off: restore the previous settings")


def log_options(args: argparse.Namespace) -> LogQueryOptions:
    """The query the flags ask for; unset flags keep the query module's defaults (as in the MCP tool)."""
    given = {
        "errors_only": args.errors,
        "exclude_static": not args.include_static,
        "filter_keyword": args.grep,
        "path": args.path,
        "since_minutes": args.since,
        "limit": args.limit,
        "offset": args.offset,
        "tail": not args.head,
        "include_mybb": not args.no_mybb,
        "user_code_only": args.user_code,
        "include_core_noise": args.core_noise,
        "full_traces": args.full_traces,
        "max_chars": args.max_chars,
    }
    return LogQueryOptions(**{name: value for name, value in given.items() if value is not None}).validated()


def run_logs(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    options = log_options(args)
    if args.cursor or args.digest or args.wait:
        return _run_logs_checkpoint(args, service, out, options)
    log_file = service.config.log_file
    position = _open_position(log_file, 0)  # before the query: a rotation in between repeats, never loses
    cursor = service.log_cursor()
    result = service.search_logs(options)
    if out.as_json:
        out.data({**to_jsonable(result), "cursor": cursor}, compact=args.follow)  # streaming: one document per line
    elif args.follow:  # a stream for monitors: one entry per line, oldest first
        for entry in reversed(result.entries) if options.tail else result.entries:
            out.markdown(render_entry_line(entry, result.zone) + "\n")
    else:
        out.markdown(render_log_query(result, CLI_COMMANDS) + render_cursor_line(cursor, CLI_COMMANDS))
    if args.follow:
        if position.fd is not None and _file_id(log_file) == position.file:
            position.offset = result.end_offset
            position.mark, position.mark_offset = _mark_at(position.fd, result.end_offset), result.end_offset
        else:  # rotated during the query: start the new log from its beginning
            position.close()
            position = Position(None, 0)
        follow(log_file, options, position, out, result.zone)
    else:
        position.close()
    return EXIT_OK


def follow(log_file: Path, options: LogQueryOptions, position: Position, out: Output, zone: tzinfo | None) -> None:
    """Print entries appended after `position` as they come, until Ctrl-C.

    The size is polled (portable, and cheap at this rate). When the log is rotated, what was written
    to it after the last read is read to its end first - from the still-open file when it was renamed
    away, from the backup (`server.log.1`, or an older one after several rotations) when it was
    copied and truncated in place - then the newer generations whole, then the new log from its
    start: under load, no line is lost or shown twice.
    """
    sys.stderr.write(f"following {log_file} for new entries (Ctrl-C to stop)\n")
    sys.stderr.flush()
    try:
        while True:
            time.sleep(FOLLOW_POLL_SECONDS)
            for entry in _poll(log_file, options, position, zone):
                if out.as_json:
                    out.data(entry, compact=True)
                else:
                    out.markdown(render_entry_line(entry, zone) + "\n")
    except KeyboardInterrupt:
        return  # Ctrl-C is how a follow ends: not a failure
    finally:
        position.close()


def _run_logs_checkpoint(args: argparse.Namespace, service: ServerOrchestrationService, out: Output,
                         options: LogQueryOptions) -> int:
    if args.follow or args.offset or args.head:
        raise InvalidArgument("--cursor, --digest and --wait read forward from a cursor; --follow, --offset and "
                              "--head do not combine with them.", "Drop one of them.")
    if args.digest:
        if args.wait:
            raise InvalidArgument("--digest answers at once; --wait is for waiting for new entries.", "Drop one.")
        digest = service.error_digest(args.cursor, args.since, not args.no_mybb, args.grep, args.path)
        if out.as_json:
            out.data({**to_jsonable(digest), "cursor": digest.cursor.encode()})
        else:
            out.markdown(render_digest(digest, None, CLI_COMMANDS, options.max_chars))
        return EXIT_OK
    if args.since is not None:
        raise InvalidArgument("--since and --cursor both say where to start.", "Pass one.")
    found = service.logs_since(args.cursor, options, wait_seconds=args.wait or 0)
    if out.as_json:
        out.data({**to_jsonable(found), "cursor": found.cursor.encode()})
    else:
        out.markdown(render_new_entries(found, str(service.config.log_file), None, CLI_COMMANDS,
                                        waited=args.wait or None))
    return EXIT_OK


def _field(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def run_request(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    request = PageRequest(
        path=args.path, method="POST" if args.post or args.data else "GET", role=args.role,
        query=tuple(args.query or ()), form=tuple(args.data or ()), follow_redirects=not args.no_follow,
        excerpt=args.excerpt or 0, selector=args.selector, contains=args.contains, debug=args.debug,
        trace=args.trace, plugins=None if args.plugins is None else (
            "none" if args.plugins == "none" else tuple(p.strip() for p in args.plugins.split(",") if p.strip())),
    )
    result = service.request_page(request)
    if out.as_json:
        data = to_jsonable(result)
        if result.response is not None:
            data["response"].pop("body", None)  # the page itself: ask for --excerpt
        out.data(data)
    else:
        out.markdown(render_page_result(result, CLI_COMMANDS))
    if result.response is None:
        return EXIT_FAILED
    return EXIT_FAILED if result.errors or result.response.page_error is not None else EXIT_OK


def _add_request(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="forum path: index.php, showthread.php?tid=1, admin/index.php?module=...")
    parser.add_argument("--post", action="store_true", help="POST instead of GET (implied by -d)")
    parser.add_argument("--as", dest="role", default="guest", metavar="ROLE",
                        help="guest (default), admin, or a member's user name (MYBB_MEMBER_<NAME>_PASSWORD)")
    parser.add_argument("-d", "--data", type=_field, action="append", metavar="NAME=VALUE",
                        help="a form field (repeatable); my_post_key is added when MyBB wants it")
    parser.add_argument("-q", "--query", type=_field, action="append", metavar="NAME=VALUE",
                        help="a query-string field (repeatable)")
    parser.add_argument("--no-follow", action="store_true", help="do not follow redirects")
    parser.add_argument("--excerpt", type=excerpt_arg, metavar="CHARS", help="print this much of the page's text")
    parser.add_argument("--selector", metavar="CSS", help="say whether a simple selector (tag, #id, .class) matches")
    parser.add_argument("--contains", metavar="TEXT", help="say whether the page holds this text")
    parser.add_argument("--debug", action="store_true", help="MyBB's debug report (front-end pages, as admin)")
    parser.add_argument("--trace", action="store_true",
                        help="the hooks that ran, the plugin functions they called, the templates used")
    parser.add_argument("--plugins", metavar="none|NAME,NAME",
                        help="run this request without plugins (none) or without the named ones")


# ---------------------------------------------------------------------------- the command table


def _add_start(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_arg, help="port to listen on (default: MYBB_PORT or 8022)")
    parser.add_argument("--host", type=host_arg,
                        help="address to bind (default: MYBB_HOST or 127.0.0.1; anything else exposes the forum)")
    parser.add_argument("--force", action="store_true", help="restart the server if it is already running")
    parser.add_argument("--workers", type=workers_arg, help="PHP worker processes, 1-64 (default: MYBB_WORKERS or 1)")


def _add_stop(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="SIGKILL what is still running 5 s after SIGTERM")


def _add_restart(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_arg, help="port to listen on (default: the port it ran on)")
    parser.add_argument("--host", type=host_arg,
                        help="address to bind (default: the one it ran on; 127.0.0.1 takes it off the network)")
    parser.add_argument("--workers", type=workers_arg, help="PHP worker processes, 1-64 (default: as it ran)")


def _add_status(parser: argparse.ArgumentParser) -> None:
    pass


def _add_list(parser: argparse.ArgumentParser) -> None:
    pass


def _add_logs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--errors", action="store_true", help="only errors (PHP errors, exceptions, HTTP >= 400)")
    parser.add_argument("--include-static", action="store_true", help="include requests for images, CSS, JS ...")
    parser.add_argument("--grep", type=keyword_arg, metavar="KEYWORD",
                        help="only entries containing KEYWORD, or errors whose request does (literal, case-insensitive)")
    parser.add_argument("--path", type=path_arg, metavar="PAGE",
                        help="only the errors and requests of this page: a path or its start, * for any text "
                             "(e.g. showthread.php, 'admin/index.php?module=config-*')")
    parser.add_argument("--since", type=since_arg, metavar="MIN", help="only entries of the last MIN minutes")
    parser.add_argument("--limit", type=limit_arg, help=f"entries to show (default {LogQueryOptions.limit})")
    parser.add_argument("--offset", type=offset_arg, help=f"matching entries to skip (default {LogQueryOptions.offset})")
    parser.add_argument("--head", action="store_true", help="the oldest entries first, instead of the newest")
    parser.add_argument("--no-mybb", action="store_true", help="leave out MyBB's own error log")
    parser.add_argument("--user-code", action="store_true",
                        help="only errors your code caused (plugins, templates, your scripts), not MyBB core's")
    parser.add_argument("--core-noise", action="store_true", help="also show MyBB core's own noise (hidden by default)")
    parser.add_argument("--full-traces", action="store_true", help="whole stack traces, not only the frames that matter")
    parser.add_argument("--max-chars", type=max_chars_arg, metavar="N",
                        help=f"answer size budget (default {LogQueryOptions.max_chars})")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing new matching entries as they are written, one per line (Ctrl-C to stop)")
    parser.add_argument("--cursor", metavar="CURSOR", help="only entries after this cursor (printed by every answer)")
    parser.add_argument("--digest", action="store_true",
                        help="errors grouped by kind, message and file:line; with --cursor: new, still firing, resolved")
    parser.add_argument("--wait", type=int_option("wait", _wait_check), metavar="SEC",
                        help="wait up to SEC seconds (0-300) for the first new matching entry")


# --- plugins: the plugin workbench (forum/workbench/plugins.py, answers/plugins.py) -------------------

def run_plugins(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    from .answers.plugins import render_plugins

    if (args.action == "list") != (args.name is None):
        raise InvalidArgument(f"`plugins {args.action}` {'takes no' if args.action == 'list' else 'needs a'} "
                              "plugin codename.", "Run `mybb-server plugins list`, or e.g. "
                              "`mybb-server plugins check NAME`.")
    result = service.plugins(args.action, args.name)
    if out.as_json:
        out.data(result)
    else:
        out.markdown(render_plugins(result, cli=True))
    return EXIT_OK if result.ok else EXIT_FAILED


def _add_plugins(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "install", "activate", "deactivate", "uninstall", "check"),
                        help="list | install NAME (_install then _activate) | activate NAME | deactivate NAME | "
                             "uninstall NAME (_deactivate then _uninstall) | check NAME (hooks, compatibility)")
    parser.add_argument("name", nargs="?", help="the plugin's codename (inc/plugins/NAME.php)")


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, its flags, and what it runs. Add a row to COMMANDS to add a command."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, ServerOrchestrationService, Output], int]
    json: bool = True  # whether it takes --json


COMMANDS: dict[str, Command] = {
    "init": Command("install MyBB into MYBB_ROOT with MyBB's own installer, and start it", _add_init, run_init),
    "start": Command("start the PHP built-in server for the forum", _add_start, run_start),
    "stop": Command("stop the server and its workers", _add_stop, run_stop),
    "restart": Command("stop (if running) and start again", _add_restart, run_restart),
    "status": Command("whether the server runs, its URL, log and database", _add_status, run_status),
    "list": Command("every server this user runs through mybb-server or mybb-mcp, any forum", _add_list, run_list),
    "logs": Command("query the server log (and MyBB's error log)", _add_logs, run_logs),
    "request": Command("load a forum page as guest, admin or a member; what MyBB showed and the errors it raised",
                       _add_request, run_request),
    "errorlog": Command("turn MyBB's own error logging on (into the server log) or off again",
                        _add_errorlog, run_errorlog),
    "snapshot": Command("save, restore, list, delete or diff snapshots of the forum's database and the files "
                        "MyBB writes", _add_snapshot, run_snapshot),
    "plugins": Command("list, install, activate, deactivate, uninstall or check the forum's plugins with MyBB's "
                       "own code", _add_plugins, run_plugins),
    # The workbench (cli_workbench.py).
    "sql": Command("one read-only SQL statement on the forum's database, or --describe TABLE",
                   workbench.add_sql, workbench.run_sql),
    "members": Command("add a member (MyBB's user data handler) or list them", workbench.add_members,
                       workbench.run_members),
    "templates": Command("read a template in every set, or find/replace in it (a dry run unless --apply)",
                         workbench.add_templates, workbench.run_templates),
    "php": Command("run PHP inside the booted forum (global.php loaded), with a timeout and memory limit",
                   workbench.add_php, workbench.run_php),
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
  {PROG} plugins install myplugin   _install then _activate, as the Admin CP does; errors and what changed
  {PROG} plugins check myplugin     its hooks against the hooks MyBB runs
  {PROG} sql "SELECT uid, username FROM mybb_users"    read the database (read-only, enforced by it)
  {PROG} sql --describe users       columns, types, defaults, indexes
  {PROG} members add mod1 --role moderator    then: request index.php --as mod1
  {PROG} templates replace header '<navigation>' '<navigation> NEW'    a dry run (add --apply)
  {PROG} php 'return $mybb->settings["bbname"];'
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
    title = "Configuration" if isinstance(exc, ConfigError) else "Invalid Arguments"
    Output(False, sys.stderr).markdown(render_error(title, exc.message, exc.hint or "Fix it and run the command again."))
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
        Output(False, sys.stderr).markdown(render_error(
            "File Problem", f"{exc.strerror or exc}{where}.",
            "Fix that file's ownership or permissions (or remove it), then run the command again."))
        return EXIT_FAILED
    finally:
        resume_paused()


if __name__ == "__main__":
    sys.exit(main())
