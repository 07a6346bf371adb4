"""The record of who sent the tool's exchanges: appended, private, never through a link, bounded."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timezone
from pathlib import Path

from mybb_mcp.forum import request_roles


def test_roles_are_found_by_port_and_time_and_unknown_otherwise(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    request_roles.record(sessions, [40001, 40002], "dora", at=1000.0)
    request_roles.record(sessions, [40001], "guest", at=2000.0)  # the port taken again later
    assert stat.S_IMODE(sessions.stat().st_mode) == 0o700
    assert stat.S_IMODE(request_roles.journal_path(sessions).stat().st_mode) == 0o600
    role_of = request_roles.RoleOf(request_roles.read(sessions))

    def stamp(t: float) -> datetime:
        return datetime.fromtimestamp(t, timezone.utc)

    assert role_of(40001, stamp(1000)) == "dora" and role_of(40001, stamp(2000)) == "guest"
    assert role_of(40001, stamp(1500)) is None and role_of(40003, stamp(1000)) is None and role_of(None, None) is None


def test_a_journal_behind_a_link_is_neither_followed_nor_believed(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    sessions.mkdir(mode=0o700)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text('[1,1000.0,"admin"]\n')
    request_roles.journal_path(sessions).symlink_to(elsewhere)
    assert request_roles.read(sessions) == []
    try:
        request_roles.record(sessions, [2], "guest")
    except OSError:
        pass
    assert elsewhere.read_text() == '[1,1000.0,"admin"]\n'


def test_the_journal_keeps_its_newest_records(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    for start in range(0, 24_000, 1000):
        request_roles.record(sessions, range(start, start + 1000), "guest", at=float(start))
    kept = request_roles.read(sessions)
    assert len(kept) <= request_roles.MAX_RECORDS + 1000
    assert kept[-1].port == 23_999
    assert os.path.getsize(request_roles.journal_path(sessions)) <= request_roles.MAX_JOURNAL_BYTES
