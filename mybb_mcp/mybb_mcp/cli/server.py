"""`start`, `stop`, `restart`, `status`, `list`: the server's lifecycle.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..answers.commands import CLI_COMMANDS
from ..answers.status import render_server_list, render_status
from ..failures import Failure
from ..forum.install import holds_forum
from ..orchestration.init import InitOptions
from .init import empty_or_missing, init_command, init_from_cli
from .options import host_arg, port_arg, workers_arg
from .output import EXIT_OK, result_exit

if TYPE_CHECKING:
    from ..orchestration import ServerOrchestrationService
    from .output import Output


def run_start(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    config = service.config
    root = config.mybb_root
    if config.sources.get("MYBB_ROOT") == "default" and not holds_forum(root) and empty_or_missing(root):
        # The README's first command on a fresh clone: no forum yet at the default place, so make one.
        sys.stderr.write(f"no forum at {root}: installing MyBB there (mybb-server init)\n")
        return init_from_cli(InitOptions(source=config.archive, port=args.port), service, out, from_start=True)
    result = service.start(args.port, args.force, host=args.host, workers=args.workers)
    if result.failure is Failure.BAD_FORUM_ROOT and not holds_forum(root):
        result.notes.append(f"To install MyBB at {root}: {init_command(config.archive)}")
    return result_exit(out, result)


def run_stop(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    return result_exit(out, service.stop(args.force))


def run_restart(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    return result_exit(out, service.restart(args.port, host=args.host, workers=args.workers))


def run_status(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    status = service.get_status()
    out.show(status, lambda: render_status(status, CLI_COMMANDS))
    return EXIT_OK


def run_list(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    servers = service.list_servers()
    out.show(servers, lambda: render_server_list(servers, CLI_COMMANDS))
    return EXIT_OK


# ---------------------------------------------------------------------------- the command table


def add_start(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_arg, help="port to listen on (default: MYBB_PORT or 8022)")
    parser.add_argument("--host", type=host_arg,
                        help="address to bind (default: MYBB_HOST or 127.0.0.1; anything else exposes the forum)")
    parser.add_argument("--force", action="store_true", help="restart the server if it is already running")
    parser.add_argument("--workers", type=workers_arg, help="PHP worker processes, 1-64 (default: MYBB_WORKERS or 1)")


def add_stop(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="SIGKILL what is still running 5 s after SIGTERM")


def add_restart(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=port_arg, help="port to listen on (default: the port it ran on)")
    parser.add_argument("--host", type=host_arg,
                        help="address to bind (default: the one it ran on; 127.0.0.1 takes it off the network)")
    parser.add_argument("--workers", type=workers_arg, help="PHP worker processes, 1-64 (default: as it ran)")


def add_status(parser: argparse.ArgumentParser) -> None:
    pass


def add_list(parser: argparse.ArgumentParser) -> None:
    pass
