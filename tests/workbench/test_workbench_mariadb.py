"""The workbench on a forum made by init on MariaDB (the tests' private server): reads with the forum's
prefix as the read-only account init's statements make, every write refused by that account's rights and
the server's read-only session and transaction, members, templates and PHP through MyBB's own code on
MySQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mybb_mcp.config import Config
from mybb_mcp.forum.requests import PageRequest
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.orchestration.init import InitOptions
from mybb_mcp.workbench.sql import SqlRefused, run_query
from tests.conftest import free_port
from tests.fixtures.mariadb import MariaDB
from tests.fixtures.real_mybb import archive_path

pytestmark = [pytest.mark.mariadb,
              pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB release archive not found at "
                                                                       f"{archive_path()} (set MYBB_TEST_ARCHIVE)")]

WRITES = [
    "DELETE FROM wb_users",
    "UPDATE wb_settings SET value = 'x' WHERE name = 'bbname'",
    "INSERT INTO wb_users (username) VALUES ('x')",
    "WITH gone AS (SELECT uid FROM wb_users) DELETE FROM wb_users WHERE uid IN (SELECT uid FROM gone)",
    "DELETE FROM wb_users WHERE uid IN (WITH g AS (SELECT 1 AS uid) SELECT uid FROM g)",
    "SELECT 1; DELETE FROM wb_users",
    "CREATE TABLE wb_evil (x INT)",
    "DROP TABLE wb_users",
    "TRUNCATE TABLE wb_users",
]


@pytest.fixture
def forum(tmp_path: Path, php: str, mariadb: MariaDB) -> Iterator[tuple[ServerOrchestrationService, MariaDB]]:
    """A forum installed by init into MariaDB database `workbench`, tables prefixed `wb_`; stopped after."""
    mariadb.create_forum_database("workbench", "wbuser", "wb-pass", with_settings_table=False)
    config = Config(mybb_root=tmp_path / "site" / "TestForum", php=php, port=free_port())
    svc = ServerOrchestrationService(config)
    url = f"mysql://wbuser:wb-pass@127.0.0.1:{mariadb.port}/workbench?prefix=wb_"
    result = svc.init_forum(InitOptions(source=str(archive_path()), database_url=url))
    assert result.success, (result.message, result.hint)
    # wbuser may not create users: the SQL tool's read-only account is made by an administrator, with the
    # statements init gave.
    note = next(n for n in result.notes if "CREATE USER" in n)
    statements = re.search(r"(`{2,})(.+?)\1", note)
    assert statements, note
    mariadb.execute(*[s for s in statements.group(2).split(";") if s.strip()])
    yield svc, mariadb
    svc.stop(force=True)


def _checksums(mariadb: MariaDB) -> dict[str, int]:
    conn = mariadb.connect("workbench")
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = [r[0] for r in cur.fetchall()]
            cur.execute("CHECKSUM TABLE " + ", ".join(f"`{t}`" for t in tables))
            return {str(r[0]): r[1] for r in cur.fetchall()}
    finally:
        conn.close()


def test_sql_on_mariadb_reads_and_refuses_every_write(forum: tuple[ServerOrchestrationService, MariaDB]) -> None:
    svc, mariadb = forum
    answer = svc.workbench.sql("SELECT username, usergroup FROM wb_users", 20)
    assert answer.engine.startswith("MariaDB") and answer.rows == [("admin", 4)] and answer.table_prefix == "wb_"
    desc = svc.workbench.describe_table("users")
    assert desc.table == "wb_users" and {c.name for c in desc.columns} >= {"uid", "username", "usergroup"}
    assert any(i.name == "PRIMARY" and i.columns == ["uid"] and i.unique for i in desc.indexes)
    before = _checksums(mariadb)
    for sql in WRITES:
        with pytest.raises(SqlRefused) as refused:
            svc.workbench.sql(sql, 5)
        assert "Nothing was" in refused.value.message, (sql, refused.value.message)
        if sql.startswith(("DELETE", "UPDATE", "INSERT")):
            # The reader account's rights refuse it first (the read-only transaction is behind them).
            assert "Refused by the database: (1142)" in refused.value.message, refused.value.message
            assert "command denied to user 'mybb_ro_" in refused.value.message, refused.value.message
    assert _checksums(mariadb) == before


def test_members_templates_and_php_on_mariadb(forum: tuple[ServerOrchestrationService, MariaDB]) -> None:
    svc, _ = forum
    added = svc.workbench.add_member("maria", "moderator", None)
    assert added.member.usergroup == 3 and added.credentials_file is not None
    page = svc.forum.request_page(PageRequest(path="modcp.php", role="maria", contains="Moderator Control Panel"))
    assert page.ok and page.contains_found == "text", page
    done = svc.workbench.replace_in_template("header", "<navigation>", "<navigation><!-- wb -->", None, True)
    assert done.applied and [c.action for c in done.changes] == ["create"]
    assert "<!-- wb -->" in (svc.workbench.get_template("header").copies[1].template)
    ran = svc.workbench.eval_php("return $db->table_prefix . '/' . $db->type;", 10)
    assert ran.return_value == "'wb_/mysqli'", ran


def test_the_cli_reads_mariadb(forum: tuple[ServerOrchestrationService, MariaDB], tmp_path: Path) -> None:
    svc, _ = forum
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}
    env.update({"MYBB_ROOT": str(svc.config.mybb_root), "MYBB_PHP": svc.config.php,
                "MYBB_PORT": str(svc.config.port)})
    done = subprocess.run([sys.executable, "-m", "mybb_mcp.cli", "sql", "DELETE FROM wb_users"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "DELETE command denied" in done.stdout, done.stdout + done.stderr


def test_a_long_query_is_stopped_by_the_server(forum: tuple[ServerOrchestrationService, MariaDB]) -> None:
    svc, _ = forum
    started = time.monotonic()
    with pytest.raises(SqlRefused) as refused:
        run_query(svc.config.mybb_root, "SELECT SLEEP(20) FROM wb_users", timeout=1.0)
    assert time.monotonic() - started < 10
    assert "ran longer than 1 s and was" in refused.value.message, refused.value.message
    assert svc.workbench.sql("SELECT 1", 1).rows == [(1,)]  # the next call is answered as ever


def test_a_template_in_no_set_is_named_on_mariadb(forum: tuple[ServerOrchestrationService, MariaDB]) -> None:
    from tests.fixtures.real_mybb import activate_plugin
    from tests.workbench.test_plugins import ASKS_MISSING

    svc, _ = forum
    root = svc.config.mybb_root
    (root / "inc" / "plugins" / "asksmissing.php").write_text(ASKS_MISSING, "utf-8")
    activate_plugin(root, "asksmissing", php=svc.config.php)
    page = svc.forum.request_page(PageRequest(path="index.php"))
    assert page.response is not None and page.response.status == 200, page.failure
    assert page.workbench is not None and page.workbench.missing_templates == ["asksmissing_box"]
    # MyBB's MySQL driver fetches null, not false, for no row: no deprecation here, unlike on SQLite.
    assert not any("Automatic conversion" in g.example.message for g in page.errors), page.errors
