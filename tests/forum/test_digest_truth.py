"""The digest says "resolved" only with evidence: the same page ran again as the same role, and the code
a compile-time diagnostic names has changed. On a real MyBB 1.8.37, with plugins of the tests' own."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mybb_mcp.answers.commands import CLI_COMMANDS
from mybb_mcp.answers.digest import render_digest
from mybb_mcp.logs.digest import NEW, NOT_RECHECKED, RESOLVED, STILL_FIRING
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.fixtures.forum_requests import add_member as add_member_by_form
from tests.fixtures.forum_requests import forum_env, get, serving

MEMBER, MEMBER_PASSWORD = "dora", "Fern-Quartz-5521"

MEMBERS_ONLY_PLUGIN = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
$plugins->add_hook("global_end", "membersonly_run");
function membersonly_info() { return array("name" => "membersonly", "compatibility" => "18*"); }
function membersonly_run() {
    global $mybb;
    if(isset($_GET['shelf']) && $mybb->user['uid'] > 0) {
        throw new RuntimeException("shelf broken for members");
    }
}
"""
MEMBERS_ONLY_FIXED = MEMBERS_ONLY_PLUGIN.replace('throw new RuntimeException("shelf broken for members");', "return;")

COMPILED_PLUGIN = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
$plugins->add_hook("global_start", "compiled_run");
function compiled_info() { return array("name" => "compiled", "compatibility" => "18*"); }
function compiled_run() {
    if(isset($_GET['compiled'])) { require_once MYBB_ROOT."inc/plugins/compiled_extra.php"; }
}
"""
COMPILED_EXTRA = "<?php\ndeclare(shelving=1);\nfunction compiled_extra() { return 1; }\n"


@pytest.fixture
def running(real_forum, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ServerOrchestrationService]:
    forum_env(real_forum, monkeypatch, tmp_path, {MEMBER: MEMBER_PASSWORD})
    with serving(real_forum) as service:
        yield service


def add_member(service: ServerOrchestrationService) -> None:
    made = add_member_by_form(service, MEMBER, MEMBER_PASSWORD, "dora@example.test")
    assert made.response.page_error is None and made.flash


def fates(service: ServerOrchestrationService, cursor: str) -> dict[str, object]:
    digest = service.logs.error_digest(cursor)
    return {g.fingerprint.where: g for g in digest.groups + digest.before}


def test_a_members_error_is_not_resolved_by_a_guest(running, real_forum) -> None:
    add_member(running)
    plugin = real_forum.add_plugin("membersonly", MEMBERS_ONLY_PLUGIN)
    broken = get(running, "index.php", MEMBER, query=(("shelf", "1"),))
    assert broken.errors and "shelf broken for members" in broken.errors[0].example.message
    cursor = broken.cursor
    where = broken.errors[0].fingerprint.where

    guest = get(running, "index.php", query=(("shelf", "1"),))  # the same page, as a guest: clean
    assert guest.errors == []
    group = fates(running, cursor)[where]
    assert group.status == NOT_RECHECKED and group.recheck == [("/index.php?shelf=1", MEMBER)]
    text = render_digest(running.logs.error_digest(cursor), None)
    assert '`mybb_server_request` with `path: "index.php?shelf=1", as: "dora"`' in text, text
    assert "[resolved]" not in text

    other_query = get(running, "index.php", MEMBER, query=(("shelf", "2"),))  # the member, another page
    assert other_query.errors  # the bug is still there
    assert fates(running, cursor)[where].status == STILL_FIRING

    plugin.write_text(MEMBERS_ONLY_FIXED)
    deadline = time.monotonic() + 15  # PHP may serve the cached code for a moment after the edit
    while get(running, "index.php", MEMBER, query=(("shelf", "1"),)).errors and time.monotonic() < deadline:
        time.sleep(0.2)
    get(running, "index.php", MEMBER, query=(("shelf", "2"),))
    group = fates(running, cursor)[where]
    assert group.status == RESOLVED and group.fixed_by.endswith(f"as {MEMBER}")
    text = render_digest(running.logs.error_digest(cursor), None, CLI_COMMANDS)
    changed = text.index("## What changed")
    assert text.index("[resolved]") > changed
    assert "## Still firing" not in text or text.index("## Still firing") > text.index("[resolved]")


def test_a_compile_time_warning_stands_while_its_file_is_unchanged(running, real_forum) -> None:
    running.forum.set_mybb_error_logging(True)  # MyBB's handler keeps warnings out of PHP's log otherwise
    real_forum.add_plugin("compiled", COMPILED_PLUGIN)
    extra = real_forum.root / "inc" / "plugins" / "compiled_extra.php"
    extra.write_text(COMPILED_EXTRA)
    cursor = get(running, "index.php").cursor
    first = get(running, "index.php", query=(("compiled", "1"),))
    assert any("Unsupported declare" in g.example.message for g in first.errors), first.errors
    where = next(g.fingerprint.where for g in first.errors if "Unsupported declare" in g.example.message)
    get(running, "index.php", query=(("compiled", "1"),))  # OPcache: compiled already, PHP says nothing now
    group = fates(running, cursor)[where]
    assert group.status in (NEW, STILL_FIRING) and group.status != RESOLVED
    assert group.compile_note is not None and "has not changed" in group.compile_note

    extra.write_text("<?php\nfunction compiled_extra() { return 1; }\n")
    later = time.time() + 3  # later than the warning's whole-second stamp, as an edit a moment after would be
    os.utime(extra, (later, later))
    deadline = time.monotonic() + 15
    while get(running, "index.php", query=(("compiled", "1"),)).errors and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fates(running, cursor)[where].status == RESOLVED


NOISY_PLUGIN = """<?php
if(!defined("IN_MYBB")) { die("direct access"); }
$plugins->add_hook("global_end", "noisy_run");
function noisy_info() { return array("name" => "noisy", "compatibility" => "18*"); }
function noisy_run() {
    if(isset($_GET['n'])) {
        for($i = 0; $i < 30; $i++) { trigger_error("Old noise ".str_repeat(chr(65 + $i), 40), E_USER_WARNING); }
    }
    if(isset($_GET['fixme'])) { throw new LogicException("the one-line fix"); }
}
"""


def test_the_digest_leads_with_what_changed_within_its_budget(running, real_forum) -> None:
    running.forum.set_mybb_error_logging(True)  # MyBB's handler keeps warnings out of PHP's log otherwise
    plugin = real_forum.add_plugin("noisy", NOISY_PLUGIN)
    get(running, "index.php", query=(("n", "1"),))
    get(running, "index.php", query=(("fixme", "1"),))
    cursor = running.logs.log_cursor()
    plugin.write_text(NOISY_PLUGIN.replace('throw new LogicException("the one-line fix");', "return;"))
    deadline = time.monotonic() + 15
    while get(running, "index.php", query=(("fixme", "1"),)).errors and time.monotonic() < deadline:
        time.sleep(0.2)
    text = render_digest(running.logs.error_digest(cursor), None, budget=3000)
    assert len(text) <= 3000, len(text)
    first_item = text.index("## What changed")
    assert "the one-line fix" in text[first_item:first_item + 600]
    assert "[resolved]" in text[first_item:first_item + 600]
    assert text.count(f"- [{NOT_RECHECKED}]") == 3 and "and 27 older ones not re-checked" in text
    assert "31 error kinds below (1 resolved, 30 not re-checked)" in text
    small = render_digest(running.logs.error_digest(cursor), None, budget=1500)
    assert len(small) <= 1500 and "[resolved]" in small and "Left out to fit the answer budget" in small


def test_a_compile_time_warning_is_kept_past_the_logs_it_was_in(running, real_forum) -> None:
    running.forum.set_mybb_error_logging(True)
    real_forum.add_plugin("compiled", COMPILED_PLUGIN)
    extra = real_forum.root / "inc" / "plugins" / "compiled_extra.php"
    extra.write_text(COMPILED_EXTRA)
    first = get(running, "index.php", query=(("compiled", "1"),))
    where = next(g.fingerprint.where for g in first.errors if "Unsupported declare" in g.example.message)
    assert running.restart().success  # the log that holds it becomes server.log.1, out of the digest's range
    cursor = get(running, "index.php").cursor
    get(running, "index.php")
    group = fates(running, cursor)[where]
    assert group.status == STILL_FIRING and "has not changed" in (group.compile_note or "")
    assert "Unsupported declare 'shelving'" in render_digest(running.logs.error_digest(cursor), None)

    extra.write_text("<?php\nfunction compiled_extra() { return 1; }\n")
    later = time.time() + 3
    os.utime(extra, (later, later))
    assert where not in fates(running, cursor)  # the file changed: no longer said to stand
