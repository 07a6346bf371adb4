"""The workbench on a real MyBB forum (SQLite, made by the product's installer): read-only SQL whatever
is sent, members by MyBB's UserDataHandler who can log in at once, templates changed by MyBB's
find_replace_templatesets after a dry run, PHP inside the booted forum with its limits. The CLI runs as a
person runs it (a subprocess)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mybb_mcp.forum.requests import PageRequest
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.workbench.sql import SqlRefused
from tests.fixtures.real_mybb import RealForum, archive_path

pytestmark = pytest.mark.skipif(not archive_path().is_file(),
                                reason=f"MyBB release archive not found at {archive_path()} (set MYBB_TEST_ARCHIVE)")

# Every way out of read-only the issue names, and a few more; each must be refused by SQLite itself.
ESCAPES = [
    "DELETE FROM mybb_users",
    "UPDATE mybb_settings SET value = 'x' WHERE name = 'bbname'",
    "INSERT INTO mybb_users (username) VALUES ('x')",
    "WITH gone AS (SELECT uid FROM mybb_users) DELETE FROM mybb_users WHERE uid IN (SELECT uid FROM gone)",
    "DROP TABLE mybb_users",
    "CREATE TABLE mybb_evil (x)",
    "ATTACH DATABASE '{dir}/attached.db' AS evil",
    "VACUUM INTO '{dir}/copy.db'",
    "PRAGMA writable_schema = 1",
    "PRAGMA user_version = 7",
    "PRAGMA journal_mode = DELETE",
    "SELECT load_extension('{dir}/evil.so')",
    "SELECT 1; DELETE FROM mybb_users",
    "BEGIN IMMEDIATE",
]


def fingerprint(db_file: Path) -> str:
    return hashlib.sha256(db_file.read_bytes()).hexdigest()


def cli(forum: RealForum, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}
    return subprocess.run([sys.executable, "-m", "mybb_mcp.cli", *args], cwd=forum.root.parent,
                          env={**env, **forum.env()}, capture_output=True, text=True, timeout=60)


def service(forum: RealForum) -> ServerOrchestrationService:
    return ServerOrchestrationService(forum.config())


def test_sql_reads_with_the_total_and_what_was_left_out(real_forum: RealForum) -> None:
    answer = service(real_forum).workbench.sql("SELECT tid, title FROM mybb_templates ORDER BY tid", 5)
    assert answer.columns == ["tid", "title"] and len(answer.rows) == 5
    assert answer.total > 900 and not answer.total_is_lower_bound
    done = cli(real_forum, "sql", "SELECT tid, title, template FROM mybb_templates ORDER BY tid", "--limit", "3")
    assert done.returncode == 0, done.stderr
    assert f"# SQL Result: {answer.total:,} rows" in done.stdout
    assert f"{answer.total - 3:,} more rows not shown" in done.stdout and "OFFSET 3" in done.stdout
    assert "Values longer than 200 characters are cut" in done.stdout


@pytest.mark.parametrize("sql", ESCAPES)
def test_sql_that_writes_or_escapes_is_refused_by_sqlite_and_changes_nothing(real_forum: RealForum, sql: str) -> None:
    folder = real_forum.db_file.parent
    before = fingerprint(real_forum.db_file)
    with pytest.raises(SqlRefused) as refused:
        service(real_forum).workbench.sql(sql.format(dir=folder), 10)
    assert "Nothing was" in refused.value.message and refused.value.hint
    assert fingerprint(real_forum.db_file) == before
    assert not [p for p in folder.iterdir() if p.name in ("attached.db", "copy.db")]
    assert not Path(str(real_forum.db_file) + "-journal").exists()


def test_the_refusal_names_what_sqlite_refused(real_forum: RealForum) -> None:
    svc = service(real_forum)
    for sql, named in [("VACUUM INTO '/tmp/never.db'", "ATTACH"), ("PRAGMA writable_schema=1", "writable_schema"),
                       ("SELECT load_extension('x')", "load_extension"),
                       ("DELETE FROM mybb_users", "DELETE on mybb_users"),
                       ("SELECT 1; SELECT 2", "one statement")]:
        with pytest.raises(SqlRefused) as refused:
            svc.workbench.sql(sql, 5)
        assert named in refused.value.message, refused.value.message
    done = cli(real_forum, "sql", "DELETE FROM mybb_users")
    assert done.returncode == 1 and "Refused by SQLite: DELETE on mybb_users" in done.stdout


def test_describe_a_table_with_or_without_the_prefix(real_forum: RealForum) -> None:
    desc = service(real_forum).workbench.describe_table("users")
    assert desc.table == "mybb_users" and desc.rows == 1
    names = {c.name: c for c in desc.columns}
    assert names["uid"].key == "PRI" and names["username"].type.startswith("varchar")
    assert names["postnum"].default == "'0'"
    done = cli(real_forum, "sql", "--describe", "mybb_settings")
    assert done.returncode == 0 and "# Table mybb_settings" in done.stdout and "| `name` |" in done.stdout
    missing = cli(real_forum, "sql", "--describe", "user")
    assert missing.returncode == 1 and "No Such Table" in missing.stdout and "mybb_users" in missing.stdout


def test_a_member_and_a_moderator_log_in_at_once(real_forum: RealForum) -> None:
    svc = service(real_forum)
    added = svc.workbench.add_member("alice", "member", None)
    assert added.member.usergroup == 2 and added.generated_password
    done = cli(real_forum, "members", "add", "mod one", "--role", "moderator", "--password", "s3cret-pw")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "s3cret-pw" not in done.stdout and "mode 0600" in done.stdout
    creds = real_forum.config().credentials_file
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert json.loads(creds.read_text())["members"]["mod one"] == "s3cret-pw"
    # MyBB's own handler made them: hashed password, groups, the stats cache counting them.
    with sqlite3.connect(real_forum.db_file) as conn:
        rows = dict(conn.execute("SELECT username, usergroup FROM mybb_users").fetchall())
        hashed = conn.execute("SELECT password, salt FROM mybb_users WHERE username = 'mod one'").fetchone()
    assert rows == {"admin": 4, "alice": 2, "mod one": 3}
    assert hashed[0] != "s3cret-pw" and len(hashed[0]) == 32 and hashed[1]
    listed = svc.workbench.list_members()
    assert {m.username: m.password_kept for m in listed.members} == {"admin": False, "alice": True, "mod one": True}
    try:
        assert svc.start().success
        for who in ("alice", "mod one"):
            page = svc.forum.request_page(PageRequest(path="usercp.php", role=who))
            assert page.ok and page.response is not None and page.response.status == 200, page
            assert page.response.page_error is None, page.response.page_error
            assert "action=logout" in page.response.body and f">{who}</a>" in page.response.body
        modcp = svc.forum.request_page(PageRequest(path="modcp.php", role="mod one",
                                                   contains="Moderator Control Panel"))
        assert modcp.ok and modcp.contains_found == "text", modcp.response.page_error if modcp.response else modcp
        refused = svc.forum.request_page(PageRequest(path="modcp.php", role="alice"))
        assert refused.response is not None and refused.response.page_error is not None
    finally:
        svc.stop(force=True)


def test_a_member_mybb_refuses_changes_nothing(real_forum: RealForum) -> None:
    svc = service(real_forum)
    svc.workbench.add_member("bob", "member", None)
    done = cli(real_forum, "members", "add", "bob")
    assert done.returncode == 1 and "MyBB refused the member" in done.stdout and "Nothing was added" in done.stdout
    bad = cli(real_forum, "members", "add", "a<b")
    assert bad.returncode == 2 and "not a MyBB user name" in bad.stderr
    with sqlite3.connect(real_forum.db_file) as conn:
        assert conn.execute("SELECT COUNT(*) FROM mybb_users").fetchone()[0] == 2


def test_template_get_and_a_dry_run_before_the_change(real_forum: RealForum) -> None:
    svc = service(real_forum)
    view = svc.workbench.get_template("postbit_author_user")
    assert [(c.sid, c.modified) for c in view.copies] == [(-2, False)]
    before = fingerprint(real_forum.db_file)
    dry = cli(real_forum, "templates", "replace", "postbit_author_user", "{$lang->postbit_posts}",
              "{$lang->postbit_posts} [x]")
    assert dry.returncode == 0, dry.stderr
    assert "Dry Run, 1 Set(s) Would Change" in dry.stdout and "create a copy from the master" in dry.stdout
    assert "+\t{$lang->postbit_posts} [x] {$post['postnum']}<br />" in dry.stdout
    assert fingerprint(real_forum.db_file) == before
    done = svc.workbench.replace_in_template("postbit_author_user", "{$lang->postbit_posts}",
                                             "{$lang->postbit_posts} [x]", None, True)
    assert done.applied and [c.sid for c in done.changes] == [1]
    after = svc.workbench.get_template("postbit_author_user")
    assert [(c.sid, c.modified) for c in after.copies] == [(-2, False), (1, True)]
    assert "{$lang->postbit_posts} [x] {$post['postnum']}" in after.copies[1].template
    # Again: the set's own copy is now what would change; a text in no copy changes nothing.
    again = svc.workbench.replace_in_template("postbit_author_user", "[x]", "[y]", None, False)
    assert [(c.sid, c.action) for c in again.changes] == [(1, "update")] and not again.applied
    nothing = cli(real_forum, "templates", "replace", "postbit_author_user", "no such text", "x", "--apply")
    assert nothing.returncode == 0 and "Nothing To Change" in nothing.stdout
    got = cli(real_forum, "templates", "get", "postbit_author_user")
    assert "| Default Templates (1) | customised copy | yes |" in got.stdout


def test_php_runs_inside_the_forum_with_bounded_answers(real_forum: RealForum) -> None:
    done = cli(real_forum, "php", "echo 'out'; trigger_error('careful', E_USER_WARNING); "
                                  "return [$mybb->settings['bbname'], $db->table_prefix];")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "'MyBB Test Forum'" in done.stdout and "'mybb_'" in done.stdout
    assert "out" in done.stdout and "user warning: careful (your code line 1)" in done.stdout
    big = service(real_forum).workbench.eval_php("echo str_repeat('x', 100000); return str_repeat('y', 100000);", 10)
    assert len(big.output) < 9000 and "100,000 characters in all" in big.output
    assert big.return_value is not None and len(big.return_value) < 9000
    threw = cli(real_forum, "php", "throw new RuntimeException('boom');")
    assert threw.returncode == 1 and "RuntimeException: boom" in threw.stdout


@pytest.mark.parametrize("code, limit", [
    ("while (true) {}", "2 s"),  # PHP's own limit, or our kill
    ("sleep(30);", "did not finish within 2 s"),
    ("$a = []; while (true) { $a[] = str_repeat('x', 1 << 20); }", "memory limit"),
])
def test_a_snippet_that_loops_or_eats_memory_ends_at_its_limit(real_forum: RealForum, code: str, limit: str) -> None:
    started = time.monotonic()
    result = service(real_forum).workbench.eval_php(code, 2)
    assert time.monotonic() - started < 10
    assert not result.finished and result.stopped is not None and limit in result.stopped, result
    assert service(real_forum).workbench.eval_php("return 1;", 5).return_value == "1"
