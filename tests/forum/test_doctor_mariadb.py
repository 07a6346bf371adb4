"""The doctor and the reference on a forum made by init on MariaDB (the tests' private server): clean when
fresh, a stale datacache found there too, templates and settings read through MyBB's own code on MySQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mybb_mcp.answers.commands import CLI_COMMANDS
from mybb_mcp.answers.doctor import render_doctor
from mybb_mcp.config import Config
from mybb_mcp.forum.doctor import PROBLEM, SKIPPED, WARNING
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.orchestration.init import InitOptions
from tests.conftest import free_port
from tests.fixtures.mariadb import MariaDB
from tests.fixtures.real_mybb import archive_path

pytestmark = [pytest.mark.mariadb,
              pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB release archive not found at "
                                                                       f"{archive_path()} (set MYBB_TEST_ARCHIVE)")]


@pytest.fixture
def forum(tmp_path: Path, php: str,
          mariadb: MariaDB) -> Iterator[tuple[ServerOrchestrationService, MariaDB]]:
    mariadb.create_forum_database("doctor", "docuser", "doc-pass", with_settings_table=False)
    svc = ServerOrchestrationService(Config(mybb_root=tmp_path / "site" / "TestForum", php=php, port=free_port()))
    url = f"mysql://docuser:doc-pass@127.0.0.1:{mariadb.port}/doctor?prefix=dc_"
    result = svc.init_forum(InitOptions(source=str(archive_path()), database_url=url))
    assert result.success, (result.message, result.hint)
    yield svc, mariadb
    svc.stop(force=True)


def test_doctor_and_reference_on_mysql(forum: tuple[ServerOrchestrationService, MariaDB]) -> None:
    svc, server = forum
    report = svc.forum.doctor()
    unclean = [f for f in report.findings if f.status in (PROBLEM, WARNING, SKIPPED)]
    assert not unclean, render_doctor(report, CLI_COMMANDS)
    assert next(f for f in report.findings if f.name == "database").what.startswith("MariaDB")
    conn = server.connect("doctor")
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE dc_usergroups SET title = 'Renamed Behind The Cache' WHERE gid = 2")
        conn.commit()
    finally:
        conn.close()
    assert [f.name for f in svc.forum.doctor().problems] == ["datacache"]
    answer = svc.forum.reference(None, "postbit")
    assert answer.hooks and answer.templates and answer.templates[0].sets == ("master (-2)",)
    assert svc.forum.reference("setting", "bbname").settings[0].group == "details"
