"""What the forum knows about itself: inc/config.php, inc/settings.php and MyBB's own error log.

MyBB's error handler swallows PHP warnings raised inside MyBB, and SQL and user errors reach the
php -S log only as a bare `[503]`; MyBB writes them (when its logging is on) to a log of its own.
This module makes the orchestration MyBB-aware:

- reading `inc/config.php` and `inc/settings.php` with regexes (no PHP is spawned: status must stay
  fast), cached by modification time;
- a real database health check (MySQL/MariaDB through PyMySQL, SQLite through sqlite3,
  PostgreSQL reachability only);
- finding and reading MyBB's error log (`<error>` blocks), newest or oldest first, in blocks;
- turning MyBB's error logging on and off the way MyBB's Admin CP does (update the settings table,
  rebuild `inc/settings.php` exactly as `rebuild_settings()` writes it), remembering what to restore;
- the `bburl` check and one aggregated report for status.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from .log_parser import LogEntry

# --------------------------------------------------------------------------------------------
# Names the faces show to users. One place, so the service, handlers and CLI say the same thing.
# --------------------------------------------------------------------------------------------

# How a user turns MyBB's error logging on or off (the tool argument and the CLI command).
# (render.Commands.error_logging_on says the same for each face.)
ERROR_LOGGING_MCP_HINT = '`mybb_server_start` with `mybb_error_logging: "on"`'
ERROR_LOGGING_CLI_HINT = "`mybb-server errorlog on`"
# Where the same setting lives in MyBB's Admin CP.
ADMIN_CP_ERROR_LOGGING = (
    "Admin CP -> Configuration -> Settings -> Server and Optimization Options -> Error Logging Medium"
)
ADMIN_CP_BBURL = "Admin CP -> Configuration -> Settings -> General Configuration -> Board URL"
# File next to the state file that remembers the values `error-logging off` restores.
ERRORLOG_STATE_NAME = ".mybb-server-errorlog.json"

# Database kinds (ForumDbConfig.kind, DatabaseHealth.kind).
MYSQL, PGSQL, SQLITE, UNKNOWN = "mysql", "pgsql", "sqlite", "unknown"
_KIND_BY_TYPE = {"mysqli": MYSQL, "mysql": MYSQL, "pgsql": PGSQL, "pgsql_pdo": PGSQL, "sqlite": SQLITE}

# DatabaseHealth.failure categories.
CANNOT_CONNECT = "cannot_connect"  # no server at that socket/host:port, or it did not answer
ACCESS_DENIED = "access_denied"  # the server refused the user/password (or the user's access to the database)
UNKNOWN_DATABASE = "unknown_database"  # the server has no database of that name
MISSING_FILE = "missing_file"  # SQLite: the database file does not exist
CANNOT_OPEN = "cannot_open"  # SQLite: the file exists but is unreadable or not a database
NOT_MYBB = "not_mybb"  # the database has no <prefix>settings table
UNREACHABLE = "unreachable"  # PostgreSQL: nothing listens at the configured address
UNSUPPORTED = "unsupported"  # inc/config.php names a database type MyBB does not have

# Where MyBB's mysqli driver connects for 'localhost': PHP's mysqli.default_socket, which on
# Debian/Ubuntu is compiled in as the first of these.
MYSQL_DEFAULT_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock")
PGSQL_SOCKET_DIRS = ("/run/postgresql", "/var/run/postgresql", "/tmp")

_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------
# PHP literals
# --------------------------------------------------------------------------------------------

_SQ_ESCAPE = re.compile(r"\\([\\'])")
_DQ_ESCAPE = re.compile(r"\\(?:([nrtvef\\$\"])|([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u\{([0-9A-Fa-f]+)\})")
_DQ_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "v": "\v", "e": "\x1b", "f": "\f", "\\": "\\", "$": "$", '"': '"'}


def php_single_quoted(body: str) -> str:
    """The value of a PHP '...' literal's body: only \\\\ and \\' are escapes."""
    return _SQ_ESCAPE.sub(r"\1", body)


def php_double_quoted(body: str) -> str:
    """The value of a PHP "..." literal's body (escapes only; `$var` interpolation is left as text)."""

    def one(match: re.Match[str]) -> str:
        simple, octal, hexa, uni = match.groups()
        if simple:
            return _DQ_SIMPLE[simple]
        if octal:
            return chr(int(octal, 8) & 0xFF)
        if hexa:
            return chr(int(hexa, 16))
        return chr(int(uni, 16))

    return _DQ_ESCAPE.sub(one, body)


def addcslashes(text: str, chars: str) -> str:
    """PHP's addcslashes() for printable characters: a backslash before each of `chars`."""
    return "".join("\\" + c if c in chars else c for c in text)


# --------------------------------------------------------------------------------------------
# Reading files, cached by modification time
# --------------------------------------------------------------------------------------------

_cache: dict[tuple[str, str], tuple[int, int, int, Any]] = {}


def _read_cached(path: Path, kind: str, parse: Callable[[str], _T]) -> _T | None:
    """parse(text of path), reused while the file's mtime, size and inode are unchanged; None if unreadable."""
    key = (str(path), kind)
    try:
        st = path.stat()
    except OSError:
        _cache.pop(key, None)
        return None
    hit = _cache.get(key)
    if hit and hit[:3] == (st.st_mtime_ns, st.st_size, st.st_ino):
        return hit[3]
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None
    value = parse(text)
    _cache[key] = (st.st_mtime_ns, st.st_size, st.st_ino, value)
    return value


# --------------------------------------------------------------------------------------------
# inc/config.php
# --------------------------------------------------------------------------------------------

_PHP_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
# A comment, or `$config[...][...] = scalar;`. Matching comments in the same left-to-right scan skips
# commented-out assignments (MyBB writes `// $config['database']['encoding'] = ...` when unsupported).
_CONFIG_TOKEN = re.compile(
    r"/\*.*?\*/|//[^\n]*|#[^\n]*"
    r"|\$config((?:\s*\[\s*(?:" + _PHP_STRING + r"|\d+)\s*\])+)\s*=\s*"
    r"(" + _PHP_STRING + r"|-?\d+|true|false|null)\s*;",
    re.DOTALL | re.IGNORECASE,
)
_CONFIG_KEY = re.compile(r"\[\s*(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|(\d+))\s*\]")


def _php_scalar(literal: str) -> str | int | bool | None:
    if literal.startswith("'"):
        return php_single_quoted(literal[1:-1])
    if literal.startswith('"'):
        return php_double_quoted(literal[1:-1])
    lowered = literal.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    return int(literal)


def _config_key(match: re.Match[str]) -> str:
    single, double, number = match.groups()
    if single is not None:
        return php_single_quoted(single)
    return php_double_quoted(double) if double is not None else number


def parse_php_config(text: str) -> dict[tuple[str, ...], str | int | bool | None]:
    """Every scalar `$config[...]` assignment in a PHP file: key path -> value (later ones win, as in PHP)."""
    values: dict[tuple[str, ...], str | int | bool | None] = {}
    for match in _CONFIG_TOKEN.finditer(text):
        keys, literal = match.group(1), match.group(2)
        if keys is None:
            continue  # a comment
        path = tuple(_config_key(key) for key in _CONFIG_KEY.finditer(keys))
        values[path] = _php_scalar(literal)
    return values


@dataclass(frozen=True)
class ForumDbConfig:
    """MyBB's database connection from inc/config.php, as MyBB's own driver would use it."""

    type: str  # as written: mysqli, mysql, pgsql, pgsql_pdo, sqlite
    database: str  # database name; for SQLite the database file as written
    table_prefix: str
    hostname: str = ""  # as written: 'localhost', 'db.example:3307', ...
    username: str = ""
    password: str = field(default="", repr=False)
    encoding: str = ""
    admin_dir: str = "admin"
    config_file: Path | None = None
    # How the driver reaches the server: a TCP host and port, or a Unix socket path.
    host: str = ""
    port: int | None = None
    socket: str | None = None
    socket_is_default: bool = False  # MySQL 'localhost': PHP's mysqli.default_socket, guessed unless told
    # A read/write split config: these values describe the write connection (settings are written there).
    split: bool = False
    notes: tuple[str, ...] = ()  # what the reader noticed (a relative SQLite path, a socket in hostname...)

    @property
    def kind(self) -> str:
        return _KIND_BY_TYPE.get(self.type.lower(), UNKNOWN)

    @property
    def settings_table(self) -> str:
        return f"{self.table_prefix}settings"

    def endpoint(self) -> str:
        """Where the driver connects, for messages: a socket path, host:port, or the SQLite file."""
        if self.kind == SQLITE:
            return self.database
        if self.socket:
            return self.socket
        return f"{self.host}:{self.port}" if self.port else self.host


def _mysql_endpoint(hostname: str) -> tuple[str, int | None, str | None, bool, list[str]]:
    """(host, port, socket, socket_is_default, notes) as MyBB's mysqli driver and PHP read `hostname`.

    MyBB splits 'host:port' at the first colon and passes the port separately; mysqli then connects to
    PHP's mysqli.default_socket for 'localhost' (or an empty host) whatever the port, and over TCP
    otherwise. A socket path in hostname is accepted here so the database can still be checked, but
    MyBB cannot use it: PHP throws a TypeError for a non-numeric port (checked with PHP 8.2).
    """
    text = hostname.strip()
    host, _, port_text = text.partition(":")
    if text.startswith("/") or port_text.startswith("/"):
        path = text if text.startswith("/") else port_text
        notes = [
            f"hostname {hostname!r} names a socket path, which MyBB's mysqli driver cannot use (PHP fails with "
            "a TypeError or takes it for a host name); set hostname to 'localhost' and point PHP at the socket "
            f"with MYBB_PHP_INI='mysqli.default_socket={path}'"
        ]
        return "localhost", None, path, False, notes
    port = int(port_text) if port_text.isdigit() else None
    if host in ("", "localhost"):
        socket_path = next((s for s in MYSQL_DEFAULT_SOCKETS if os.path.exists(s)), MYSQL_DEFAULT_SOCKETS[0])
        notes = [f"mysqli ignores port {port} for 'localhost' and uses the socket; use 127.0.0.1:{port} for TCP"] if port else []
        return "localhost", None, socket_path, True, notes
    return host, port or 3306, None, False, []


def _pgsql_endpoint(hostname: str) -> tuple[str, int | None, str | None]:
    """(host, port, socket) as libpq reads MyBB's host[:port]: empty or a directory means a Unix socket."""
    host, _, port_text = hostname.strip().partition(":")
    port = int(port_text) if port_text.isdigit() else 5432
    if host == "" or host.startswith("/"):
        directories = (host,) if host else PGSQL_SOCKET_DIRS
        candidates = [os.path.join(d, f".s.PGSQL.{port}") for d in directories]
        return "", port, next((c for c in candidates if os.path.exists(c)), candidates[0])
    return host, port, None


def _connection_values(values: Mapping[tuple[str, ...], Any]) -> tuple[dict[str, Any], bool]:
    """The connection MyBB writes through: plain, or the 'write' (else 'read') side of a split config."""
    db = {path[1]: value for path, value in values.items() if len(path) == 2 and path[0] == "database"}
    for side in ("write", "read"):
        for prefix in ((side, "0"), (side,)):
            found = {
                path[1 + len(prefix)]: value
                for path, value in values.items()
                if len(path) == 2 + len(prefix) and path[0] == "database" and path[1 : 1 + len(prefix)] == prefix
            }
            if "hostname" in found or "database" in found:
                return {**{k: v for k, v in db.items() if k in ("type", "table_prefix", "encoding")}, **found}, True
    return db, False


def config_from_text(text: str, config_file: Path | None = None) -> ForumDbConfig | None:
    """ForumDbConfig from inc/config.php's text; None when it holds no database type (not a MyBB config)."""
    values = parse_php_config(text)
    db, split = _connection_values(values)
    db_type = str(db.get("type") or "")
    if not db_type:
        return None
    hostname = str(db.get("hostname") or "")
    database = str(db.get("database") or "")
    notes: list[str] = []
    kind = _KIND_BY_TYPE.get(db_type.lower(), UNKNOWN)
    host, port, sock, default_socket = "", None, None, False
    if kind == MYSQL:
        host, port, sock, default_socket, notes = _mysql_endpoint(hostname)
    elif kind == PGSQL:
        host, port, sock = _pgsql_endpoint(hostname)
    elif kind == SQLITE and database and not os.path.isabs(database):
        # PDO opens it relative to the working directory, which php -S sets to each script's directory.
        notes.append(
            f"the SQLite path {database!r} is relative: MyBB opens it relative to each script's directory "
            "(the forum root, but admin/ for the Admin CP); use an absolute path"
        )
    admin_dir = values.get(("admin_dir",)) or values.get(("admindir",)) or "admin"
    return ForumDbConfig(
        type=db_type,
        database=database,
        table_prefix=str(db.get("table_prefix") or ""),
        hostname=hostname,
        username=str(db.get("username") or ""),
        password=str(db.get("password") or ""),
        encoding=str(db.get("encoding") or ""),
        admin_dir=str(admin_dir),
        config_file=config_file,
        host=host,
        port=port,
        socket=sock,
        socket_is_default=default_socket,
        split=split,
        notes=tuple(notes),
    )


def read_config_php(root: Path) -> ForumDbConfig | None:
    """The forum's database configuration from <root>/inc/config.php; None when MyBB is not installed."""
    path = Path(root) / "inc" / "config.php"
    return _read_cached(path, "config", lambda text: config_from_text(text, path))


def sqlite_path(cfg: ForumDbConfig, root: Path) -> Path:
    """The SQLite database file: absolute as written, else relative to the forum root (the front end's cwd)."""
    path = Path(os.path.expanduser(cfg.database))
    return path if path.is_absolute() else Path(root) / path


# --------------------------------------------------------------------------------------------
# inc/settings.php and inc/class_core.php
# --------------------------------------------------------------------------------------------

_SETTING_LINE = re.compile(r"\$settings\[\s*'((?:[^'\\]|\\.)*)'\s*\]\s*=\s*\"((?:[^\"\\]|\\.)*)\"\s*;", re.DOTALL)
# rebuild_settings() in MyBB 1.8's inc/functions.php writes exactly this header.
SETTINGS_HEADER = (
    "<?php\n/*********************************\\ \n  DO NOT EDIT THIS FILE, PLEASE USE\n"
    "  THE SETTINGS EDITOR\n\\*********************************/\n\n"
)


def parse_settings_php(text: str) -> dict[str, str]:
    """`$settings['name'] = "value";` lines -> {name: value}, unescaped as PHP would."""
    return {
        php_single_quoted(name): php_double_quoted(value) for name, value in _SETTING_LINE.findall(text)
    }


def read_settings_php(root: Path) -> dict[str, str]:
    """MyBB's settings as cached in <root>/inc/settings.php; {} when the file is missing."""
    found = _read_cached(Path(root) / "inc" / "settings.php", "settings", parse_settings_php)
    return dict(found) if found else {}


def render_settings_php(rows: Sequence[tuple[str, str]]) -> str:
    """inc/settings.php as MyBB's rebuild_settings() writes it, from (name, value) rows ordered by title."""
    # addcslashes($name, "\\'") and addcslashes($value, '\\"$'), as MyBB escapes them.
    lines = "".join(
        "$settings['" + addcslashes(name, "\\'") + "'] = \"" + addcslashes(value, '\\"$') + '";\n'
        for name, value in rows
    )
    return f"{SETTINGS_HEADER}{lines}\n"


_VERSION = re.compile(r"""public\s+\$version\s*=\s*["']([^"']+)["']""")


def read_mybb_version(root: Path) -> str | None:
    """MyBB's version from inc/class_core.php (`public $version = "1.8.37";`)."""
    match = _read_cached(Path(root) / "inc" / "class_core.php", "version", _VERSION.search)
    return match.group(1) if match else None


# --------------------------------------------------------------------------------------------
# Database health
# --------------------------------------------------------------------------------------------


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


def _mysql_product(version: str) -> str:
    number = version.split("-", 1)[0]
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
    kwargs: dict[str, Any] = {"unix_socket": cfg.socket} if cfg.socket else {"host": cfg.host, "port": cfg.port}
    try:
        conn = pymysql.connect(
            user=cfg.username,
            password=cfg.password,
            database=cfg.database or None,
            connect_timeout=max(timeout, 0.1),
            read_timeout=max(timeout, 0.1),
            write_timeout=max(timeout, 0.1),
            charset="utf8mb4",
            **kwargs,
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
        return DatabaseHealth(False, MYSQL, words[category], category, f"({code}) {message}", hints[category], None, target)
    version, tables, has_settings = "", [], False
    with closing(conn):
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                version = str(cur.fetchone()[0])
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
    product = _mysql_product(version)
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


def php_ini_value(php_settings: Sequence[str], name: str) -> str | None:
    """The last `name=value` among php -d settings (as PHP applies them), or None."""
    found = None
    for item in php_settings:
        key, sep, value = item.partition("=")
        if sep and key.strip() == name:
            found = value.strip()
    return found


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
        SQLITE: lambda: _check_sqlite(cfg, root, timeout),  # type: ignore[arg-type]
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


# --------------------------------------------------------------------------------------------
# MyBB's error logging: state and files
# --------------------------------------------------------------------------------------------

LOGGING_MEDIUMS = ("log", "both")  # errorlogmedium values with which MyBB writes its error log
DEST_OFF, DEST_SERVER_LOG, DEST_FILES = "off", "server_log", "files"


@dataclass(frozen=True)
class ErrorLoggingState:
    """MyBB's error logging as inc/settings.php has it, explained."""

    enabled: bool  # MyBB writes <error> blocks somewhere
    medium: str  # errorlogmedium: none, log, email, both
    location: str  # errorloglocation as written ('' = PHP's error_log)
    destination: str  # DEST_OFF, DEST_SERVER_LOG (php -S log) or DEST_FILES
    files: tuple[Path, ...]  # where the <error> blocks go when destination is DEST_FILES
    explanation: str
    warning: str | None = None  # when errors are invisible
    fix: str | None = None  # how to make them visible


def error_log_paths(root: Path, location: str, admin_dir: str = "admin") -> list[Path]:
    """Where a relative errorloglocation lands: php -S runs each script from its own directory,
    so front-end pages write under the forum root and the Admin CP under its directory."""
    location = location.strip()
    if not location:
        return []
    path = Path(os.path.expanduser(location))
    if path.is_absolute():
        return [path]
    return [Path(os.path.normpath(Path(root) / base / path)) for base in ("", admin_dir)]


def _fix_text() -> str:
    return (
        f"Turn it on for development with {ERROR_LOGGING_CLI_HINT} or {ERROR_LOGGING_MCP_HINT}: "
        "this sets errorlogmedium to 'log' and errorloglocation to '' in the forum's settings table and "
        "rebuilds inc/settings.php as MyBB's Admin CP does, so MyBB's errors go to PHP's error log, which is "
        "the server log, next to the requests that raised them. Turning it off restores the previous values "
        f"(or use {ADMIN_CP_ERROR_LOGGING})."
    )


def error_logging_state(
    settings: Mapping[str, str], root: Path | None = None, admin_dir: str = "admin", php_error_log: str | None = None
) -> ErrorLoggingState:
    """MyBB's error logging from its settings; with `root`, the files a relative location resolves to.
    `php_error_log` is PHP's error_log setting when the server is given one (php -d error_log=...)."""
    medium = settings.get("errorlogmedium", "none").strip() or "none"
    location = settings.get("errorloglocation", "").strip()
    enabled = medium in LOGGING_MEDIUMS
    if not enabled:
        emailed = " (errors are only emailed)" if medium in ("email", "mail") else ""
        return ErrorLoggingState(
            False, medium, location, DEST_OFF, (),
            f"MyBB error logging is off (errorlogmedium = '{medium}'){emailed}.",
            "MyBB's error logging is off: MyBB's error handler swallows PHP warnings raised inside MyBB and "
            "plugins, and SQL and user errors show only as a bare [503] in the server log; their message, "
            "file and line are recorded nowhere.",
            _fix_text(),
        )
    if not location and not php_error_log:
        return ErrorLoggingState(
            True, medium, location, DEST_SERVER_LOG, (),
            f"MyBB logs errors (errorlogmedium = '{medium}') to PHP's error log, which under php -S is the "
            "server log itself.",
        )
    target = location or php_error_log or ""
    files = tuple(error_log_paths(root, target, admin_dir)) if root is not None else ()
    if not location:
        where = f"to PHP's error log, which the server's PHP settings set to {php_error_log} instead of the server log"
    elif Path(os.path.expanduser(location)).is_absolute():
        where = f"to {location}"
    elif len(files) == 2:
        where = (
            f"to {location!r} relative to each script's directory: php -S runs every request from its "
            f"script's directory, so front-end errors land in {files[0]} and Admin CP errors in {files[1]}"
        )
    else:
        where = f"to {location!r} relative to each script's directory"
    return ErrorLoggingState(
        True, medium, location, DEST_FILES, files, f"MyBB logs errors (errorlogmedium = '{medium}') {where}."
    )


def mybb_error_log_files(
    root: Path, settings: Mapping[str, str], admin_dir: str | None = None, php_error_log: str | None = None
) -> list[Path]:
    """The existing files MyBB's errorloglocation resolves to (forum root and Admin CP directory for a
    relative path). An empty location means PHP's error_log: the php -S log itself, read anyway, so []
    here; unless the server's PHP settings name a file (`php_error_log`), which is then returned."""
    if admin_dir is None:
        cfg = read_config_php(root)
        admin_dir = cfg.admin_dir if cfg else "admin"
    location = settings.get("errorloglocation", "").strip() or php_error_log or ""
    paths = error_log_paths(root, location, admin_dir)
    unique = list(dict.fromkeys(paths))
    return [p for p in unique if p.is_file()]


# --------------------------------------------------------------------------------------------
# Reading MyBB's error log
# --------------------------------------------------------------------------------------------

# Every block MyBB's log_error() writes begins so (MyBB 1.6 to 1.8); matching the dateline too keeps the
# word "<error>" inside a message from passing for a block, and finds a block that follows a write cut short.
_START = b"<error>\n\t<dateline>"
_END = b"\n</error>"  # on a line of its own: "</error>" inside a message does not end the block
MAX_BLOCK_BYTES = 4 * 1024 * 1024  # a "block" larger than this is garbage; dropped rather than held


class _ParseBlock(Protocol):
    """log_parser.parse_mybb_error's shape: one `<error>` block -> a LogEntry (None if it is not one)."""

    def __call__(
        self, block: str, *, tz: tzinfo | None, location: str | None, offset: int | None
    ) -> LogEntry | None: ...


def _read_at(handle: BinaryIO, start: int, end: int) -> bytes:
    handle.seek(start)
    return handle.read(end - start)


class MyBBErrorLog:
    """One MyBB error log file as an entry source for log queries (the EntrySource protocol of
    log_query): `name`, `newest_first()` and `oldest_first()`. Reads in blocks, backwards for
    newest_first, never holding the whole file; a block still being written (no `</error>` yet) is skipped."""

    def __init__(
        self,
        path: Path,
        *,
        name: str | None = None,
        tz: tzinfo | None = None,
        chunk_size: int = 64 * 1024,
        parse: _ParseBlock | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = name or f"mybb:{self.path}"
        self.tz = tz
        self.chunk_size = max(chunk_size, 16)
        self._parse = parse

    def __repr__(self) -> str:
        return f"MyBBErrorLog({str(self.path)!r})"

    # Raw blocks: (byte offset of '<error>', the block's text from '<error>' to '</error>').

    def blocks_oldest_first(self) -> Iterator[tuple[int, str]]:
        try:
            handle = self.path.open("rb")
        except OSError:
            return
        with handle:
            size = os.fstat(handle.fileno()).st_size  # what is appended meanwhile waits for the next query
            buf, base = b"", 0  # buf holds the file's bytes [base, base + len(buf))
            while True:
                start = buf.find(_START)
                while start >= 0:
                    end = buf.find(_END, start)
                    if end < 0:
                        break
                    restart = buf.find(_START, start + 1, end)
                    if restart >= 0:  # a write cut short, then a complete block: skip the former
                        start = restart
                        continue
                    stop = end + len(_END)
                    yield base + start, buf[start:stop].decode("utf-8", "replace")
                    buf, base = buf[stop:], base + stop
                    start = buf.find(_START)
                read_to = base + len(buf)
                if read_to >= size:
                    return
                if start < 0:  # no block begun: keep only what could be the head of a split marker
                    keep = min(len(buf), len(_START) - 1)
                    buf, base = buf[len(buf) - keep :], base + len(buf) - keep
                elif len(buf) - start > MAX_BLOCK_BYTES:  # no end in sight: give up on this block
                    buf, base = buf[start + 1 :], base + start + 1
                else:
                    buf, base = buf[start:], base + start
                buf += _read_at(handle, read_to, min(read_to + self.chunk_size, size))

    def blocks_newest_first(self) -> Iterator[tuple[int, str]]:
        try:
            handle = self.path.open("rb")
        except OSError:
            return
        with handle:
            pos = os.fstat(handle.fileno()).st_size
            buf = b""  # buf holds the file's bytes [pos, pos + len(buf)): what lies after is done
            while True:
                start = buf.rfind(_START)
                while start >= 0:
                    end = buf.find(_END, start)
                    if end >= 0:  # else the block was cut short (or is being written): skip it
                        yield pos + start, buf[start : end + len(_END)].decode("utf-8", "replace")
                    buf = buf[:start]
                    start = buf.rfind(_START)
                if pos == 0:
                    return
                if len(buf) > MAX_BLOCK_BYTES:
                    buf = b""  # the block it belongs to is dropped (it will lack its end)
                new_pos = max(pos - self.chunk_size, 0)
                buf = _read_at(handle, new_pos, pos) + buf
                pos = new_pos

    # Entries, through log_parser.parse_mybb_error.

    def _entries(self, blocks: Iterator[tuple[int, str]]) -> Iterator[LogEntry]:
        parse = self._parse
        if parse is None:
            from . import log_parser

            parse = log_parser.parse_mybb_error  # type: ignore[attr-defined]
        location = str(self.path)
        for offset, block in blocks:
            entry = parse(block, tz=self.tz, location=location, offset=offset)
            if entry is not None:
                yield entry

    def newest_first(self) -> Iterator[LogEntry]:
        return self._entries(self.blocks_newest_first())

    def oldest_first(self) -> Iterator[LogEntry]:
        return self._entries(self.blocks_oldest_first())


def error_log_sources(root: Path, tz: tzinfo | None = None, php_settings: Sequence[str] = ()) -> list[MyBBErrorLog]:
    """Entry sources for every MyBB error log file of the forum (see mybb_error_log_files).
    `php_settings` are the server's php -d settings: an error_log there is where MyBB's errors go."""
    cfg = read_config_php(root)
    files = mybb_error_log_files(
        root, read_settings_php(root), cfg.admin_dir if cfg else "admin", php_ini_value(php_settings, "error_log")
    )
    sources = []
    for path in files:
        try:
            label = str(path.relative_to(root))
        except ValueError:
            label = str(path)
        sources.append(MyBBErrorLog(path, name=f"mybb:{label}", tz=tz))
    return sources


# --------------------------------------------------------------------------------------------
# Turning MyBB's error logging on and off, the way MyBB does
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingChange:
    name: str
    old: str
    new: str


@dataclass(frozen=True)
class ErrorLoggingChange:
    """What set_error_logging did (or why it did nothing)."""

    ok: bool
    enabled: bool  # the state asked for
    changes: tuple[SettingChange, ...] = ()  # settings whose value changed (empty: already so)
    files_touched: tuple[Path, ...] = ()  # inc/settings.php, the remembered-values file
    database: str = ""  # which database was updated
    remembered: Path | None = None  # the file holding the values "off" restores
    explanation: str = ""  # what changed and what it means
    error: str | None = None  # why nothing changed
    hint: str | None = None  # what to do instead


_PREFIX_OK = re.compile(r"^[A-Za-z0-9_]*$")
_LOGGING_SETTINGS = ("errorlogmedium", "errorloglocation")


class _SettingsDb:
    """The few statements set_error_logging needs, over sqlite3 or PyMySQL, in one transaction."""

    def __init__(self, conn: Any, placeholder: str, table: str, description: str) -> None:
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


def _open_settings_db(cfg: ForumDbConfig, root: Path, timeout: float) -> _SettingsDb:
    table = cfg.settings_table
    if cfg.kind == SQLITE:
        path = sqlite_path(cfg, root)
        if not path.is_file():
            raise FileNotFoundError(f"the SQLite database {path} does not exist")
        conn = sqlite3.connect(str(path), timeout=timeout, isolation_level="DEFERRED")
        return _SettingsDb(conn, "?", f'"{table}"', f"SQLite {path}, table {table}")
    import pymysql

    kwargs: dict[str, Any] = {"unix_socket": cfg.socket} if cfg.socket else {"host": cfg.host, "port": cfg.port}
    conn = pymysql.connect(
        user=cfg.username, password=cfg.password, database=cfg.database, charset="utf8mb4",
        connect_timeout=timeout, read_timeout=timeout * 5, write_timeout=timeout * 5, autocommit=False, **kwargs,
    )
    return _SettingsDb(conn, "%s", f"`{table}`", f"database '{cfg.database}' at {cfg.endpoint()}, table {table}")


def _medium_on(medium: str) -> str:
    return "both" if medium in ("email", "mail", "both") else "log"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` in one step (temp file, fsync, rename) keeping its mode and owner: readers see the
    old file or the new one, never half of it (MyBB writes with LOCK_EX, which readers don't take)."""
    try:
        st: os.stat_result | None = path.stat()
    except FileNotFoundError:
        st = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, (st.st_mode & 0o7777) if st else 0o644)
        if st is not None and hasattr(os, "chown"):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass  # not root: the file stays ours, as MyBB's own rewrite would leave it the web server's
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _load_remembered(path: Path, root: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("mybb_root") != os.path.abspath(root):
        return None
    saved = data.get("settings")
    if not isinstance(saved, dict) or not all(isinstance(v, str) for v in saved.values()):
        return None
    return {k: v for k, v in saved.items() if k in _LOGGING_SETTINGS}


def set_error_logging(root: Path, enabled: bool, state_dir: Path, timeout: float = 5.0) -> ErrorLoggingChange:
    """Turn MyBB's error logging on (errorlogmedium 'log', errorloglocation '' = the server log) or off
    (restore what it was), by updating the settings table and rebuilding inc/settings.php the way MyBB's
    own settings editor does. The values replaced by "on" are remembered in <state_dir>/ERRORLOG_STATE_NAME."""
    root = Path(root)
    cfg = read_config_php(root)
    if cfg is None:
        return ErrorLoggingChange(
            False, enabled, error=f"MyBB is not installed at {root} (no inc/config.php).",
            hint="Install it first: start the server and open /install/ in a browser.",
        )
    if cfg.kind == PGSQL:
        return ErrorLoggingChange(
            False, enabled, error="This forum uses PostgreSQL, which mybb-mcp cannot write to (it has no PostgreSQL driver).",
            hint=f"Change it in {ADMIN_CP_ERROR_LOGGING}: choose 'Log errors' and leave Error Log Location empty "
            "to log into the server log.",
        )
    if cfg.kind not in (MYSQL, SQLITE) or not _PREFIX_OK.match(cfg.table_prefix):
        return ErrorLoggingChange(
            False, enabled, error=f"inc/config.php has an unusable database type {cfg.type!r} or table prefix {cfg.table_prefix!r}.",
            hint=f"Fix inc/config.php, or use {ADMIN_CP_ERROR_LOGGING}.",
        )
    remembered_path = Path(state_dir) / ERRORLOG_STATE_NAME
    settings_file = root / "inc" / "settings.php"
    try:
        db = _open_settings_db(cfg, root, timeout)
    except Exception as exc:  # sqlite3.Error, pymysql.MySQLError, OSError: all mean "cannot reach it"
        health = check_database(cfg, min(timeout, 2.0), root)
        return ErrorLoggingChange(
            False, enabled, error=f"Cannot open the forum's database: {health.summary if not health.ok else exc}.",
            hint=health.hint or f"Check inc/config.php, or use {ADMIN_CP_ERROR_LOGGING}.",
        )
    touched: list[Path] = []
    with closing(db.conn):
        try:
            current = db.values(_LOGGING_SETTINGS)
        except Exception as exc:
            return ErrorLoggingChange(
                False, enabled, database=db.description, error=f"Cannot read {cfg.settings_table}: {exc}.",
                hint=f"Is the installation complete? Otherwise use {ADMIN_CP_ERROR_LOGGING}.",
            )
        missing = [name for name in _LOGGING_SETTINGS if name not in current]
        if missing:
            return ErrorLoggingChange(
                False, enabled, database=db.description,
                error=f"The settings table has no {' or '.join(missing)} setting.",
                hint="Run MyBB's upgrade script (/install/upgrade.php) or reinstall; then try again.",
            )
        saved = _load_remembered(remembered_path, root)
        if enabled:
            target = {"errorlogmedium": _medium_on(current["errorlogmedium"]), "errorloglocation": ""}
            if saved is None:
                # Remember the forum's own values before the first change; a second "on" keeps them.
                record = {"version": 1, "mybb_root": os.path.abspath(root), "saved_at": time.time(), "settings": current}
                remembered_path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(remembered_path, json.dumps(record, indent=2) + "\n")
                touched.append(remembered_path)
        else:
            target = saved if saved is not None else {"errorlogmedium": "none"}
        changes = tuple(
            SettingChange(name, current[name], value) for name, value in target.items() if current.get(name) != value
        )
        try:
            for change in changes:
                db.update(change.name, change.new)
            text = render_settings_php(db.ordered())
            write_atomic(settings_file, text)
            db.conn.commit()
        except Exception as exc:
            db.conn.rollback()
            return ErrorLoggingChange(
                False, enabled, database=db.description, files_touched=tuple(touched), error=f"Could not update the settings: {exc}.",
                hint=f"Check that {settings_file} and the database are writable, or use {ADMIN_CP_ERROR_LOGGING}.",
            )
    touched.append(settings_file)
    if not enabled and remembered_path.exists():
        remembered_path.unlink()
        touched.append(remembered_path)
    return ErrorLoggingChange(
        True, enabled, changes, tuple(touched), db.description,
        remembered_path if enabled else None,
        _change_explanation(enabled, changes, saved is not None, settings_file),
    )


def _change_explanation(enabled: bool, changes: Sequence[SettingChange], had_saved: bool, settings_file: Path) -> str:
    listed = "; ".join(f"{c.name}: '{c.old}' -> '{c.new}'" for c in changes) or "no setting changed (already so)"
    if enabled:
        return (
            f"MyBB error logging is on: {listed}. MyBB now writes its errors (PHP warnings inside MyBB and "
            "plugins, SQL and user errors) to PHP's error log, which is the server log (unless the server's PHP "
            f"settings set error_log), so the logs query shows them beside their requests. {settings_file} was rebuilt as MyBB's settings editor does; it takes "
            "effect on the next request. Turn it off to restore the previous values."
        )
    restored = "the values saved when it was turned on are restored" if had_saved else "nothing was saved, so errorlogmedium is set to 'none'"
    return f"MyBB error logging is back to the forum's own setting ({restored}): {listed}. {settings_file} was rebuilt."


# --------------------------------------------------------------------------------------------
# bburl
# --------------------------------------------------------------------------------------------

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}
_WILDCARD = {"0.0.0.0", "::", ""}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _url_parts(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, host, port, parts.path.rstrip("/")


def check_bburl(settings: Mapping[str, str], server_url: str) -> str | None:
    """A warning naming both addresses when MyBB's bburl is not where the server answers; None when they
    agree (localhost, 127.0.0.1 and ::1 count as the same host) or MyBB has no settings yet."""
    if not settings:
        return None
    bburl = settings.get("bburl", "").strip()
    server = server_url.rstrip("/")
    if not bburl:
        return (
            f"MyBB's bburl setting is empty, but the server is on {server}: MyBB builds every asset and link "
            f"from bburl. Set it to {server} ({ADMIN_CP_BBURL})."
        )
    b_scheme, b_host, b_port, b_path = _url_parts(bburl)
    s_scheme, s_host, s_port, s_path = _url_parts(server)
    same_host = (
        b_host == s_host
        or (b_host in _LOOPBACK and s_host in _LOOPBACK)
        or s_host in _WILDCARD  # bound to every address: any name of this machine may be right
    )
    if b_scheme == s_scheme and same_host and b_port == s_port and b_path == s_path:
        return None
    differences = []
    if b_scheme != s_scheme:
        differences.append(f"scheme {b_scheme or '?'} vs {s_scheme}")
    if not same_host:
        differences.append(f"host {b_host or '?'} vs {s_host}")
    if b_port != s_port:
        differences.append(f"port {b_port} vs {s_port}")
    if b_path != s_path:
        differences.append(f"path '{b_path or '/'}' vs '{s_path or '/'}' (the server serves the forum at its root)")
    return (
        f"MyBB's bburl is {bburl} but the server is on {server} ({', '.join(differences)}): every asset and "
        f"link on the forum's pages points to {bburl}. Set bburl to {server} ({ADMIN_CP_BBURL}), "
        "or serve the forum where bburl says."
    )


# --------------------------------------------------------------------------------------------
# One report for status
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForumReport:
    """Everything status says about the forum itself."""

    root: Path
    is_mybb: bool  # inc/class_core.php exists
    installed: bool  # inc/config.php holds a database configuration
    mybb_version: str | None = None
    config: ForumDbConfig | None = None
    database: DatabaseHealth | None = None
    error_logging: ErrorLoggingState | None = None
    bburl: str | None = None
    bburl_warning: str | None = None
    install_hint: str | None = None  # how to install, when not installed
    # Warnings that need no face-specific command, most important first. The error-logging warning is
    # not among them: faces add it with their own command (see error_logging_off / error_logging.fix).
    warnings: tuple[str, ...] = ()

    @property
    def database_summary(self) -> str | None:
        """One line for a status table's database row."""
        if self.database is not None:
            return self.database.summary if self.database.ok else f"FAILED: {self.database.summary}"
        if not self.installed:
            return "not installed (no inc/config.php)"
        return None

    @property
    def error_logging_off(self) -> bool:
        return self.error_logging is not None and not self.error_logging.enabled

    @property
    def error_logging_summary(self) -> str | None:
        """One line for a status table: where MyBB's own errors go."""
        state = self.error_logging
        if state is None:
            return None
        if not state.enabled:
            return f"off (errorlogmedium = '{state.medium}')"
        if state.destination == DEST_SERVER_LOG:
            return "on, into the server log"
        return "on, into " + (", ".join(str(p) for p in state.files) or state.location)


def install_hint(root: Path, server_url: str | None) -> str:
    """How to install MyBB at `root`: the installer runs in a browser on the running server."""
    where = f"{server_url.rstrip('/')}/install/" if server_url else "/install/ on the server (start it first)"
    if not (Path(root) / "inc" / "class_core.php").is_file():
        return (
            f"No MyBB found at {root} (no inc/class_core.php). To develop against MyBB, copy the upload/ folder "
            f"of a MyBB 1.8 release there, then open {where} in a browser."
        )
    if not (Path(root) / "install" / "index.php").is_file():
        return (
            f"MyBB is not installed at {root} (no inc/config.php), and its installer (install/) is missing: "
            f"copy install/ from MyBB's upload/ folder back, then open {where} in a browser."
        )
    return f"MyBB is not installed at {root} (no inc/config.php). Open {where} in a browser to run the installer."


def diagnose_forum(
    root: Path,
    server_url: str | None,
    check_db: bool = True,
    timeout: float = 2.0,
    php_settings: Sequence[str] = (),
) -> ForumReport:
    """What status reports about the forum: installed or not, database health, error logging, bburl.
    `php_settings` are the server's php -d settings (config.php_settings): mysqli.default_socket counts."""
    root = Path(root)
    is_mybb = (root / "inc" / "class_core.php").is_file()
    version = read_mybb_version(root)
    cfg = read_config_php(root)
    if cfg is None:
        hint = install_hint(root, server_url)
        return ForumReport(root, is_mybb, False, version, install_hint=hint, warnings=(hint,))
    settings = read_settings_php(root)
    default_socket = php_ini_value(php_settings, "mysqli.default_socket")
    health = check_database(cfg, timeout, root, default_socket) if check_db else None
    php_error_log = php_ini_value(php_settings, "error_log")
    logging_state = error_logging_state(settings, root, cfg.admin_dir, php_error_log) if settings else None
    bburl_warning = check_bburl(settings, server_url) if server_url else None
    warnings: list[str] = []
    if health is not None and not health.ok:
        warnings.append(f"Database: {health.summary}." + (f" {health.hint}" if health.hint else ""))
    warnings.extend(f"Database config: {note}." for note in cfg.notes)
    if not settings:
        warnings.append(f"{root / 'inc' / 'settings.php'} is missing or empty: MyBB rebuilds it from the database on the next request.")
    if bburl_warning:
        warnings.append(bburl_warning)
    return ForumReport(
        root, is_mybb, True, version, cfg, health, logging_state, settings.get("bburl"), bburl_warning, None, tuple(warnings)
    )
