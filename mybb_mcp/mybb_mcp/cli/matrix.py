"""`matrix PLUGIN --php 7.4,8.2,8.4 --mybb 1.8.30,1.8.37`: a plugin on several PHP and MyBB releases
(workbench/matrix.py, answers/matrix.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..answers.matrix import render_matrix
from ..orchestration import ServerOrchestrationService
from ..workbench.matrix import MatrixRequest
from .output import EXIT_FAILED, EXIT_OK, Output


def run_matrix(args: argparse.Namespace, service: ServerOrchestrationService, out: Output) -> int:
    def progress(message: str, done: int, total: int) -> None:
        shown = f"[{done}/{total}] " if total else ""
        print(f"{shown}{message}", file=sys.stderr, flush=True)

    request = MatrixRequest(args.plugin, tuple(args.php or ()), tuple(args.mybb or ()), tuple(args.page or ()),
                            tuple(Path(a) for a in args.archive or ()))
    result = service.workbench.matrix(request, progress)  # Ctrl-C: the cells stop their servers, then main says so
    out.show(result, lambda: render_matrix(result, budget=1_000_000))
    return EXIT_OK if all(cell.verdict == "ok" for cell in result.cells) else EXIT_FAILED


def add_matrix(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plugin", help="a plugin codename of this forum, or a folder laid out like a forum root")
    parser.add_argument("--php", action="append", metavar="RELEASES",
                        help="PHP releases, comma-separated (7.4,8.2,8.4); default: the forum's own PHP")
    parser.add_argument("--mybb", action="append", metavar="RELEASES",
                        help="MyBB releases, comma-separated (1.8.30,1.8.37); default: the forum's own release")
    parser.add_argument("--page", action="append", metavar="PATH",
                        help="a page to load (repeat); default: index, a forum, a thread, a profile, usercp, "
                        "the Admin CP home")
    parser.add_argument("--archive", action="append", metavar="FILE",
                        help="a MyBB release archive to use offline (checked against the pinned SHA-256)")
