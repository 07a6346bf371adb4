"""Read-only SQL on the forum's database, enforced by the database connection itself.

Never by parsing the SQL: SQLite is opened read-only (`mode=ro`) and guarded by SQLite's own authorizer,
which allows reads only (read-only mode alone still lets ATTACH create a file, VACUUM INTO write a copy
and PRAGMA writable_schema=1 pass); MySQL/MariaDB runs the statement in a read-only session inside a
read-only transaction that is rolled back. One statement: both drivers refuse more (sqlite3 by its API,
PyMySQL because it never asks the server for multi-statements).
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import InvalidArgument, MybbMcpError
from ..forum.files import MYSQL, SQLITE, ForumDbConfig, php_ini_value, read_config_php, sqlite_path

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
COUNT_CAP = 100_000  # rows counted past the limit; beyond this the total is "more than"
VALUE_CHARS = 200  # a value longer than this is cut in the answer
MAX_SQL_CHARS = 20_000
TIMEOUT_SECONDS = 10.0
TABLE_NAME = re.compile(r"[A-Za-z0-9_$]{1,64}")


class SqlRefused(MybbMcpError):
    """The database refused the statement (a write, a trick out of read-only, a syntax error...)."""


@dataclass(frozen=True)
class SqlAnswer:
    engine: str  # "SQLite 3.45.1", "MariaDB 10.11.6"
    sql: str
    columns: list[str]
    rows: list[tuple[Any, ...]]  # at most `limit`
    total: int  # rows the statement returned (counted up to COUNT_CAP)
    total_is_lower_bound: bool
    limit: int
    seconds: float
    table_prefix: str


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    nullable: bool
    default: str | None
    key: str = ""  # "PRI", "UNI", "MUL" (MySQL); "PRI" (SQLite)
    extra: str = ""  # auto_increment ...


@dataclass(frozen=True)
class IndexInfo:
    name: str
    columns: list[str]
    unique: bool


@dataclass(frozen=True)
class TableDescription:
    engine: str
    table: str
    columns: list[ColumnInfo]
    indexes: list[IndexInfo]
    rows: int
    table_prefix: str
    create_sql: str | None = None
    similar: list[str] = field(default_factory=list)


# --- SQLite: the authorizer ----------------------------------------------------------------------------

# Pragmas that only read, whatever their argument (a table or index name).
_READ_PRAGMAS_WITH_ARG = {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                          "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check"}
# Pragmas that read when given no argument (with one, most of them write).
_READ_PRAGMAS = _READ_PRAGMAS_WITH_ARG | {
    "table_list", "database_list", "collation_list", "function_list", "module_list", "pragma_list",
    "compile_options", "encoding", "page_size", "page_count", "freelist_count", "user_version",
    "schema_version", "application_id", "journal_mode", "foreign_keys", "data_version", "max_page_count",
}
_ACTION_WORDS = {
    sqlite3.SQLITE_INSERT: "INSERT", sqlite3.SQLITE_UPDATE: "UPDATE", sqlite3.SQLITE_DELETE: "DELETE",
    sqlite3.SQLITE_ATTACH: "ATTACH (also how VACUUM INTO writes its copy)", sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_TRANSACTION: "a transaction statement", sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE",
    sqlite3.SQLITE_REINDEX: "REINDEX", sqlite3.SQLITE_ANALYZE: "ANALYZE", sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT",
    sqlite3.SQLITE_CREATE_VTABLE: "CREATE VIRTUAL TABLE", sqlite3.SQLITE_DROP_VTABLE: "DROP VIRTUAL TABLE",
}


class _ReadOnlyAuthorizer:
    """SQLite's authorizer callback: reads allowed, everything else denied (and remembered, for the message)."""

    def __init__(self) -> None:
        self.denied: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, getattr(sqlite3, "SQLITE_RECURSIVE", 33)):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() in ("load_extension", "writefile", "edit", "readfile"):
                return self._deny(f"the function {arg2}()")
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in _READ_PRAGMAS_WITH_ARG or (arg2 is None and name in _READ_PRAGMAS):
                return sqlite3.SQLITE_OK
            return self._deny(f"PRAGMA {arg1}" + (f" = {arg2}" if arg2 is not None else ""))
        what = _ACTION_WORDS.get(action)
        if what is None:
            what = "CREATE/DROP" if arg1 else f"action {action}"
            what = f"{what} {arg1}" if arg1 else what
        elif arg1 and action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE):
            what = f"{what} on {arg1}"
        return self._deny(what)

    def _deny(self, what: str) -> int:
        if self.denied is None:
            self.denied = what
        return sqlite3.SQLITE_DENY


def _open_sqlite(path: Path, timeout: float) -> tuple[sqlite3.Connection, _ReadOnlyAuthorizer]:
    if not path.is_file():
        raise SqlRefused(f"The forum's SQLite database {path} does not exist.",
                         "Fix $config['database']['database'] in inc/config.php, or make a forum (mybb_forum_init).")
    conn = sqlite3.connect("file:" + quote(str(path)) + "?mode=ro", uri=True, timeout=timeout,
                           isolation_level=None, check_same_thread=False)
    authorizer = _ReadOnlyAuthorizer()
    conn.set_authorizer(authorizer)
    deadline = time.monotonic() + timeout
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    return conn, authorizer


def _sqlite_error(exc: sqlite3.Error, authorizer: _ReadOnlyAuthorizer, timeout: float) -> SqlRefused:
    words = str(exc)
    if authorizer.denied is not None:
        return SqlRefused(
            f"Refused by SQLite: {authorizer.denied} is not allowed on this read-only connection "
            f"({words}). Nothing was changed.",
            "This tool only reads. Change the forum through MyBB (mybb_forum_members, mybb_forum_templates, "
            "mybb_forum_php, the Admin CP) and read the result here.")
    if words == "interrupted":
        return SqlRefused(f"The query ran longer than {timeout:g} s and was stopped. Nothing was changed.",
                          "Narrow it (a WHERE clause, a LIMIT) and run it again.")
    if "one statement at a time" in words:
        return SqlRefused(f"SQLite runs one statement per call ({words}). Nothing was run.",
                          "Send each statement in its own call.")
    if "readonly" in words or "read-only" in words:
        return SqlRefused(f"Refused by SQLite: {words}. Nothing was changed.", "This tool only reads.")
    return SqlRefused(f"SQLite refused the statement: {words}. Nothing was changed.",
                      "Fix the SQL (table names carry the forum's prefix) and run it again.")


# --- MySQL/MariaDB ---------------------------------------------------------------------------------------

def _open_mysql(cfg: ForumDbConfig, timeout: float) -> Any:
    import pymysql

    kwargs: dict[str, Any] = {"unix_socket": cfg.socket} if cfg.socket else {"host": cfg.host, "port": cfg.port}
    try:
        conn = pymysql.connect(user=cfg.username, password=cfg.password, database=cfg.database, charset="utf8mb4",
                               connect_timeout=min(timeout, 5.0), read_timeout=timeout, write_timeout=timeout,
                               autocommit=False, **kwargs)
    except pymysql.err.MySQLError as exc:
        raise SqlRefused(f"Cannot connect to the forum's database at {cfg.endpoint()}: {exc}.",
                         "Check it with mybb_server_status (database health) and inc/config.php.") from None
    with conn.cursor() as cur:
        # The server stops the statement itself at the timeout (the client only gives up waiting):
        # MariaDB's max_statement_time (seconds), else MySQL's max_execution_time (ms, SELECTs).
        for limit in (f"max_statement_time = {timeout:g}", f"max_execution_time = {int(timeout * 1000)}"):
            try:
                cur.execute("SET SESSION " + limit)
                break
            except pymysql.err.MySQLError:
                continue
        # The session first, then the transaction: each makes a write an error of the server's own.
        cur.execute("SET SESSION TRANSACTION READ ONLY")
        cur.execute("START TRANSACTION READ ONLY")
    return conn


def _mysql_error(exc: Exception, timeout: float) -> SqlRefused:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    words = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in (1792, 1290, 1207):  # read-only transaction / --read-only server / read lock
        return SqlRefused(f"Refused by the database: ({code}) {words}. Nothing was changed.",
                          "This tool only reads. Change the forum through MyBB (mybb_forum_members, "
                          "mybb_forum_templates, mybb_forum_php, the Admin CP) and read the result here.")
    if code in (2013, 2006, 1969, 3024) or "timed out" in words.lower():  # 1969/3024: the server's own limit
        return SqlRefused(f"The query did not answer within {timeout:g} s and was dropped. Nothing was changed.",
                          "Narrow it (a WHERE clause, a LIMIT) and run it again.")
    if code == 1064:
        return SqlRefused(f"The database refused the statement: ({code}) {words}. Nothing was run.",
                          "Fix the SQL; send one statement per call (several in one are refused as a syntax error).")
    return SqlRefused(f"The database refused the statement: ({code}) {words}. Nothing was changed.",
                      "Fix the SQL (table names carry the forum's prefix) and run it again.")


def _mysql_product(conn: Any) -> str:
    version = str(conn.get_server_info())
    number = version.split("-", 1)[0]
    return f"MariaDB {number}" if "mariadb" in version.lower() else f"MySQL {number}"


# --- the forum's database ------------------------------------------------------------------------------

def forum_database(root: Path, php_settings: tuple[str, ...] = ()) -> ForumDbConfig:
    cfg = read_config_php(root)
    if cfg is None:
        raise SqlRefused(f"No MyBB forum is installed at {root} (no inc/config.php).",
                         "Make one with mybb_forum_init (CLI: mybb-server init), or set MYBB_ROOT.")
    if cfg.kind not in (SQLITE, MYSQL):
        raise SqlRefused(f"The forum's database type {cfg.type!r} is not supported here (SQLite and "
                         "MySQL/MariaDB are).", "Query it with its own client.")
    default_socket = php_ini_value(php_settings, "mysqli.default_socket")
    if cfg.kind == MYSQL and default_socket and cfg.socket_is_default:
        cfg = replace(cfg, socket=default_socket)
    return cfg


def _cell(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(data)} bytes>"
    return value


def _fetch(cursor: Any, limit: int) -> tuple[list[tuple[Any, ...]], int, bool]:
    rows = [tuple(_cell(v) for v in row) for row in cursor.fetchmany(limit)]
    total = len(rows)
    if total < limit:
        return rows, total, False
    while total < COUNT_CAP:
        more = cursor.fetchmany(1000)
        if not more:
            return rows, total, False
        total += len(more)
    return rows, total, cursor.fetchone() is not None


def run_query(root: Path, sql: str, limit: int = DEFAULT_LIMIT, php_settings: tuple[str, ...] = (),
              timeout: float = TIMEOUT_SECONDS) -> SqlAnswer:
    """Run one read-only statement on the forum's database; the first `limit` rows and the total."""
    if not sql.strip():
        raise InvalidArgument("The SQL is empty.", "Pass one SELECT (or another statement that reads).")
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidArgument(f"The SQL is {len(sql):,} characters; at most {MAX_SQL_CHARS:,} are accepted.",
                              "Send a shorter statement.")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit {limit} is out of range.", f"Use 1-{MAX_LIMIT}.")
    cfg = forum_database(root, php_settings)
    started = time.monotonic()
    if cfg.kind == SQLITE:
        conn, authorizer = _open_sqlite(sqlite_path(cfg, root), timeout)
        with closing(conn):
            try:
                cursor = conn.execute(sql)
                rows, total, more = _fetch(cursor, limit)
            except sqlite3.Warning as exc:  # "You can only execute one statement at a time."
                raise _sqlite_error(sqlite3.Error(str(exc)), authorizer, timeout) from None
            except sqlite3.Error as exc:
                raise _sqlite_error(exc, authorizer, timeout) from None
            columns = [d[0] for d in cursor.description or ()]
        engine = f"SQLite {sqlite3.sqlite_version}"
    else:
        import pymysql

        conn = _open_mysql(cfg, timeout)
        with closing(conn):
            engine = _mysql_product(conn)
            try:
                with conn.cursor(pymysql.cursors.SSCursor) as cursor:
                    cursor.execute(sql)
                    columns = [d[0] for d in cursor.description or ()]
                    rows, total, more = _fetch(cursor, limit) if cursor.description else ([], 0, False)
            except pymysql.err.MySQLError as exc:
                raise _mysql_error(exc, timeout) from None
            finally:
                try:
                    conn.rollback()
                except pymysql.err.MySQLError:
                    pass
    return SqlAnswer(engine, sql, columns, rows, total, more, limit, time.monotonic() - started, cfg.table_prefix)


def describe_table(root: Path, table: str, php_settings: tuple[str, ...] = (),
                   timeout: float = TIMEOUT_SECONDS) -> TableDescription:
    """Columns (type, null, default), indexes and row count of `table` (with or without the forum's prefix)."""
    if not TABLE_NAME.fullmatch(table):
        raise InvalidArgument(f"{table!r} is not a table name.", "Use letters, digits and _ (e.g. users or mybb_users).")
    cfg = forum_database(root, php_settings)
    if cfg.kind == SQLITE:
        conn, authorizer = _open_sqlite(sqlite_path(cfg, root), timeout)
        with closing(conn):
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            name = _resolve(table, names, cfg.table_prefix)
            if name is None:
                return TableDescription(f"SQLite {sqlite3.sqlite_version}", table, [], [], 0, cfg.table_prefix,
                                        similar=_similar(table, names))
            columns = [ColumnInfo(r[1], r[2] or "", not r[3] and not r[5], r[4], "PRI" if r[5] else "")
                       for r in conn.execute(f'PRAGMA table_info("{name}")')]
            indexes = []
            for index in conn.execute(f'PRAGMA index_list("{name}")').fetchall():
                cols = [r[2] for r in conn.execute(f'PRAGMA index_info("{index[1]}")')]
                indexes.append(IndexInfo(index[1], cols, bool(index[2])))
            count = conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            create = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        return TableDescription(f"SQLite {sqlite3.sqlite_version}", name, columns, indexes, count,
                                cfg.table_prefix, create)
    import pymysql

    conn = _open_mysql(cfg, timeout)
    with closing(conn):
        engine = _mysql_product(conn)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW TABLES")
                names = [str(r[0]) for r in cur.fetchall()]
                name = _resolve(table, names, cfg.table_prefix)
                if name is None:
                    return TableDescription(engine, table, [], [], 0, cfg.table_prefix, similar=_similar(table, names))
                cur.execute(f"SHOW COLUMNS FROM `{name}`")
                columns = [ColumnInfo(str(r[0]), str(r[1]), r[2] == "YES", None if r[4] is None else str(r[4]),
                                      str(r[3] or ""), str(r[5] or "")) for r in cur.fetchall()]
                cur.execute(f"SHOW INDEX FROM `{name}`")
                by_name: dict[str, IndexInfo] = {}
                for r in cur.fetchall():
                    index = by_name.setdefault(str(r[2]), IndexInfo(str(r[2]), [], not r[1]))
                    index.columns.append(str(r[4]))
                cur.execute(f"SELECT COUNT(*) FROM `{name}`")
                count = int(cur.fetchone()[0])
        except pymysql.err.MySQLError as exc:
            raise _mysql_error(exc, timeout) from None
        finally:
            conn.rollback()
    return TableDescription(engine, name, columns, list(by_name.values()), count, cfg.table_prefix)


def _resolve(table: str, names: list[str], prefix: str) -> str | None:
    for candidate in (table, prefix + table):
        if candidate in names:
            return candidate
    lowered = {n.lower(): n for n in names}
    return lowered.get(table.lower()) or lowered.get((prefix + table).lower())


def _similar(table: str, names: list[str]) -> list[str]:
    word = table.lower().rstrip("s")
    return sorted(n for n in names if word and word in n.lower())[:10]
