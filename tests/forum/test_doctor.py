"""`doctor` on a real MyBB 1.8.37: clean when fresh; each seeded breakage found by its name, with its fix,
and gone once undone; a check that cannot run says `skipped`; status names what stops every page."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable

import pytest

from mybb_mcp.answers.commands import CLI_COMMANDS, MCP_COMMANDS
from mybb_mcp.answers.doctor import render_doctor
from mybb_mcp.forum.doctor import OK, PROBLEM, SKIPPED, WARNING, DoctorReport
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.fixtures.real_mybb import RealForum, archive_path

pytestmark = pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB release archive not found at "
                                                                    f"{archive_path()} (set MYBB_TEST_ARCHIVE)")


def doctor(forum: RealForum) -> DoctorReport:
    return ServerOrchestrationService(forum.config()).forum.doctor()


def status_of(report: DoctorReport, name: str) -> str:
    return next(f.status for f in report.findings if f.name == name)


def cli(forum: RealForum, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}
    return subprocess.run([sys.executable, "-m", "mybb_mcp.cli", *args], check=False, cwd=forum.root.parent,
                          env={**env, **forum.env()}, capture_output=True, text=True, timeout=60)


def sql(forum: RealForum, statement: str, *params: object) -> None:
    with sqlite3.connect(forum.db_file) as conn:
        conn.execute(statement, params)
    conn.close()


def test_a_fresh_forum_is_clean(real_forum: RealForum) -> None:
    report = doctor(real_forum)
    assert report.mybb_version == "1.8.37"
    unclean = [f for f in report.findings if f.status in (PROBLEM, WARNING, SKIPPED)]
    assert not unclean, render_doctor(report, CLI_COMMANDS)
    names = {f.name for f in report.findings}
    assert {"install-lock", "plugin-files", "settings-file", "theme-stylesheets", "bburl-cookies",
            "plugin-templates", "datacache", "php-extensions", "folder-modes"} <= names
    done = cli(real_forum, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("# Forum Doctor: clean") and "✓ install-lock" in done.stdout


def test_development_settings_the_tool_made_are_information(real_forum: RealForum) -> None:
    service = ServerOrchestrationService(real_forum.config())
    assert service.forum.set_mybb_error_logging(True).ok
    report = service.forum.doctor()
    dev = [f for f in report.findings if f.name == "development"]
    assert dev and dev[0].status == "info" and "expected for development" in dev[0].what
    assert not report.problems
    assert "ℹ development — MyBB's error logging is on" in render_doctor(report, CLI_COMMANDS)


PLUGIN = """<?php
if(!defined('IN_MYBB')) { die('no'); }
$plugins->add_hook('index_start', 'doctorplug_box');
function doctorplug_info() { return array('name' => 'Doctor Plug', 'compatibility' => '18*'); }
function doctorplug_box() { global $templates; eval('$box = "'.$templates->get('doctorplug_box').'";'); }
"""


def _remove_lock(forum: RealForum) -> Callable[[], None]:
    lock = forum.root / "install" / "lock"
    lock.unlink()
    return lock.touch


def _remove_plugin_file(forum: RealForum) -> Callable[[], None]:
    path = forum.add_plugin("doctorgone", "<?php\nfunction doctorgone_info() { return array(); }\n")
    text = path.read_text()
    path.unlink()
    return lambda: path.write_text(text)


def _edit_settings_file(forum: RealForum) -> Callable[[], None]:
    path = forum.root / "inc" / "settings.php"
    text = path.read_text()
    path.write_text(text.replace('$settings[\'bbname\'] = "', '$settings[\'bbname\'] = "Edited ', 1))
    return lambda: path.write_text(text)


def _remove_stylesheet(forum: RealForum) -> Callable[[], None]:
    path = forum.root / "cache" / "themes" / "theme1" / "global.css"
    data = path.read_bytes()
    path.unlink()
    return lambda: path.write_bytes(data)


def _cookie_domain(forum: RealForum) -> Callable[[], None]:
    service = ServerOrchestrationService(forum.config())
    code = "$db->update_query('settings', array('value' => '{}'), \"name='cookiedomain'\"); rebuild_settings();"
    service.workbench.eval_php(code.format("example.org"), 10)

    def undo() -> None:
        service.workbench.eval_php(code.format(""), 10)
    return undo


def _template_missing(forum: RealForum) -> Callable[[], None]:
    path = forum.add_plugin("doctorplug", PLUGIN)  # active; its _activate never added the template
    code = "$db->insert_query('templates', array('title' => 'doctorplug_box', 'template' => 'x', 'sid' => -1));"
    service = ServerOrchestrationService(forum.config())
    assert path.is_file()

    def undo() -> None:
        service.workbench.eval_php(code, 10)
    return undo


def _stale_usergroups_cache(forum: RealForum) -> Callable[[], None]:
    sql(forum, "UPDATE mybb_usergroups SET title = 'Renamed Behind The Cache' WHERE gid = 2")
    return lambda: sql(forum, "UPDATE mybb_usergroups SET title = 'Registered' WHERE gid = 2")


def _broken_active_plugin(forum: RealForum) -> Callable[[], None]:
    path = forum.add_plugin("doctorbroken", "<?php\nfunction doctorbroken_info() { return array(); }\n")
    text = path.read_text()
    path.write_text("<?php\nfunction doctorbroken_info() { return array( }\n")
    return lambda: path.write_text(text)


SEEDED = {
    "install-lock": (_remove_lock, "install/lock"),
    "plugin-files": (_remove_plugin_file, "doctorgone"),
    "settings-file": (_edit_settings_file, "rebuild_settings()"),
    "theme-stylesheets": (_remove_stylesheet, "resync_stylesheet"),
    "bburl-cookies": (_cookie_domain, "cookiedomain"),
    "plugin-templates": (_template_missing, "doctorplug_box (inc/plugins/doctorplug.php:5)"),
    "datacache": (_stale_usergroups_cache, "$cache->update_usergroups();"),
    "plugin-syntax": (_broken_active_plugin, "PHP cannot parse inc/plugins/doctorbroken.php: "),
}


@pytest.mark.parametrize("name", list(SEEDED))
def test_a_seeded_breakage_is_found_by_name_with_its_fix_and_gone_once_undone(real_forum: RealForum,
                                                                               name: str) -> None:
    seed, words = SEEDED[name]
    undo = seed(real_forum)
    report = doctor(real_forum)
    found = [f for f in report.findings if f.status == PROBLEM]
    assert [f.name for f in found] == [name], render_doctor(report, CLI_COMMANDS)
    text = render_doctor(report, CLI_COMMANDS)
    line = next(line for line in text.splitlines() if line.startswith(f"✗ {name} — "))
    assert " — Fix: " in line and words in line, line
    undo()
    again = doctor(real_forum)
    assert status_of(again, name) == OK, render_doctor(again, CLI_COMMANDS)
    assert not again.problems, render_doctor(again, CLI_COMMANDS)


def test_without_the_lock_mybb_does_not_boot_and_the_checks_that_need_it_say_skipped(real_forum: RealForum) -> None:
    (real_forum.root / "install" / "lock").unlink()
    report = doctor(real_forum)
    assert status_of(report, "datacache") == SKIPPED
    text = render_doctor(report, MCP_COMMANDS)
    assert "skipped datacache — MyBB does not boot (install-lock, above)" in text
    assert [f.name for f in report.problems] == ["install-lock"]  # one finding, its consequence inside it
    assert "every page with 503" in text
    done = cli(real_forum, "doctor")
    assert done.returncode == 1 and "✗ install-lock" in done.stdout


def test_status_names_the_missing_lock_that_stops_every_page(real_forum: RealForum) -> None:
    (real_forum.root / "install" / "lock").unlink()
    done = cli(real_forum, "status")
    assert "install" in done.stdout and "503" in done.stdout, done.stdout


def test_folders_others_may_write_are_a_warning(real_forum: RealForum) -> None:
    os.chmod(real_forum.root / "uploads", 0o777)
    report = doctor(real_forum)
    assert status_of(report, "folder-modes") == WARNING and not report.problems
    os.chmod(real_forum.root / "uploads", 0o755)
    assert status_of(doctor(real_forum), "folder-modes") == OK


def test_doctor_over_mcp_needs_no_arguments_and_refuses_unknown_ones(real_forum: RealForum,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import anyio
    from mcp import Client

    from mybb_mcp.server import server

    for key in [k for k in os.environ if k.startswith("MYBB_") and k != "MYBB_TEST_ARCHIVE"]:
        monkeypatch.delenv(key)
    for key, value in real_forum.env().items():
        monkeypatch.setenv(key, value)

    async def go() -> tuple[str, str, bool]:
        async with Client(server) as client:
            good = await client.call_tool("mybb_forum_doctor", {})
            bad = await client.call_tool("mybb_forum_doctor", {"fix": True})
            return good.content[0].text, bad.content[0].text, bool(bad.is_error)  # type: ignore[union-attr]

    good, bad, bad_error = anyio.run(go)
    assert good.startswith("# Forum Doctor: clean"), good
    assert bad_error and "`fix` is not an argument" in bad



@pytest.mark.parametrize("name", ["doctor.php", "doctor_lint.php", "reference.php"])
def test_the_php_beside_the_modules_is_valid_php(php: str, name: str) -> None:
    import mybb_mcp.forum

    path = os.path.join(os.path.dirname(mybb_mcp.forum.__file__), name)
    done = subprocess.run([php, "-l", path], check=False, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
