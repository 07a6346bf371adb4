"""The tool and the click are the same thing: each test plugin (tests/workbench/plugins/, one real pattern
each) and the real Link Tools go through install, activate, deactivate and uninstall on one forum by the
tool, and on its twin by the real Admin CP pages requested as the admin over HTTP; after every step the
two databases are compared table by table (sessions, the admin log, stats and timestamps aside)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from mybb_mcp.answers.plugins import render_plugins
from mybb_mcp.workbench import plugins as workbench
from tests.conftest import free_port
from tests.fixtures.real_mybb import MybbTemplate, copy_forum
from tests.workbench.admin_cp_twin import PLUGINS, AdminBrowser, Twins, php_server, sqlite_tables


@pytest.fixture
def twins(mybb_template: MybbTemplate, tmp_path: Path) -> Iterator[Twins]:
    port = free_port()  # both forums' bburl; only the twin is served
    tool = copy_forum(mybb_template, tmp_path / "tool", port)
    twin = copy_forum(mybb_template, tmp_path / "twin", port)
    with php_server(twin.php, twin.root, port) as url:
        yield Twins(tool.root, twin.root, tool.php, AdminBrowser(url, twin.admin_user, twin.admin_password),
                    lambda: (sqlite_tables(tool.db_file), sqlite_tables(twin.db_file)))


def test_lifecycle_defined_only_for_the_admin_cp_runs_and_switches_its_task(twins: Twins) -> None:
    twins.add("guarded")
    listed = {p.codename: p for p in workbench.run(twins.tool, "list", php=twins.php).plugins}
    guarded = listed["guarded"]
    assert (guarded.title, guarded.compatible, guarded.installed) == ("Guarded", True, False)
    assert set(guarded.functions) == {"info", "install", "is_installed", "activate", "deactivate", "uninstall"}

    installed = twins.step("install", "guarded")
    assert installed.completed and installed.ran == ["install", "activate"]
    assert [(t.name, t.after) for t in installed.changes.tasks] == [("Guarded cleanup", "enabled")]
    assert installed.clicks[0].flash == {"message": "The selected plugin has been installed and activated "
                                                    "successfully.", "type": "success"}
    deactivated = twins.step("deactivate", "guarded")
    assert deactivated.completed and deactivated.ran == ["deactivate"]
    assert [(t.name, t.before, t.after) for t in deactivated.changes.tasks] == [
        ("Guarded cleanup", "enabled", "disabled")]
    answer = render_plugins(deactivated)
    assert "tasks changed: `Guarded cleanup (enabled → disabled)`" in answer
    assert "**Completed:** yes\n" in answer
    twins.step("activate", "guarded")
    uninstalled = twins.step("uninstall", "guarded")
    assert uninstalled.completed and uninstalled.ran == ["deactivate", "uninstall"]
    assert [(t.name, t.after) for t in uninstalled.changes.tasks] == [("Guarded cleanup", None)]


def test_an_install_that_ends_the_page_itself_leaves_it_installed_and_inactive(twins: Twins) -> None:
    twins.add("ender")
    installed = twins.step("install", "ender")
    assert installed.completed is False and installed.problems == []
    assert installed.installed_after is True and "ender" not in (installed.active_after or [])
    assert installed.clicks[0].flash == {"message": "Ender is installed: now activate it.", "type": "success"}
    assert installed.clicks[0].redirect and installed.clicks[0].redirect.startswith("index.php?module=config-settings")
    assert installed.blame == "plugin"
    answer = render_plugins(installed)
    assert "the plugin ended the page itself" in answer and "ender is inactive and installed" in answer
    assert "Fix what the errors name" not in answer
    assert "settings added: `ender_enabled`" in answer and "tables created: `mybb_ender_items`" in answer
    activated = twins.step("activate", "ender")
    assert activated.completed and activated.ran == ["activate"]
    assert [(c.name, c.group, c.before, c.after) for c in activated.changes.usergroups] == [
        ("canviewprofiles", "Guests (gid 1)", "1", "0")]
    assert "usergroup permissions: `Guests (gid 1): canviewprofiles 1→0`" in render_plugins(activated)
    twins.step("deactivate", "ender")
    twins.step("uninstall", "ender")


def test_columns_in_mybbs_tables_and_an_uninstall_that_asks(twins: Twins) -> None:
    twins.add("asker")
    installed = twins.step("install", "asker")
    assert installed.completed
    added = {(c.table, c.name) for c in installed.changes.schema if c.kind == "added"}
    assert added == {("mybb_users", "asker_points"), ("mybb_posts", "asker_votes")}
    assert "columns added: `mybb_posts.asker_votes" in render_plugins(installed)
    uninstalled = twins.step("uninstall", "asker")
    asked = uninstalled.clicks[0].confirm
    assert asked and asked["message"] == "Remove every point and vote Asker keeps?"
    assert [c.method for c in uninstalled.clicks] == ["GET", "POST"]
    answer = render_plugins(uninstalled)
    assert "MyBB's uninstall link asked `Are you sure you wish to perform this action?`: answered Yes." in answer
    assert "the plugin asked `Remove every point and vote Asker keeps?`" in answer
    if uninstalled.completed:  # what SQLite's ALTER TABLE allows in the Admin CP's page decides; both alike
        assert {(c.table, c.name) for c in uninstalled.changes.schema if c.kind == "removed"} == added


def test_the_real_link_tools(twins: Twins) -> None:
    twins.add_linktools()
    installed = twins.step("install", "linktools")
    # MySQL-only SQL in its _install: on SQLite the Admin CP fails too, and the tool says it is the plugin's.
    assert installed.completed is False
    assert installed.problems and installed.problems[0].plugin_at.startswith("inc/plugins/linktools.php:")
    assert not any("MYBB_ADMIN_DIR" in p.message for p in installed.problems)
    assert installed.blame == "plugin"


def test_a_looping_install_is_stopped_at_the_limit_and_named(real_forum) -> None:
    shutil.copyfile(PLUGINS / "looper.php", real_forum.root / "inc" / "plugins" / "looper.php")
    result = workbench.run(real_forum.root, "install", "looper", php=real_forum.php, time_limit=2)
    assert result.completed is False and result.ran == ["install"]
    assert result.clicks[0].timed_out and result.clicks[0].stopped_in["function"] == "looper_install"
    answer = render_plugins(result)
    assert "`looper_install()` ran at `inc/plugins/looper.php:" in answer and "time limit (2 s)" in answer
    assert "check the database server" not in answer.lower() and "no lifecycle function" not in answer


def test_an_admin_module_that_kills_every_admin_cp_page_is_named(real_forum) -> None:
    shutil.copyfile(PLUGINS / "guarded.php", real_forum.root / "inc" / "plugins" / "guarded.php")
    module = real_forum.root / "admin" / "modules" / "guarded"
    module.mkdir()
    (module / "module_meta.php").write_text("<?php\nguarded_admin_missing_function();\n", "utf-8")
    result = workbench.run(real_forum.root, "install", "guarded", php=real_forum.php)
    assert result.completed is False and result.blame == "admin_cp"
    assert "`admin/modules/guarded/module_meta.php` (an Admin CP module) stops every Admin CP page" in result.message


def test_a_wait_php_cannot_stop_is_stopped_from_outside_and_said_so(real_forum, monkeypatch) -> None:
    shutil.copyfile(PLUGINS / "looper.php", real_forum.root / "inc" / "plugins" / "looper.php")
    # No alarm inside PHP (as without pcntl): only the outer limit can stop the click.
    monkeypatch.setattr(workbench.plugin_admin, "run_php_script", _without_alarm(workbench.plugin_admin.run_php_script))
    result = workbench.run(real_forum.root, "install", "looper", php=real_forum.php, time_limit=1)
    assert result.completed is False and "did not end within 3 s and was stopped from outside" in result.message
    assert "which plugin function was running is not known" in result.message
    assert "check the database server" not in render_plugins(result).lower()
    assert result.changes is not None and result.changes.empty


def _without_alarm(run_php_script):
    def run(root, script, data, php="php", timeout=30.0, php_settings=()):
        # A CPU-time limit far away and pcntl's alarm switched off: PHP's own limit cannot end the loop.
        return run_php_script(root, script, data, php=php, timeout=timeout,
                              php_settings=(*php_settings, "disable_functions=pcntl_alarm,set_time_limit"))
    return run


def test_snapshot_diff_names_tasks_and_usergroup_permissions(real_forum) -> None:
    from mybb_mcp.answers.commands import CLI_COMMANDS
    from mybb_mcp.answers.snapshot import render_snapshot
    from mybb_mcp.orchestration import ServerOrchestrationService

    for name in ("guarded", "ender"):
        shutil.copyfile(PLUGINS / f"{name}.php", real_forum.root / "inc" / "plugins" / f"{name}.php")
    service = ServerOrchestrationService(real_forum.config())
    assert service.forum.snapshot("save", "before").ok
    assert workbench.run(real_forum.root, "install", "guarded", php=real_forum.php).completed
    assert workbench.run(real_forum.root, "deactivate", "guarded", php=real_forum.php).completed
    workbench.run(real_forum.root, "install", "ender", php=real_forum.php)
    assert workbench.run(real_forum.root, "activate", "ender", php=real_forum.php).completed
    result = service.forum.snapshot("diff", "before")
    text = render_snapshot(result, CLI_COMMANDS)
    assert "## Tasks\n- added `Guarded cleanup` (disabled)" in text
    assert "## Usergroup permissions\n- `Guests (gid 1)`: `canviewprofiles` `1` → `0`" in text


def test_what_stops_every_admin_cp_page_while_booting_is_named(real_forum) -> None:
    shutil.copyfile(PLUGINS / "guarded.php", real_forum.root / "inc" / "plugins" / "guarded.php")
    (real_forum.root / "install").mkdir(exist_ok=True)
    (real_forum.root / "install" / "lock").unlink(missing_ok=True)
    result = workbench.run(real_forum.root, "install", "guarded", php=real_forum.php)
    assert result.completed is False and result.ran == []
    assert "The install directory (install/) still exists" in result.message
    assert [p.stage for p in result.problems] == ["MyBB's error page"]
    listed = workbench.run(real_forum.root, "list", php=real_forum.php)
    assert not listed.ok and "holds no plugin files" not in render_plugins(listed)
