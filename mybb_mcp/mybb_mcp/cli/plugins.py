"""`plugins list|install|activate|deactivate|uninstall|check NAME`: the plugin workbench.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..answers.commands import CLI_COMMANDS
from ..answers.plugins import render_plugins
from ..errors import InvalidArgument
from .output import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from ..orchestration import ServerOrchestrationService
    from .output import Output


# --- plugins: the plugin workbench (workbench/plugins.py, answers/plugins.py) -------------------

def run_plugins(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    if (args.action == "list") != (args.name is None):
        raise InvalidArgument(f"`plugins {args.action}` {'takes no' if args.action == 'list' else 'needs a'} "
                              "plugin codename.", "Run `mybb-server plugins list`, or e.g. "
                              "`mybb-server plugins check NAME`.")
    result = service.workbench.plugins(args.action, args.name)
    out.show(result, lambda: render_plugins(result, CLI_COMMANDS))
    return EXIT_OK if result.ok else EXIT_FAILED


def add_plugins(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "install", "activate", "deactivate", "uninstall", "check"),
                        help="list | install NAME (_install then _activate) | activate NAME | deactivate NAME | "
                             "uninstall NAME (_deactivate then _uninstall) | check NAME (hooks, compatibility)")
    parser.add_argument("name", nargs="?", help="the plugin's codename (inc/plugins/NAME.php)")
