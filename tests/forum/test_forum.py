"""The forum package (mybb_mcp/forum/): MyBB's config and settings files, database health, MyBB's error log,
turning error logging on and off the way MyBB does, the bburl check and the status report.

Fixture forums are written by the tests (tests/fixtures/mybb_forum.py) in MyBB's own formats; where
PHP's reading of a file is the truth (config.php, settings.php), the real php binary checks it.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from mybb_mcp.forum import database as forum_db
from mybb_mcp.forum import dev_mode as forum_dev_mode
from mybb_mcp.forum import error_log as forum_error_log
from mybb_mcp.forum import files as forum_files
from mybb_mcp.forum import report as forum_report
from mybb_mcp.forum.database import (
    ACCESS_DENIED,
    CANNOT_CONNECT,
    CANNOT_OPEN,
    MISSING_FILE,
    NOT_MYBB,
    UNKNOWN_DATABASE,
    UNREACHABLE,
)
from mybb_mcp.forum.error_log import DEST_FILES, DEST_OFF, DEST_SERVER_LOG
from mybb_mcp.forum.files import ForumDbConfig
from mybb_mcp.logs import mybb_error_log
from mybb_mcp.logs.mybb_error_log import MyBBErrorLog
from tests.conftest import free_port
from tests.fixtures.mariadb import MariaDB
from tests.fixtures.mybb_forum import (
    DEFAULT_SETTINGS,
    REAL_ADMIN_WARNING_BLOCK,
    REAL_SQL_ERROR_BLOCK,
    FixtureForum,
    MyBBError,
    config_php,
    error_block,
    make_sqlite_forum,
    settings_php,
    settings_with,
    split_config_php,
    sqlite_settings,
    write_error_log,
    write_mybb_skeleton,
)

SERVER_URL = "http://127.0.0.1:8022"


def php_json(php: str, code: str) -> object:
    """Run PHP code that echoes JSON; return the decoded value (PHP is the truth for PHP files)."""
    out = subprocess.run([php, "-n", "-r", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"php failed ({out.returncode}): {out.stdout}{out.stderr}"
    return json.loads(out.stdout)


def php_config(php: str, path: Path) -> dict[str, object]:
    return php_json(php, f"include {json.dumps(str(path))}; echo json_encode($config);")  # type: ignore[return-value]


def php_settings(php: str, path: Path) -> dict[str, str]:
    return php_json(php, f"include {json.dumps(str(path))}; echo json_encode($settings);")  # type: ignore[return-value]


@pytest.fixture
def forum(tmp_path: Path) -> FixtureForum:
    """An installed MyBB forum on SQLite (overrides conftest's plain docroot for this module)."""
    return make_sqlite_forum(tmp_path / "repo" / "forum")


def _touch_later(path: Path) -> None:
    """Make a rewrite visible to the mtime cache even on coarse-timestamp filesystems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


# --- PHP literals --------------------------------------------------------------------------------------


def test_php_literals_unescape_like_php() -> None:
    assert forum_files.php_single_quoted(r"it\'s a \\ and a \n") == "it's a \\ and a \\n"
    assert forum_files.php_double_quoted(r"a\"b \$x \\ \n\t \x41\101 \u{263A} \q") == 'a"b $x \\ \n\t AA \u263a \\q'


def test_addcslashes_escapes_only_the_given_characters() -> None:
    assert forum_files.addcslashes('say "hi" to $you \\ {ok}', '\\"$') == 'say \\"hi\\" to \\$you \\\\ {ok}'


# --- inc/config.php ------------------------------------------------------------------------------------


def test_reads_the_installers_sqlite_config(forum: FixtureForum) -> None:
    cfg = forum_files.read_config_php(forum.root)
    assert cfg is not None
    assert (cfg.type, cfg.kind, cfg.database, cfg.table_prefix) == ("sqlite", "sqlite", str(forum.db_path), "mybb_")
    assert cfg.admin_dir == "admin" and cfg.config_file == forum.config_file
    assert cfg.encoding == ""  # the installer comments the encoding out for SQLite: PHP never sees it
    assert cfg.notes == ()


@pytest.mark.parametrize("password", ["", "plain", "it's", 'quo"te', "back\\slash", "$dollar{x}", "mixed'\\\"$"])
def test_config_values_match_what_php_reads(php: str, tmp_path: Path, password: str) -> None:
    path = tmp_path / "inc" / "config.php"
    path.parent.mkdir()
    path.write_text(config_php("mysqli", "forum_db", "mybb_", "127.0.0.1:3307", "forum_user", password))
    cfg = forum_files.read_config_php(tmp_path)
    truth = php_config(php, path)
    db = truth["database"]
    assert isinstance(db, dict) and cfg is not None
    assert (cfg.type, cfg.database, cfg.table_prefix) == (db["type"], db["database"], db["table_prefix"])
    assert (cfg.hostname, cfg.username, cfg.password) == (db["hostname"], db["username"], db["password"])
    assert cfg.encoding == db["encoding"] == "utf8mb4"
    assert cfg.admin_dir == truth["admin_dir"]


def test_password_is_not_in_the_repr(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "config.php").write_text(config_php("mysqli", "db", dbhost="localhost", dbuser="u",
                                                            dbpass="s3cret-pw"))
    assert "s3cret-pw" not in repr(forum_files.read_config_php(tmp_path))


def test_comments_and_later_assignments_behave_as_in_php(php: str, tmp_path: Path) -> None:
    path = tmp_path / "inc" / "config.php"
    path.parent.mkdir()
    path.write_text(
        "<?php\n/* $config['database']['type'] = 'pgsql'; */\n"
        "$config['database']['type'] = \"mysqli\"; // $config['database']['type'] = 'sqlite';\n"
        "# $config['database']['database'] = 'hash_comment';\n"
        "$config['database']['database'] = 'first';\n"
        "$config [ 'database' ] [ \"database\" ] = 'second//not a comment#either';\n"
        "$config['database']['table_prefix'] = 'mybb_';\n$config['database']['hostname'] = 'db.internal';\n"
        "$config['admin_dir'] = 'secret_acp';\n"
    )
    cfg = forum_files.read_config_php(tmp_path)
    truth = php_config(php, path)
    assert cfg is not None
    assert cfg.type == truth["database"]["type"] == "mysqli"  # type: ignore[index]
    assert cfg.database == truth["database"]["database"] == "second//not a comment#either"  # type: ignore[index]
    assert cfg.admin_dir == "secret_acp"
    assert (cfg.host, cfg.port, cfg.socket) == ("db.internal", 3306, None)


@pytest.mark.parametrize(("hostname", "host", "port", "socket_path"), [
    ("127.0.0.1:3307", "127.0.0.1", 3307, None),
    ("db.example", "db.example", 3306, None),
    ("localhost:/tmp/custom.sock", "localhost", None, "/tmp/custom.sock"),
    ("/tmp/custom.sock", "localhost", None, "/tmp/custom.sock"),
])
def test_mysql_hostname_forms(tmp_path: Path, hostname: str, host: str, port: int | None,
                              socket_path: str | None) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "config.php").write_text(config_php("mysqli", "db", dbhost=hostname, dbuser="u"))
    cfg = forum_files.read_config_php(tmp_path)
    assert cfg is not None and cfg.kind == "mysql"
    assert (cfg.host, cfg.port, cfg.socket) == (host, port, socket_path)
    if socket_path:  # checkable, but MyBB itself cannot connect so: say how to
        assert any("cannot use" in note and "mysqli.default_socket=" in note for note in cfg.notes)


@pytest.mark.parametrize("hostname", ["localhost", "", "localhost:3307"])
def test_mysql_localhost_means_the_default_socket(tmp_path: Path, hostname: str) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "config.php").write_text(config_php("mysqli", "db", dbhost=hostname, dbuser="u"))
    cfg = forum_files.read_config_php(tmp_path)
    assert cfg is not None
    assert cfg.socket in forum_files.MYSQL_DEFAULT_SOCKETS and cfg.port is None
    assert bool(cfg.notes) == hostname.endswith(":3307")  # mysqli ignores the port for localhost: say so


@pytest.mark.parametrize(("db_type", "hostname", "host", "port", "uses_socket"), [
    ("pgsql", "db.example", "db.example", 5432, False),
    ("pgsql_pdo", "127.0.0.1:5433", "127.0.0.1", 5433, False),
    ("pgsql", "", "", 5432, True),
])
def test_pgsql_hostname_forms(tmp_path: Path, db_type: str, hostname: str, host: str, port: int,
                              uses_socket: bool) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "config.php").write_text(config_php(db_type, "db", dbhost=hostname, dbuser="u"))
    cfg = forum_files.read_config_php(tmp_path)
    assert cfg is not None and cfg.kind == "pgsql"
    assert (cfg.host, cfg.port, cfg.socket is not None) == (host, port, uses_socket)
    if uses_socket:
        assert cfg.socket is not None and cfg.socket.endswith(".s.PGSQL.5432")


def test_split_config_describes_the_write_connection(php: str, tmp_path: Path) -> None:
    path = tmp_path / "inc" / "config.php"
    path.parent.mkdir()
    path.write_text(split_config_php(
        "mysqli",
        write={"database": "forum", "hostname": "primary.db:3306", "username": "writer", "password": "w"},
        read={"database": "forum", "hostname": "replica.db", "username": "reader", "password": "r"},
    ))
    cfg = forum_files.read_config_php(tmp_path)
    assert cfg is not None and cfg.split
    assert (cfg.host, cfg.username, cfg.password, cfg.database, cfg.table_prefix) == (
        "primary.db", "writer", "w", "forum", "mybb_")
    assert php_config(php, path)["database"]["write"]["username"] == "writer"  # type: ignore[index]


def test_relative_sqlite_path_is_flagged(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "config.php").write_text(config_php("sqlite", "forum.db"))
    cfg = forum_files.read_config_php(tmp_path)
    assert cfg is not None and any("relative" in note for note in cfg.notes)
    assert forum_files.sqlite_path(cfg, tmp_path) == tmp_path / "forum.db"


def test_no_config_means_not_installed(tmp_path: Path) -> None:
    assert forum_files.read_config_php(tmp_path) is None
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "config.php").write_text("<?php\n// nothing configured yet\n")
    assert forum_files.read_config_php(tmp_path) is None


def test_config_is_cached_until_the_file_changes(forum: FixtureForum) -> None:
    first = forum_files.read_config_php(forum.root)
    assert forum_files.read_config_php(forum.root) is first  # unchanged: not parsed again
    text = forum.config_file.read_text().replace("'mybb_'", "'other_'")
    forum.config_file.write_text(text)
    _touch_later(forum.config_file)
    changed = forum_files.read_config_php(forum.root)
    assert changed is not first and changed is not None and changed.table_prefix == "other_"


# --- inc/settings.php ----------------------------------------------------------------------------------


def test_reads_settings_exactly_as_php_does(php: str, forum: FixtureForum) -> None:
    ours = forum_files.read_settings_php(forum.root)
    assert ours == php_settings(php, forum.settings_file)
    assert ours == {s.name: s.value for s in DEFAULT_SETTINGS}


def test_rendered_settings_file_is_byte_identical_to_mybbs(forum: FixtureForum) -> None:
    with sqlite3.connect(forum.db_path) as conn:  # type: ignore[arg-type]
        rows = [(n, v) for v, n in conn.execute("SELECT value, name FROM mybb_settings ORDER BY title ASC")]
    assert forum_files.render_settings_php(rows) == settings_php(DEFAULT_SETTINGS) == forum.settings_file.read_text()


def test_rendered_settings_round_trip_through_php(php: str, tmp_path: Path) -> None:
    values = {
        "quotes": 'say "hi"', "dollar": "$5 and {$var} and ${x}", "backslash": "C:\\path\\n\\",
        "newline": "line one\nline two\r\n", "utf8": "Grüße 論壇 ☺", "tab": "a\tb", "empty": "",
        "single'quote": "name with a quote",
    }
    path = tmp_path / "settings.php"
    path.write_text(forum_files.render_settings_php(list(values.items())))
    assert php_settings(php, path) == values
    assert forum_files.parse_settings_php(path.read_bytes().decode()) == values


def test_missing_settings_file_reads_as_empty(tmp_path: Path) -> None:
    assert forum_files.read_settings_php(tmp_path) == {}


def test_settings_result_is_a_copy(forum: FixtureForum) -> None:
    forum_files.read_settings_php(forum.root)["bburl"] = "mutated"
    assert forum_files.read_settings_php(forum.root)["bburl"] == "http://127.0.0.1:8022"


def test_mybb_version_from_class_core(forum: FixtureForum, tmp_path: Path) -> None:
    assert forum_files.read_mybb_version(forum.root) == "1.8.37"
    assert forum_files.read_mybb_version(tmp_path / "nowhere") is None


# --- database health: SQLite and PostgreSQL ------------------------------------------------------------


def _cfg(forum: FixtureForum) -> ForumDbConfig:
    cfg = forum_files.read_config_php(forum.root)
    assert cfg is not None
    return cfg


def test_sqlite_forum_is_healthy(forum: FixtureForum) -> None:
    health = forum_db.check_database(_cfg(forum))
    assert health.ok and health.kind == "sqlite" and health.failure is None
    assert str(forum.db_path) in health.summary and f"{len(DEFAULT_SETTINGS)} settings" in health.summary


def test_sqlite_check_is_read_only(forum: FixtureForum) -> None:
    assert forum.db_path is not None
    before = forum.db_path.stat().st_mtime_ns, forum.db_path.read_bytes()
    forum_db.check_database(_cfg(forum))
    assert (forum.db_path.stat().st_mtime_ns, forum.db_path.read_bytes()) == before
    assert not Path(f"{forum.db_path}-journal").exists()


def test_sqlite_missing_file(forum: FixtureForum) -> None:
    assert forum.db_path is not None
    forum.db_path.unlink()
    health = forum_db.check_database(_cfg(forum))
    assert (health.ok, health.failure) == (False, MISSING_FILE)
    assert str(forum.db_path) in health.summary and health.hint
    assert not forum.db_path.exists()  # checking must not create it


def test_sqlite_file_that_is_not_a_database(forum: FixtureForum) -> None:
    assert forum.db_path is not None
    forum.db_path.write_bytes(b"this is not sqlite" * 100)
    health = forum_db.check_database(_cfg(forum))
    assert (health.ok, health.failure) == (False, CANNOT_OPEN)
    assert health.detail and "not a database" in health.detail


def test_sqlite_without_settings_table_is_not_mybb(forum: FixtureForum) -> None:
    assert forum.db_path is not None
    with sqlite3.connect(forum.db_path) as conn:
        conn.execute("ALTER TABLE mybb_settings RENAME TO mybb2_settings")
    health = forum_db.check_database(_cfg(forum))
    assert (health.ok, health.failure) == (False, NOT_MYBB)
    assert "mybb_settings" in health.summary
    assert health.hint and "'mybb2_'" in health.hint  # the prefix that does exist


def _pg_config(tmp_path: Path, hostname: str) -> ForumDbConfig:
    (tmp_path / "inc").mkdir(exist_ok=True)
    (tmp_path / "inc" / "config.php").write_text(config_php("pgsql", "forum", dbhost=hostname, dbuser="u"))
    cfg = forum_files.read_config_php(tmp_path)
    assert cfg is not None
    return cfg


def test_pgsql_unreachable(tmp_path: Path) -> None:
    health = forum_db.check_database(_pg_config(tmp_path, f"127.0.0.1:{free_port()}"), timeout=1.0)
    assert (health.ok, health.kind, health.failure) == (False, "pgsql", UNREACHABLE)
    assert "127.0.0.1" in health.summary


def test_pgsql_reachable(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        health = forum_db.check_database(_pg_config(tmp_path, f"127.0.0.1:{port}"), timeout=1.0)
    assert health.ok and health.kind == "pgsql"
    assert "reachable" in health.summary and "not checked" in health.summary


def test_unsupported_database_type(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "config.php").write_text(config_php("oracle", "forum"))
    cfg = forum_files.read_config_php(tmp_path)
    assert cfg is not None
    health = forum_db.check_database(cfg)
    assert (health.ok, health.failure) == (False, forum_db.UNSUPPORTED)


# --- database health: MariaDB --------------------------------------------------------------------------


def mysql_forum(root: Path, server: MariaDB, *, database: str = "mybb_forum", user: str = "forum",
                password: str = "pw'it$s\\x", hostname: str | None = None,
                settings=DEFAULT_SETTINGS, create: bool = True, settings_table: bool = True) -> FixtureForum:
    """A forum whose inc/config.php points at the private MariaDB (TCP on 127.0.0.1:port by default)."""
    write_mybb_skeleton(root)
    if create:
        server.create_forum_database(database, user, password, settings, with_settings_table=settings_table)
    host = hostname if hostname is not None else f"{server.host}:{server.port}"
    (root / "inc" / "config.php").write_text(config_php("mysqli", database, "mybb_", host, user, password))
    (root / "inc" / "settings.php").write_text(settings_php(settings))
    return FixtureForum(root, tuple(settings), extra={"database": database, "user": user, "password": password})


@pytest.mark.mariadb
def test_mariadb_over_tcp_is_healthy(mariadb: MariaDB, tmp_path: Path) -> None:
    forum = mysql_forum(tmp_path / "forum", mariadb, database="tcp_ok")
    health = forum_db.check_database(_cfg(forum))
    assert health.ok, health
    assert health.kind == "mysql" and health.version == mariadb.version
    number = mariadb.version.split("-")[0]
    assert health.summary.startswith(f"MariaDB {number} at 127.0.0.1:{mariadb.port}")
    assert forum_db.check_mariadb(forum.root) is True


@pytest.mark.mariadb
def test_mariadb_over_a_socket_is_healthy(mariadb: MariaDB, tmp_path: Path) -> None:
    forum = mysql_forum(tmp_path / "forum", mariadb, database="sock_ok", hostname=f"localhost:{mariadb.socket}")
    health = forum_db.check_database(_cfg(forum))
    assert health.ok, health
    assert health.summary.startswith(f"MariaDB {mariadb.version.split('-')[0]} via {mariadb.socket}")


@pytest.mark.mariadb
def test_mariadb_access_denied(mariadb: MariaDB, tmp_path: Path) -> None:
    forum = mysql_forum(tmp_path / "forum", mariadb, database="denied_db")
    forum.config_file.write_text(
        config_php("mysqli", "denied_db", "mybb_", f"127.0.0.1:{mariadb.port}", "forum", "wrong"))
    _touch_later(forum.config_file)
    health = forum_db.check_database(_cfg(forum))
    assert (health.ok, health.failure) == (False, ACCESS_DENIED), health
    assert "access denied for user 'forum'" in health.summary
    assert health.detail and "1045" in health.detail
    assert forum_db.check_mariadb(forum.root) is False


@pytest.mark.mariadb
def test_mariadb_unknown_database(mariadb: MariaDB, tmp_path: Path) -> None:
    forum = mysql_forum(tmp_path / "forum", mariadb, database="no_such_db", user="root", password="", create=False)
    health = forum_db.check_database(_cfg(forum))
    assert (health.ok, health.failure) == (False, UNKNOWN_DATABASE), health
    assert "no_such_db" in health.summary and health.hint and "CREATE DATABASE" in health.hint


@pytest.mark.mariadb
def test_mariadb_database_without_settings_table_is_not_mybb(mariadb: MariaDB, tmp_path: Path) -> None:
    forum = mysql_forum(tmp_path / "forum", mariadb, database="half_installed", settings_table=False)
    health = forum_db.check_database(_cfg(forum))
    assert (health.ok, health.failure) == (False, NOT_MYBB), health
    assert health.version == mariadb.version and "mybb_settings" in health.summary


@pytest.mark.mariadb
@pytest.mark.parametrize("where", ["tcp", "socket"])
def test_mariadb_error_logging_on_updates_the_table_and_rebuilds_settings_php(
        php: str, mariadb: MariaDB, tmp_path: Path, where: str) -> None:
    """The settings table over PyMySQL, reached by TCP or by a socket as inc/config.php says."""
    hostname = None if where == "tcp" else f"localhost:{mariadb.socket}"
    forum = mysql_forum(tmp_path / "forum", mariadb, database=f"logging_{where}", hostname=hostname)
    change = forum_dev_mode.set_error_logging(forum.root, True, tmp_path)
    assert change.ok and change.enabled, change
    assert {(c.name, c.old, c.new) for c in change.changes} == {
        ("errorlogmedium", "none", "log"), ("errorloglocation", "./error.log", "")}
    conn = mariadb.connect(f"logging_{where}")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name, value FROM mybb_settings")
            db = {str(name): str(value) for name, value in cur.fetchall()}
    finally:
        conn.close()
    assert (db["errorlogmedium"], db["errorloglocation"]) == ("log", "")
    assert php_settings(php, forum.settings_file) == db


@pytest.mark.mariadb
@pytest.mark.parametrize("where", ["tcp", "socket"])
def test_mysql_cannot_connect(mariadb: MariaDB, tmp_path: Path, where: str) -> None:
    hostname = f"127.0.0.1:{free_port()}" if where == "tcp" else f"localhost:{tmp_path / 'absent.sock'}"
    forum = mysql_forum(tmp_path / "forum", mariadb, hostname=hostname, create=False)
    started = time.monotonic()
    health = forum_db.check_database(_cfg(forum), timeout=2.0)
    assert time.monotonic() - started < 5
    assert (health.ok, health.failure) == (False, CANNOT_CONNECT), health
    assert "cannot connect" in health.summary and health.hint


@pytest.mark.mariadb
def test_mysql_without_a_database_name_fails_cleanly(mariadb: MariaDB, tmp_path: Path) -> None:
    forum = mysql_forum(tmp_path / "forum", mariadb, database="", user="root", password="", create=False)
    health = forum_db.check_database(_cfg(forum))
    assert not health.ok and health.failure == CANNOT_CONNECT
    assert "first query failed" in health.summary and health.detail and "1046" in health.detail


def test_a_crashing_check_is_reported_not_raised(forum: FixtureForum, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("driver exploded")

    monkeypatch.setattr(forum_db, "_check_sqlite", boom)
    health = forum_db.check_database(_cfg(forum))
    assert not health.ok and health.detail == "driver exploded" and "RuntimeError" in health.summary


@pytest.mark.mariadb
def test_localhost_follows_phps_default_socket_setting(mariadb: MariaDB, tmp_path: Path) -> None:
    forum = mysql_forum(tmp_path / "forum", mariadb, database="default_sock", hostname="localhost")
    cfg = _cfg(forum)
    assert cfg.socket_is_default and cfg.socket in forum_files.MYSQL_DEFAULT_SOCKETS
    health = forum_db.check_database(cfg, mysql_default_socket=mariadb.socket)
    assert health.ok and f"via {mariadb.socket}" in health.summary
    php_settings = ("error_reporting=E_ALL", f"mysqli.default_socket={mariadb.socket}")
    report = forum_report.diagnose_forum(forum.root, SERVER_URL, php_settings=php_settings)
    assert report.database is not None and report.database.ok
    assert forum_db.check_mariadb(forum.root, php_settings=php_settings) is True
    # A TCP address is not a socket setting's business.
    tcp = mysql_forum(tmp_path / "tcp", mariadb, database="default_sock", create=False)
    assert forum_db.check_database(_cfg(tcp), mysql_default_socket="/nonexistent.sock").ok


# MyBB's DB_MySQLi::connect(), reduced to what decides whether it connects (inc/db_mysqli.php, 1.8).
MYBB_MYSQLI_CONNECT = r"""
mysqli_report(MYSQLI_REPORT_OFF);
include $argv[1];
$c = $config['database'];
$port = 0;
$hostname = $c['hostname'];
if (strstr($c['hostname'], ':')) { list($hostname, $port) = explode(':', $c['hostname'], 2); }
try {
    $link = $port ? @mysqli_connect($hostname, $c['username'], $c['password'], '', $port)
                  : @mysqli_connect($c['hostname'], $c['username'], $c['password']);
    if (!$link) { echo json_encode(['ok' => false, 'errno' => mysqli_connect_errno()]); exit; }
    $selected = @mysqli_select_db($link, $c['database']);
    echo json_encode(['ok' => $selected, 'errno' => $selected ? 0 : mysqli_errno($link)]);
} catch (Throwable $e) {
    echo json_encode(['ok' => false, 'errno' => -1]);
}
"""


@pytest.mark.mariadb
def test_the_check_agrees_with_mybbs_own_mysqli_connect(php: str, mariadb: MariaDB, tmp_path: Path) -> None:
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, check=True).stdout.split()
    if "mysqli" not in modules:
        pytest.skip("PHP has no mysqli extension (apt-get install php-mysql)")
    mysql_forum(tmp_path / "setup", mariadb, database="agree_db", user="agree", password="agree-pw")
    tcp = f"127.0.0.1:{mariadb.port}"
    cases = [  # hostname, database, user, password, PHP's mysqli.default_socket, expected failure
        (tcp, "agree_db", "agree", "agree-pw", None, None),
        (tcp, "agree_db", "agree", "wrong", None, ACCESS_DENIED),
        (tcp, "no_such_db", "agree", "agree-pw", None, ACCESS_DENIED),  # 1044: no global rights, so no "unknown"
        (tcp, "no_such_db", "root", "", None, UNKNOWN_DATABASE),  # 1049
        (f"127.0.0.1:{free_port()}", "agree_db", "agree", "agree-pw", None, CANNOT_CONNECT),
        ("localhost", "agree_db", "agree", "agree-pw", mariadb.socket, None),
        (f"localhost:{mariadb.port}", "agree_db", "agree", "agree-pw", str(tmp_path / "none.sock"), CANNOT_CONNECT),
    ]
    for number, (hostname, database, user, password, default_socket, failure) in enumerate(cases):
        root = tmp_path / f"case{number}"
        (root / "inc").mkdir(parents=True)
        config = root / "inc" / "config.php"
        config.write_text(config_php("mysqli", database, "mybb_", hostname, user, password))
        ini = ["-d", f"mysqli.default_socket={default_socket}"] if default_socket else []
        out = subprocess.run([php, *ini, "-r", MYBB_MYSQLI_CONNECT, str(config)],
                             capture_output=True, text=True, timeout=30)
        mybbs = json.loads(out.stdout)
        ours = forum_db.check_database(_cfg(FixtureForum(root, ())), mysql_default_socket=default_socket)
        assert (ours.ok, ours.failure) == (mybbs["ok"], failure), (hostname, database, mybbs, ours)
        if failure == ACCESS_DENIED:
            assert mybbs["errno"] == (1044 if database == "no_such_db" else 1045)
            assert ("to database 'no_such_db'" in ours.summary) == (database == "no_such_db")
        if failure == UNKNOWN_DATABASE:
            assert mybbs["errno"] == 1049


def test_php_ini_value_takes_the_last() -> None:
    settings = ("mysqli.default_socket=/a", "log_errors=1", " mysqli.default_socket = /b ")
    assert forum_files.php_ini_value(settings, "mysqli.default_socket") == "/b"
    assert forum_files.php_ini_value(settings, "display_errors") is None


def test_check_mariadb_is_false_for_other_databases(forum: FixtureForum, tmp_path: Path) -> None:
    assert forum_db.check_mariadb(forum.root) is False  # SQLite forum
    assert forum_db.check_mariadb(tmp_path / "not-installed") is False


# --- error logging state and files ---------------------------------------------------------------------


def test_logging_off_warns_and_offers_the_fix() -> None:
    state = forum_error_log.error_logging_state({"errorlogmedium": "none", "errorloglocation": "./error.log"})
    assert (state.enabled, state.destination) == (False, DEST_OFF)
    assert state.warning and "[503]" in state.warning and "swallows" in state.warning
    assert state.fix and forum_error_log.ERROR_LOGGING_CLI_HINT in state.fix
    assert forum_error_log.ERROR_LOGGING_MCP_HINT in state.fix
    assert "errorlogmedium" in state.fix and "inc/settings.php" in state.fix and "restores" in state.fix


def test_email_only_logging_is_off_for_the_logs() -> None:
    state = forum_error_log.error_logging_state({"errorlogmedium": "email", "errorloglocation": ""})
    assert not state.enabled and "emailed" in state.explanation


def test_empty_location_means_the_server_log() -> None:
    state = forum_error_log.error_logging_state({"errorlogmedium": "both", "errorloglocation": "  "})
    assert (state.enabled, state.destination, state.files) == (True, DEST_SERVER_LOG, ())
    assert "server log" in state.explanation and state.warning is None


def test_relative_location_resolves_against_root_and_admin(tmp_path: Path) -> None:
    state = forum_error_log.error_logging_state({"errorlogmedium": "log", "errorloglocation": "./error.log"},
                                                tmp_path, "acp")
    assert state.destination == DEST_FILES
    assert state.files == (tmp_path / "error.log", tmp_path / "acp" / "error.log")
    assert str(tmp_path / "acp" / "error.log") in state.explanation


def test_absolute_location_is_used_as_is(tmp_path: Path) -> None:
    target = tmp_path / "logs" / "mybb.log"
    state = forum_error_log.error_logging_state({"errorlogmedium": "log", "errorloglocation": str(target)}, tmp_path)
    assert state.files == (target,)


def test_error_log_files_are_the_existing_ones(forum: FixtureForum, tmp_path: Path) -> None:
    settings = {"errorlogmedium": "log", "errorloglocation": "./error.log"}
    assert forum_error_log.mybb_error_log_files(forum.root, settings) == []
    write_error_log(forum.root / "admin" / "error.log", [MyBBError(1795499766, "admin warning")])
    assert forum_error_log.mybb_error_log_files(forum.root, settings) == [forum.root / "admin" / "error.log"]
    write_error_log(forum.root / "error.log", [MyBBError(1795499761, "front warning")])
    assert forum_error_log.mybb_error_log_files(forum.root, settings) == [forum.root / "error.log",
                                                                          forum.root / "admin" / "error.log"]
    absolute = write_error_log(tmp_path / "elsewhere.log", [MyBBError(1, "x")])
    assert forum_error_log.mybb_error_log_files(forum.root, {"errorloglocation": str(absolute)}) == [absolute]
    # Empty: PHP's error_log, i.e. the server log itself, which is read anyway.
    assert forum_error_log.mybb_error_log_files(forum.root, {"errorlogmedium": "log", "errorloglocation": ""}) == []


def test_error_log_sources_name_their_files(forum: FixtureForum) -> None:
    settings_text = settings_php(settings_with(errorlogmedium="log"))
    forum.settings_file.write_text(settings_text)
    write_error_log(forum.root / "admin" / "error.log", [MyBBError(1795499766, "admin warning")])
    sources = mybb_error_log.error_log_sources(forum.root)
    assert [(s.name, s.path) for s in sources] == [("mybb:admin/error.log", forum.root / "admin" / "error.log")]


# --- reading MyBB's error log --------------------------------------------------------------------------

ERRORS = [MyBBError(1795499700 + i, f"message number {i}", line=i + 1) for i in range(40)]


def _blocks_text(errors: list[MyBBError]) -> str:
    return "".join(error_block(e) for e in errors)


@pytest.fixture
def error_log(tmp_path: Path) -> Path:
    path = tmp_path / "error.log"
    path.write_text(REAL_SQL_ERROR_BLOCK + _blocks_text(ERRORS) + REAL_ADMIN_WARNING_BLOCK)
    return path


def _expected_blocks(path: Path) -> list[tuple[int, str]]:
    data = path.read_bytes()
    out, at = [], 0
    while (at := data.find(b"<error>", at)) >= 0:
        end = data.index(b"</error>", at) + len(b"</error>")
        out.append((at, data[at:end].decode()))
        at = end
    return out


@pytest.mark.parametrize("chunk_size", [16, 17, 50, 333, 4096, 1 << 20])
def test_blocks_in_both_directions_at_any_chunk_size(error_log: Path, chunk_size: int) -> None:
    expected = _expected_blocks(error_log)
    assert len(expected) == len(ERRORS) + 2
    log = MyBBErrorLog(error_log, chunk_size=chunk_size)
    assert list(log.blocks_oldest_first()) == expected
    assert list(log.blocks_newest_first()) == expected[::-1]


def test_block_offsets_point_at_the_block(error_log: Path) -> None:
    data = error_log.read_bytes()
    for offset, block in MyBBErrorLog(error_log, chunk_size=64).blocks_newest_first():
        assert data[offset:offset + len(block.encode())].decode() == block


def test_unfinished_and_stray_text_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "error.log"
    first, second, third = (error_block(MyBBError(1795499700 + i, f"m{i}")) for i in range(3))
    unfinished = first[: len(first) // 2]  # a write cut short, then a complete block after it
    path.write_text("stray text <error> not at a line start\n" + unfinished + second + "junk\n\n" + third[:-30])
    for chunk_size in (16, 100, 65536):
        log = MyBBErrorLog(path, chunk_size=chunk_size)
        assert [b for _, b in log.blocks_oldest_first()] == [second.strip()]
        assert [b for _, b in log.blocks_newest_first()] == [second.strip()]


def test_error_inside_a_message_is_not_a_block(tmp_path: Path) -> None:
    tricky = MyBBError(1795499700, "template contains <error> and </error> and <error>\n tags")
    path = write_error_log(tmp_path / "error.log", [tricky, MyBBError(1795499701, "plain")])
    blocks = [b for _, b in MyBBErrorLog(path, chunk_size=20).blocks_oldest_first()]
    assert len(blocks) == 2 and "<dateline>1795499701</dateline>" in blocks[1]
    assert blocks[0] == error_block(tricky).strip()  # whole, up to its own closing line
    assert [b for _, b in MyBBErrorLog(path, chunk_size=20).blocks_newest_first()] == blocks[::-1]


def test_missing_or_empty_file_has_no_blocks(tmp_path: Path) -> None:
    assert list(MyBBErrorLog(tmp_path / "absent.log").blocks_newest_first()) == []
    (tmp_path / "empty.log").write_text("")
    assert list(MyBBErrorLog(tmp_path / "empty.log").oldest_first()) == []


def test_newest_first_reads_only_the_end_of_a_big_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.log"
    with path.open("w") as handle:
        for start in range(0, 20000, 500):
            handle.write(_blocks_text([MyBBError(1795400000 + i, "x" * 200) for i in range(start, start + 500)]))
    reads: list[int] = []
    log = MyBBErrorLog(path, chunk_size=4096)
    original = mybb_error_log._read_at

    def counting_read(handle: object, start: int, end: int) -> bytes:
        reads.append(end - start)
        return original(handle, start, end)  # type: ignore[arg-type]

    monkeypatch.setattr(mybb_error_log, "_read_at", counting_read)
    newest = next(log.blocks_newest_first())
    assert "<dateline>1795419999</dateline>" in newest[1]
    assert sum(reads) <= 8192 < path.stat().st_size


def test_entries_come_from_the_parser_with_location_and_offset(error_log: Path) -> None:
    calls: list[dict[str, object]] = []

    def fake_parse(block: str, *, tz: object, location: str | None, offset: int | None) -> object:
        calls.append({"tz": tz, "location": location, "offset": offset, "block": block})
        return None if "message number 3<" in block else block

    log = MyBBErrorLog(error_log, tz=timezone.utc, parse=fake_parse)
    entries = list(log.newest_first())
    assert len(entries) == len(ERRORS) + 1  # the parser's None is skipped
    assert calls[0]["location"] == str(error_log) and calls[0]["tz"] is timezone.utc
    assert calls[-1]["offset"] == 0 and calls[-1]["block"] == REAL_SQL_ERROR_BLOCK.strip()


def test_entries_through_the_real_parser(error_log: Path) -> None:
    newest = list(MyBBErrorLog(error_log).newest_first())
    oldest = list(MyBBErrorLog(error_log).oldest_first())
    assert [e.offset for e in newest] == [e.offset for e in oldest][::-1]
    admin, sql = newest[0], oldest[0]
    assert admin.source == sql.source == "mybb"
    assert admin.is_error and admin.level == "warning" and 'Undefined array key "QUERY_STRING"' in admin.message
    assert (admin.source_file, admin.source_line) == ("admin/inc/class_page.php", 425)
    assert admin.timestamp == datetime.fromtimestamp(1795499766, timezone.utc)
    assert sql.level == "sql" and "no such table: mybb_no_such_table" in sql.message
    assert sql.location == str(error_log) and sql.offset == 0


# --- turning error logging on and off ------------------------------------------------------------------


def _file_settings(forum: FixtureForum) -> dict[str, str]:
    return forum_files.parse_settings_php(forum.settings_file.read_bytes().decode())


def test_error_logging_on_updates_the_table_and_rebuilds_settings_php(php: str, forum: FixtureForum,
                                                                      tmp_path: Path) -> None:
    assert forum.db_path is not None
    state_dir = forum.root.parent
    os.chmod(forum.settings_file, 0o640)
    change = forum_dev_mode.set_error_logging(forum.root, True, state_dir)
    assert change.ok and change.enabled, change
    assert {(c.name, c.old, c.new) for c in change.changes} == {
        ("errorlogmedium", "none", "log"), ("errorloglocation", "./error.log", "")}
    db = sqlite_settings(forum.db_path)
    assert (db["errorlogmedium"], db["errorloglocation"]) == ("log", "")
    # inc/settings.php is exactly what MyBB's rebuild_settings() would write from the updated table.
    assert forum.settings_file.read_text() == settings_php(settings_with(errorlogmedium="log", errorloglocation=""))
    assert php_settings(php, forum.settings_file) == db
    assert stat.S_IMODE(forum.settings_file.stat().st_mode) == 0o640
    assert [p.name for p in (forum.root / "inc").iterdir() if p.name.endswith(".tmp")] == []
    remembered = state_dir / forum_dev_mode.ERRORLOG_STATE_NAME
    assert change.remembered == remembered and remembered in change.files_touched
    assert forum.settings_file in change.files_touched
    saved = json.loads(remembered.read_text())
    assert saved["settings"] == {"errorlogmedium": "none", "errorloglocation": "./error.log"}
    assert "server log" in change.explanation and "errorlogmedium: 'none' -> 'log'" in change.explanation
    # And status now sees it on, into the server log.
    state = forum_error_log.error_logging_state(forum_files.read_settings_php(forum.root))
    assert (state.enabled, state.destination) == (True, DEST_SERVER_LOG)


def test_error_logging_off_restores_the_previous_values(forum: FixtureForum) -> None:
    assert forum.db_path is not None
    state_dir = forum.root.parent
    original = forum.settings_file.read_text()
    assert forum_dev_mode.set_error_logging(forum.root, True, state_dir).ok
    again = forum_dev_mode.set_error_logging(forum.root, True, state_dir)  # a second "on" keeps the first memory
    assert again.ok and again.changes == ()
    change = forum_dev_mode.set_error_logging(forum.root, False, state_dir)
    assert change.ok and not change.enabled
    assert {(c.name, c.old, c.new) for c in change.changes} == {
        ("errorlogmedium", "log", "none"), ("errorloglocation", "", "./error.log")}
    assert sqlite_settings(forum.db_path) == {s.name: s.value for s in DEFAULT_SETTINGS}
    assert forum.settings_file.read_text() == original
    assert not (state_dir / forum_dev_mode.ERRORLOG_STATE_NAME).exists()
    assert "restored" in change.explanation


def test_error_logging_off_without_memory_sets_none(tmp_path: Path) -> None:
    forum = make_sqlite_forum(tmp_path / "forum", settings_with(errorlogmedium="both", errorloglocation="/var/log/x"))
    change = forum_dev_mode.set_error_logging(forum.root, False, tmp_path)
    assert change.ok and [(c.name, c.new) for c in change.changes] == [("errorlogmedium", "none")]
    assert _file_settings(forum)["errorloglocation"] == "/var/log/x"


def test_memory_of_another_forum_is_not_restored(forum: FixtureForum) -> None:
    state_dir = forum.root.parent
    (state_dir / forum_dev_mode.ERRORLOG_STATE_NAME).write_text(json.dumps({
        "version": 1, "mybb_root": "/some/other/forum",
        "settings": {"errorlogmedium": "both", "errorloglocation": "/tmp/other.log"},
    }))
    assert forum_dev_mode.set_error_logging(forum.root, True, state_dir).ok
    saved = json.loads((state_dir / forum_dev_mode.ERRORLOG_STATE_NAME).read_text())
    assert saved["mybb_root"] == str(forum.root) and saved["settings"]["errorlogmedium"] == "none"
    assert forum_dev_mode.set_error_logging(forum.root, False, state_dir).ok
    assert _file_settings(forum)["errorloglocation"] == "./error.log"


def test_error_logging_on_keeps_email(tmp_path: Path) -> None:
    forum = make_sqlite_forum(tmp_path / "forum", settings_with(errorlogmedium="email"))
    assert forum_dev_mode.set_error_logging(forum.root, True, tmp_path).ok
    assert _file_settings(forum)["errorlogmedium"] == "both"


def test_error_logging_needs_an_installed_forum(tmp_path: Path) -> None:
    write_mybb_skeleton(tmp_path / "forum")
    change = forum_dev_mode.set_error_logging(tmp_path / "forum", True, tmp_path)
    assert not change.ok and change.error and "not installed" in change.error
    assert not (tmp_path / forum_dev_mode.ERRORLOG_STATE_NAME).exists()


def test_error_logging_refuses_postgresql_and_names_the_admin_cp(tmp_path: Path) -> None:
    _pg_config(tmp_path, "localhost")
    change = forum_dev_mode.set_error_logging(tmp_path, True, tmp_path)
    assert not change.ok and change.error and "PostgreSQL" in change.error
    assert change.hint and "Server and Optimization Options" in change.hint and "Error Logging Medium" in change.hint


def test_error_logging_reports_a_missing_database(forum: FixtureForum) -> None:
    assert forum.db_path is not None
    forum.db_path.unlink()
    before = forum.settings_file.read_text()
    change = forum_dev_mode.set_error_logging(forum.root, True, forum.root.parent)
    assert not change.ok and change.error and "does not exist" in change.error
    assert forum.settings_file.read_text() == before and not forum.db_path.exists()


def test_error_logging_reports_a_missing_setting_row(forum: FixtureForum) -> None:
    assert forum.db_path is not None
    with sqlite3.connect(forum.db_path) as conn:
        conn.execute("DELETE FROM mybb_settings WHERE name = 'errorloglocation'")
    change = forum_dev_mode.set_error_logging(forum.root, True, forum.root.parent)
    assert not change.ok and change.error and "errorloglocation" in change.error


def test_failed_settings_write_rolls_the_database_back(forum: FixtureForum, monkeypatch: pytest.MonkeyPatch) -> None:
    assert forum.db_path is not None

    def failing_write(path: Path, text: str) -> None:
        if path.name == "settings.php":
            raise OSError("disk full")
        original_write(path, text)

    original_write = forum_files.write_atomic
    monkeypatch.setattr(forum_dev_mode, "write_atomic", failing_write)
    change = forum_dev_mode.set_error_logging(forum.root, True, forum.root.parent)
    assert not change.ok and change.error and "disk full" in change.error
    assert sqlite_settings(forum.db_path)["errorlogmedium"] == "none"
    assert _file_settings(forum)["errorlogmedium"] == "none"


@pytest.mark.mariadb
def test_error_logging_on_and_off_with_mariadb(php: str, mariadb: MariaDB, tmp_path: Path) -> None:
    forum = mysql_forum(tmp_path / "forum", mariadb, database="toggle_db")
    original = forum.settings_file.read_text()
    change = forum_dev_mode.set_error_logging(forum.root, True, tmp_path)
    assert change.ok, change
    db = mariadb.settings("toggle_db")
    assert (db["errorlogmedium"], db["errorloglocation"]) == ("log", "")
    assert php_settings(php, forum.settings_file) == db
    assert "toggle_db" in change.database
    # MariaDB's collation orders titles like SQLite's binary order for these titles: the same file.
    assert forum.settings_file.read_text() == settings_php(settings_with(errorlogmedium="log", errorloglocation=""))
    off = forum_dev_mode.set_error_logging(forum.root, False, tmp_path)
    assert off.ok and mariadb.settings("toggle_db") == {s.name: s.value for s in DEFAULT_SETTINGS}
    assert forum.settings_file.read_text() == original


# --- bburl ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bburl", "server"), [
    ("http://127.0.0.1:8022", "http://127.0.0.1:8022"),
    ("http://localhost:8022/", "http://127.0.0.1:8022"),
    ("http://127.0.0.1:8022", "http://localhost:8022"),
    ("http://[::1]:8022", "http://127.0.0.1:8022"),
    ("http://forum.test:8022", "http://0.0.0.0:8022"),  # bound to every address
    ("http://example.test", "http://example.test:80"),
])
def test_bburl_matches(bburl: str, server: str) -> None:
    assert forum_files.check_bburl({"bburl": bburl}, server) is None


@pytest.mark.parametrize(("bburl", "server", "words"), [
    ("http://localhost:8000", "http://127.0.0.1:8022", "port 8000 vs 8022"),
    ("https://127.0.0.1:8022", "http://127.0.0.1:8022", "scheme https vs http"),
    ("http://forum.example.com", "http://127.0.0.1:8022", "host forum.example.com vs 127.0.0.1"),
    ("http://127.0.0.1:8022/TestForum", "http://127.0.0.1:8022", "path '/TestForum'"),
])
def test_bburl_mismatch_names_both(bburl: str, server: str, words: str) -> None:
    warning = forum_files.check_bburl({"bburl": bburl}, server)
    assert warning and bburl in warning and server in warning and words in warning
    assert "every asset and link" in warning and "Board URL" in warning


def test_bburl_empty_or_unknown() -> None:
    warning = forum_files.check_bburl({"bburl": ""}, SERVER_URL)
    assert warning and "empty" in warning and SERVER_URL in warning
    assert forum_files.check_bburl({}, SERVER_URL) is None  # no settings at all: nothing to compare


# --- the report ----------------------------------------------------------------------------------------


def test_report_for_a_healthy_forum(forum: FixtureForum) -> None:
    report = forum_report.diagnose_forum(forum.root, SERVER_URL)
    assert report.is_mybb and report.installed and report.mybb_version == "1.8.37"
    assert report.database is not None and report.database.ok
    assert report.database_summary == report.database.summary
    assert report.bburl == "http://127.0.0.1:8022" and report.bburl_warning is None
    assert report.error_logging_off and report.error_logging_summary == "off (errorlogmedium = 'none')"
    assert report.error_logging is not None and report.error_logging.fix
    assert report.warnings == ()  # logging-off is left to the faces, with their own command


def test_report_collects_warnings(forum: FixtureForum) -> None:
    assert forum.db_path is not None
    forum.db_path.unlink()
    report = forum_report.diagnose_forum(forum.root, "http://127.0.0.1:9999")
    assert report.database_summary and report.database_summary.startswith("FAILED: ")
    assert any(w.startswith("Database: SQLite database") for w in report.warnings)
    assert report.bburl_warning and report.bburl_warning in report.warnings


def test_report_with_logging_into_files(forum: FixtureForum) -> None:
    forum.settings_file.write_text(settings_php(settings_with(errorlogmedium="log")))
    report = forum_report.diagnose_forum(forum.root, SERVER_URL)
    assert not report.error_logging_off
    assert report.error_logging_summary == f"on, into {forum.root / 'error.log'}, {forum.root / 'admin' / 'error.log'}"


def test_report_for_an_uninstalled_forum(tmp_path: Path) -> None:
    root = write_mybb_skeleton(tmp_path / "forum")
    report = forum_report.diagnose_forum(root, SERVER_URL)
    assert report.is_mybb and not report.installed and report.database is None
    assert report.install_hint and f"{SERVER_URL}/install/" in report.install_hint and "browser" in report.install_hint
    assert report.warnings == (report.install_hint,)
    assert report.database_summary == "not installed (no inc/config.php)"
    install_hint = forum_report.diagnose_forum(root, None).install_hint
    assert install_hint and "start it first" in install_hint


def test_report_for_a_directory_without_mybb(tmp_path: Path) -> None:
    report = forum_report.diagnose_forum(tmp_path, SERVER_URL)
    assert not report.is_mybb and not report.installed
    assert report.install_hint and "No MyBB found" in report.install_hint


def test_report_is_fast(forum: FixtureForum) -> None:
    forum_report.diagnose_forum(forum.root, SERVER_URL)  # warm the caches
    started = time.perf_counter()
    for _ in range(20):
        forum_report.diagnose_forum(forum.root, SERVER_URL)
    assert (time.perf_counter() - started) / 20 < 0.010


# --- with a real php -S and the router -----------------------------------------------------------------


def test_php_s_splits_a_relative_error_log_between_root_and_admin(php: str, forum: FixtureForum) -> None:
    """What MyBB's log_error() does under php -S, end to end: error_log($block, 3, './error.log') from a
    front-end page and from the Admin CP lands in two files, which mybb_error_log_files finds and reads."""
    from tests.orchestration.test_router import php_server

    page = (
        "<?php\n$block = \"<error>\\n\\t<dateline>\" . $_GET['t'] . \"</dateline>\\n\\t<script>\" . $_GET['s'] . "
        "\"</script>\\n\\t<line>7</line>\\n\\t<type>2</type>\\n\\t<friendly_type>Warning</friendly_type>\\n"
        "\\t<message>from \" . $_GET['s'] . \"</message>\\n</error>\\n\\n\";\n"
        "error_log($block, 3, './error.log');\necho 'logged';\n"
    )
    (forum.root / "log_it.php").write_text(page)
    (forum.root / "admin" / "log_it.php").write_text(page)
    with php_server(php, forum.root, forum.root.parent / "server.log", router=True) as server:
        assert server.fetch("/log_it.php?t=1795499761&s=index.php")[0] == 200
        assert server.fetch("/admin/log_it.php?t=1795499766&s=admin/index.php")[0] == 200
        assert server.fetch("/log_it.php?t=1795499770&s=index.php")[0] == 200
    settings = {"errorlogmedium": "log", "errorloglocation": "./error.log"}
    files = forum_error_log.mybb_error_log_files(forum.root, settings)
    assert files == [forum.root / "error.log", forum.root / "admin" / "error.log"]
    datelines = sorted(
        (int(block.split("<dateline>")[1].split("<")[0]), str(path.relative_to(forum.root)))
        for path in files for _, block in MyBBErrorLog(path).blocks_oldest_first()
    )
    assert datelines == [(1795499761, "error.log"), (1795499766, "admin/error.log"), (1795499770, "error.log")]


# --- MyBB's error logs in log queries ------------------------------------------------------------------


def test_mybb_error_logs_merge_into_log_queries(forum: FixtureForum, tmp_path: Path) -> None:
    """The sources plug into log_query.run_query: MyBB's entries from both files, merged by time with the
    server log's, marked with their source, and subject to the same filters."""
    from mybb_mcp.logs.options import LogQueryOptions
    from mybb_mcp.logs.query import run_query

    forum.settings_file.write_text(settings_php(settings_with(errorlogmedium="log")))
    write_error_log(forum.root / "error.log", [MyBBError(1795499761, "front-end warning one"),
                                                MyBBError(1795499765, "front-end warning two")])
    write_error_log(forum.root / "admin" / "error.log", [MyBBError(1795499763, "Undefined array key \"QUERY_STRING\"",
                                                                   script="admin/inc/class_page.php", line=425)])
    server_log = tmp_path / "server.log"  # TZ is UTC in these lines: 1795499762 = Tue Nov 24 05:56:02 2026
    server_log.write_text(
        "[Tue Nov 24 05:56:02 2026] 127.0.0.1:50000 [503]: GET /index.php?dev_err=sql\n"
        "[Tue Nov 24 05:56:04 2026] 127.0.0.1:50002 [200]: GET /admin/index.php\n"
    )
    sources = mybb_error_log.error_log_sources(forum.root)
    options = LogQueryOptions(errors_only=True, limit=10, tail=False)
    result = run_query(server_log, options, extra_sources=sources, zone=timezone.utc,
                       now=datetime.fromtimestamp(1795499800, timezone.utc))
    got = [(e.source, int(e.timestamp.timestamp()), e.status_code or e.message) for e in result.entries]
    assert got == [
        ("mybb", 1795499761, "front-end warning one"),
        ("server", 1795499762, 503),
        ("mybb", 1795499763, 'Undefined array key "QUERY_STRING"'),
        ("mybb", 1795499765, "front-end warning two"),
    ], got
    assert set(result.sources) >= {"mybb:error.log", "mybb:admin/error.log"}
    filtered = run_query(server_log, LogQueryOptions(errors_only=True, filter_keyword="QUERY_STRING"),
                         extra_sources=sources, zone=timezone.utc, now=datetime.fromtimestamp(1795499800, timezone.utc))
    assert [e.location for e in filtered.entries] == [str(forum.root / "admin" / "error.log")]


def test_php_error_log_setting_redirects_mybbs_empty_location(forum: FixtureForum, tmp_path: Path) -> None:
    """With php -d error_log=FILE, MyBB's error_log() calls go to FILE, not the server log (corpus 03d/03e)."""
    php_log = tmp_path / "php-errors.log"
    settings = {"errorlogmedium": "log", "errorloglocation": ""}
    state = forum_error_log.error_logging_state(settings, forum.root, php_error_log=str(php_log))
    assert (state.destination, state.files) == (DEST_FILES, (php_log,)) and str(php_log) in state.explanation
    # not written yet
    assert forum_error_log.mybb_error_log_files(forum.root, settings, php_error_log=str(php_log)) == []
    # PHP prefixes the first line with its own timestamp; the block is still found.
    php_log.write_text("[24-Nov-2026 14:53:41 UTC] " + REAL_ADMIN_WARNING_BLOCK)
    forum.settings_file.write_text(settings_php(settings_with(errorlogmedium="log", errorloglocation="")))
    sources = mybb_error_log.error_log_sources(forum.root, php_settings=("log_errors=1", f"error_log={php_log}"))
    assert [s.path for s in sources] == [php_log]
    assert [b for _, b in sources[0].blocks_newest_first()] == [REAL_ADMIN_WARNING_BLOCK.strip()]
    report = forum_report.diagnose_forum(forum.root, SERVER_URL, php_settings=(f"error_log={php_log}",))
    assert report.error_logging_summary == f"on, into {php_log}"
    assert mybb_error_log.error_log_sources(forum.root) == []  # without it: the server log, read anyway
