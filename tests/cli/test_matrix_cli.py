"""`mybb-server matrix`: a plugin on two PHP releases in one table; bad input refused with the fix."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.fixtures.real_mybb import RealForum, archive_path
from tests.workbench.test_matrix import plugin_source

pytestmark = pytest.mark.skipif(not archive_path().is_file(), reason="MyBB archive not found")


def test_matrix_prints_one_table_and_fails_when_a_cell_fails(real_forum: RealForum, build_cache: Path,
                                                             php74: Path, php84: Path) -> None:
    real_forum.add_plugin("mxmatch", plugin_source("mxmatch"), activate=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}
    env.update({**real_forum.env(), "MYBB_CACHE_DIR": str(build_cache)})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "mybb_mcp.cli", "matrix", *args], env=env, text=True,
                              capture_output=True, timeout=300, check=False, cwd=real_forum.root.parent)

    done = run("mxmatch", "--php", "7.4,8.4", "--archive", str(archive_path()))
    assert done.returncode == 1, done.stdout + done.stderr  # a cell fails
    assert "| 7.4 (7.4.33) | 1.8.37 | ❌ fails | `inc/plugins/mxmatch.php:17`" in done.stdout, done.stdout
    assert "| 8.4 (8.4.14) | 1.8.37 | ✅ ok |" in done.stdout
    assert "cell PHP 8.4 × MyBB 1.8.37" in done.stderr and "[2/2] cell" in done.stderr
    bad = run("mxmatch", "--mybb", "1.8.29")
    assert bad.returncode == 2 and "1.8.29" in bad.stdout + bad.stderr and "1.8.37, 1.8.30" in bad.stdout + bad.stderr


def test_ctrl_c_stops_every_cell_server(real_forum: RealForum, build_cache: Path, php74: Path, php84: Path) -> None:
    real_forum.add_plugin("mxmatch", plugin_source("mxmatch"), activate=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}
    env.update({**real_forum.env(), "MYBB_CACHE_DIR": str(build_cache)})
    child = subprocess.Popen([sys.executable, "-m", "mybb_mcp.cli", "matrix", "mxmatch", "--php", "7.4,8.4,7.4",
                              "--mybb", "1.8.37,1.8.30", "--archive", str(archive_path()),
                              "--archive", str(archive_path().with_name("mybb_1830.tar.gz"))],
                             env=env, cwd=real_forum.root.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    cells = str(build_cache / "matrix" / "matrix-")

    def cell_servers() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["cmdline"]):
            if any(cells in part for part in process.info["cmdline"] or []):
                found.append(process)
        return found

    try:
        deadline = time.monotonic() + 120
        while not cell_servers() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert cell_servers(), "no cell server was seen running"
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=120)
        assert child.returncode != 0
        assert cell_servers() == []
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
