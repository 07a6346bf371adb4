"""`errorlog on|off`: MyBB's own error logging, switched for development.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..answers.status import render_error_logging
from .output import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from ..orchestration import ServerOrchestrationService
    from .output import Output


def run_errorlog(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    change = service.forum.set_mybb_error_logging(args.state == "on")
    out.show(change, lambda: render_error_logging(change, heading="#"))
    return EXIT_OK if change.ok else EXIT_FAILED


def add_errorlog(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("state", choices=("on", "off"),
                        help="on: MyBB logs its errors into the server log; off: restore the previous settings")
