"""Snapshots of a forum: its database and the files MyBB writes, saved to throw changes away later.

A snapshot is a folder `<repo_root>/.mybb-snapshots/<name>/` (mode 0700, like its parent):

    snapshot.json     when, which database, the files it holds (read by list, so kept small)
    catalog.json      the database in MyBB's terms for `diff`: row counts, settings, template and datacache hashes
    database.sqlite   SQLite: a copy made through SQLite's backup API (consistent while PHP writes)
    database.sql      MySQL/MariaDB: `mariadb-dump --single-transaction` of the forum's tables
    files/            inc/config.php, inc/settings.php, cache/ and uploads/ as they were

Everything else in the forum, plugin sources in inc/plugins/ first of all, is the user's work: never
saved, never rolled back. cache/ and uploads/ are world-writable in many MyBB installs, so nothing
there is trusted (see snapshot_tree.py: descriptor-relative, no links, loops not recursion, capped;
manifests checked before a restore touches anything): files are opened with O_NOFOLLOW, written as a
temporary file renamed over the old one, and symlinks are neither followed, captured nor replaced.

`restore` asks no question: it first saves what it replaces as an automatic snapshot
(`auto-before-restore-<time>`), so a restore can itself be undone.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import InvalidArgument
from ..safe_files import read_own_bounded
from . import schema as table_schema
from .files import MYSQL, SQLITE, ForumDbConfig, read_config_php, read_mybb_version, sqlite_path
from .snapshot_tree import (
    DEFAULT_MAX_BYTES,
    TreeRefused,
    checked_manifest,
    read_tree,
    write_tree,
)

SNAPSHOTS_DIR = ".mybb-snapshots"
META_FILE = "snapshot.json"
CATALOG_FILE = "catalog.json"
SQLITE_FILE = "database.sqlite"
SQL_FILE = "database.sql"
FILES_DIR = "files"
FORMAT = 1

ACTIONS = ("save", "restore", "list", "delete", "diff")
MAX_NAME_LENGTH = 64
# Letters, digits, '.', '_' and '-', not starting with '.' or '-': a single path component, never hidden.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # matched whole (fullmatch): no trailing newline
_NAME = re.compile(NAME_PATTERN)
AUTO_PREFIX = "auto-before-restore-"
KEEP_AUTOMATIC = 10  # automatic snapshots beyond the newest ten are removed after a restore

# The files MyBB itself writes, relative to the forum root: two files in inc/, two whole folders.
NOT_ROLLED_BACK = (
    "Plugin sources (inc/plugins/) and all other forum files are your work: snapshots never save or roll "
    "them back. A snapshot holds the database, inc/config.php, inc/settings.php, cache/ and uploads/."
)

LOCK_TIMEOUT = 30.0
TOOL_TIMEOUT = 600.0  # a dump or a load of a large forum; bounded all the same
CONNECT_TIMEOUT = 10.0
CLIENT_PACKAGE = "mariadb-client"  # Debian/Ubuntu: mariadb-dump and mariadb (default-mysql-client works too)

# How a snapshot action failed: values of orchestration.failures.Failure, which the service turns them
# into (this package does not import the server).
FORUM_NOT_INSTALLED = "forum_not_installed"
UNSUPPORTED_DATABASE = "unsupported_database"
DUMP_TOOL_MISSING = "dump_tool_missing"
SNAPSHOT_NOT_FOUND = "snapshot_not_found"
SNAPSHOT_EXISTS = "snapshot_exists"
DATABASE_MISMATCH = "database_mismatch"
STORAGE_UNSAFE = "storage_unsafe"
SNAPSHOT_FAILED = "snapshot_failed"
BUSY = "busy"
FAILURE_CODES = (FORUM_NOT_INSTALLED, UNSUPPORTED_DATABASE, DUMP_TOOL_MISSING, SNAPSHOT_NOT_FOUND, SNAPSHOT_EXISTS,
                 DATABASE_MISMATCH, STORAGE_UNSAFE, SNAPSHOT_FAILED, BUSY)

MAX_MANIFEST_BYTES = 256 * 1024 * 1024  # snapshot.json and catalog.json: a thousand templates' hashes fit many times


# ----------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SnapshotInfo:
    """One saved snapshot, as `list` shows it."""

    name: str
    created: str  # ISO 8601, UTC, microseconds (orders snapshots taken within one second)
    automatic: bool
    reason: str  # why an automatic snapshot was taken ("before restoring X"); "" for the user's own
    database: str  # which database it holds, for people: "SQLite /path/forum.db"
    mybb_version: str | None
    files: int  # forum files it holds
    size_bytes: int
    path: Path


@dataclass(frozen=True)
class TableChange:
    table: str
    rows_before: int | None  # None: the table did not exist at the snapshot
    rows_after: int | None  # None: the table is gone now


@dataclass(frozen=True)
class Change:
    """Something named that was added (before None), removed (after None) or changed (both set)."""

    name: str
    group: str | None  # its setting group, template set, theme or folder, as MyBB names it
    before: str | None
    after: str | None

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"


@dataclass(frozen=True)
class SnapshotDiff:
    """What differs between a snapshot and the forum now, in MyBB's terms."""

    tables: tuple[TableChange, ...] = ()
    setting_groups: tuple[Change, ...] = ()  # before/after: the group's title
    settings: tuple[Change, ...] = ()  # before/after: the value; same value = its definition changed
    templates: tuple[Change, ...] = ()  # group: the template set
    stylesheets: tuple[Change, ...] = ()  # group: the theme
    datacache: tuple[Change, ...] = ()
    plugins_before: tuple[str, ...] | None = None  # active plugins (the `plugins` datacache entry)
    plugins_after: tuple[str, ...] | None = None
    files: tuple[Change, ...] = ()  # before/after: size in bytes
    unknown: tuple[str, ...] = ()  # sections that could not be compared, and why
    schema: tuple[table_schema.SchemaChange, ...] = ()  # columns and indexes of tables both hold

    @property
    def empty(self) -> bool:
        return not (self.tables or self.schema or self.setting_groups or self.settings or self.templates or self.stylesheets
                    or self.datacache or self.files or self.plugins_before != self.plugins_after)


@dataclass
class SnapshotResult:
    """The outcome of one snapshot action; `failure` set means nothing was changed unless `message` says so."""

    action: str
    ok: bool
    name: str | None = None
    failure: str | None = None  # a Failure value (the service hands out the Failure itself)
    message: str = ""
    detail: str = ""  # what a database tool printed, verbatim (render fences it)
    snapshot: SnapshotInfo | None = None
    snapshots: list[SnapshotInfo] = field(default_factory=list)
    automatic: SnapshotInfo | None = None  # restore: the snapshot of what it replaced
    files_written: int = 0
    files_removed: int = 0
    skipped: list[str] = field(default_factory=list)  # forum paths left alone (symlinks, special files)
    diff: SnapshotDiff | None = None
    pruned: list[str] = field(default_factory=list)  # old automatic snapshots removed
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    storage: Path | None = None


class SnapshotError(Exception):
    """A named failure on the way; `run` turns it into a result."""

    def __init__(self, failure: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.failure, self.message, self.detail = failure, message, detail


# ----------------------------------------------------------------------------------------- names


def validate_name(name: object) -> str:
    """A snapshot name: one path component of letters, digits, '.', '_', '-', at most 64 characters."""
    if not isinstance(name, str) or not name:
        raise InvalidArgument("A snapshot name is required.", "Give a name such as `before-plugin`.")
    if not _NAME.fullmatch(name):
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise InvalidArgument(
            f"{shown!r} is not a usable snapshot name: use 1-{MAX_NAME_LENGTH} letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no '/', no spaces).",
            "Use a name such as `before-plugin` or `clean-install`.",
        )
    return name


def validate_action(action: object) -> str:
    if action not in ACTIONS:
        raise InvalidArgument(f"{action!r} is not a snapshot action.", f"Use one of: {', '.join(ACTIONS)}.")
    return str(action)


# ----------------------------------------------------------------------------------------- the forum's database


def _describe(cfg: ForumDbConfig, root: Path) -> str:
    if cfg.kind == SQLITE:
        return f"SQLite {sqlite_path(cfg, root)}"
    return f"MySQL/MariaDB database '{cfg.database}' at {cfg.endpoint()}"


def _identity(cfg: ForumDbConfig, root: Path) -> dict[str, str]:
    """What makes two configs the same database: a snapshot restores only into the one it came from."""
    if cfg.kind == SQLITE:
        return {"kind": SQLITE, "file": str(sqlite_path(cfg, root)), "prefix": cfg.table_prefix}
    # The hostname as written, not the endpoint: for 'localhost' that is a guessed socket, which may change.
    return {"kind": MYSQL, "database": cfg.database, "hostname": cfg.hostname, "prefix": cfg.table_prefix}


def _forum_database(root: Path) -> ForumDbConfig:
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


def _digest(value: Any) -> str:
    data = value if isinstance(value, bytes) else str("" if value is None else value).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def catalog(cursor: Any, tables: list[str], quote_ident: Callable[[str], str], prefix: str) -> dict[str, Any]:
    """What `diff` compares, read in one transaction: row counts, settings, templates, stylesheets, datacache."""

    def rows(sql: str) -> list[tuple[Any, ...]]:
        cursor.execute(sql)
        return list(cursor.fetchall())

    counts: dict[str, int] = {}
    for table in tables:
        counts[table] = int(rows(f"SELECT COUNT(*) FROM {quote_ident(table)}")[0][0])
    result: dict[str, Any] = {"tables": counts}

    def table(name: str) -> str | None:
        full = prefix + name
        return quote_ident(full) if full in counts else None

    if (groups_table := table("settinggroups")) and (settings_table := table("settings")):
        group_rows = rows(f"SELECT gid, name, title FROM {groups_table}")
        groups = {str(gid): _text(name) for gid, name, _ in group_rows}
        result["setting_groups"] = {_text(name): _text(title) for _, name, title in group_rows}
        result["settings"] = {
            _text(name): {"value": _text(value), "group": groups.get(str(gid)),
                          "definition": _digest(f"{_text(title)}\0{_text(optionscode)}\0{_text(description)}")}
            for name, value, gid, title, optionscode, description in rows(
                f"SELECT name, value, gid, title, optionscode, description FROM {settings_table}")
        }
    if templates_table := table("templates"):
        sets: dict[str, dict[str, str]] = {}
        for sid, title, body in rows(f"SELECT sid, title, template FROM {templates_table}"):
            sets.setdefault(str(sid), {})[_text(title)] = _digest(body)
        result["templates"] = sets
        names = {"-2": "master templates (sid -2)", "-1": "global templates (sid -1)"}
        if sets_table := table("templatesets"):
            for sid, title in rows(f"SELECT sid, title FROM {sets_table}"):
                names[str(sid)] = f"{_text(title)} (sid {sid})"
        result["template_sets"] = names
    if stylesheets_table := table("themestylesheets"):
        themes: dict[str, dict[str, str]] = {}
        for tid, name, body in rows(f"SELECT tid, name, stylesheet FROM {stylesheets_table}"):
            themes.setdefault(str(tid), {})[_text(name)] = _digest(body)
        result["stylesheets"] = themes
        if themes_table := table("themes"):
            result["themes"] = {str(tid): f"{_text(name)} (tid {tid})"
                                for tid, name in rows(f"SELECT tid, name FROM {themes_table}")}
    if datacache_table := table("datacache"):
        entries = {_text(title): value for title, value in rows(f"SELECT title, cache FROM {datacache_table}")}
        result["datacache"] = {title: _digest(value) for title, value in entries.items()}
        if "plugins" in entries:
            result["plugins"] = active_plugins(_text(entries["plugins"]))
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


def _unserialize(data: bytes, pos: int) -> tuple[Any, int]:
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
        pos, items = end + 2, {}  # past ':{'
        for _ in range(int(head)):
            key, pos = _unserialize(data, pos)
            items[key], pos = _unserialize(data, pos)
        return items, pos + 1  # past '}'
    raise ValueError(f"unsupported serialized type {kind!r}")


class _Database:
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
    def _mysql(self) -> Iterator[Any]:
        """A cursor on the forum's MySQL database; its errors become a named failure."""
        import pymysql  # imported here: only MySQL forums pay for it

        cfg = self.cfg
        where: dict[str, Any] = {"unix_socket": cfg.socket} if cfg.socket else {"host": cfg.host, "port": cfg.port}
        try:
            conn = pymysql.connect(user=cfg.username, password=cfg.password, database=cfg.database, charset="utf8mb4",
                                   connect_timeout=CONNECT_TIMEOUT, read_timeout=TOOL_TIMEOUT,
                                   write_timeout=TOOL_TIMEOUT, autocommit=True, **where)
            with closing(conn), conn.cursor() as cursor:
                yield cursor
        except pymysql.err.MySQLError as exc:
            raise SnapshotError(SNAPSHOT_FAILED, f"{_describe(cfg, self.root)}: "
                                f"{exc.args[-1] if exc.args else exc}.") from None

    def _mysql_tables(self, cursor: Any) -> list[str]:
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

    def _run_tool(self, argv: list[str], what: str, stdin: Any = subprocess.DEVNULL) -> None:
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
                try:
                    source.backup(copy)  # one step: the copy is one consistent state of the database
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
            raise SnapshotError(SNAPSHOT_FAILED,
                                f"{_describe(self.cfg, self.root)} has no tables starting with {self.prefix!r}.")
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
            with closing(source), closing(sqlite3.connect(self.sqlite_file, timeout=LOCK_TIMEOUT)) as live:
                try:
                    source.backup(live)  # replaces every page under SQLite's lock: requests see before or after
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


def forum_database(root: Path) -> _Database:
    """The forum's database as its inc/config.php names it (raises SnapshotError when it cannot)."""
    return _Database(_forum_database(root), root)


def current_catalog(database: _Database) -> dict[str, Any]:
    """What `compare` takes: the database's tables, settings, templates ... now."""
    return database.current_catalog()


# ----------------------------------------------------------------------------------------- comparing


def _changes(then: Mapping[str, str], now: Mapping[str, str], group: str | None = None) -> list[Change]:
    changes = [Change(name, group, then[name], None) for name in sorted(set(then) - set(now))]
    changes += [Change(name, group, None, now[name]) for name in sorted(set(now) - set(then))]
    changes += [Change(name, group, then[name], now[name]) for name in sorted(set(then) & set(now))
                if then[name] != now[name]]
    return sorted(changes, key=lambda c: (c.kind != "added", c.kind != "removed", c.name))


def _grouped(then: Mapping[str, Mapping[str, str]], now: Mapping[str, Mapping[str, str]],
             labels: Mapping[str, str]) -> list[Change]:
    changes: list[Change] = []
    for key in sorted(set(then) | set(now), key=lambda k: (int(k) if k.lstrip("-").isdigit() else 0, k)):
        changes += _changes(then.get(key, {}), now.get(key, {}), labels.get(key, key))
    return changes


def compare(then: Mapping[str, Any], now: Mapping[str, Any]) -> SnapshotDiff:
    """The difference between two catalogs (with their `files`), in MyBB's terms."""
    unknown: list[str] = []
    tables_then, tables_now = then.get("tables", {}), now.get("tables", {})
    tables = [TableChange(t, tables_then.get(t), tables_now.get(t))
              for t in sorted(set(tables_then) | set(tables_now)) if tables_then.get(t) != tables_now.get(t)]
    tables.sort(key=lambda c: (c.rows_before is not None, c.rows_after is not None, c.table))

    def section(key: str) -> tuple[Any, Any] | None:
        if key in then and key in now:
            return then[key], now[key]
        if key in then or key in now:
            unknown.append(f"{key}: the {'snapshot' if key not in then else 'forum now'} has no such table")
        return None

    settings: list[Change] = []
    groups: list[Change] = []
    if found := section("settings"):
        old, new = found
        for change in _changes({k: json.dumps(v, sort_keys=True) for k, v in old.items()},
                               {k: json.dumps(v, sort_keys=True) for k, v in new.items()}):
            before, after = old.get(change.name), new.get(change.name)
            settings.append(Change(change.name, (after or before or {}).get("group"),
                                   before["value"] if before else None, after["value"] if after else None))
        groups = _changes(then.get("setting_groups", {}), now.get("setting_groups", {}))
    templates: list[Change] = []
    if found := section("templates"):
        labels = {**then.get("template_sets", {}), **now.get("template_sets", {})}
        templates = _grouped(found[0], found[1], labels)
    stylesheets: list[Change] = []
    if found := section("stylesheets"):
        labels = {**then.get("themes", {}), **now.get("themes", {})}
        stylesheets = _grouped(found[0], found[1], {k: f"theme {v}" for k, v in labels.items()})
    datacache: list[Change] = []
    if found := section("datacache"):
        datacache = _changes(found[0], found[1])
    files_then = {p: str(m.get("size")) + ":" + str(m.get("sha256")) for p, m in then.get("files", {}).items()}
    files_now = {p: str(m.get("size")) + ":" + str(m.get("sha256")) for p, m in now.get("files", {}).items()}
    files = [Change(c.name, None, c.before and c.before.split(":")[0], c.after and c.after.split(":")[0])
             for c in _changes(files_then, files_now)]
    plugins_then, plugins_now = then.get("plugins"), now.get("plugins")
    shapes: list[table_schema.SchemaChange] = []
    if "schema" in then and "schema" in now:
        shapes = table_schema.compare_schemas(then["schema"], now["schema"])
    elif "schema" in now:
        unknown.append("columns and indexes: the snapshot was saved before snapshots recorded them")
    return SnapshotDiff(
        tables=tuple(tables), setting_groups=tuple(groups), settings=tuple(settings), templates=tuple(templates),
        stylesheets=tuple(stylesheets), datacache=tuple(datacache),
        plugins_before=tuple(plugins_then) if plugins_then is not None else None,
        plugins_after=tuple(plugins_now) if plugins_now is not None else None,
        files=tuple(files), unknown=tuple(unknown), schema=tuple(shapes),
    )


# ----------------------------------------------------------------------------------------- the store


def _when(meta: Mapping[str, Any]) -> str:
    return str(meta.get("created", ""))[:19].replace("T", " ") + " UTC"


class Snapshots:
    """The snapshots of one forum, kept beside its state in `<repo_root>/.mybb-snapshots/`."""

    def __init__(self, mybb_root: Path, storage: Path | None = None, clock: Callable[[], float] = time.time,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(mybb_root)
        self.max_bytes = max_bytes  # MYBB_SNAPSHOT_MAX_MB: the forum files one snapshot may hold
        # The caller names the folder when forums share a parent (the service keys it per forum).
        self.storage = storage or self.root.parent / SNAPSHOTS_DIR
        self._clock = clock

    # --- entry point

    def run(self, action: str, name: str | None = None) -> SnapshotResult:
        """Do `action`; bad arguments raise InvalidArgument before anything is touched."""
        action = validate_action(action)
        if action != "list":
            name = validate_name(name)
        started = time.perf_counter()
        try:
            result = getattr(self, f"_{action}")(name)
        except SnapshotError as exc:
            result = SnapshotResult(action, False, name, exc.failure, exc.message, exc.detail)
        except TreeRefused as exc:  # too deep, too large, or a tampered manifest: refused before any change
            result = SnapshotResult(action, False, name, SNAPSHOT_FAILED, exc.message)
        except (OSError, sqlite3.Error) as exc:  # a full disk, a locked or broken database ...
            result = SnapshotResult(action, False, name, SNAPSHOT_FAILED,
                                    f"The snapshot {action} failed: {type(exc).__name__}: {exc}.")
        result.seconds = time.perf_counter() - started
        result.storage = self.storage
        if action in ("save", "restore"):
            result.notes.append(NOT_ROLLED_BACK)
        return result

    # --- storage

    def _store(self, create: bool) -> Path | None:
        """The storage folder, checked: ours, a real directory, private. None when absent and not created."""
        path = self.storage
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if not create:
                return None
            if not self.root.is_dir():
                raise SnapshotError(FORUM_NOT_INSTALLED, f"The forum root {self.root} does not exist.")
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
            info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise SnapshotError(STORAGE_UNSAFE,
                                f"{path} is not a directory owned by you (a symlink, a file or another user's): "
                                "snapshots are not read from or written there.")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(path, 0o700)
        return path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        store = self._store(create=True)
        assert store is not None
        fd = os.open(store / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise SnapshotError(BUSY, f"Another snapshot operation on this forum held "
                                            f"{store / '.lock'} for {LOCK_TIMEOUT:.0f} s.") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    def _folder(self, name: str) -> Path:
        """An existing snapshot's folder (checked like the storage), or SNAPSHOT_NOT_FOUND."""
        store = self._store(create=False)
        path = (store or self.storage) / name
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            info = None
        if store is None or info is None:
            known = ", ".join(s.name for s in self._infos()[:10]) or "none yet"
            raise SnapshotError(SNAPSHOT_NOT_FOUND, f"There is no snapshot named {name!r} "
                                f"(snapshots of this forum: {known}).")
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise SnapshotError(STORAGE_UNSAFE, f"{path} is not a snapshot folder of yours.")
        return path

    @staticmethod
    def _read_json(folder: Path, file_name: str) -> dict[str, Any]:
        try:  # ours, a regular file, bounded, never blocking on a FIFO planted in its place
            data = json.loads(read_own_bounded(folder / file_name, MAX_MANIFEST_BYTES))
        except (OSError, ValueError) as exc:
            raise SnapshotError(SNAPSHOT_FAILED,
                                f"The snapshot {folder.name!r} is unreadable ({folder / file_name}: {exc}); "
                                "delete it.") from None
        if not isinstance(data, dict):
            raise SnapshotError(SNAPSHOT_FAILED, f"The snapshot {folder.name!r} is unreadable ({folder / file_name} "
                                "holds no JSON object); delete it.")
        return data

    def _meta(self, folder: Path) -> dict[str, Any]:
        meta = self._read_json(folder, META_FILE)
        if meta.get("format") != FORMAT:
            raise SnapshotError(SNAPSHOT_FAILED,
                                f"The snapshot {folder.name!r} was written in a format this version does not read.")
        return meta

    def _info(self, folder: Path, meta: Mapping[str, Any]) -> SnapshotInfo:
        size = 0
        for dirpath, _, names in os.walk(folder):
            for name in names:
                with contextlib.suppress(OSError):
                    size += os.lstat(os.path.join(dirpath, name)).st_size
        return SnapshotInfo(
            name=folder.name, created=str(meta.get("created", "")), automatic=bool(meta.get("automatic")),
            reason=str(meta.get("reason", "")), database=str(meta.get("database_description", "")),
            mybb_version=meta.get("mybb_version"), files=len(meta.get("files", {})), size_bytes=size, path=folder,
        )

    def _infos(self) -> list[SnapshotInfo]:
        store = self._store(create=False)
        if store is None:
            return []
        infos = []
        for entry in os.scandir(store):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(SnapshotError):
                infos.append(self._info(Path(entry.path), self._meta(Path(entry.path))))
        return sorted(infos, key=lambda info: (info.created, info.name))

    # --- actions

    def _save(self, name: str, *, automatic: bool = False, reason: str = "") -> SnapshotResult:
        _Database(_forum_database(self.root), self.root).require_tools()  # refused before anything is made
        with self._locked():
            return self._save_locked(name, automatic=automatic, reason=reason)

    def _save_locked(self, name: str, *, automatic: bool = False, reason: str = "") -> SnapshotResult:
        cfg = _forum_database(self.root)
        database = _Database(cfg, self.root)
        database.require_tools()
        store = self._store(create=True)
        assert store is not None
        if os.path.lexists(store / name):
            raise SnapshotError(SNAPSHOT_EXISTS, f"A snapshot named {name!r} already exists.")
        work = Path(tempfile.mkdtemp(prefix=f".saving-{name}-", dir=store))  # 0700, hidden from `list`
        try:
            found = database.save(work)
            tree = read_tree(self.root, copy_to=work / FILES_DIR, max_bytes=self.max_bytes)
            meta = {
                "format": FORMAT, "name": name,
                "created": datetime.fromtimestamp(self._clock(), timezone.utc).isoformat(timespec="microseconds"),
                "automatic": automatic, "reason": reason,
                "database": _identity(cfg, self.root), "database_description": _describe(cfg, self.root),
                "mybb_version": read_mybb_version(self.root),
                "files": tree.files, "dirs": tree.dirs, "skipped": tree.skipped, "tables": sorted(found["tables"]),
            }
            # json.dumps, not json.dump: the C encoder, ten times faster on the catalog's thousand templates.
            for file_name, data in ((CATALOG_FILE, found), (META_FILE, meta)):
                with open(work / file_name, "x", encoding="utf-8") as handle:
                    handle.write(json.dumps(data, separators=(",", ":")))
            os.rename(work, store / name)  # all or nothing: a half-written snapshot never has a name
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        folder = store / name
        result = SnapshotResult("save", True, name, snapshot=self._info(folder, meta),
                                message=f"Saved snapshot {name!r} of {meta['database_description']} and "
                                        f"{len(tree.files)} forum files.")
        result.skipped = tree.skipped
        return result

    def _restore(self, name: str) -> SnapshotResult:
        with self._locked():
            folder = self._folder(name)
            meta = self._meta(folder)
            cfg = _forum_database(self.root)
            if meta.get("database") != _identity(cfg, self.root):
                raise SnapshotError(DATABASE_MISMATCH,
                                    f"Snapshot {name!r} holds {meta.get('database_description')}, but the forum now "
                                    f"uses {_describe(cfg, self.root)} (inc/config.php): nothing was restored.")
            database = _Database(cfg, self.root)
            database.require_tools()
            # A manifest changed since the save could name `cache/..`: checked before anything is touched.
            files, dirs = checked_manifest(self.root, meta.get("files", {}), meta.get("dirs", {}))
            # First keep what is about to be replaced: the restore can then be undone.
            keep = self._auto_name()
            kept = self._save_locked(keep, automatic=True, reason=f"before restoring {name}")
            try:
                database.restore(folder, list(meta.get("tables", [])))
                sync = write_tree(self.root, folder / FILES_DIR, files, dirs)
            except (SnapshotError, TreeRefused, OSError, sqlite3.Error) as exc:
                failure = exc.failure if isinstance(exc, SnapshotError) else SNAPSHOT_FAILED
                message = exc.message if isinstance(exc, (SnapshotError, TreeRefused)) else str(exc)
                result = SnapshotResult("restore", False, name, failure,
                                        f"Restoring {name!r} failed part way: {message} The forum may be half "
                                        f"restored; what it was just before is kept as snapshot {keep!r}.",
                                        exc.detail if isinstance(exc, SnapshotError) else "")
                result.automatic = kept.snapshot
                return result
            result = SnapshotResult(
                "restore", True, name, snapshot=self._info(folder, meta), automatic=kept.snapshot,
                files_written=sync.written, files_removed=sync.removed, skipped=sync.skipped,
                message=f"Restored snapshot {name!r} (saved {_when(meta)}): the database and the files MyBB "
                        f"writes are as they were then.",
            )
            result.pruned = self._prune(keep)
            return result

    def _auto_name(self) -> str:
        stamp = datetime.fromtimestamp(self._clock(), timezone.utc).strftime("%Y%m%d-%H%M%S")
        name, counter = f"{AUTO_PREFIX}{stamp}", 1
        while os.path.lexists(self.storage / name):
            counter += 1
            name = f"{AUTO_PREFIX}{stamp}-{counter}"
        return name

    def _prune(self, keep: str) -> list[str]:
        automatic = [info for info in self._infos() if info.automatic and info.name != keep]
        pruned = [info.name for info in automatic[:max(0, len(automatic) - (KEEP_AUTOMATIC - 1))]]
        for old in pruned:
            shutil.rmtree(self.storage / old, ignore_errors=True)
        return pruned

    def _list(self, name: None) -> SnapshotResult:
        infos = self._infos()
        return SnapshotResult("list", True, snapshots=infos,
                              message=f"{len(infos)} snapshot{'s' if len(infos) != 1 else ''} of {self.root}.")

    def _delete(self, name: str) -> SnapshotResult:
        with self._locked():
            folder = self._folder(name)
            info = self._info(folder, self._meta(folder)) if (folder / META_FILE).exists() else None
            shutil.rmtree(folder)
        return SnapshotResult("delete", True, name, snapshot=info, message=f"Deleted snapshot {name!r}.")

    def _diff(self, name: str) -> SnapshotResult:
        with self._locked():  # a snapshot being deleted meanwhile is not half read
            return self._diff_locked(name)

    def _diff_locked(self, name: str) -> SnapshotResult:
        folder = self._folder(name)
        meta = self._meta(folder)
        cfg = _forum_database(self.root)
        notes: list[str] = []
        if meta.get("database") != _identity(cfg, self.root):
            notes.append(f"The snapshot holds {meta.get('database_description')}; the forum now uses "
                         f"{_describe(cfg, self.root)}: the comparison is between different databases.")
        now = _Database(cfg, self.root).current_catalog()
        tree = read_tree(self.root, known=meta.get("files", {}), max_bytes=self.max_bytes)
        then = {**self._read_json(folder, CATALOG_FILE), "files": meta.get("files", {})}
        difference = compare(then, {**now, "files": tree.files})
        result = SnapshotResult("diff", True, name, snapshot=self._info(folder, meta), diff=difference,
                                skipped=tree.skipped, notes=notes,
                                message=f"Changes in the forum since snapshot {name!r} (saved {_when(meta)}).")
        return result
