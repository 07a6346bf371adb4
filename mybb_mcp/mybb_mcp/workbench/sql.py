"""Read-only SQL on the forum's database, enforced by the database connection itself.

Never by parsing the SQL: SQLite is opened read-only (`mode=ro`) and guarded by SQLite's own authorizer,
which allows reads only (read-only mode alone still lets ATTACH create a file, VACUUM INTO write a copy
and PRAGMA writable_schema=1 pass); MySQL/MariaDB runs the statement in a read-only session inside a
read-only transaction that is rolled back, logged in as an account that may only SELECT (sql_mysql.py).
One statement: both drivers refuse more (sqlite3 by its API, PyMySQL because it never asks the server for
multi-statements). What is read is bounded while reading, whatever a row holds: SQLite's own limits on a
value and on its heap, MySQL's result bytes counted as they arrive, and every value cut to what an answer
shows before the next row is read.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..config import Config
from ..errors import InvalidArgument
from ..forum.files import MYSQL, SQLITE, ForumDbConfig, read_config_php, sqlite_path
from ..forum.sql_reader import forum_mysql, reader_file
from .php_json import to_int
from .sql_mysql import (
    ReadCursor,
    ResultTooLarge,
    SqlRefused,
    Watchdog,
    first_value,
    killed,
    mysql_error,
    open_read_only,
    server_product,
    too_large,
)

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
COUNT_CAP = 100_000  # rows counted past the limit; beyond this the total is "more than"
VALUE_CHARS = 200  # a value longer than this is cut in the answer
MAX_SQL_CHARS = 20_000
TIMEOUT_SECONDS = 10.0
TABLE_NAME = re.compile(r"[A-Za-z0-9_$]{1,64}")
SQLITE_VALUE_CAP = 16 * 2**20  # SQLite refuses a longer string or blob (stored or made by the statement)
SQLITE_HEAP_CAP = 128 * 2**20  # SQLite's heap in this process, from the first SQL call on


@dataclass(frozen=True)
class CutValue:
    """A value longer than an answer shows: its first VALUE_CHARS characters and its whole length."""

    head: str
    length: int


# A value as the answer shows it: the database's own (None, a number, text) or text cut by table_cell.
Cell = object


@dataclass(frozen=True)
class SqlAnswer:
    engine: str  # "SQLite 3.45.1", "MariaDB 10.11.6"
    sql: str
    columns: list[str]
    rows: list[tuple[Cell, ...]]  # at most `limit`
    total: int  # rows the statement returned (counted up to COUNT_CAP)
    total_is_lower_bound: bool
    limit: int
    seconds: float
    table_prefix: str
    stopped_reading: bool = False  # READ_BYTES_CAP of result was read before the end: total is a lower bound


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
# Functions that touch files or the process: fts3_tokenizer() hands out (and with two arguments takes)
# a C pointer.
_DENIED_FUNCTIONS = {"load_extension", "writefile", "edit", "readfile", "fts3_tokenizer"}
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
            if (arg2 or "").lower() in _DENIED_FUNCTIONS:
                return self._deny(f"the function {arg2}()")
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master" and db == "main" and source is None:
            # What SQLite asks while it makes an eponymous virtual table (pragma_table_info('t'), json_each)
            # for a SELECT: a real UPDATE of the schema is refused by SQLite before any authorizer call,
            # and writable_schema, which would let one through, is refused below.
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
    # A bound on one value, and on all SQLite holds.
    _cap_sqlite_heap()
    if sys.version_info >= (3, 11):  # Connection.setlimit
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_VALUE_CAP)
    authorizer = _ReadOnlyAuthorizer()
    conn.set_authorizer(authorizer)
    deadline = time.monotonic() + timeout
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    return conn, authorizer


_heap_lock = threading.Lock()
_heap_capped = False


def _cap_sqlite_heap() -> None:
    """SQLite's heap capped at SQLITE_HEAP_CAP, so one row of many big values cannot make SQLite, then
    Python, hold more. The cap is process-wide and SQLite's pragma can only ever lower it: it stays for
    the life of the process (the tool's other SQLite work - health checks, snapshots by the backup API -
    needs a few MiB)."""
    global _heap_capped
    with _heap_lock:
        if _heap_capped:
            return
        with closing(sqlite3.connect(":memory:")) as conn:
            row = conn.execute("PRAGMA hard_heap_limit").fetchone()  # None before SQLite 3.31: no such limit
            if row and not 0 < int(row[0]) <= SQLITE_HEAP_CAP:
                conn.execute(f"PRAGMA hard_heap_limit = {SQLITE_HEAP_CAP}")
        _heap_capped = True


def _sqlite_error(exc: sqlite3.Error, authorizer: _ReadOnlyAuthorizer, timeout: float) -> SqlRefused:
    words = str(exc)
    if authorizer.denied is not None:
        return SqlRefused(
            f"Refused by SQLite: {authorizer.denied} is not allowed on this read-only connection "
            f"({words}). Nothing was changed.",
            "This tool only reads. Change the forum through MyBB (mybb_forum_members, mybb_forum_templates, "
            "mybb_forum_php, the Admin CP) and read the result here.")
    if (isinstance(exc, sqlite3.DataError) and "too big" in words) or words == "out of memory":
        return SqlRefused("A value or row of the result is larger than this tool reads "
                          f"({SQLITE_VALUE_CAP // 2**20} MiB "
                          f"a value, {SQLITE_HEAP_CAP // 2**20} MiB a row): SQLite stopped it ({words}). Nothing was "
                          "changed.", "Select what you need of the big values: LENGTH(col), SUBSTR(col, 1, 200).")
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


# --- the forum's database ------------------------------------------------------------------------------

def forum_database(root: Path, php_settings: tuple[str, ...] = ()) -> ForumDbConfig:
    cfg = read_config_php(root)
    if cfg is None:
        raise SqlRefused(f"No MyBB forum is installed at {root} (no inc/config.php).",
                         "Make one with mybb_forum_init (CLI: mybb-server init), or set MYBB_ROOT.")
    if cfg.kind not in (SQLITE, MYSQL):
        raise SqlRefused(f"The forum's database type {cfg.type!r} is not supported here (SQLite and "
                         "MySQL/MariaDB are).", "Query it with its own client.")
    return forum_mysql(root, php_settings) or cfg


def table_cell(value: object) -> Cell:
    """The value as the answer needs it, no bigger: text past VALUE_CHARS kept as its head and length."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(data)} bytes>"
    if isinstance(value, str) and len(value) > VALUE_CHARS:
        return CutValue(value[:VALUE_CHARS], len(value))
    return value


def _fetch(cursor: sqlite3.Cursor | ReadCursor, limit: int) -> tuple[list[tuple[Cell, ...]], int, bool, bool]:
    """(the first `limit` rows cut, the rows counted, more past COUNT_CAP, stopped at MySQL's byte cap).
    One row at a time: nothing but the row in hand is ever held whole."""
    rows: list[tuple[Cell, ...]] = []
    total = 0
    try:
        while total < COUNT_CAP:
            row = cursor.fetchone()
            if row is None:
                return rows, total, False, False
            if total < limit:
                rows.append(tuple(table_cell(v) for v in row))
            total += 1
            del row
        return rows, total, cursor.fetchone() is not None, False
    except ResultTooLarge:
        if not rows:
            raise
        return rows, total, True, True


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
    capped = False
    if cfg.kind == SQLITE:
        conn, authorizer = _open_sqlite(sqlite_path(cfg, root), timeout)
        with closing(conn):
            try:
                cursor = conn.execute(sql)
                rows, total, more, _ = _fetch(cursor, limit)
            except sqlite3.Warning as exc:  # "You can only execute one statement at a time."
                raise _sqlite_error(sqlite3.Error(str(exc)), authorizer, timeout) from None
            except sqlite3.Error as exc:
                raise _sqlite_error(exc, authorizer, timeout) from None
            except MemoryError:  # SQLite's heap limit, met while Python holds the row
                raise _sqlite_error(sqlite3.Error("out of memory"), authorizer, timeout) from None
            columns = [d[0] for d in cursor.description or ()]
        engine = f"SQLite {sqlite3.sqlite_version}"
    else:
        engine, columns, rows, total, more, capped = _run_mysql(cfg, root, sql, limit, timeout)
    return SqlAnswer(engine, sql, columns, rows, total, more, limit, time.monotonic() - started, cfg.table_prefix,
                     capped)


def _reader_path(root: Path) -> Path:
    return reader_file(Config(mybb_root=root).credentials_file)


def _run_mysql(cfg: ForumDbConfig, root: Path, sql: str, limit: int,
               timeout: float) -> tuple[str, list[str], list[tuple[Cell, ...]], int, bool, bool]:
    import pymysql

    conn, account = open_read_only(cfg, _reader_path(root), timeout)
    finished = False  # the whole result was read: the connection can be spoken to again
    try:
        engine = server_product(conn)
        conn.spent = 0
        user, password = (account.user, account.password) if account else (cfg.username, cfg.password)
        watchdog = Watchdog(cfg, user, password, conn.thread_id(), timeout)
        try:
            cursor = conn.cursor(pymysql.cursors.SSCursor)
            cursor.execute(sql)
            columns = [str(d[0]) for d in cursor.description or ()]
            rows, total, more, capped = _fetch(cursor, limit) if cursor.description else ([], 0, False, False)
            finished = not more
            if more:
                watchdog.kill()  # the rest of the result is never read: stop the server making it
        except ResultTooLarge:
            watchdog.kill()
            raise too_large() from None
        except pymysql.err.MySQLError as exc:
            watchdog.finish()
            finished = True
            raise mysql_error(exc, timeout, watchdog) from None
        finally:
            watchdog.finish()
        if watchdog.killed and finished:
            raise killed(timeout)  # SLEEP() answers 1 when killed, as if it had finished
        return engine, columns, rows, total, more, capped
    finally:
        if finished:
            try:
                conn.rollback()
                conn.close()
            except (pymysql.err.MySQLError, ResultTooLarge):
                conn._force_close()
        else:  # mid-result: the connection cannot be spoken to again (and the transaction ends with it)
            conn._force_close()


def describe_table(root: Path, table: str, php_settings: tuple[str, ...] = (),
                   timeout: float = TIMEOUT_SECONDS) -> TableDescription:
    """Columns (type, null, default), indexes and row count of `table` (with or without the forum's prefix)."""
    if not TABLE_NAME.fullmatch(table):
        raise InvalidArgument(f"{table!r} is not a table name.",
                              "Use letters, digits and _ (e.g. users or mybb_users).")
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

    server, _ = open_read_only(cfg, _reader_path(root), timeout)
    with closing(server):
        engine = server_product(server)
        try:
            with server.cursor() as cur:
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
                count = to_int(first_value(cur.fetchone()))
        except pymysql.err.MySQLError as exc:
            raise mysql_error(exc, timeout) from None
        finally:
            server.rollback()
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
