"""Who sent each exchange the tool made: client port, time and role, so the digest can tell "the same
page ran clean as the same role" from "some client loaded that path".

php -S logs no cookies or user agents: a request line names only its client port. The tool records
the ports of its own exchanges (the request, its redirects, logins and key pages) in
`<sessions dir>/exchanges.journal` (the jars' private 0700 directory; file 0600, one JSON line per
exchange, appended, never through a symlink). A request the tool did not send has no known role. Two
requests at the same moment each append their own lines; a lost or unreadable line only makes a page
read "not re-checked", never a false "resolved".
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..safe_files import read_own_small

JOURNAL_NAME = "exchanges.journal"  # not `<role>.json`: no role's jar can take this name
MAX_RECORDS = 4000  # a few hours of an agent's requests; older ports only matter to old cursors
MAX_JOURNAL_BYTES = 1024 * 1024
COMPACT_BYTES = 512 * 1024  # past this the journal is rewritten with its newest MAX_RECORDS lines
MATCH_SECONDS = 5.0  # a request line's stamp (whole seconds) against the time the tool recorded


@dataclass(frozen=True)
class Record:
    port: int
    at: float  # Unix time when the exchange ended
    role: str
    # False: a load that proves nothing about the page as it is (MyBB's debug page, plugins left out)
    rechecks: bool = True
    side: tuple[str, ...] = ()  # fingerprint keys of errors the load caused by leaving plugins out
    loaded: tuple[str, ...] | None = None  # the plugins its code ran with; None: not known


def journal_path(sessions: Path) -> Path:
    return Path(sessions) / JOURNAL_NAME


def read(sessions: Path) -> list[Record]:
    data = read_own_small(journal_path(sessions), MAX_JOURNAL_BYTES)
    records = []
    for line in (data or b"").splitlines():
        try:
            item: object = json.loads(line)
        except ValueError:
            continue
        if (isinstance(item, list) and len(item) in (3, 4) and isinstance(item[0], int)
                and isinstance(item[1], (int, float)) and isinstance(item[2], str)):
            extra: dict[str, object] = item[3] if len(item) == 4 and isinstance(item[3], dict) else {}
            side_value, loaded_value = extra.get("s"), extra.get("p")
            side = side_value if isinstance(side_value, list) else []
            loaded = loaded_value if isinstance(loaded_value, list) else None
            records.append(Record(item[0], float(item[1]), item[2], extra.get("r", 1) != 0,
                                  tuple(str(key) for key in side[:200]),
                                  None if loaded is None else tuple(str(name) for name in loaded[:500])))
    return records


def _line(port: int, at: float, role: str, rechecks: bool = True, side: Iterable[str] = (),
          loaded: Iterable[str] | None = None) -> str:
    extra: dict[str, object] = {}
    if not rechecks:
        extra["r"] = 0
    if side:
        extra["s"] = list(side)
    if loaded is not None:
        extra["p"] = list(loaded)
    item: list[object] = [int(port), round(at, 3), role] + ([extra] if extra else [])
    return json.dumps(item, separators=(",", ":"))


def record(sessions: Path, ports: Iterable[int], role: str, at: float | None = None, *, rechecks: bool = True,
           side: Iterable[str] = (), loaded: Iterable[str] | None = None) -> None:
    """Add the tool's exchanges (their client ports) as sent by `role`: one line each, appended (two
    requests at once cannot lose each other's lines), in the jars' own directory (made 0700 when
    missing; a link or another user's is not written to). Past COMPACT_BYTES the newest MAX_RECORDS
    are kept. `rechecks` False: the load re-checks nothing (debug page, plugins left out); `side`: the
    fingerprints of errors it caused by leaving plugins out (the digest leaves them out); `loaded`: the
    plugins its code ran with (a plugin's error is re-checked only by a load that ran the plugin)."""
    directory = Path(sessions)
    at = time.time() if at is None else at
    side = tuple(side)
    loaded = None if loaded is None else tuple(loaded)
    lines = "".join(_line(port, at, role, rechecks, side, loaded) + "\n" for port in ports)
    if not lines or not _private_dir(directory):
        return
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(journal_path(directory), flags, 0o600)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return
        os.write(fd, lines.encode())
        size = info.st_size + len(lines)
    finally:
        os.close(fd)
    if size > COMPACT_BYTES:
        kept = read(directory)[-MAX_RECORDS:]
        write_private_json(directory, JOURNAL_NAME, None, lines=[
            _line(r.port, r.at, r.role, r.rechecks, r.side, r.loaded) for r in kept])


def _private_dir(directory: Path) -> bool:
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        os.mkdir(directory, 0o700)
        info = os.lstat(directory)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()


def write_private_json(directory: Path, name: str, data: object, *, lines: list[str] | None = None) -> None:
    """`directory/name` replaced atomically with `data` as JSON (or with `lines`), 0600, never through a
    link, in a private directory of ours (made 0700 when missing; a link or another user's is left alone)."""
    if not _private_dir(directory):
        return
    target = directory / name
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if lines is not None:
                handle.write("".join(line + "\n" for line in lines))
            else:
                json.dump(data, handle, separators=(",", ":"))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class RoleOf:
    """Looks up the role that sent a logged request (its client port and stamp); None: not the tool's."""

    def __init__(self, records: Iterable[Record]) -> None:
        self._by_port: dict[int, list[Record]] = {}
        for item in records:
            self._by_port.setdefault(item.port, []).append(item)

    def __call__(self, port: int | None, stamp: datetime | None) -> str | None:
        found = self.record_of(port, stamp)
        return found.role if found is not None else None

    def record_of(self, port: int | None, stamp: datetime | None) -> Record | None:
        """The tool's record of the logged request (its role, whether it re-checks), None: not the tool's."""
        if port is None:
            return None
        candidates = self._by_port.get(port, [])
        if stamp is None:
            return candidates[-1] if len(candidates) == 1 else None
        when = stamp.timestamp()
        near = [c for c in candidates if -MATCH_SECONDS <= c.at - when <= MATCH_SECONDS + 1]
        return min(near, key=lambda c: abs(c.at - when)) if near else None
