"""`mybb-server agent-setup`: the MCP client configuration and the agent's guide, then a real start."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from ..agent_setup import CLIENTS, SERVER_NAME, setup_agent
from ..answers.agent_setup import render_agent_setup
from ..errors import InvalidArgument

EXIT_OK, EXIT_FAILED = 0, 1
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def add_agent_setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client", action="append", choices=list(CLIENTS), dest="clients",
                        help="claude (.mcp.json), cursor (.cursor/mcp.json), vscode (.vscode/mcp.json); repeat "
                             "for several (default: claude)")
    parser.add_argument("--dir", type=Path, default=None, help="the project folder (default: the current one)")
    parser.add_argument("--name", default=SERVER_NAME, help=f"the server's name in the files (default {SERVER_NAME})")
    parser.add_argument("--no-guide", action="store_true", help="do not write the AGENTS.md section")
    parser.add_argument("--no-check", action="store_true", help="do not start the server to list its tools")


def run_agent_setup(args: argparse.Namespace, service: Any, out: Any) -> int:
    if not _NAME.fullmatch(args.name):
        raise InvalidArgument(f"--name {args.name!r} is not a server name.", "Use 1-64 letters, digits, - or _.")
    folder = args.dir if args.dir is not None else Path.cwd()
    if not folder.is_dir():
        raise InvalidArgument(f"--dir {folder} is not a folder.", "Name the project folder that exists.")
    clients = list(dict.fromkeys(args.clients or ["claude"]))
    result = setup_agent(service.config, folder, clients, args.name, guide=not args.no_guide,
                         check=not args.no_check)
    out.show(result, lambda: render_agent_setup(result))
    return EXIT_OK if result.ok else EXIT_FAILED
