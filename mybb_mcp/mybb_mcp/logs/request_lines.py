"""The client ports of requests another client made (a browser), found by their request lines, and the
errors of each.

The tool's own HTTP client knows the port of each connection it opens; a browser does not tell. php -S
logs `PORT [status]: METHOD URI` when a request ends, so each request the browser reported is matched,
in order, to the first unused request line after a cursor with the same method and URI.

A browser opens several connections at once: php -S accepts them while it serves another, so the lines
between a connection's `Accepted` and its request line may be another request's. A php -S process serves
one request at a time, so an error belongs to the next request line its process wrote
(logs/digest.py's tie_to_requests), which is how errors are given to each port here.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .cursors import resolve, server_entries_in
from .digest import group_errors, tie_to_requests
from .parser import REQUEST

if TYPE_CHECKING:
    from .cursors import Cursor
    from .digest import ErrorGroup
    from .parser import LogEntry

WAIT_SECONDS = 2.0  # how long a request's line may take to reach the log after its answer


def ports_of(before: Cursor, log_file: Path, backups: int, wanted: Sequence[tuple[str, str]],
             skip: Collection[int] = (), wait: float = WAIT_SECONDS) -> tuple[list[int | None], list[LogEntry]]:
    """For each (method, URI) in the order the requests were sent: the client port of its request line
    written after `before`, or None when none is found within `wait` seconds. Ports in `skip` (the tool's
    own exchanges) are never taken. Also every server log entry read after `before`, in log order."""
    deadline = time.monotonic() + wait
    while True:
        try:
            resolution = resolve(before, log_file, backups)
            entries = [] if resolution.nothing_new else list(server_entries_in(resolution.segments, None))
        except OSError:
            entries = []
        lines = [e for e in entries
                 if e.event_type == REQUEST and e.client_port is not None and e.client_port not in skip]
        found = _match(lines, wanted)
        if all(port is not None for port in found) or time.monotonic() > deadline:
            return found, entries
        time.sleep(0.01)


def errors_by_port(entries: Sequence[LogEntry], ports: Collection[int], root: Path | None) -> dict[
        int, list[ErrorGroup]]:
    """The errors of each of these client ports' requests, grouped as a page request's (core noise left out)."""
    tied = tie_to_requests(entries)
    found: dict[int, list[ErrorGroup]] = {}
    for port in ports:
        found[port] = group_errors([(e, ref) for e, ref in tied if ref is not None and ref.client_port == port],
                                   root, [])
    return found


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
