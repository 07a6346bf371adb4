"""The read-only SQL tool on MariaDB when the forum's login is privileged (a root-like login, as many
containers run): the attacks of a prompt-injected agent (SET GLOBAL general_log_file into the forum,
SELECT … INTO OUTFILE, SHUTDOWN) are impossible because the tool reads as an account that may only
SELECT; a login that may not create users leaves init working and the tool refusing with the GRANT
lines until the account exists; a statement cannot lift the time limit; a value of hundreds of
megabytes keeps the process small; the server's real version is named."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, types

from mybb_mcp.answers.init import render_init
from mybb_mcp.config import Config
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.orchestration.init import InitOptions
from mybb_mcp.results import InitResult
from mybb_mcp.server import server
from mybb_mcp.workbench.sql import SqlRefused, run_query
from tests.conftest import free_port
from tests.fixtures.mariadb import MariaDB
from tests.fixtures.real_mybb import archive_path
from tests.workbench.test_sql_bounds import peak_resident_mb

pytestmark = [pytest.mark.mariadb,
              pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB release archive not found at "
                                                                       f"{archive_path()} (set MYBB_TEST_ARCHIVE)")]

RESIDENT_LIMIT_MB = 500


def _install(tmp_path: Path, php: str, mariadb: MariaDB, user: str, password: str,
             database: str) -> tuple[ServerOrchestrationService, InitResult]:
    config = Config(mybb_root=tmp_path / "site" / "TestForum", php=php, port=free_port())
    svc = ServerOrchestrationService(config)
    url = f"mysql://{user}:{password}@127.0.0.1:{mariadb.port}/{database}?prefix=ro_"
    result = svc.init_forum(InitOptions(source=str(archive_path()), database_url=url))
    assert result.success, (result.message, result.hint)
    return svc, result


@pytest.fixture
def root_forum(tmp_path: Path, php: str, mariadb: MariaDB) -> Iterator[tuple[ServerOrchestrationService, InitResult]]:
    """A forum made by init with a login that may do anything (ALL PRIVILEGES ON *.* WITH GRANT OPTION)."""
    mariadb.execute("DROP DATABASE IF EXISTS `ro_root`", "CREATE DATABASE `ro_root`",
                    "CREATE USER IF NOT EXISTS 'rootish'@'127.0.0.1' IDENTIFIED BY 'r00t'",
                    "GRANT ALL PRIVILEGES ON *.* TO 'rootish'@'127.0.0.1' WITH GRANT OPTION")
    svc, result = _install(tmp_path, php, mariadb, "rootish", "r00t", "ro_root")
    yield svc, result
    svc.stop(force=True)


@pytest.fixture
def weak_forum(tmp_path: Path, php: str, mariadb: MariaDB) -> Iterator[tuple[ServerOrchestrationService, InitResult]]:
    """A forum made by init with a login that has every right on its database but may not create users."""
    mariadb.create_forum_database("ro_weak", "weakling", "w3ak", with_settings_table=False)
    svc, result = _install(tmp_path, php, mariadb, "weakling", "w3ak", "ro_weak")
    yield svc, result
    svc.stop(force=True)


def _global(mariadb: MariaDB, name: str) -> str:
    conn = mariadb.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT @@GLOBAL.{name}")
            return str(cur.fetchone()[0])
    finally:
        conn.close()


def test_a_root_login_cannot_write_through_the_sql_tool(root_forum: tuple[ServerOrchestrationService, InitResult],
                                                       mariadb: MariaDB, tmp_path: Path) -> None:
    svc, result = root_forum
    root = svc.config.mybb_root
    log_file_before = _global(mariadb, "general_log_file")
    attacks = [f"SET GLOBAL general_log_file = '{root}/gl.php'", "SET GLOBAL general_log = 1",
               f"SELECT '<?php system($_GET[1]); ?>' INTO OUTFILE '{tmp_path}/out.php'",
               f"SELECT username FROM ro_users INTO DUMPFILE '{tmp_path}/dump.php'", "SHUTDOWN",
               "GRANT ALL ON *.* TO CURRENT_USER()", "DROP TABLE ro_users",
               "SET PASSWORD = PASSWORD('locked-out')", "FLUSH TABLES", "OPTIMIZE TABLE ro_users"]
    for sql in attacks:
        with pytest.raises(SqlRefused) as refused:
            svc.workbench.sql(sql, 5)
        assert "Nothing was" in refused.value.message, (sql, refused.value.message)
    assert _global(mariadb, "general_log_file") == log_file_before and _global(mariadb, "general_log") == "0"
    assert not (root / "gl.php").exists() and not list(tmp_path.glob("*.php"))
    mariadb.execute("SELECT 1")  # the server still runs
    assert svc.workbench.sql("SELECT username FROM ro_users", 5).rows == [("admin",)]
    assert any("may only SELECT on `ro_root`" in note for note in result.notes), result.notes


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_prompt_injected_agent_cannot_write_through_mcp(
        root_forum: tuple[ServerOrchestrationService, InitResult], mariadb: MariaDB, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    svc, _ = root_forum
    for key in [k for k in os.environ if k.startswith("MYBB_") and k != "MYBB_TEST_ARCHIVE"]:
        monkeypatch.delenv(key)
    for key, value in {"MYBB_ROOT": str(svc.config.mybb_root), "MYBB_PHP": svc.config.php,
                       "MYBB_PORT": str(svc.config.port)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    log_file_before = _global(mariadb, "general_log_file")
    async with Client(server) as client:
        for sql in (f"SET GLOBAL general_log_file = '{svc.config.mybb_root}/gl.php'",
                    f"SELECT 1 INTO OUTFILE '{tmp_path}/o.php'", "SHUTDOWN"):
            result = await client.call_tool("mybb_forum_sql", {"sql": sql})
            assert isinstance(result.content[0], types.TextContent)
            text = result.content[0].text
            assert result.is_error and "# Error: SQL Refused" in text and "may only SELECT" in text, text
    assert _global(mariadb, "general_log_file") == log_file_before and not list(tmp_path.glob("*.php"))
    mariadb.execute("SELECT 1")


def test_a_privileged_login_without_a_reader_is_refused_with_the_grant_lines(
        root_forum: tuple[ServerOrchestrationService, InitResult], mariadb: MariaDB) -> None:
    """A forum the user brought: no reader kept, inc/config.php's login may do anything."""
    from mybb_mcp.forum.sql_reader import reader_file

    svc, _ = root_forum
    kept = reader_file(svc.config.credentials_file)
    kept.unlink()
    with pytest.raises(SqlRefused) as refused:
        svc.workbench.sql("SELECT 1", 1)
    message, hint = refused.value.message, refused.value.hint or ""
    assert "'rootish'@'127.0.0.1' may do more than read" in message and "GRANT ALL PRIVILEGES ON *.*" in message
    assert "CREATE USER IF NOT EXISTS 'mybb_ro_" in hint and "GRANT SELECT ON `ro\\_root`.* TO 'mybb_ro_" in hint
    assert kept.is_file() and oct(kept.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(SqlRefused) as again:  # the account is named until it exists
        svc.workbench.sql("SELECT 1", 1)
    assert "does not exist yet" in again.value.message and "GRANT SELECT ON" in (again.value.hint or "")
    mariadb.execute(*_statements(hint))
    assert svc.workbench.sql("SELECT 1", 1).rows == [(1,)]


def test_init_without_the_right_to_create_users_says_the_grant_lines(
        weak_forum: tuple[ServerOrchestrationService, InitResult], mariadb: MariaDB) -> None:
    svc, result = weak_forum
    shown = render_init(result)
    assert result.success and "CREATE USER IF NOT EXISTS 'mybb_ro_" in shown
    assert "GRANT SELECT ON `ro\\_weak`.*" in shown
    with pytest.raises(SqlRefused) as refused:
        svc.workbench.sql("SELECT username FROM ro_users", 5)
    assert "does not exist yet" in refused.value.message and "GRANT SELECT ON `ro\\_weak`.*" in refused.value.hint
    with pytest.raises(SqlRefused):
        svc.workbench.describe_table("users")
    note = next(n for n in result.notes if "CREATE USER" in n)
    mariadb.execute(*_statements(note))
    assert svc.workbench.sql("SELECT username FROM ro_users", 5).rows == [("admin",)]
    assert svc.workbench.describe_table("users").table == "ro_users"


def _statements(text: str) -> list[str]:
    """The statements an answer gives in a code span (its fence is longer than the backticks inside)."""
    found = re.search(r"(`{2,})(.+?)\1", text)
    assert found, text
    return [s for s in found.group(2).strip().split(";") if s.strip()]


def _running(mariadb: MariaDB, text: str) -> bool:
    conn = mariadb.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE %s AND ID <> "
                        "CONNECTION_ID()", (f"%{text}%",))
            return int(cur.fetchone()[0]) > 0
    finally:
        conn.close()


def test_a_statement_cannot_lift_the_time_limit(root_forum: tuple[ServerOrchestrationService, InitResult],
                                                mariadb: MariaDB) -> None:
    svc, _ = root_forum
    started = time.monotonic()
    with pytest.raises(SqlRefused) as refused:
        run_query(svc.config.mybb_root, "SET STATEMENT max_statement_time=0 FOR SELECT SLEEP(30) AS lifted",
                  timeout=1.0)
    assert time.monotonic() - started < 10
    assert "killed on the server" in refused.value.message, refused.value.message
    deadline = time.monotonic() + 5
    while _running(mariadb, "AS lifted") and time.monotonic() < deadline:
        time.sleep(0.05)  # polling interval
    assert not _running(mariadb, "AS lifted"), "the server still runs the statement"
    assert svc.workbench.sql("SELECT 1", 1).rows == [(1,)]


def test_the_real_version_is_named(root_forum: tuple[ServerOrchestrationService, InitResult],
                                   mariadb: MariaDB) -> None:
    svc, _ = root_forum
    version = "MariaDB " + mariadb.version.split("-")[0]
    assert svc.workbench.sql("SELECT 1", 1).engine == version
    assert svc.workbench.describe_table("users").engine == version
    status = svc.get_status()
    summary = getattr(status.forum, "database_summary", "")
    assert version in summary and "5.5.5" not in summary, summary


def _peak_resident_mb(svc: ServerOrchestrationService, sql: str) -> tuple[float, str]:
    config = svc.config
    return peak_resident_mb({"MYBB_ROOT": str(config.mybb_root), "MYBB_PHP": config.php, "MYBB_PORT": str(config.port)},
                            config.mybb_root.parent, sql)


def test_a_value_of_300_mb_keeps_the_process_small(root_forum: tuple[ServerOrchestrationService, InitResult],
                                                   mariadb: MariaDB) -> None:
    svc, _ = root_forum
    before = _global(mariadb, "max_allowed_packet")
    mariadb.execute("SET GLOBAL max_allowed_packet = 1073741824")  # as a server set up for big values is
    try:
        peak, out = _peak_resident_mb(svc, "SELECT REPEAT('x', 300000000) AS big")
        assert peak < RESIDENT_LIMIT_MB, f"peak resident {peak:.0f} MB"
        assert "larger than the 64 MiB this tool reads" in out and "SUBSTR(col, 1, 200)" in out, out
        peak, out = _peak_resident_mb(svc, "SELECT seq, REPEAT('y', 2000000) FROM seq_1_to_400")
        assert peak < RESIDENT_LIMIT_MB, f"peak resident {peak:.0f} MB"
        assert "Reading stopped after 64 MiB" in out and "(2,000,000 chars)" in out, out[:3000]
    finally:
        mariadb.execute(f"SET GLOBAL max_allowed_packet = {int(before)}")


def test_a_reader_given_more_rights_is_refused(root_forum: tuple[ServerOrchestrationService, InitResult],
                                               mariadb: MariaDB) -> None:
    from mybb_mcp.forum.sql_reader import reader_file

    svc, _ = root_forum
    kept = json.loads(reader_file(svc.config.credentials_file).read_text())
    account = f"'{kept['user']}'@'{kept['host']}'"
    mariadb.execute(f"GRANT FILE ON *.* TO {account}")
    with pytest.raises(SqlRefused) as refused:
        svc.workbench.sql("SELECT 1", 1)
    assert f"{account}, may do more than SELECT" in refused.value.message and "GRANT FILE ON *.*" in \
        refused.value.message, refused.value.message
    assert "REVOKE ALL PRIVILEGES, GRANT OPTION FROM" in (refused.value.hint or "")
    mariadb.execute(f"REVOKE FILE ON *.* FROM {account}")
    assert svc.workbench.sql("SELECT 1", 1).rows == [(1,)]


def test_init_force_keeps_the_reader(root_forum: tuple[ServerOrchestrationService, InitResult],
                                     mariadb: MariaDB) -> None:
    from mybb_mcp.forum.sql_reader import reader_file

    svc, _ = root_forum
    kept = reader_file(svc.config.credentials_file)
    before = json.loads(kept.read_text())["user"]
    url = f"mysql://rootish:r00t@127.0.0.1:{mariadb.port}/ro_root?prefix=ro_"
    again = svc.init_forum(InitOptions(source=str(archive_path()), database_url=url, force=True))
    assert again.success, (again.message, again.hint)
    assert json.loads(kept.read_text())["user"] == before  # no second account on the server
    assert svc.workbench.sql("SELECT username FROM ro_users", 5).rows == [("admin",)]
