"""MySQL/MariaDB for the read-only SQL tool: who it logs in as, how long a statement may run, how much
of a result it reads.

- The login may only SELECT on the forum's database (forum/sql_reader.py): the grants are checked before
  every statement, so a privileged login (root) is refused with the statements that make a reader,
  instead of trusting a read-only transaction that SET GLOBAL, INTO OUTFILE and SHUTDOWN ignore.
- The time limit is kept from outside the statement: `SET STATEMENT max_statement_time=0 FOR …` lifts
  the session's limit, not a watchdog that sends `KILL QUERY` from a second connection at the deadline.
- The bytes read from the server are counted as they arrive and reading stops past READ_BYTES_CAP,
  whatever one row holds: rows are cut while reading, not when rendered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import MybbMcpError
from ..forum.database import mysql_product
from ..forum.files import ForumDbConfig
from ..forum.sql_reader import (
    ReaderAccount,
    current_account,
    grants_beyond_select,
    keep_reader,
    kept_reader,
    new_reader,
)
from ..forum.sql_reader import connect as connect_as
from ..untrusted import code_span

if TYPE_CHECKING:
    import pymysql

READ_BYTES_CAP = 64 * 2**20  # result bytes read per statement; a row over it is not read at all
KILL_GRACE = 10.0  # after the watchdog's deadline, how long the client still waits for the server's answer
_CHANGE_HINT = ("This tool only reads. Change the forum through MyBB (mybb_forum_members, mybb_forum_templates, "
                "mybb_forum_php, the Admin CP) and read the result here.")


class SqlRefused(MybbMcpError):
    """The database refused the statement (a write, a trick out of read-only, a syntax error...)."""


class ResultTooLarge(Exception):
    """More than READ_BYTES_CAP of result arrived; the connection is unusable after it."""


class ReadCursor(Protocol):
    """What the SQL tool uses of a PyMySQL cursor (its plain one, and SSCursor: rows read one at a time)."""

    @property
    def description(self) -> Sequence[Sequence[object]] | None: ...
    def execute(self, query: str) -> int: ...
    def fetchone(self) -> tuple[object, ...] | None: ...
    def fetchall(self) -> Sequence[tuple[object, ...]]: ...
    def __enter__(self) -> ReadCursor: ...
    def __exit__(self, *exc_info: object) -> None: ...


class ReadConnection(Protocol):
    """What the SQL tool uses of its connection: a PyMySQL connection made by _bounded_factory()."""

    spent: int  # result bytes read since set to 0

    def cursor(self, cursor: type[pymysql.cursors.Cursor] | None = None) -> ReadCursor: ...
    def thread_id(self) -> int: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...
    def _force_close(self) -> None: ...  # PyMySQL's own: closes the socket without a word to the server


def _bounded_factory() -> type[pymysql.connections.Connection]:
    import pymysql

    class BoundedConnection(pymysql.connections.Connection):
        """Counts what the server sends and refuses to read past the budget. pymysql reads a packet in
        pieces of at most 16 MiB, so at most budget + 16 MiB is ever held for one row."""

        budget = READ_BYTES_CAP
        spent = 0

        def _read_bytes(self, num_bytes: int) -> bytes:
            self.spent += num_bytes
            if self.spent > self.budget:
                raise ResultTooLarge()
            # PyMySQL's reader of the socket: private, so not in its type stubs
            read: Callable[[int], bytes] = getattr(super(), "_read_bytes")
            return read(num_bytes)

    return BoundedConnection


class Watchdog:
    """At the deadline, `KILL QUERY` the statement from a second connection (the same account: a user may
    always stop its own statements). `finish()` before reading the outcome: it waits for a kill under way."""

    def __init__(self, cfg: ForumDbConfig, user: str, password: str, thread_id: int, timeout: float) -> None:
        self.cfg, self.user, self.password, self.thread_id = cfg, user, password, thread_id
        self.killed = False
        self.kill_error: str | None = None
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(timeout, self.kill)
        self._timer.daemon = True
        self._timer.start()

    def kill(self) -> None:
        import pymysql

        with self._lock:
            if self._done or self.killed:
                return
            try:
                conn = connect_as(self.cfg, self.user, self.password, 5.0, autocommit=True, read_timeout=5.0)
                with closing(conn), conn.cursor() as cur:
                    cur.execute(f"KILL QUERY {int(self.thread_id)}")
                self.killed = True
            except pymysql.err.MySQLError as exc:
                self.kill_error = str(exc)

    def finish(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True


def open_read_only(cfg: ForumDbConfig, reader_path: Path,
                   timeout: float) -> tuple[ReadConnection, ReaderAccount | None]:
    """A connection that may only read: the kept reader account (else the forum's own login, if it is one),
    its grants checked, limited to `timeout` per statement, in a read-only transaction."""
    import pymysql

    account = kept_reader(reader_path, cfg)
    user, password = (account.user, account.password) if account else (cfg.username, cfg.password)
    try:
        conn: ReadConnection = connect_as(cfg, user, password, timeout, factory=_bounded_factory(), autocommit=False,
                                          read_timeout=timeout + KILL_GRACE, write_timeout=timeout + KILL_GRACE)
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        if account is not None and code in (1044, 1045, 1698):
            raise SqlRefused(
                f"mybb_forum_sql reads as {account.account}, which does not exist yet or may not read "
                f"`{cfg.database}` ({exc.args[-1]}). Nothing was run.",
                f"A database administrator makes it with {_statements(account)} (name and password kept in "
                f"{reader_path}, mode 0600); then call again.") from None
        raise SqlRefused(f"Cannot connect to the forum's database at {cfg.endpoint()}: {exc}.",
                         "Check it with mybb_server_status (database health) and inc/config.php.") from None
    try:
        _refuse_more_than_select(conn, cfg, account, reader_path)
        _read_only_session(conn, timeout)
    except BaseException:
        conn.close()
        raise
    conn.spent = 0
    return conn, account


def _refuse_more_than_select(conn: ReadConnection, cfg: ForumDbConfig, account: ReaderAccount | None,
                             reader_path: Path) -> None:
    import pymysql

    try:
        beyond = grants_beyond_select(conn, cfg.database)
        login = current_account(conn)
    except pymysql.err.MySQLError as exc:
        raise SqlRefused(f"Cannot read the rights of the database login ({exc}). Nothing was run.",
                         "Check the login in inc/config.php with mybb_server_status.") from None
    if not beyond:
        return
    listed = "; ".join(code_span(line) for line in beyond[:4]) + (f" and {len(beyond) - 4} more" if len(beyond) > 4
                                                                  else "")
    if account is not None:
        raise SqlRefused(
            f"The account mybb_forum_sql reads as, {account.account}, may do more than SELECT on `{cfg.database}` "
            f"({listed}), so a statement could write. Nothing was run.",
            f"Take the other rights back: {code_span(f'REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account.account};')} "
            f"then {code_span(account.statements()[1])}")
    fresh = new_reader(cfg, login[1])
    try:
        keep_reader(reader_path, fresh)
        kept = f"the tool then logs in as it (name and password kept in {reader_path}, mode 0600)"
    except OSError as exc:
        kept = f"but {reader_path} could not be written ({exc.strerror}): fix that folder first"
    raise SqlRefused(
        f"The forum's database login '{login[0]}'@'{login[1]}' may do more than read ({listed}): with it, "
        "statements such as SET GLOBAL, SELECT … INTO OUTFILE or SHUTDOWN would pass. mybb_forum_sql reads only "
        f"with an account that may do nothing but SELECT on `{cfg.database}`. Nothing was run.",
        f"A database administrator makes one with {_statements(fresh)}; {kept}.")


def _statements(account: ReaderAccount) -> str:
    return code_span(" ".join(account.statements()))


def _read_only_session(conn: ReadConnection, timeout: float) -> None:
    import pymysql

    with conn.cursor() as cur:
        # The server's own limit for statements that do not lift it (the watchdog covers those that do):
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


def server_product(conn: ReadConnection) -> str:
    """"MariaDB 10.11.6": from VERSION() (the handshake says 5.5.5-… on MariaDB, for old clients)."""
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        return mysql_product(str(first_value(cur.fetchone())))


def first_value(row: tuple[object, ...] | None) -> object:
    """The first column of a row a statement always answers (VERSION(), COUNT(*))."""
    if row is None:
        raise TypeError("'NoneType' object is not subscriptable")  # as row[0] of no row raised
    return row[0]


def mysql_error(exc: Exception, timeout: float, watchdog: Watchdog | None = None) -> SqlRefused:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    words = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if watchdog is not None and watchdog.killed:
        return killed(timeout)
    if code in (1792, 1290, 1207):  # read-only transaction / --read-only server / read lock
        return SqlRefused(f"Refused by the database: ({code}) {words}. Nothing was changed.", _CHANGE_HINT)
    if code in (1142, 1143, 1044, 1227, 1045):  # the reader may not: a command, a table, a database, a privilege
        return SqlRefused(f"Refused by the database: ({code}) {words}. Nothing was changed: the account this tool "
                          "reads as may only SELECT.", _CHANGE_HINT)
    if code in (1969, 3024):  # the server's own limit
        return SqlRefused(f"The query ran longer than {timeout:g} s and was stopped by the server. Nothing was "
                          "changed.", "Narrow it (a WHERE clause, a LIMIT) and run it again.")
    if code in (2013, 2006) or "timed out" in words.lower():
        why = f" (KILL QUERY failed: {watchdog.kill_error})" if watchdog and watchdog.kill_error else ""
        return SqlRefused(f"The database did not answer within {timeout + KILL_GRACE:g} s and the tool closed the "
                          f"connection{why}: the server may still be running the query. Nothing was changed.",
                          "Narrow it (a WHERE clause, a LIMIT); check the server's processes (SHOW PROCESSLIST).")
    if code == 1064:
        return SqlRefused(f"The database refused the statement: ({code}) {words}. Nothing was run.",
                          "Fix the SQL; send one statement per call (several in one are refused as a syntax error).")
    return SqlRefused(f"The database refused the statement: ({code}) {words}. Nothing was changed.",
                      "Fix the SQL (table names carry the forum's prefix) and run it again.")


def killed(timeout: float) -> SqlRefused:
    return SqlRefused(f"The query ran longer than {timeout:g} s and was killed on the server (KILL QUERY from a "
                      "second connection; a limit the statement cannot lift). Nothing was changed.",
                      "Narrow it (a WHERE clause, a LIMIT) and run it again.")


def too_large() -> SqlRefused:
    return SqlRefused(f"The result's first row is larger than the {READ_BYTES_CAP // 2**20} MiB this tool reads of a "
                      "result: nothing is shown, and the query was stopped. Nothing was changed.",
                      "Select what you need of the big values: LENGTH(col), SUBSTR(col, 1, 200).")
