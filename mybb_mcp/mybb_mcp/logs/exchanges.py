"""The errors of exactly the exchanges a page request made (its own hops, by client port), from the
server log and MyBB's error log.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .cursors import mybb_new, resolve, server_entries_in
from .digest import RequestRef, entries_of_port, group_errors, normalise_message

if TYPE_CHECKING:
    from .cursors import Cursor
    from .digest import ErrorGroup
    from .parser import LogEntry


# --- the errors of one request --------------------------------------------------------------------

LOG_WAIT_SECONDS = 2.0  # how long a request's line may take to reach the log after its response


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange we made: its connection's client port names it in the log."""

    method: str
    target: str
    status: int
    client_port: int


def errors_of_exchanges(
    before: Cursor, exchanges: Sequence[Exchange], log_file: Path, backups: int,
    mybb_files: Sequence[Path] = (), *, root: Path | None = None, started: float | None = None,
) -> tuple[list[ErrorGroup], bool, str | None]:
    """(error groups, whether every exchange was found in the log, a note) for exactly these exchanges.

    Reads only what was written after `before`; waits (briefly) for the last exchange's request line.
    MyBB error log files (when MyBB logs to a file of its own) have no ports: their blocks written
    after `before` and not older than `started` count for the last exchange."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    entries: list[LogEntry] = []
    while exchanges:
        try:
            resolution = resolve(before, log_file, backups)
            entries = [] if resolution.nothing_new else list(server_entries_in(resolution.segments, None))
        except OSError as exc:
            return [], False, f"the server log could not be read: {exc.strerror or exc}"
        if entries_of_port(entries, exchanges[-1].client_port)[1] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.002)
    tied: list[tuple[LogEntry, RequestRef | None]] = []
    missing = []
    for exchange in exchanges:
        mine, line = entries_of_port(entries, exchange.client_port)
        if line is None:
            missing.append(exchange.client_port)
            continue
        ref = RequestRef(exchange.method, exchange.target, line.status_code or exchange.status,
                         exchange.client_port, line.worker_pid, line.timestamp)
        tied += [(entry, ref) for entry in mine]
    if exchanges:
        last = exchanges[-1]
        for entry in mybb_new(before, mybb_files):
            if started is None or entry.timestamp is None or entry.timestamp.timestamp() >= int(started) - 1:
                tied.append((entry, RequestRef(last.method, last.target, last.status, last.client_port, None,
                                               entry.timestamp)))
    notes = []
    if missing:
        notes.append(f"the server log holds no request line for client port(s) {', '.join(map(str, missing))} "
                     f"after {LOG_WAIT_SECONDS:.0f} s (was the log rotated away, or PHP run with -q?); errors of "
                     "those exchanges may be missing")
    noise: list[LogEntry] = []
    groups = group_errors(tied, root, noise)
    if noise:
        kinds = sorted({normalise_message(e.message)[:80] for e in noise})
        notes.append(f"{len(noise)} MyBB core notice(s)/deprecation(s) with no user code on the stack left out "
                     f"(MyBB's own noise under this PHP): {'; '.join(kinds[:3])}")
    return groups, not missing, "; ".join(notes) or None
