"""The matrix: a plugin on PHP 7.4, 8.2, 8.4 x MyBB 1.8.30, 1.8.37, each cell a throwaway copy of a fresh
MyBB served by php -S on 127.0.0.1. Three plugins of our own each fail exactly in the cells they should,
with file:line, and nowhere else; no server listens beyond loopback, none is left running."""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import psutil
import pytest

from mybb_mcp.answers.matrix import render_matrix
from mybb_mcp.errors import InvalidArgument
from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.workbench.matrix import MatrixCancelled, MatrixRequest, MatrixResult, MatrixRunner, plugin_files_of
from tests.fixtures.real_mybb import RealForum, archive_path
from tests.reliability.local_users import LocalUser, chown_tree

ARCHIVES = (archive_path(), archive_path().with_name("mybb_1830.tar.gz"))
needs_archives = pytest.mark.skipif(not all(a.is_file() for a in ARCHIVES), reason="MyBB 1.8.30/1.8.37 archives")

HEAD = """<?php
if(!defined("IN_MYBB"))
{
	die("Direct access not allowed.");
}

$plugins->add_hook("index_start", "NAME_index");

function NAME_info()
{
	return array("name" => "NAME", "description" => "a matrix test", "version" => "1", "compatibility" => "18*");
}

function NAME_index()
{
	global $mybb;
"""
# Line 17 of each plugin is its one line that depends on the PHP or MyBB release.
BODIES = {
    "mxmatch": "\t$kind = match((int)$mybb->user['uid']) { 0 => 'guest', default => 'member' };\n",
    "mxinterp": "\t$kind = 'guest';\n\t$said = \"a ${kind}\";\n",
    "mxnewer": "\t$value = native_unserialize('a:0:{}');\n",
}
LINES = {"mxmatch": 17, "mxinterp": 18, "mxnewer": 17}
WORDS = {
    "mxmatch": "syntax error",
    "mxinterp": "Using ${var} in strings is deprecated",
    "mxnewer": "Call to undefined function native_unserialize()",
}


def plugin_source(name: str) -> str:
    return HEAD.replace("NAME", name) + BODIES[name] + "}\n"


def failing_cells(name: str) -> set[tuple[str, str]]:
    cells = {(php, mybb) for php in ("7.4", "8.2", "8.4") for mybb in ("1.8.30", "1.8.37")}
    if name == "mxmatch":
        return {c for c in cells if c[0] == "7.4"}
    if name == "mxinterp":
        return {c for c in cells if c[0] != "7.4"}
    return {c for c in cells if c[1] == "1.8.30"}


class Watched(ServerOrchestrationService):
    """The real service, noting where each started server listens (checked while it runs)."""

    listening: ClassVar[list[str]] = []
    pids: ClassVar[list[int]] = []

    def start(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        started = super().start(*args, **kwargs)
        if started.success and started.pid:
            Watched.pids.append(started.pid)
            process = psutil.Process(started.pid)
            Watched.listening += [c.laddr.ip for c in process.net_connections("inet") if c.status == psutil.CONN_LISTEN]
        return started


@pytest.fixture
def forum(real_forum: RealForum, build_cache: Path, php74: Path, php84: Path) -> RealForum:
    return real_forum


def run(forum: RealForum, cache: Path, plugin: str, **kwargs: object) -> MatrixResult:
    config = replace(forum.config(), cache_dir=cache)
    request = MatrixRequest(plugin, ("7.4", "8.2", "8.4"), ("1.8.30", "1.8.37"), archives=ARCHIVES)
    return MatrixRunner(config, Watched, **kwargs).run(request)  # type: ignore[arg-type]


@needs_archives
@pytest.mark.parametrize("name", list(BODIES))
def test_each_plugin_fails_in_its_cells_and_nowhere_else(forum: RealForum, build_cache: Path, tmp_path: Path,
                                                         name: str) -> None:
    if name == "mxnewer":  # a plugin of the forum, by codename
        forum.add_plugin(name, plugin_source(name), activate=False)
        plugin = name
    else:  # a folder laid out like a forum root
        (tmp_path / "p" / "inc" / "plugins").mkdir(parents=True)
        (tmp_path / "p" / "inc" / "plugins" / f"{name}.php").write_text(plugin_source(name))
        plugin = str(tmp_path / "p")
    Watched.listening, Watched.pids = [], []
    progress: list[str] = []
    result = run(forum, build_cache, plugin, progress=lambda message, done, total: progress.append(message))
    assert len(result.cells) == 6 and result.parallel >= 1
    place = f"inc/plugins/{name}.php:{LINES[name]}"
    failing = failing_cells(name)
    for cell in result.cells:
        if (cell.php, cell.mybb) in failing:
            assert cell.verdict in ("errors", "fails") and cell.errors, cell
            assert cell.errors[0].place == place and WORDS[name] in cell.errors[0].message, cell
        else:
            assert cell.verdict == "ok" and not cell.errors, cell
        assert "deactivate: failed" not in cell.steps
        # MyBB 1.8.30's own deprecations on PHP 8.x are counted apart, never blamed on the plugin.
        assert not [e for e in cell.errors if "dynamic property" in e.message], cell
        if cell.mybb == "1.8.30" and cell.php != "7.4" and cell.verdict != "fails":
            assert cell.core_entries > 0 and "dynamic property" in " ".join(cell.core_kinds), cell
    answer = render_matrix(result)
    assert len(answer) <= 8_000
    assert answer.count(f"`{place}`") >= len(failing), answer
    assert sum(f"PHP {c.php} × MyBB {c.mybb}" in m for c in result.cells for m in progress) == 6  # per cell
    # Every server listened on loopback only, and none is left.
    assert len(Watched.pids) == 6 and Watched.listening and set(Watched.listening) == {"127.0.0.1"}
    assert not [pid for pid in Watched.pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_bad_input_is_refused_before_anything_is_made(forum: RealForum, build_cache: Path) -> None:
    config = replace(forum.config(), cache_dir=build_cache)
    for request, words in (
        (MatrixRequest("nosuchplugin", ("8.4",)), "No plugin nosuchplugin"),
        (MatrixRequest("x", ("9.9",)), "9.9"),
        (MatrixRequest("x", (), ("1.8.29",)), "1.8.29"),
        (MatrixRequest("x", pages=("../etc/passwd",)), "not a path inside the forum"),
    ):
        with pytest.raises(InvalidArgument) as refused:
            MatrixRunner(config, Watched).run(request)
        assert words in refused.value.message


@needs_archives
def test_a_cancelled_matrix_stops_every_server(forum: RealForum, build_cache: Path) -> None:
    forum.add_plugin("mxnewer", plugin_source("mxnewer"), activate=False)
    Watched.listening, Watched.pids = [], []
    cancel = threading.Event()

    def progress(message: str, done: int, total: int) -> None:
        if done >= 1:
            cancel.set()  # as MCP's cancel or Ctrl-C does, once the first cell ended

    with pytest.raises(MatrixCancelled):
        run(forum, build_cache, "mxnewer", progress=progress, cancel=cancel)
    assert Watched.pids and len(Watched.pids) < 6
    assert not [pid for pid in Watched.pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_a_plugin_folder_another_user_could_write_is_never_run(real_forum: RealForum, other_user: LocalUser,
                                                               shared_dir: Path) -> None:
    """A prompt-injected agent names a folder another local user planted: its PHP would run as us."""
    planted = shared_dir / "planted"
    (planted / "inc" / "plugins").mkdir(parents=True)
    (planted / "inc" / "plugins" / "evil.php").write_text("<?php system('id');\n")
    chown_tree(planted, other_user)
    with pytest.raises(InvalidArgument) as refused:
        plugin_files_of(real_forum.config(), str(planted))
    assert "evil.php is not run" in refused.value.message and other_user.name in refused.value.message
    mine = shared_dir / "mine"
    shutil.copytree(planted, mine)
    chown_tree(mine, LocalUser("me", os.geteuid(), os.getegid()))
    assert plugin_files_of(real_forum.config(), str(mine))[0] == "evil"  # the same files of ours are taken
    (mine / "inc" / "plugins" / "evil.php").chmod(0o666)
    with pytest.raises(InvalidArgument) as writable:
        plugin_files_of(real_forum.config(), str(mine))
    assert "other users may write to it" in writable.value.message
