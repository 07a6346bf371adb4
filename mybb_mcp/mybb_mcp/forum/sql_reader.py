"""The read-only account `mybb_forum_sql` logs in with on a MySQL/MariaDB forum.

Read-only must not rest on the forum's own login being weak: many containers run MySQL as root, and then
`SET GLOBAL general_log_file`, `SELECT … INTO OUTFILE` and `SHUTDOWN` all pass a read-only transaction.
So the SQL tool logs in with an account that may only SELECT on the forum's database. `init` makes one
when its login may create users and otherwise says the statements that make it; for every forum the
grants of the login used are checked before each statement (`grants_beyond_select`), so an account that
can do more is refused whoever made it. The account's name and password are kept in a file of ours
beside the forum's credentials (mode 0600, written beside and renamed over, read without following a
link). Only the SQL tool uses it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..safe_files import read_own_json
from ..untrusted import code_span
from .files import MYSQL, ForumDbConfig, php_ini_value, read_config_php

CONNECT_TIMEOUT = 5.0
# What a SELECT-only account's SHOW GRANTS may say: USAGE (no rights) on *.*, and SELECT (on the whole
# database, a table or columns) on the forum's database. Anything else - another privilege, another
# database, a role, PROXY, WITH GRANT OPTION - makes the account more than a reader.
_USAGE = re.compile(r"GRANT USAGE ON \*\.\* TO ")
_SELECT = re.compile(r"GRANT SELECT(?: \([^)]*\))? ON (`(?:[^`]|``)+`)\.(?:\*|`(?:[^`]|``)+`) TO ")


@dataclass(frozen=True)
class ReaderAccount:
    """A login that may only SELECT on `database`; `host` is the host part the forum's own login matched."""

    user: str
    password: str = field(repr=False)
    host: str = "localhost"
    database: str = ""
    endpoint: str = ""  # the forum's database server (socket or host:port) the account was made on

    @property
    def account(self) -> str:
        return f"'{self.user}'@'{_sql_string(self.host)}'"

    def statements(self) -> list[str]:
        """What a database administrator runs to make it (the password is ours, generated: no quote in it)."""
        return [f"CREATE USER IF NOT EXISTS {self.account} IDENTIFIED BY '{self.password}';",
                f"GRANT SELECT ON {grant_database(self.database)}.* TO {self.account};"]


def reader_file(credentials_file: Path) -> Path:
    """Beside the forum's credentials, named like them: `.mybb-forum-sql-reader[.<key>].json`."""
    return credentials_file.with_name(credentials_file.name.replace("-credentials", "-sql-reader", 1))


def forum_mysql(root: Path, php_settings: tuple[str, ...] = ()) -> ForumDbConfig | None:
    """The forum's MySQL connection as MyBB's driver uses it (PHP's mysqli.default_socket included); None
    when the forum is not on MySQL/MariaDB."""
    cfg = read_config_php(root)
    if cfg is None or cfg.kind != MYSQL:
        return None
    default_socket = php_ini_value(php_settings, "mysqli.default_socket")
    if default_socket and cfg.socket_is_default:
        cfg = replace(cfg, socket=default_socket)
    return cfg


def connect(cfg: ForumDbConfig, user: str, password: str, timeout: float, factory: Any = None, **extra: Any) -> Any:
    """A PyMySQL connection (`factory`: a Connection subclass) to the forum's server and database as
    `user`; pymysql's errors pass through."""
    import pymysql

    kwargs: dict[str, Any] = {"unix_socket": cfg.socket} if cfg.socket else {"host": cfg.host, "port": cfg.port}
    return (factory or pymysql.connections.Connection)(
        user=user, password=password, database=cfg.database, charset="utf8mb4",
        connect_timeout=min(timeout, CONNECT_TIMEOUT), **kwargs, **extra)


def kept_reader(path: Path, cfg: ForumDbConfig) -> ReaderAccount | None:
    """The account kept for this database, if a file of ours holds one made for it."""
    values = read_own_json(path, 64 * 1024)
    if not isinstance(values, dict):
        return None
    try:
        account = ReaderAccount(**{k: str(values[k]) for k in ("user", "password", "host", "database", "endpoint")})
    except KeyError:
        return None
    return account if (account.database, account.endpoint) == (cfg.database, cfg.endpoint()) else None


def keep_reader(path: Path, account: ReaderAccount) -> None:
    """Mode 0600, written beside and renamed over: a link planted at `path` is replaced, never followed."""
    fd, temp = tempfile.mkstemp(prefix=".mybb-sql-reader-", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"user": account.user, "password": account.password, "host": account.host,
                       "database": account.database, "endpoint": account.endpoint}, handle, indent=2)
            handle.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def new_reader(cfg: ForumDbConfig, host: str) -> ReaderAccount:
    """A fresh name and password (letters and digits only: safe inside the quotes of the statements)."""
    return ReaderAccount(user="mybb_ro_" + secrets.token_hex(4), password=secrets.token_hex(16), host=host,
                         database=cfg.database, endpoint=cfg.endpoint())


def current_account(conn: Any) -> tuple[str, str]:
    """(user, host) of the account the server matched this login to (CURRENT_USER(), not the one asked)."""
    with conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        user, _, host = str(cur.fetchone()[0]).rpartition("@")
    return user, host


def grants_beyond_select(conn: Any, database: str) -> list[str]:
    """The lines of SHOW GRANTS that give this login more than SELECT on `database` (empty: a reader)."""
    allowed = {f"`{name.replace('`', '``')}`" for name in (database, _escape_wildcards(database))}
    with conn.cursor() as cur:
        cur.execute("SHOW GRANTS")
        lines = [str(row[0]) for row in cur.fetchall()]
    beyond = []
    for line in lines:
        if "WITH GRANT OPTION" in line.upper():
            beyond.append(line)
        elif _USAGE.match(line):
            continue
        elif not ((m := _SELECT.match(line)) and m.group(1) in allowed):
            beyond.append(line)
    return [_without_password(line) for line in beyond]


def make_at_init(root: Path, credentials_file: Path, php_settings: tuple[str, ...] = ()) -> list[str]:
    """For a forum init just installed on MySQL/MariaDB: make the SQL tool's read-only account with the
    forum's own login and keep it; when that login may not create users, keep it anyway and say the
    statements an administrator runs. Lines for init's notes; never raises."""
    cfg = forum_mysql(root, php_settings)
    if cfg is None:
        return []
    import pymysql

    path = reader_file(credentials_file)
    try:
        conn = connect(cfg, cfg.username, cfg.password, CONNECT_TIMEOUT, autocommit=True)
    except pymysql.err.MySQLError as exc:
        return [f"The read-only account for mybb_forum_sql was not made: cannot log in to the database ({exc})."]
    account: ReaderAccount | None = None
    try:
        # A forum made again (--force) keeps its reader: no second account on the server.
        account = kept_reader(path, cfg) or new_reader(cfg, current_account(conn)[1])
        keep_reader(path, account)
        with conn.cursor() as cur:
            for statement in account.statements():
                cur.execute(statement.rstrip(";"))
    except pymysql.err.MySQLError as exc:
        if account is None:  # not even CURRENT_USER() answered
            return [f"The read-only account for mybb_forum_sql was not made: the database did not answer ({exc})."]
        return [f"The read-only account mybb_forum_sql logs in with could not be made by {cfg.username!r} "
                f"({exc.args[-1]}). Until it exists the SQL tool refuses; a database administrator makes it "
                "with: " + code_span(" ".join(account.statements()))]
    except OSError as exc:
        return [f"The read-only account for mybb_forum_sql was not made: cannot write {path} ({exc.strerror})."]
    finally:
        conn.close()
    return [(f"mybb_forum_sql reads as {account.account}, which may only SELECT on `{cfg.database}` "
             f"(kept in {path}, mode 0600).")]


def grant_database(name: str) -> str:
    """A database name quoted for GRANT, `_` and `%` escaped so they are not wildcards granting more."""
    return "`" + _escape_wildcards(name).replace("`", "``") + "`"


def _escape_wildcards(name: str) -> str:
    return name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def _sql_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _without_password(line: str) -> str:
    return re.sub(r" IDENTIFIED (BY|VIA|WITH) .*", " IDENTIFIED …", line)
