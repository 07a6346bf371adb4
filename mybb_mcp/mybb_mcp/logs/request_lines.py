"""The client ports of requests another client made (a browser), found by their request lines.

The tool's own HTTP client knows the port of each connection it opens; a browser does not tell. php -S
logs `PORT [status]: METHOD URI` when a request ends, so each request the browser reported is matched,
in order, to the first unused request line after a cursor with the same method and URI.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .cursors import _server_entries_in, resolve
from .parser import REQUEST

if TYPE_CHECKING:
    from .cursors import Cursor

WAIT_SECONDS = 2.0  # how long a request's line may take to reach the log after its answer


def ports_of(before: Cursor, log_file: Path, backups: int, wanted: Sequence[tuple[str, str]],
             skip: Collection[int] = (), wait: float = WAIT_SECONDS) -> list[int | None]:
    """For each (method, URI) in the order the requests were sent: the client port of its request line
    written after `before`, or None when none is found within `wait` seconds. Ports in `skip` (the tool's
    own exchanges) are never taken."""
    deadline = time.monotonic() + wait
    while True:
        try:
            resolution = resolve(before, log_file, backups)
            lines = [] if resolution.nothing_new else [
                e for e in _server_entries_in(resolution.segments, None)
                if e.event_type == REQUEST and e.client_port is not None and e.client_port not in skip]
        except OSError:
            lines = []
        found = _match(lines, wanted)
        if all(port is not None for port in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def _match(lines: Sequence[object], wanted: Sequence[tuple[str, str]]) -> list[int | None]:
    used: set[int] = set()
    found: list[int | None] = []
    for method, uri in wanted:
        port = None
        for position, line in enumerate(lines):
            if position not in used and getattr(line, "method", None) == method and getattr(line, "path", None) == uri:
                used.add(position)
                port = getattr(line, "client_port", None)
                break
        found.append(port)
    return found
