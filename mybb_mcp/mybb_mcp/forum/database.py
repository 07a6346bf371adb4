"""The forum's database: a health check that connects the way MyBB would (MySQL/MariaDB through
PyMySQL, SQLite through sqlite3, PostgreSQL reachability only), and the settings-table access the
development switches write through."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from .files import (
    MYSQL,
    PGSQL,
    SQLITE,
    UNKNOWN,
    ForumDbConfig,
    php_ini_value,
    read_config_php,
    sqlite_path,
)

# DatabaseHealth.failure categories.
CANNOT_CONNECT = "cannot_connect"  # no server at that socket/host:port, or it did not answer
ACCESS_DENIED = "access_denied"  # the server refused the user/password (or the user's access to the database)
UNKNOWN_DATABASE = "unknown_database"  # the server has no database of that name
MISSING_FILE = "missing_file"  # SQLite: the database file does not exist
CANNOT_OPEN = "cannot_open"  # SQLite: the file exists but is unreadable or not a database
NOT_MYBB = "not_mybb"  # the database has no <prefix>settings table
UNREACHABLE = "unreachable"  # PostgreSQL: nothing listens at the configured address
UNSUPPORTED = "unsupported"  # inc/config.php names a database type MyBB does not have


@dataclass(frozen=True)
class DatabaseHealth:
    """Whether the forum's database answers, and if not exactly why and what to do."""

    ok: bool
    kind: str  # mysql, pgsql, sqlite, unknown
    summary: str  # one line: "MariaDB 10.11.6 via /run/mysqld/mysqld.sock", "cannot connect to ..."
    failure: str | None = None  # one of CANNOT_CONNECT, ACCESS_DENIED, UNKNOWN_DATABASE, ... when not ok
    detail: str | None = None  # the server's or driver's own words
    hint: str | None = None  # the next step
    version: str | None = None  # server version string when known
    target: str = ""  # socket path, host:port or database file


def _mysql_error_category(code: int) -> str:
    if code in (1045, 1044, 1698):  # access denied (to the server / to the database / unix_socket auth)
        return ACCESS_DENIED
    if code == 1049:
        return UNKNOWN_DATABASE
    return CANNOT_CONNECT  # 2002/2003 no server, 2005 unknown host, 2013 lost, and whatever else stops us


def mysql_product(version: str) -> str:
    """"MariaDB 10.11.6" / "MySQL 8.0.36" from a version string; MariaDB's handshake puts "5.5.5-" first
    (for clients of old), which is not its version."""
    number = version.removeprefix("5.5.5-").split("-", 1)[0]
    return f"MariaDB {number}" if "mariadb" in version.lower() else f"MySQL {number}"


def _prefix_hint(tables: Sequence[str], cfg: ForumDbConfig) -> str:
    prefixes = sorted({t[: -len("settings")] for t in tables if t.endswith("settings") and t != cfg.settings_table})
    if prefixes:
        listed = ", ".join(repr(p) for p in prefixes)
        return (
            f"Tables with other prefixes exist ({listed}): fix $config['database']['table_prefix'] in "
            "inc/config.php, or finish the installation (open /install/ on the running server)."
        )
    return "The installer did not finish: start the server and open /install/ in a browser to install MyBB."


def _check_mysql(cfg: ForumDbConfig, timeout: float) -> DatabaseHealth:
    import pymysql  # imported here: only MySQL forums pay for it

    target = cfg.endpoint()
    via = f"via {cfg.socket}" if cfg.socket else f"at {target}"
    try:
        conn = pymysql.connect(
            user=cfg.username,
            password=cfg.password,
            database=cfg.database or None,
            connect_timeout=max(timeout, 0.1),
            read_timeout=max(timeout, 0.1),
            write_timeout=max(timeout, 0.1),
            charset="utf8mb4",
            # A socket, or a host and port: host None and port 0 are PyMySQL's own defaults, as if not given.
            unix_socket=cfg.socket or None,
            host=None if cfg.socket else cfg.host,
            port=0 if cfg.socket else cfg.port or 0,
        )
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        category = _mysql_error_category(code)
        grant = f"GRANT ALL ON `{cfg.database}`.* TO '{cfg.username}'@'localhost' IDENTIFIED BY '...';"
        hints = {
            CANNOT_CONNECT: (
                f"Start the database server (is MariaDB/MySQL running and listening {via}?), "
                "or fix $config['database']['hostname'] in inc/config.php."
            ),
            ACCESS_DENIED: (
                f"Fix $config['database']['username'] / ['password'] in inc/config.php, or grant access: {grant}"
            ),
            UNKNOWN_DATABASE: (
                f"Create it (CREATE DATABASE `{cfg.database}` CHARACTER SET utf8mb4;) and run the installer "
                "(/install/), or fix $config['database']['database'] in inc/config.php."
            ),
        }
        words = {
            CANNOT_CONNECT: f"cannot connect to MySQL/MariaDB {via}",
            ACCESS_DENIED: f"access denied for user '{cfg.username}' {via}",
            UNKNOWN_DATABASE: f"unknown database '{cfg.database}' {via}",
        }
        if code == 1044:
            # The login worked but not the database: to a user without global rights MySQL and MariaDB
            # answer so whether or not the database exists.
            words[ACCESS_DENIED] = (
                f"access denied for user '{cfg.username}' to database '{cfg.database}' {via} "
                "(it may not exist, or the user has no rights on it)"
            )
            hints[ACCESS_DENIED] = (
                f"Create the database if it is missing (CREATE DATABASE `{cfg.database}` CHARACTER SET utf8mb4;) "
                f"and grant the user access: {grant} Or fix $config['database']['database'] in inc/config.php."
            )
        return DatabaseHealth(False, MYSQL, words[category], category, f"({code}) {message}", hints[category], None,
                              target)
    version, tables, has_settings = "", [], False
    with closing(conn):
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                row = cur.fetchone()  # VERSION() always answers one row
                version = str(row[0]) if row else ""
                cur.execute("SHOW TABLES LIKE %s", (cfg.table_prefix.replace("_", r"\_") + "settings",))
                has_settings = cur.fetchone() is not None
                if not has_settings:
                    cur.execute("SHOW TABLES LIKE %s", ("%settings",))
                    tables = [str(row[0]) for row in cur.fetchall()]
        except pymysql.err.MySQLError as exc:  # e.g. no database configured (1046), a lost connection
            return DatabaseHealth(
                False, MYSQL, f"connected {via}, but the first query failed", CANNOT_CONNECT, str(exc),
                "Check $config['database']['database'] in inc/config.php.", version or None, target,
            )
    product = mysql_product(version)
    if not has_settings:
        return DatabaseHealth(
            False, MYSQL, f"{product} {via} answers, but database '{cfg.database}' has no {cfg.settings_table} table",
            NOT_MYBB, None, _prefix_hint(tables, cfg), version, target,
        )
    return DatabaseHealth(True, MYSQL, f"{product} {via}, database '{cfg.database}'", None, None, None, version, target)


def _check_sqlite(cfg: ForumDbConfig, root: Path, timeout: float) -> DatabaseHealth:
    path = sqlite_path(cfg, root)
    target = str(path)
    if not path.is_file():
        return DatabaseHealth(
            False, SQLITE, f"SQLite database {path} does not exist", MISSING_FILE, None,
            "Fix $config['database']['database'] in inc/config.php (an absolute path), or reinstall (/install/).",
            None, target,
        )
    try:
        # Read-only: a health check must never create or change the file.
        uri = "file:" + quote(str(path)) + "?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as conn:
            tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            count = None
            if cfg.settings_table in tables:
                count = conn.execute(f'SELECT COUNT(*) FROM "{cfg.settings_table}"').fetchone()[0]
    except sqlite3.Error as exc:
        return DatabaseHealth(
            False, SQLITE, f"SQLite database {path} cannot be opened", CANNOT_OPEN, str(exc),
            "Check the file's permissions, and that it is a SQLite 3 database.", None, target,
        )
    version = sqlite3.sqlite_version
    if count is None:
        return DatabaseHealth(
            False, SQLITE, f"SQLite database {path} has no {cfg.settings_table} table", NOT_MYBB, None,
            _prefix_hint(tables, cfg), version, target,
        )
    return DatabaseHealth(True, SQLITE, f"SQLite database {path} ({count} settings)", None, None, None, version, target)


def _check_pgsql(cfg: ForumDbConfig, timeout: float) -> DatabaseHealth:
    target = cfg.endpoint()
    family = socket.AF_UNIX if cfg.socket else socket.AF_INET
    try:
        if cfg.socket:
            with closing(socket.socket(family, socket.SOCK_STREAM)) as sock:
                sock.settimeout(timeout)
                sock.connect(cfg.socket)
        else:
            socket.create_connection((cfg.host, cfg.port or 5432), timeout=timeout).close()
    except OSError as exc:
        return DatabaseHealth(
            False, PGSQL, f"PostgreSQL at {target} is unreachable", UNREACHABLE, str(exc),
            "Start PostgreSQL, or fix $config['database']['hostname'] in inc/config.php.", None, target,
        )
    return DatabaseHealth(
        True, PGSQL, f"PostgreSQL at {target} is reachable (login and database not checked: no driver)",
        None, None, None, None, target,
    )


def check_database(
    cfg: ForumDbConfig, timeout: float = 2.0, root: Path | None = None, mysql_default_socket: str | None = None
) -> DatabaseHealth:
    """Connect to the forum's database the way MyBB would and say whether it answers.

    `root` resolves a relative SQLite path (default: the directory above the config file's inc/).
    `mysql_default_socket` is PHP's mysqli.default_socket when the server is given one (php -d): MyBB's
    'localhost' connects there.
    """
    if root is None:
        root = cfg.config_file.parent.parent if cfg.config_file else Path.cwd()
    if mysql_default_socket and cfg.socket_is_default:
        cfg = replace(cfg, socket=mysql_default_socket)
    checks: dict[str, Callable[[], DatabaseHealth]] = {
        MYSQL: lambda: _check_mysql(cfg, timeout),
        SQLITE: lambda: _check_sqlite(cfg, root, timeout),
        PGSQL: lambda: _check_pgsql(cfg, timeout),
    }
    if cfg.kind in checks:
        try:
            return checks[cfg.kind]()
        except Exception as exc:  # status must answer whatever a driver throws; say what happened
            return DatabaseHealth(
                False, cfg.kind, f"the database check failed: {type(exc).__name__}", CANNOT_CONNECT, str(exc),
                "Check the database settings in inc/config.php.", None, cfg.endpoint(),
            )
    return DatabaseHealth(
        False, UNKNOWN, f"inc/config.php names database type {cfg.type!r}, which MyBB does not support",
        UNSUPPORTED, None, "Use one of mysqli, mysql, pgsql, pgsql_pdo, sqlite.", None, "",
    )


def check_mariadb(root: Path, timeout: float = 2.0, php_settings: Sequence[str] = ()) -> bool:
    """True when the forum's configured MySQL/MariaDB database answers (the service's `_check_mariadb`)."""
    cfg = read_config_php(root)
    if cfg is None or cfg.kind != MYSQL:
        return False
    return check_database(cfg, timeout, root, php_ini_value(php_settings, "mysqli.default_socket")).ok


class SettingsCursor(Protocol):
    """What SettingsTable asks of a DB-API cursor (sqlite3's and PyMySQL's alike)."""

    def execute(self, query: str, args: tuple[str, ...] = ..., /) -> object: ...

    def fetchall(self) -> Iterable[Sequence[object]]: ...


class SettingsConnection(Protocol):
    """What SettingsTable and its callers ask of a DB-API connection (sqlite3's and PyMySQL's alike)."""

    def cursor(self) -> SettingsCursor: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...


class SettingsTable:
    """The few statements set_error_logging needs, over sqlite3 or PyMySQL, in one transaction."""

    def __init__(self, conn: SettingsConnection, placeholder: str, table: str, description: str) -> None:
        self.conn, self.ph, self.table, self.description = conn, placeholder, table, description

    def values(self, names: Sequence[str]) -> dict[str, str]:
        marks = ", ".join([self.ph] * len(names))
        cur = self.conn.cursor()
        cur.execute(f"SELECT name, value FROM {self.table} WHERE name IN ({marks})", tuple(names))
        return {str(name): str(value) for name, value in cur.fetchall()}

    def update(self, name: str, value: str) -> None:
        self.conn.cursor().execute(f"UPDATE {self.table} SET value = {self.ph} WHERE name = {self.ph}", (value, name))

    def ordered(self) -> list[tuple[str, str]]:
        # The query rebuild_settings() runs: simple_select("settings", "value, name", "", order_by title ASC).
        cur = self.conn.cursor()
        cur.execute(f"SELECT value, name FROM {self.table} ORDER BY title ASC")
        return [(str(name), str(value)) for value, name in cur.fetchall()]


def open_settings_table(cfg: ForumDbConfig, root: Path, timeout: float) -> SettingsTable:
    table = cfg.settings_table
    if cfg.kind == SQLITE:
        path = sqlite_path(cfg, root)
        if not path.is_file():
            raise FileNotFoundError(f"the SQLite database {path} does not exist")
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level="DEFERRED")
        return SettingsTable(conn, "?", f'"{table}"', f"SQLite {path}, table {table}")
    import pymysql

    # A socket, or a host and port: host None and port 0 are PyMySQL's own defaults, as if not given.
    mysql = pymysql.connect(
        user=cfg.username, password=cfg.password, database=cfg.database, charset="utf8mb4",
        connect_timeout=timeout, read_timeout=timeout * 5, write_timeout=timeout * 5, autocommit=False,
        unix_socket=cfg.socket or None, host=None if cfg.socket else cfg.host, port=0 if cfg.socket else cfg.port or 0,
    )
    return SettingsTable(mysql, "%s", f"`{table}`", f"database '{cfg.database}' at {cfg.endpoint()}, table {table}")


