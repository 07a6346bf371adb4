"""`snapshot save|restore|list|delete|diff NAME`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..answers.commands import CLI_COMMANDS
from ..answers.snapshot import render_snapshot
from ..errors import InvalidArgument
from ..forum.snapshot.model import ACTIONS, MAX_NAME_LENGTH, validate_name
from .options import checked
from .output import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from ..orchestration import ServerOrchestrationService
    from .output import Output


def run_snapshot(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    if args.action == "list" and args.name is not None:
        raise InvalidArgument("`snapshot list` takes no name.", "Run `mybb-server snapshot list`.")
    if args.action != "list" and args.name is None:
        raise InvalidArgument(f"`snapshot {args.action}` needs the snapshot's name.",
                              f"Run `mybb-server snapshot {args.action} NAME`; see the names with "
                              "`mybb-server snapshot list`.")
    result = service.forum.snapshot(args.action, args.name)
    out.show(result, lambda: render_snapshot(result, CLI_COMMANDS))
    return EXIT_OK if result.ok else EXIT_FAILED


def snapshot_name_arg(text: str) -> str:
    return checked(validate_name, text)


def add_snapshot(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS,
                        help="save NAME | restore NAME (keeps the current state as an automatic snapshot first) "
                             "| list | delete NAME | diff NAME (what changed since)")
    parser.add_argument("name", nargs="?", type=snapshot_name_arg,
                        help=f"the snapshot's name: 1-{MAX_NAME_LENGTH} letters, digits, '.', '_', '-'")
