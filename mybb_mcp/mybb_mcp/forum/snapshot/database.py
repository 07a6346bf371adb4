"""The database side of a snapshot: which database the forum uses, saving and restoring it (SQLite
file copy; MySQL/MariaDB with its own dump and client tools), and its catalog in MyBB's terms.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias, Union
from urllib.parse import quote

from .. import schema as table_schema
from ..files import MYSQL, SQLITE, read_config_php, sqlite_path
from ..schema import cell_text
from .model import (
    BUSY,
    CONNECT_TIMEOUT,
    DUMP_TOOL_MISSING,
    FORUM_NOT_INSTALLED,
    LOCK_TIMEOUT,
    SNAPSHOT_FAILED,
    SQL_FILE,
    SQLITE_FILE,
    TOOL_TIMEOUT,
    UNSUPPORTED_DATABASE,
    SnapshotError,
)

if TYPE_CHECKING:
    from pymysql.cursors import Cursor

    from ..files import ForumDbConfig


# ----------------------------------------------------------------------------------------- the forum's database

_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_BUSY_STEP_MS = 200  # each backup step's own wait for a lock; the deadline below bounds them all


class _StillLocked(Exception):
    pass


def _sqlite_backup(source: sqlite3.Connection, target: sqlite3.Connection, locked: str) -> None:
    """source.backup(target), waiting at most LOCK_TIMEOUT for a lock another connection holds.

    Python's backup() retries a busy step for ever (its busy handler only spaces the retries): a forum
    page or a plugin holding the database would hang the call. The progress callback sees each busy
    step and ends the backup at the deadline; SQLite then rolls the target back, untouched."""
    deadline = time.monotonic() + LOCK_TIMEOUT
    for conn in (source, target):
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_STEP_MS}")

    def progress(status: int, remaining: int, total: int) -> None:
        if status in (_SQLITE_BUSY, _SQLITE_LOCKED) and time.monotonic() >= deadline:
            raise _StillLocked

    try:
        source.backup(target, progress=progress, sleep=0.05)
    except _StillLocked:
        raise SnapshotError(BUSY, f"{locked} was locked by another connection (a page, a plugin, a database tool) "
                                  f"for {LOCK_TIMEOUT:.0f} s.") from None


def describe_database(cfg: ForumDbConfig, root: Path) -> str:
    if cfg.kind == SQLITE:
        return f"SQLite {sqlite_path(cfg, root)}"
    return f"MySQL/MariaDB database '{cfg.database}' at {cfg.endpoint()}"


def database_identity(cfg: ForumDbConfig, root: Path) -> dict[str, str]:
    """What makes two configs the same database: a snapshot restores only into the one it came from."""
    if cfg.kind == SQLITE:
        return {"kind": SQLITE, "file": str(sqlite_path(cfg, root)), "prefix": cfg.table_prefix}
    # The hostname as written, not the endpoint: for 'localhost' that is a guessed socket, which may change.
    return {"kind": MYSQL, "database": cfg.database, "hostname": cfg.hostname, "prefix": cfg.table_prefix}


def forum_database_of(root: Path) -> ForumDbConfig:
    cfg = read_config_php(root)
    if cfg is None:
        raise SnapshotError(FORUM_NOT_INSTALLED,
                            f"{root / 'inc' / 'config.php'} holds no database configuration: MyBB is not installed "
                            "there, so there is nothing to snapshot.")
    if cfg.kind not in (SQLITE, MYSQL):
        raise SnapshotError(UNSUPPORTED_DATABASE,
                            f"inc/config.php names a {cfg.type!r} database; snapshots support SQLite and "
                            "MySQL/MariaDB.")
    return cfg


def _quote_sqlite(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_mysql(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _digest(value: object) -> str:
    data = value if isinstance(value, bytes) else str("" if value is None else value).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


def catalog(cursor: table_schema.DbCursor, tables: list[str], quote_ident: Callable[[str], str],
            prefix: str) -> dict[str, Any]:
    """What `diff` compares, read in one transaction: row counts, settings, templates, stylesheets, datacache."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        cursor.execute(sql)
        return list(cursor.fetchall())

    counts: dict[str, int] = {}
    for table in tables:
        counts[table] = int(rows(f"SELECT COUNT(*) FROM {quote_ident(table)}")[0][0])
    result: dict[str, Any] = {"tables": counts}

    def existing(name: str) -> str | None:
        full = prefix + name
        return quote_ident(full) if full in counts else None

    if (groups_table := existing("settinggroups")) and (settings_table := existing("settings")):
        group_rows = rows(f"SELECT gid, name, title FROM {groups_table}")
        groups = {str(gid): cell_text(name) for gid, name, _ in group_rows}
        result["setting_groups"] = {cell_text(name): cell_text(title) for _, name, title in group_rows}
        result["settings"] = {
            cell_text(name): {"value": cell_text(value), "group": groups.get(str(gid)),
                              "definition": _digest(f"{cell_text(title)}\0{cell_text(optionscode)}\0"
                                                    f"{cell_text(description)}")}
            for name, value, gid, title, optionscode, description in rows(
                f"SELECT name, value, gid, title, optionscode, description FROM {settings_table}")
        }
    if templates_table := existing("templates"):
        sets: dict[str, dict[str, str]] = {}
        for sid, title, body in rows(f"SELECT sid, title, template FROM {templates_table}"):
            sets.setdefault(str(sid), {})[cell_text(title)] = _digest(body)
        result["templates"] = sets
        names = {"-2": "master templates (sid -2)", "-1": "global templates (sid -1)"}
        if sets_table := existing("templatesets"):
            for sid, title in rows(f"SELECT sid, title FROM {sets_table}"):
                names[str(sid)] = f"{cell_text(title)} (sid {sid})"
        result["template_sets"] = names
    if stylesheets_table := existing("themestylesheets"):
        themes: dict[str, dict[str, str]] = {}
        for tid, name, body in rows(f"SELECT tid, name, stylesheet FROM {stylesheets_table}"):
            themes.setdefault(str(tid), {})[cell_text(name)] = _digest(body)
        result["stylesheets"] = themes
        if themes_table := existing("themes"):
            result["themes"] = {str(tid): f"{cell_text(name)} (tid {tid})"
                                for tid, name in rows(f"SELECT tid, name FROM {themes_table}")}
    if tasks_table := existing("tasks"):
        result["tasks"] = {
            cell_text(title): {"enabled": cell_text(enabled), "definition": _digest(
                "\0".join(cell_text(v) for v in (file, minute, hour, day, month, weekday, logging, description)))}
            for title, enabled, file, minute, hour, day, month, weekday, logging, description in rows(
                "SELECT title, enabled, file, minute, hour, day, month, weekday, logging, description "
                f"FROM {tasks_table}")
        }
    if usergroups_table := existing("usergroups"):
        cursor.execute(f"SELECT * FROM {usergroups_table}")
        columns = [str(d[0]) for d in cursor.description or ()]  # set by the SELECT just run
        result["usergroups"] = {f"{cell_text(row[columns.index('title')])} (gid {row[columns.index('gid')]})": {
            c: cell_text(v) for c, v in zip(columns, row) if c.startswith(("can", "is", "show"))}
            for row in cursor.fetchall()}
    if datacache_table := existing("datacache"):
        entries = {cell_text(title): value for title, value in rows(f"SELECT title, cache FROM {datacache_table}")}
        result["datacache"] = {title: _digest(value) for title, value in entries.items()}
        if "plugins" in entries:
            result["plugins"] = active_plugins(cell_text(entries["plugins"]))
    return result


def active_plugins(serialized: str) -> list[str] | None:
    """The active plugins from MyBB's `plugins` datacache entry (PHP serialize() of ['active' => [...]])."""
    try:
        value, _ = _unserialize(serialized.encode("utf-8"), 0)
    except (ValueError, IndexError):
        return None
    active = value.get("active") if isinstance(value, dict) else None
    if isinstance(active, dict):
        return sorted(str(name) for name in active.values())
    return [] if active in (None, "", []) else None


# What PHP's serialize() writes for the datacache: scalars and arrays (keys int or string).
PhpValue: TypeAlias = Union[None, bool, int, float, str, dict[Union[int, str], "PhpValue"]]


def _unserialize(data: bytes, pos: int) -> tuple[PhpValue, int]:
    """Enough of PHP's unserialize() for datacache entries: strings, numbers, booleans, null, arrays."""
    kind = data[pos:pos + 1]
    if kind == b"N":
        return None, pos + 2
    end = data.index(b";" if kind in b"ibd" else b":", pos + 2)
    head = data[pos + 2:end]
    if kind == b"i":
        return int(head), end + 1
    if kind == b"d":
        return float(head), end + 1
    if kind == b"b":
        return head == b"1", end + 1
    if kind == b"s":
        start = end + 2  # past ':"'
        stop = start + int(head)  # PHP counts bytes
        return data[start:stop].decode("utf-8", "replace"), stop + 2  # past '";'
    if kind == b"a":
        pos = end + 2  # past ':{'
        items: dict[int | str, PhpValue] = {}
        for _ in range(int(head)):
            key, pos = _unserialize(data, pos)
            if not isinstance(key, (int, str)):  # PHP writes only i: and s: keys
                raise ValueError(f"unsupported serialized key {key!r}")
            items[key], pos = _unserialize(data, pos)
        return items, pos + 1  # past '}'
    raise ValueError(f"unsupported serialized type {kind!r}")


class SnapshotDatabase:
    """The forum's database, SQLite or MySQL/MariaDB: copy it out, copy it back, read its catalog."""

    def __init__(self, cfg: ForumDbConfig, root: Path) -> None:
        self.cfg, self.root, self.prefix = cfg, root, cfg.table_prefix

    # --- SQLite

    @property
    def sqlite_file(self) -> Path:
        return sqlite_path(self.cfg, self.root)

    def _sqlite_source(self) -> sqlite3.Connection:
        path = self.sqlite_file
        if not path.is_file():
            raise SnapshotError(SNAPSHOT_FAILED, f"The forum's SQLite database {path} does not exist.")
        # Read-only URI: a missing or moved file is an error, never a new empty database.
        return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=CONNECT_TIMEOUT)

    @staticmethod
    def _sqlite_catalog(conn: sqlite3.Connection, prefix: str) -> dict[str, Any]:
        cursor = conn.cursor()
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
        tables = sorted(str(row[0]) for row in cursor.fetchall() if str(row[0]).startswith(prefix))
        found = catalog(cursor, tables, _quote_sqlite, prefix)
        found["schema"] = table_schema.sqlite_schema(cursor, tables, _quote_sqlite)
        return found

    # --- MySQL/MariaDB

    @contextlib.contextmanager
    def _mysql(self) -> Iterator[Cursor]:
        """A cursor on the forum's MySQL database; its errors become a named failure."""
        import pymysql  # imported here: only MySQL forums pay for it

        cfg = self.cfg
        try:
            # A socket, or a host and port: host None and port 0 are PyMySQL's own defaults, as if not given.
            conn = pymysql.connect(user=cfg.username, password=cfg.password, database=cfg.database, charset="utf8mb4",
                                   connect_timeout=CONNECT_TIMEOUT, read_timeout=TOOL_TIMEOUT,
                                   write_timeout=TOOL_TIMEOUT, autocommit=True, unix_socket=cfg.socket or None,
                                   host=None if cfg.socket else cfg.host, port=0 if cfg.socket else cfg.port or 0)
            with closing(conn), conn.cursor() as cursor:
                yield cursor
        except pymysql.err.MySQLError as exc:
            raise SnapshotError(SNAPSHOT_FAILED, f"{describe_database(cfg, self.root)}: "
                                f"{exc.args[-1] if exc.args else exc}.") from None

    def _mysql_tables(self, cursor: Cursor) -> list[str]:
        cursor.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
        return sorted(str(row[0]) for row in cursor.fetchall() if str(row[0]).startswith(self.prefix))

    def _client_args(self) -> list[str]:
        cfg = self.cfg
        where = ([f"--socket={cfg.socket}"] if cfg.socket
                 else [f"--host={cfg.host}", f"--port={cfg.port}", "--protocol=TCP"])
        return ["--no-defaults", f"--user={cfg.username}", *where, "--default-character-set=utf8mb4"]

    def _client_env(self) -> dict[str, str]:
        # The password travels in the environment (readable by this user only), never on a command line.
        env = {key: value for key, value in os.environ.items() if key != "MYSQL_PWD"}
        if self.cfg.password:
            env["MYSQL_PWD"] = self.cfg.password
        return env

    def require_tools(self) -> tuple[str, str] | None:
        """(dump tool, client) for MySQL; refuses with the package to install when one is missing."""
        if self.cfg.kind != MYSQL:
            return None
        dump = shutil.which("mariadb-dump") or shutil.which("mysqldump")
        client = shutil.which("mariadb") or shutil.which("mysql")
        if not dump or not client:
            missing = " and ".join(n for n, p in (("mariadb-dump (or mysqldump)", dump), ("mariadb (or mysql)", client))
                                   if not p)
            raise SnapshotError(DUMP_TOOL_MISSING,
                                f"Snapshots of a MySQL/MariaDB forum need {missing}, which is not on PATH.")
        for value in (self.cfg.database, self.cfg.username):
            if value.startswith("-"):
                raise SnapshotError(UNSUPPORTED_DATABASE,
                                    f"The database or user name {value!r} starts with '-', which the database "
                                    "tools would read as an option.")
        return dump, client

    def _run_tool(self, argv: list[str], what: str, stdin: int | IO[bytes] = subprocess.DEVNULL) -> None:
        try:
            done = subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env=self._client_env(), timeout=TOOL_TIMEOUT, start_new_session=True)
        except subprocess.TimeoutExpired:
            raise SnapshotError(SNAPSHOT_FAILED, f"{what} did not finish within {TOOL_TIMEOUT:.0f} s.") from None
        if done.returncode != 0:
            output = done.stderr.decode("utf-8", "replace").strip()[-4000:]
            raise SnapshotError(SNAPSHOT_FAILED,
                                f"{what} failed (`{Path(argv[0]).name}` exited with status {done.returncode}).",
                                output)

    # --- both

    def save(self, folder: Path) -> dict[str, Any]:
        """Copy the database into `folder`; returns its catalog (read from the same consistent state)."""
        if self.cfg.kind == SQLITE:
            target = folder / SQLITE_FILE
            with closing(self._sqlite_source()) as source, closing(sqlite3.connect(target)) as copy:
                try:  # one step: the copy is one consistent state of the database
                    _sqlite_backup(source, copy, f"The forum's database {self.sqlite_file}")
                except sqlite3.Error as exc:
                    raise SnapshotError(SNAPSHOT_FAILED, f"Copying {self.sqlite_file} failed: {exc}.") from None
                return self._sqlite_catalog(copy, self.prefix)
        tools = self.require_tools()
        assert tools is not None
        with self._mysql() as cursor:
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            tables = self._mysql_tables(cursor)
            found = catalog(cursor, tables, _quote_mysql, self.prefix)
            found["schema"] = table_schema.mysql_schema(cursor, tables)
            cursor.execute("COMMIT")
        if not tables:
            raise SnapshotError(SNAPSHOT_FAILED, f"{describe_database(self.cfg, self.root)} has no tables "
                                f"starting with {self.prefix!r}.")
        target = folder / SQL_FILE
        self._run_tool([tools[0], *self._client_args(), "--single-transaction", "--quick", "--hex-blob",
                        "--skip-dump-date", "--no-tablespaces", f"--result-file={target}", self.cfg.database, *tables],
                       "Dumping the database")
        os.chmod(target, 0o600)
        return found

    def restore(self, folder: Path, tables_then: list[str]) -> None:
        """Make the database what `folder` holds."""
        if self.cfg.kind == SQLITE:
            copy = folder / SQLITE_FILE
            source = sqlite3.connect(f"file:{quote(str(copy))}?mode=ro", uri=True)
            with closing(source), closing(sqlite3.connect(self.sqlite_file)) as live:
                try:  # replaces every page under SQLite's lock: requests see before or after
                    _sqlite_backup(source, live, f"The forum's database {self.sqlite_file}")
                except sqlite3.Error as exc:
                    raise SnapshotError(SNAPSHOT_FAILED, f"Writing {self.sqlite_file} failed: {exc}.") from None
            return
        tools = self.require_tools()
        assert tools is not None
        # The dump recreates its own tables; tables made since (a plugin's) are dropped first.
        with self._mysql() as cursor:
            extra = [t for t in self._mysql_tables(cursor) if t not in set(tables_then)]
            if extra:
                cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
                for table in extra:
                    cursor.execute(f"DROP TABLE IF EXISTS {_quote_mysql(table)}")
        with open(folder / SQL_FILE, "rb") as dump:
            self._run_tool([tools[1], *self._client_args(), self.cfg.database], "Loading the dump", stdin=dump)

    def current_catalog(self) -> dict[str, Any]:
        if self.cfg.kind == SQLITE:
            with closing(self._sqlite_source()) as conn:
                conn.isolation_level = None
                conn.execute("BEGIN")  # one read transaction: a consistent view while PHP writes
                try:
                    return self._sqlite_catalog(conn, self.prefix)
                finally:
                    conn.execute("COMMIT")
        with self._mysql() as cursor:
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            tables = self._mysql_tables(cursor)
            found = catalog(cursor, tables, _quote_mysql, self.prefix)
            found["schema"] = table_schema.mysql_schema(cursor, tables)
            cursor.execute("COMMIT")
            return found


def forum_database(root: Path) -> SnapshotDatabase:
    """The forum's database as its inc/config.php names it (raises SnapshotError when it cannot)."""
    return SnapshotDatabase(forum_database_of(root), root)


def current_catalog(database: SnapshotDatabase) -> dict[str, Any]:
    """What `compare` takes: the database's tables, settings, templates ... now."""
    return database.current_catalog()
