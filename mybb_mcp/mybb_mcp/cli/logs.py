"""`logs`: queries, cursors, the digest, waiting, and `--follow`.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from ..answers.commands import CLI_COMMANDS
from ..answers.cursor import render_cursor_line, render_entry_line, render_new_entries
from ..answers.digest import render_digest
from ..answers.logs import render_log_query
from ..errors import InvalidArgument
from ..logs.follow import Position, after_query, open_position, poll
from ..orchestration import LogQueryOptions
from .options import int_option, keyword_arg, limit_arg, max_chars_arg, offset_arg, path_arg, since_arg, wait_check
from .output import EXIT_OK, to_jsonable

if TYPE_CHECKING:
    from ..orchestration import ServerOrchestrationService
    from .output import Output


FOLLOW_POLL_SECONDS = 0.25


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
    position = open_position(log_file, 0)  # before the query: a rotation in between repeats, never loses
    cursor = service.logs.log_cursor()
    result = service.logs.search_logs(options)
    if out.as_json:
        out.data({**to_jsonable(result), "cursor": cursor}, compact=args.follow)  # streaming: one document per line
    elif args.follow:  # a stream for monitors: one entry per line, oldest first
        for entry in reversed(result.entries) if options.tail else result.entries:
            out.markdown(render_entry_line(entry, result.zone) + "\n")
    else:
        out.markdown(render_log_query(result, CLI_COMMANDS) + render_cursor_line(cursor, CLI_COMMANDS))
    if args.follow:
        follow(log_file, options, after_query(log_file, position, result.end_offset), out, result.zone)
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
            for entry in poll(log_file, options, position, zone):
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
        digest = service.logs.error_digest(args.cursor, args.since, not args.no_mybb, args.grep, args.path)
        out.show({**to_jsonable(digest), "cursor": digest.cursor.encode()},
                 lambda: render_digest(digest, None, CLI_COMMANDS, options.max_chars))
        return EXIT_OK
    if args.since is not None:
        raise InvalidArgument("--since and --cursor both say where to start.", "Pass one.")
    found = service.logs.logs_since(args.cursor, options, wait_seconds=args.wait or 0)
    out.show({**to_jsonable(found), "cursor": found.cursor.encode()},
             lambda: render_new_entries(found, str(service.config.log_file), None, CLI_COMMANDS,
                                        waited=args.wait or None))
    return EXIT_OK


def add_logs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--errors", action="store_true", help="only errors (PHP errors, exceptions, HTTP >= 400)")
    parser.add_argument("--include-static", action="store_true", help="include requests for images, CSS, JS ...")
    parser.add_argument("--grep", type=keyword_arg, metavar="KEYWORD",
                        help="only entries containing KEYWORD, or errors whose request does "
                             "(literal, case-insensitive)")
    parser.add_argument("--path", type=path_arg, metavar="PAGE",
                        help="only the errors and requests of this page: a path or its start, * for any text "
                             "(e.g. showthread.php, 'admin/index.php?module=config-*')")
    parser.add_argument("--since", type=since_arg, metavar="MIN", help="only entries of the last MIN minutes")
    parser.add_argument("--limit", type=limit_arg, help=f"entries to show (default {LogQueryOptions.limit})")
    parser.add_argument("--offset", type=offset_arg,
                        help=f"matching entries to skip (default {LogQueryOptions.offset})")
    parser.add_argument("--head", action="store_true", help="the oldest entries first, instead of the newest")
    parser.add_argument("--no-mybb", action="store_true", help="leave out MyBB's own error log")
    parser.add_argument("--user-code", action="store_true",
                        help="only errors your code caused (plugins, templates, your scripts), not MyBB core's")
    parser.add_argument("--core-noise", action="store_true", help="also show MyBB core's own noise (hidden by default)")
    parser.add_argument("--full-traces", action="store_true",
                        help="whole stack traces, not only the frames that matter")
    parser.add_argument("--max-chars", type=max_chars_arg, metavar="N",
                        help=f"answer size budget (default {LogQueryOptions.max_chars})")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing new matching entries as they are written, one per line (Ctrl-C to stop)")
    parser.add_argument("--cursor", metavar="CURSOR", help="only entries after this cursor (printed by every answer)")
    parser.add_argument("--digest", action="store_true",
                        help="errors grouped by kind, message and file:line; "
                             "with --cursor: new, still firing, resolved")
    parser.add_argument("--wait", type=int_option("wait", wait_check), metavar="SEC",
                        help="wait up to SEC seconds (0-300) for the first new matching entry")
