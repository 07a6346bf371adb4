"""Snapshots on a real MyBB: save, change, restore -> identical; the automatic snapshot undoes a restore;
diff names what a plugin left behind; bad names change nothing; symlinks are never written through;
MariaDB through mariadb-dump; the CLI and the MCP tool (SDK client) on the same core."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client

from mybb_mcp.answers.commands import CLI_COMMANDS
from mybb_mcp.answers.snapshot import render_snapshot
from mybb_mcp.errors import InvalidArgument
from mybb_mcp.failures import Failure
from mybb_mcp.forum.install import Database, InstallRequest, install_forum
from mybb_mcp.forum.php import run_mybb_php
from mybb_mcp.forum.snapshot import Snapshots
from mybb_mcp.forum.snapshot.model import AUTO_PREFIX, FAILURE_CODES, SNAPSHOTS_DIR
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.conftest import free_port, http_get
from tests.fixtures.real_mybb import archive_path

TIMEOUT = 120.0

# A plugin that adds a setting group, a setting, a template and a datacache entry on install, and whose
# uninstall "forgets" the template.
LEFTOVER_PLUGIN = r"""<?php
if(!defined("IN_MYBB")) { die("Direct access not allowed."); }
function leftover_info() {
    return array("name" => "Leftover", "description" => "Forgets its template", "version" => "1.0",
                 "compatibility" => "18*", "codename" => "leftover");
}
function leftover_install() {
    global $db, $cache;
    $gid = $db->insert_query("settinggroups", array("name" => "leftover", "title" => "Leftover settings",
        "description" => "", "disporder" => 99, "isdefault" => 0));
    $db->insert_query("settings", array("name" => "leftover_enabled", "title" => "Enabled", "description" => "",
        "optionscode" => "yesno", "value" => "1", "disporder" => 1, "gid" => (int)$gid));
    $db->insert_query("templates", array("title" => "leftover_banner",
        "template" => $db->escape_string("<div>leftover</div>"), "sid" => -1, "version" => "1800",
        "dateline" => TIME_NOW));
    $cache->update("leftover", array("installed" => TIME_NOW));
    rebuild_settings();
}
function leftover_is_installed() {
    global $db;
    return (bool)$db->num_rows($db->simple_select("settinggroups", "gid", "name='leftover'"));
}
function leftover_uninstall() {
    global $db, $cache;
    $db->delete_query("settings", "name='leftover_enabled'");
    $db->delete_query("settinggroups", "name='leftover'");
    $cache->delete("leftover");
    rebuild_settings();
}
function leftover_activate() {}
function leftover_deactivate() {}
"""

# What the Admin CP's "Uninstall" does (admin/modules/config/plugins.php), through MyBB's own code.
UNINSTALL_PLUGIN = r"""
$name = $input['name'];
require_once MYBB_ROOT . 'inc/functions.php';
require_once MYBB_ROOT . 'inc/plugins/' . $name . '.php';
if (function_exists($name . '_deactivate')) { call_user_func($name . '_deactivate'); }
if (function_exists($name . '_uninstall')) { call_user_func($name . '_uninstall'); }
$active = $cache->read('plugins');
unset($active['active'][$name]);
$cache->update('plugins', $active);
$result = array_values($active['active']);
"""


def uninstall_plugin(forum: Any, name: str) -> list[str]:
    return list(run_mybb_php(forum.root, UNINSTALL_PLUGIN, {"name": name}, php=forum.php, timeout=TIMEOUT).result or [])


def contents(db_file: Path) -> dict[str, Any]:
    """Every table's schema and rows, order-independent."""
    with closing(sqlite3.connect(db_file)) as conn:
        schema = sorted(conn.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        tables = [row[1] for row in schema if row[0] == "table"]
        rows = {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    return {"schema": schema, "rows": rows}


def add_thread(db_file: Path, subject: str) -> int:
    with closing(sqlite3.connect(db_file)) as conn, conn:
        cursor = conn.execute(
            "INSERT INTO mybb_threads (fid, subject, uid, username, dateline, notes, visible) "
            "VALUES (2, ?, 1, 'admin', 1700000000, '', 1)", (subject,))
        return int(cursor.lastrowid)


def set_thread_subject(db_file: Path, tid: int, subject: str) -> None:
    with closing(sqlite3.connect(db_file)) as conn, conn:
        conn.execute("UPDATE mybb_threads SET subject = ? WHERE tid = ?", (subject, tid))


def thread_subjects(db_file: Path) -> list[str]:
    with closing(sqlite3.connect(db_file)) as conn:
        return [row[0] for row in conn.execute("SELECT subject FROM mybb_threads ORDER BY tid")]


def written_files(root: Path) -> dict[str, bytes]:
    found = {rel: (root / rel).read_bytes() for rel in ("inc/config.php", "inc/settings.php")}
    for top in ("cache", "uploads"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and not path.is_symlink():
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


@pytest.fixture
def service(real_forum: Any) -> Any:
    made = ServerOrchestrationService(real_forum.config())
    yield made
    made.stop(force=True)


# ----------------------------------------------------------------------------------------- save and restore


def test_restore_after_a_changed_setting_and_thread_is_identical_while_the_server_runs(real_forum: Any,
                                                                                        service: Any) -> None:
    tid = add_thread(real_forum.db_file, "Before the snapshot")
    assert service.start().success
    before_db, before_files = contents(real_forum.db_file), written_files(real_forum.root)

    saved = service.forum.snapshot("save", "clean")
    assert saved.ok, saved.message
    assert saved.snapshot.files >= 3 and saved.snapshot.mybb_version

    # A setting changed the way MyBB does (table + inc/settings.php), a thread changed, one added.
    assert service.forum.set_mybb_error_logging(True).ok
    set_thread_subject(real_forum.db_file, tid, "Changed after the snapshot")
    add_thread(real_forum.db_file, "Added after the snapshot")
    (real_forum.root / "uploads" / "avatar_1.png").write_bytes(b"\x89PNG new upload")
    assert contents(real_forum.db_file) != before_db

    restored = service.forum.snapshot("restore", "clean")
    assert restored.ok, restored.message
    assert contents(real_forum.db_file) == before_db
    assert written_files(real_forum.root) == before_files
    assert thread_subjects(real_forum.db_file) == ["Before the snapshot"]
    status, page = http_get(f"http://127.0.0.1:{real_forum.port}/index.php")
    assert status == 200 and "Before the snapshot" not in page  # the forum answers from the restored state
    text = render_snapshot(restored, CLI_COMMANDS)
    assert text.startswith("# Snapshot Restored: clean")
    assert f"`mybb-server snapshot restore {restored.automatic.name}`" in text
    assert "inc/plugins/" in text


def test_the_automatic_snapshot_taken_by_restore_undoes_it(real_forum: Any, service: Any) -> None:
    assert service.forum.snapshot("save", "clean").ok
    add_thread(real_forum.db_file, "Work in progress")
    changed = contents(real_forum.db_file)

    restored = service.forum.snapshot("restore", "clean")
    assert restored.ok
    kept = restored.automatic
    assert kept is not None and kept.name.startswith(AUTO_PREFIX) and kept.automatic
    assert kept.reason == "before restoring clean"
    assert thread_subjects(real_forum.db_file) == []

    undone = service.forum.snapshot("restore", kept.name)
    assert undone.ok, undone.message
    assert contents(real_forum.db_file) == changed
    listed = [info.name for info in service.forum.snapshot("list").snapshots]
    assert listed == ["clean", kept.name, undone.automatic.name]  # oldest first


def test_plugin_sources_are_never_rolled_back(real_forum: Any, service: Any) -> None:
    assert service.forum.snapshot("save", "clean").ok
    plugin = real_forum.root / "inc" / "plugins" / "leftover.php"
    plugin.write_text(LEFTOVER_PLUGIN)
    restored = service.forum.snapshot("restore", "clean")
    assert restored.ok
    assert plugin.read_text() == LEFTOVER_PLUGIN
    assert any("inc/plugins/" in note for note in restored.notes)


# ----------------------------------------------------------------------------------------- diff


def test_diff_after_install_and_uninstall_names_what_the_plugin_left_behind(real_forum: Any, service: Any) -> None:
    assert service.forum.snapshot("save", "before-plugin").ok
    real_forum.add_plugin("leftover", LEFTOVER_PLUGIN)  # installed and activated as the Admin CP does

    installed = service.forum.snapshot("diff", "before-plugin").diff
    assert [(c.name, c.kind) for c in installed.setting_groups] == [("leftover", "added")]
    assert ("leftover_enabled", "added", "leftover") in [(c.name, c.kind, c.group) for c in installed.settings]
    assert ("leftover_banner", "added", "global templates (sid -1)") in [
        (c.name, c.kind, c.group) for c in installed.templates]
    assert ("leftover", "added") in [(c.name, c.kind) for c in installed.datacache]
    assert installed.plugins_after == ("leftover",) and installed.plugins_before in ((), None)

    assert uninstall_plugin(real_forum, "leftover") == []
    result = service.forum.snapshot("diff", "before-plugin")
    left = result.diff
    assert [(c.name, c.kind, c.group) for c in left.templates] == [
        ("leftover_banner", "added", "global templates (sid -1)")]
    assert not left.setting_groups and not [c for c in left.settings if c.name.startswith("leftover")]
    assert "leftover" not in [c.name for c in left.datacache]
    assert ("mybb_templates", 1) in [(t.table, t.rows_after - t.rows_before) for t in left.tables]
    text = render_snapshot(result, CLI_COMMANDS)
    assert "## Templates\n- global templates (sid -1): added `leftover_banner`" in text
    assert "`mybb-server snapshot restore before-plugin`" in text


def test_diff_right_after_save_shows_no_change(real_forum: Any, service: Any) -> None:
    assert service.forum.snapshot("save", "clean").ok
    result = service.forum.snapshot("diff", "clean")
    assert result.ok and result.diff.empty, result.diff
    assert "No changes" in render_snapshot(result, CLI_COMMANDS)


# ----------------------------------------------------------------------------------------- refusals


BAD_NAMES = ["../outside", "a/b", ".hidden", "", "x" * 65, "-rf", "two words", "naïve", "back\\slash", "nul\0"]


@pytest.mark.parametrize("action", ["save", "restore", "delete", "diff"])
def test_bad_names_are_refused_and_nothing_changes(real_forum: Any, service: Any, action: str) -> None:
    before = contents(real_forum.db_file)
    for name in BAD_NAMES:
        with pytest.raises(InvalidArgument):
            service.forum.snapshot(action, name)
    with pytest.raises(InvalidArgument):
        service.forum.snapshot(action, None)
    assert not (real_forum.root.parent / SNAPSHOTS_DIR).exists()
    assert not (real_forum.root.parent / "outside").exists()
    assert contents(real_forum.db_file) == before


def test_unknown_or_taken_names_are_named_failures(real_forum: Any, service: Any) -> None:
    missing = service.forum.snapshot("restore", "never-saved")
    assert (missing.ok, missing.failure) == (False, Failure.SNAPSHOT_NOT_FOUND)
    assert service.forum.snapshot("list").snapshots == []  # no automatic snapshot for a refused restore
    assert service.forum.snapshot("save", "clean").ok
    again = service.forum.snapshot("save", "clean")
    assert (again.ok, again.failure) == (False, Failure.SNAPSHOT_EXISTS)
    assert "`mybb-server snapshot delete clean`" in render_snapshot(again, CLI_COMMANDS)
    assert service.forum.snapshot("delete", "clean").ok
    assert service.forum.snapshot("list").snapshots == []


def test_storage_is_private_and_never_a_symlink(real_forum: Any, service: Any, tmp_path: Path) -> None:
    assert service.forum.snapshot("save", "clean").ok
    storage = real_forum.root.parent / SNAPSHOTS_DIR
    assert os.stat(storage).st_mode & 0o777 == 0o700
    assert os.stat(storage / "clean").st_mode & 0o777 == 0o700
    shutil.rmtree(storage)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    storage.symlink_to(elsewhere)
    refused = service.forum.snapshot("save", "clean")
    assert (refused.ok, refused.failure) == (False, Failure.STORAGE_UNSAFE)
    assert list(elsewhere.iterdir()) == []


def test_restore_never_writes_through_a_symlink_in_cache(real_forum: Any, service: Any, tmp_path: Path) -> None:
    (real_forum.root / "cache" / "note.txt").write_text("from the snapshot")
    assert service.forum.snapshot("save", "clean").ok
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file")
    (real_forum.root / "cache" / "note.txt").unlink()
    (real_forum.root / "cache" / "note.txt").symlink_to(victim)  # planted in the world-writable cache/
    (real_forum.root / "cache" / "planted").symlink_to(tmp_path)
    restored = service.forum.snapshot("restore", "clean")
    assert restored.ok
    assert victim.read_text() == "someone else's file"
    assert "cache/note.txt" in restored.skipped and "cache/planted" in restored.skipped
    assert (real_forum.root / "cache" / "planted").is_symlink()


def test_restore_removes_a_folder_made_after_the_save_without_following_its_links(real_forum: Any, service: Any,
                                                                                 tmp_path: Path) -> None:
    assert service.forum.snapshot("save", "clean").ok
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("someone else's file")
    made = real_forum.root / "uploads" / "made_later"
    (made / "deeper").mkdir(parents=True)
    (made / "deeper" / "upload.bin").write_bytes(b"x" * 10)
    (made / "out").symlink_to(outside)  # a link inside the new folder: removed, never followed
    restored = service.forum.snapshot("restore", "clean")
    assert restored.ok, restored.message
    assert not os.path.lexists(made)
    assert (outside / "keep.txt").read_text() == "someone else's file"


# ----------------------------------------------------------------------------------------- faces


def test_cli_snapshot_commands(real_forum: Any) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}, **real_forum.env()}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mybb_mcp.cli", "snapshot", *args], env=env, capture_output=True,
                              text=True, timeout=TIMEOUT, cwd=real_forum.root.parent)

    saved = cli("save", "clean", "--json")
    assert saved.returncode == 0, saved.stderr
    assert json.loads(saved.stdout)["snapshot"]["name"] == "clean"
    shown = cli("list")
    assert shown.returncode == 0 and "| `clean` |" in shown.stdout
    bad = cli("save", "../x")
    assert bad.returncode == 2 and "not a usable snapshot name" in bad.stderr
    missing = cli("diff")
    assert missing.returncode == 2 and "needs the snapshot's name" in missing.stdout + missing.stderr
    unknown = cli("restore", "nope")
    assert unknown.returncode == 1 and unknown.stdout.startswith("# Error: Snapshot Not Found")
    assert not (real_forum.root.parent / "x").exists()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _text(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


@pytest.mark.anyio
async def test_mcp_tool_through_the_sdk_client(real_forum: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from mybb_mcp.server import server

    for key, value in real_forum.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(real_forum.root.parent)
    async with Client(server) as client:
        tool = {t.name: t for t in (await client.list_tools()).tools}["mybb_forum_snapshot"]
        assert tool.input_schema["properties"]["action"]["enum"] == ["save", "restore", "list", "delete", "diff"]
        assert tool.input_schema["required"] == ["action"]
        assert tool.annotations.destructive_hint is True and tool.annotations.read_only_hint is False

        saved = await client.call_tool("mybb_forum_snapshot", {"action": "save", "name": "clean"})
        assert not saved.is_error, _text(saved)
        assert _text(saved).startswith("# Snapshot Saved: clean")
        add_thread(real_forum.db_file, "Changed")
        diff = await client.call_tool("mybb_forum_snapshot", {"action": "diff", "name": "clean"})
        assert "`mybb_threads`: 0 → 1 rows (+1)" in _text(diff)
        restored = await client.call_tool("mybb_forum_snapshot", {"action": "restore", "name": "clean"})
        assert not restored.is_error and '`mybb_forum_snapshot` with `action: "restore", name: "auto-before' in _text(
            restored)
        assert thread_subjects(real_forum.db_file) == []

        for bad in ({"action": "save", "name": "../x"}, {"action": "save"}, {"action": "drop", "name": "x"},
                    {"action": "list", "name": "x"}, {"action": "save", "name": "ok", "force": True}):
            refused = await client.call_tool("mybb_forum_snapshot", bad)
            assert refused.is_error and _text(refused).startswith("# Error: Invalid Arguments"), (bad, _text(refused))
        missing = await client.call_tool("mybb_forum_snapshot", {"action": "delete", "name": "nope"})
        assert missing.is_error and _text(missing).startswith("# Error: Snapshot Not Found")
    assert not (real_forum.root.parent / "x").exists()


# ----------------------------------------------------------------------------------------- MariaDB


def _install_on_mariadb(base: Path, mariadb: Any, php: str) -> Path:
    """MyBB installed by its own installer (through the product's install code) on the private MariaDB, over
    TCP, with a password that needs quoting anywhere but an environment variable."""
    archive = archive_path()
    if not archive.is_file():
        pytest.skip(f"the MyBB archive {archive} is absent (set MYBB_TEST_ARCHIVE)")
    mariadb.execute("DROP DATABASE IF EXISTS snapforum", "CREATE DATABASE snapforum",
                    "CREATE USER IF NOT EXISTS 'snap'@'127.0.0.1' IDENTIFIED BY 'p#ss w\"rd'",
                    "GRANT ALL ON snapforum.* TO 'snap'@'127.0.0.1'")
    database = Database(engine="mysqli", host=f"127.0.0.1:{mariadb.port}", user="snap", password='p#ss w"rd',
                        name="snapforum")
    result = install_forum(InstallRequest(source=archive, root=base / "repo" / "forum", php=php,
                                          bburl=f"http://127.0.0.1:{free_port()}", database=database))
    return result.root


def _mariadb_contents(mariadb: Any) -> dict[str, list[str]]:
    conn = mariadb.connect("snapforum")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            tables = sorted(row[0] for row in cursor.fetchall())
            found = {}
            for table in tables:
                cursor.execute(f"SELECT * FROM `{table}`")
                found[table] = sorted(map(repr, cursor.fetchall()))
            return found
    finally:
        conn.close()


@pytest.mark.mariadb
def test_mariadb_save_diff_restore_through_mariadb_dump(mariadb: Any, php: str, tmp_path: Path) -> None:
    if not (shutil.which("mariadb-dump") or shutil.which("mysqldump")):
        pytest.skip("mariadb-dump is not installed (apt-get install mariadb-client)")
    root = _install_on_mariadb(tmp_path, mariadb, php)
    snapshots = Snapshots(root)
    before = _mariadb_contents(mariadb)
    saved = snapshots.run("save", "clean")
    assert saved.ok, (saved.message, saved.detail)
    dump = (saved.snapshot.path / "database.sql").read_text()
    assert "CREATE TABLE `mybb_settings`" in dump and "p#ss" not in dump
    assert os.stat(saved.snapshot.path / "database.sql").st_mode & 0o777 == 0o600

    mariadb.execute("UPDATE snapforum.mybb_settings SET value = 'Renamed' WHERE name = 'bbname'",
                    "CREATE TABLE snapforum.mybb_plugin_extra (id INT PRIMARY KEY)",
                    "INSERT INTO snapforum.mybb_threads (fid, subject, notes) VALUES (2, 'A thread', '')",
                    "ALTER TABLE snapforum.mybb_users ADD shelf_points INT NOT NULL DEFAULT 0,"
                    " ADD INDEX shelf (shelf_points)",
                    "ALTER TABLE snapforum.mybb_threads MODIFY notes MEDIUMTEXT NOT NULL")
    diff = snapshots.run("diff", "clean").diff
    assert ("bbname", "MyBB Test Forum", "Renamed") in [(c.name, c.before, c.after) for c in diff.settings]
    assert ("mybb_plugin_extra", None, 0) in [(t.table, t.rows_before, t.rows_after) for t in diff.tables]
    shapes = {(c.table, c.what, c.name): c for c in diff.schema}
    assert shapes[("mybb_users", "column", "shelf_points")].after == "int(11) NOT NULL DEFAULT 0"
    assert shapes[("mybb_users", "index", "shelf")].kind == "added"
    notes = shapes[("mybb_threads", "column", "notes")]
    assert notes.kind == "changed" and notes.before.startswith("text") and notes.after.startswith("mediumtext")

    restored = snapshots.run("restore", "clean")
    assert restored.ok, (restored.message, restored.detail)
    assert _mariadb_contents(mariadb) == before
    undone = snapshots.run("restore", restored.automatic.name)
    assert undone.ok and "mybb_plugin_extra" in _mariadb_contents(mariadb)


def test_mysql_forum_without_client_tools_is_refused(real_forum: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A MySQL forum on a machine without mariadb-dump: a clear refusal naming the package, nothing written."""
    config = real_forum.root / "inc" / "config.php"
    config.write_text("<?php\n$config['database']['type'] = 'mysqli';\n$config['database']['database'] = 'forum';\n"
                      "$config['database']['table_prefix'] = 'mybb_';\n$config['database']['hostname'] = '127.0.0.1';\n"
                      "$config['database']['username'] = 'u';\n$config['database']['password'] = 'p';\n")
    monkeypatch.setenv("PATH", str(real_forum.root / "no-such-bin"))
    result = Snapshots(real_forum.root).run("save", "clean")
    assert (result.ok, result.failure) == (False, Failure.DUMP_TOOL_MISSING)
    assert "apt-get install mariadb-client" in render_snapshot(result, CLI_COMMANDS)
    assert not (real_forum.root.parent / SNAPSHOTS_DIR).exists()


def test_every_failure_code_of_the_mechanics_is_a_named_failure() -> None:
    assert [Failure(code).value for code in FAILURE_CODES] == list(FAILURE_CODES)


def test_two_forums_in_one_folder_keep_their_own_snapshots(real_forum: Any, service: Any) -> None:
    """The folder's second forum (as for its state and log) gets `.mybb-snapshots.<name>-<hash>/`."""
    assert service.start().success and service.stop().success  # the first forum claims the folder
    other_root = real_forum.root.parent / "other"
    shutil.copytree(real_forum.root, other_root, symlinks=True)
    other = ServerOrchestrationService(replace(real_forum.config(), mybb_root=other_root))
    assert service.forum.snapshot("save", "mine").ok
    saved = other.forum.snapshot("save", "theirs")
    assert saved.ok
    assert saved.snapshot.path.parent.name.startswith(f"{SNAPSHOTS_DIR}.other-")
    assert [s.name for s in service.forum.snapshot("list").snapshots] == ["mine"]
    assert [s.name for s in other.forum.snapshot("list").snapshots] == ["theirs"]


def test_restore_refuses_a_snapshot_of_another_database(real_forum: Any, service: Any) -> None:
    assert service.forum.snapshot("save", "clean").ok
    moved = real_forum.db_file.with_name("moved.sqlite")
    shutil.copyfile(real_forum.db_file, moved)
    config = real_forum.root / "inc" / "config.php"
    config.write_text(config.read_text().replace(str(real_forum.db_file), str(moved)))
    add_thread(moved, "In the other database")
    before = contents(moved), config.read_bytes()
    refused = service.forum.snapshot("restore", "clean")
    assert (refused.ok, refused.failure) == (False, Failure.DATABASE_MISMATCH)
    assert (contents(moved), config.read_bytes()) == before
    assert [s.name for s in service.forum.snapshot("list").snapshots] == ["clean"]  # no automatic snapshot either


def test_only_the_newest_automatic_snapshots_are_kept(real_forum: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mybb_mcp.forum.snapshot.restore.KEEP_AUTOMATIC", 2)  # seam: ten restores take long
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "clean").ok
    kept = [snapshots.run("restore", "clean") for _ in range(3)]
    assert kept[2].pruned == [kept[0].automatic.name]
    names = [s.name for s in snapshots.run("list").snapshots]
    assert names == ["clean", kept[1].automatic.name, kept[2].automatic.name]


def test_a_folder_without_an_installed_forum_is_refused(forum: Path) -> None:
    """The plain fixture docroot has no inc/config.php: nothing to snapshot, and nothing is written."""
    result = Snapshots(forum).run("save", "clean")
    assert (result.ok, result.failure) == (False, Failure.FORUM_NOT_INSTALLED)
    assert not (forum.parent / SNAPSHOTS_DIR).exists()


def test_diff_names_a_changed_stylesheet_by_theme(real_forum: Any, service: Any) -> None:
    assert service.forum.snapshot("save", "clean").ok
    with closing(sqlite3.connect(real_forum.db_file)) as conn, conn:
        conn.execute("UPDATE mybb_themestylesheets SET stylesheet = stylesheet || ' body{}' "
                     "WHERE name = 'global.css' AND tid = 1")
    result = service.forum.snapshot("diff", "clean")
    assert [(c.name, c.kind, c.group) for c in result.diff.stylesheets] == [
        ("global.css", "changed", "theme MyBB Master Style (tid 1)")]
    assert "- theme MyBB Master Style (tid 1): changed `global.css`" in render_snapshot(result, CLI_COMMANDS)


def test_save_while_the_database_is_written_is_one_consistent_state(real_forum: Any, service: Any) -> None:
    """A writer adds threads (each with its forum's counter, in one transaction) while snapshots are
    taken: every snapshot is a whole database whose counters match its rows."""
    import threading
    import time

    stop = threading.Event()

    def write() -> None:
        with closing(sqlite3.connect(real_forum.db_file, timeout=30)) as conn:
            while not stop.is_set():
                with conn:
                    conn.execute("INSERT INTO mybb_threads (fid, subject, uid, username, dateline, notes, visible) "
                                 "VALUES (2, 'busy', 1, 'admin', 1700000000, '', 1)")
                    conn.execute("UPDATE mybb_forums SET threads = threads + 1 WHERE fid = 2")

    writer = threading.Thread(target=write)
    writer.start()
    deadline = time.monotonic() + TIMEOUT
    while not thread_subjects(real_forum.db_file) and time.monotonic() < deadline:
        time.sleep(0.01)  # polling until the writer has committed once

    try:
        saved = [service.forum.snapshot("save", f"busy-{i}") for i in range(3)]
    finally:
        stop.set()
        writer.join(TIMEOUT)
    for result in saved:
        assert result.ok, result.message
        with closing(sqlite3.connect(result.snapshot.path / "database.sqlite")) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = copy.execute("SELECT COUNT(*) FROM mybb_threads WHERE fid = 2").fetchone()[0]
            counter = copy.execute("SELECT threads FROM mybb_forums WHERE fid = 2").fetchone()[0]
            assert rows == counter > 0  # a fresh forum had no threads, counter 0


# A plugin that changes core tables as many do: a column and an index on mybb_users, a table of its own.
SCHEMA_PLUGIN = r"""<?php
if(!defined("IN_MYBB")) { die("Direct access not allowed."); }
function shelf_info() { return array("name" => "Shelf", "compatibility" => "18*"); }
function shelf_activate() {
    global $db;
    $db->add_column("users", "shelf_points", "INTEGER NOT NULL DEFAULT 0");
    $db->write_query("CREATE INDEX shelf_points ON ".TABLE_PREFIX."users (shelf_points)");
    $db->write_query("CREATE TABLE ".TABLE_PREFIX."shelf_items (iid INTEGER PRIMARY KEY, uid INTEGER NOT NULL)");
}
"""


def test_diff_shows_the_columns_and_indexes_a_plugin_added_to_core_tables(real_forum: Any, service: Any) -> None:
    assert service.forum.snapshot("save", "before-shelf").ok
    real_forum.add_plugin("shelf", SCHEMA_PLUGIN)
    result = service.forum.snapshot("diff", "before-shelf")
    shapes = {(c.table, c.what, c.name): c for c in result.diff.schema}
    assert shapes[("mybb_users", "column", "shelf_points")].after == "INTEGER NOT NULL DEFAULT 0"
    assert shapes[("mybb_users", "index", "shelf_points")].after == "(shelf_points)"
    assert ("mybb_shelf_items", None, 0) in [(t.table, t.rows_before, t.rows_after) for t in result.diff.tables]
    text = render_snapshot(result, CLI_COMMANDS)
    assert "## Columns and indexes" in text
    assert "`mybb_users`: added column `shelf_points` `INTEGER NOT NULL DEFAULT 0`" in text
    assert "`mybb_users`: added index `shelf_points` `(shelf_points)`" in text
