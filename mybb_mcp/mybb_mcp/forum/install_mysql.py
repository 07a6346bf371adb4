"""A MySQL/MariaDB forum is installed beside the tables it may replace, then swapped in at once.

MyBB's installer drops the tables it is about to create. So `init` never lets it near the forum's
own prefix: it installs under a prefix of its own (`mybbmcpXXXXXXXX_`, new each run), and only once
the new forum is complete renames, in one `RENAME TABLE` (atomic in MySQL and MariaDB), the old
forum's tables aside and the new ones to the forum's prefix. A failure before that leaves the old
forum untouched and drops only the run's own tables; the old tables are dropped only after the new
forum is in place. Tables of the old prefix the new forum does not have (a plugin's) are left as
MyBB's installer leaves them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .files import mysql_endpoint
from .install_errors import InstallError

if TYPE_CHECKING:
    from pymysql.connections import Connection
    from pymysql.cursors import Cursor

    from .install import Database

STAGE_PREFIX = "mybbmcp"  # + 8 hex digits + "_": the tables of one init run, never a forum's
_STAGE_TABLE_PREFIX = re.compile(r"mybbmcp[0-9a-f]{8}_")


def new_stage_prefix() -> str:
    return f"{STAGE_PREFIX}{secrets.token_hex(4)}_"


def is_stage_prefix(prefix: object) -> bool:
    return isinstance(prefix, str) and _STAGE_TABLE_PREFIX.fullmatch(prefix) is not None


def connect(db: Database) -> Connection[Cursor]:
    import pymysql  # only MySQL installs pay for it

    host, port, socket_path, _default, _notes = mysql_endpoint(db.host)
    # A socket, or a host and port: host None and port 0 are PyMySQL's own defaults, as if not given.
    return pymysql.connect(user=db.user, password=db.password, database=db.name, charset="utf8mb4",
                           connect_timeout=10, read_timeout=30, write_timeout=30, autocommit=True,
                           unix_socket=socket_path or None, host=None if socket_path else host, port=port or 0)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def forum_tables(db: Database, prefix: str | None = None) -> list[str]:
    """The tables in the database named with `prefix` (the forum's by default); InstallError when the
    database cannot be reached."""
    import pymysql

    try:
        conn = connect(db)
    except pymysql.err.MySQLError as exc:
        words = exc.args[1] if len(exc.args) > 1 else str(exc)
        raise InstallError("database", f"Cannot use database {db.name!r} at {db.host} as {db.user!r}: {words}.",
                           "Start the server, create the database and grant the user access to it "
                           f"(GRANT ALL ON `{db.name}`.* TO '{db.user}'@'localhost'), then run init again.") from exc
    like = (db.table_prefix if prefix is None else prefix).replace("\\", "\\\\").replace("_", "\\_")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES LIKE %s", (like.replace("%", "\\%") + "%",))
            return sorted(row[0] for row in cur.fetchall())
    finally:
        conn.close()


def drop_tables(db: Database, prefix: str) -> int:
    """Drop the tables named `prefix`* (only ever a run's own stage prefix); how many went."""
    if not is_stage_prefix(prefix):
        raise ValueError(f"not a stage prefix: {prefix!r}")  # never a forum's tables
    tables = forum_tables(db, prefix)
    if tables:
        conn = connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS " + ", ".join(_quote(t) for t in tables))
        finally:
            conn.close()
    return len(tables)


@dataclass(frozen=True)
class Swap:
    """What one swap renamed, to undo it or to finish it."""

    db: Database
    pairs: tuple[tuple[str, str], ...]  # (from, to), in the order renamed
    old_prefix: str  # where the replaced tables went (a stage prefix)
    replaced: int  # how many of the forum's tables were set aside


def swap_in(db: Database, stage_prefix: str, aside: str) -> Swap:
    """In one statement: the forum's tables the new forum also has go aside (to the stage prefix `aside`),
    the new ones take their names."""
    import pymysql

    new_tables = forum_tables(db, stage_prefix)
    if not new_tables:
        raise InstallError("move into place", f"MyBB's installer left no tables named {stage_prefix}*.",
                           "Run init again.")
    current = set(forum_tables(db))
    pairs: list[tuple[str, str]] = []
    for table in new_tables:
        name = db.table_prefix + table[len(stage_prefix):]
        if name in current:
            pairs.append((name, aside + name[len(db.table_prefix):]))
    replaced = len(pairs)
    pairs += [(table, db.table_prefix + table[len(stage_prefix):]) for table in new_tables]
    try:
        _rename(db, pairs)
    except pymysql.err.MySQLError as exc:
        words = exc.args[1] if len(exc.args) > 1 else str(exc)
        raise InstallError("move into place", f"Cannot rename the new tables into place: {words}.",
                           f"Grant the user ALTER and DROP on `{db.name}`, then run init again.") from exc
    return Swap(db, tuple(pairs), aside, replaced)


def swap_back(swap: Swap) -> None:
    """Undo `swap_in`: the new tables back to their stage names, the old ones back to theirs."""
    _rename(swap.db, [(to, was) for was, to in reversed(swap.pairs)])


def finish(swap: Swap) -> str | None:
    """Drop the replaced tables, the new forum being in place; a note when they could not be dropped."""
    import pymysql

    if not swap.replaced:
        return None
    try:
        drop_tables(swap.db, swap.old_prefix)
    except (InstallError, pymysql.err.MySQLError) as exc:
        return (f"The old forum's tables were renamed to {swap.old_prefix}* but could not be dropped ({exc}): "
                f"drop them in database {swap.db.name!r}.")
    return None


def _rename(db: Database, pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> None:
    conn = connect(db)
    try:
        with conn.cursor() as cur:  # one RENAME TABLE: all of it happens, or none
            cur.execute("RENAME TABLE " + ", ".join(f"{_quote(a)} TO {_quote(b)}" for a, b in pairs))
    finally:
        conn.close()
