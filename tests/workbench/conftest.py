"""The browser tests' fixtures (test_browser.py, test_browser_warm.py): each test's own Chromiums, and the
forum served with a member to log in as. A module asks for `own_chromiums` with `pytest.mark.usefixtures`."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.workbench import chromium as chromium_module
from tests.fixtures.forum_requests import forum_env
from tests.fixtures.forum_requests import serving as served

MEMBER, MEMBER_PASSWORD = "browsertester", "Browser-Pass-123"

MARK = "BROWSER_TEST_MARK"


@pytest.fixture
def own_chromiums(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's Chromium processes carry a mark in their environment, and the profiles the service makes
    go to a (short: Chromium puts a socket in it) folder of the test's own: other tests running at the same
    time (pytest -n) never count."""
    monkeypatch.setenv(MARK, uuid.uuid4().hex)
    folder = Path(tempfile.mkdtemp(prefix="mybb-browser-test-"))
    monkeypatch.setattr(chromium_module, "SHM", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def chromium_processes() -> list[psutil.Process]:
    """This test's Chromium processes still running (zombies aside)."""
    found = []
    for process in psutil.process_iter(["name", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE or "chrom" not in (process.info["name"] or ""):
            continue
        with contextlib.suppress(psutil.Error):
            if process.environ().get(MARK) == os.environ[MARK]:
                found.append(process)
    return found


def profiles() -> list[Path]:
    """The profiles left in this test's folder."""
    return list(Path(chromium_module.SHM).glob("mybb-mcp-chromium-*"))


@pytest.fixture
def serving(real_forum: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ServerOrchestrationService]:
    forum_env(real_forum, monkeypatch, tmp_path, {MEMBER: MEMBER_PASSWORD})
    with served(real_forum) as service:
        yield service
