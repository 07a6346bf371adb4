"""`mybb-server`: the CLI face, one module per command group -> the service -> answers (text or `--json`).

- `app`: the parser, the command table, exit codes, Ctrl-C and SIGTERM.
- `server` (start, stop, restart, status, list), `init`, `logs`, `request`, `snapshot`, `errorlog`:
  one module per command group, each with its parser (`_add_*`) and its `run_*`.
- `options`: option types; `output`: markdown or JSON, colour on a terminal.

A new command group is a new module here, registered in `app.COMMANDS`.
"""

from .app import main

__all__ = ["main"]
