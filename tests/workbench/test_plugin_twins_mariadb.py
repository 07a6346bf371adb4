"""The twin-forum comparison on MariaDB: two forums installed by MyBB's installer into two databases of the
tests' private server; each plugin's lifecycle by the tool on one and by the real Admin CP pages on the
other, compared table by table after every step. Link Tools installs here (its SQL is MySQL's)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mybb_mcp.answers.plugins import render_plugins
from mybb_mcp.forum.install import Database, InstallRequest, install_forum
from mybb_mcp.workbench import plugins as workbench
from tests.conftest import free_port
from tests.fixtures.mariadb import MariaDB
from tests.fixtures.real_mybb import archive_path
from tests.workbench.admin_cp_twin import AdminBrowser, Twins, mysql_tables, php_server

pytestmark = [pytest.mark.mariadb,
              pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB release archive not found at "
                                                                       f"{archive_path()} (set MYBB_TEST_ARCHIVE)")]


@pytest.fixture
def twins(tmp_path: Path, php: str, mariadb: MariaDB) -> Iterator[Twins]:
    """One forum installed by MyBB's installer; its twin a copy of its folder and of its database (two installs
    differ in their secrets and schedules, a copy does not)."""
    port = free_port()
    mariadb.create_forum_database("lc_tool", "lc", "lc-pass", with_settings_table=False)
    mariadb.create_forum_database("lc_twin", "lc", "lc-pass", with_settings_table=False)
    tool = install_forum(InstallRequest(
        source=archive_path(), root=tmp_path / "tool" / "forum", bburl=f"http://127.0.0.1:{port}", php=php,
        database=Database(engine="mysqli", host=f"127.0.0.1:{mariadb.port}", user="lc", password="lc-pass",
                          name="lc_tool")))
    twin_root = tmp_path / "twin" / "forum"
    shutil.copytree(tool.root, twin_root, symlinks=True)
    config = twin_root / "inc" / "config.php"
    config.write_text(config.read_text("utf-8").replace("'lc_tool'", "'lc_twin'"), "utf-8")
    connections = {which: mariadb.connect(f"lc_{which}") for which in ("tool", "twin")}
    with connections["tool"].cursor() as cur:
        cur.execute("SHOW TABLES")
        for (table,) in cur.fetchall():
            cur.execute(f"CREATE TABLE lc_twin.`{table}` LIKE lc_tool.`{table}`")
            cur.execute(f"INSERT INTO lc_twin.`{table}` SELECT * FROM lc_tool.`{table}`")
    try:
        with php_server(php, twin_root, port) as url:
            yield Twins(tool.root, twin_root, php, AdminBrowser(url, tool.admin_user, tool.admin_password),
                        lambda: (mysql_tables(connections["tool"], "mybb_"),
                                 mysql_tables(connections["twin"], "mybb_")))
    finally:
        for connection in connections.values():
            connection.close()


def test_every_pattern_leaves_mariadb_as_the_admin_cp_does(twins: Twins) -> None:
    for name in ("guarded", "ender", "asker"):
        twins.add(name)
    installed = twins.step("install", "guarded")
    assert installed.completed and [t.after for t in installed.changes.tasks] == ["enabled"]
    deactivated = twins.step("deactivate", "guarded")
    assert "tasks changed: `Guarded cleanup (enabled → disabled)`" in render_plugins(deactivated)
    twins.step("uninstall", "guarded")

    ended = twins.step("install", "ender")
    assert ended.completed is False and ended.installed_after is True and ended.blame == "plugin"
    twins.step("activate", "ender")
    twins.step("uninstall", "ender")

    asker = twins.step("install", "asker")
    assert {(c.table, c.name) for c in asker.changes.schema} == {("mybb_users", "asker_points"),
                                                                  ("mybb_posts", "asker_votes")}
    removed = twins.step("uninstall", "asker")
    assert removed.completed and removed.clicks[0].confirm is not None
    assert {(c.table, c.name, c.kind) for c in removed.changes.schema} == {
        ("mybb_users", "asker_points", "removed"), ("mybb_posts", "asker_votes", "removed")}


def test_link_tools_installs_and_uninstalls_as_in_the_admin_cp(twins: Twins) -> None:
    twins.add_linktools()
    installed = twins.step("install", "linktools")
    assert installed.completed, render_plugins(installed)
    assert not any("MYBB_ADMIN_DIR" in p.message for p in installed.problems)
    deactivated = twins.step("deactivate", "linktools")
    assert deactivated.completed
    uninstalled = twins.step("uninstall", "linktools")
    assert uninstalled.completed, render_plugins(uninstalled)
    workbench.run(twins.tool, "list", php=twins.php)
