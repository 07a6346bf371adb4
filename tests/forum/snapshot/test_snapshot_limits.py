"""Snapshot limits on a real MyBB: a restore while another connection holds the SQLite database waits a
bounded time, then refuses having changed nothing (the CLI exits non-zero); the size cap counts what a
snapshot stores, so a sparse upload does not block every save."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any, TypeVar

import pytest

from mybb_mcp.cli import main as cli_main
from mybb_mcp.failures import Failure
from mybb_mcp.forum.snapshot import Snapshots
from mybb_mcp.forum.snapshot.database import active_plugins
from mybb_mcp.forum.snapshot.model import SNAPSHOTS_DIR
from tests.fixtures.real_mybb import archive_path
from tests.forum.snapshot.test_snapshot import add_thread, contents, written_files

pytestmark = pytest.mark.skipif(not archive_path().is_file(), reason="MyBB release archive not found")
T = TypeVar("T")
BOUND = 60.0  # far above the 1 s wait the test sets: a call still running then waits without bound


def bounded(call: Callable[[], T], release: Callable[[], None]) -> T:
    """`call` (in this thread: the CLI sets signal handlers); fails if the lock had to be released after
    BOUND for it to answer (without a bound it would wait for ever)."""
    fired: list[bool] = []
    timer = threading.Timer(BOUND, lambda: (fired.append(True), release()))
    timer.start()
    try:
        answer = call()
    finally:
        timer.cancel()
    assert not fired, f"still waiting on the held lock after {BOUND:.0f} s"
    return answer


@pytest.fixture
def held(real_forum: Any, request: pytest.FixtureRequest) -> Iterator[sqlite3.Connection]:
    """Another connection holding the forum's database (as a page or a plugin in a long transaction)."""
    conn = sqlite3.connect(real_forum.db_file, isolation_level=None, check_same_thread=False)
    yield conn
    with closing(conn):
        if conn.in_transaction:
            conn.execute("ROLLBACK")


@pytest.mark.parametrize("lock", ["IMMEDIATE", "EXCLUSIVE"])
def test_restore_on_a_held_database_refuses_in_bounded_time_and_changes_nothing(
        real_forum: Any, held: sqlite3.Connection, lock: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("mybb_mcp.forum.snapshot.database.LOCK_TIMEOUT", 1.0)  # seam: the real 30 s takes long
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "clean").ok
    add_thread(real_forum.db_file, "Work in progress")
    before_db, before_files = contents(real_forum.db_file), written_files(real_forum.root)

    held.execute(f"BEGIN {lock}")
    held.execute("UPDATE mybb_settings SET value = value WHERE name = 'bbname'")  # a write lock, not only a read

    def release() -> None:
        held.execute("ROLLBACK")

    result = bounded(lambda: snapshots.run("restore", "clean"), release)
    assert (result.ok, result.failure) == (False, Failure.BUSY), result.message
    assert "Nothing was restored" in result.message and "locked by another connection" in result.message
    assert "for 1 s." in result.message
    assert result.automatic is None

    monkeypatch.setenv("MYBB_ROOT", str(real_forum.root))
    monkeypatch.chdir(real_forum.root.parent)
    code = bounded(lambda: cli_main(["snapshot", "restore", "clean"]), release)
    out = capsys.readouterr().out
    assert code == 1 and "Nothing was restored" in out and "nothing was changed" in out, out

    held.execute("ROLLBACK")
    assert contents(real_forum.db_file) == before_db and written_files(real_forum.root) == before_files
    assert [s.name for s in snapshots.run("list").snapshots] == ["clean"]  # no "before" copy of a no-op
    assert not [p for p in (real_forum.root.parent / SNAPSHOTS_DIR).iterdir() if p.name.startswith(".saving-")]
    assert snapshots.run("restore", "clean").ok  # released: the same restore lands


def test_a_sparse_upload_counts_what_it_takes_on_disk(real_forum: Any) -> None:
    cap = 8 * 2**20
    sparse = real_forum.root / "uploads" / "sparse.bin"
    with open(sparse, "wb") as handle:
        handle.write(b"data at the start")
        handle.truncate(64 * 2**20)  # 64 MB to `ls`, a few KB on disk
    if os.stat(sparse).st_blocks * 512 >= 2**20:
        pytest.skip("this filesystem does not keep sparse files")
    snapshots = Snapshots(real_forum.root, max_bytes=cap)
    saved = snapshots.run("save", "with-sparse")
    assert saved.ok, saved.message
    copy = real_forum.root.parent / SNAPSHOTS_DIR / "with-sparse" / "files" / "uploads" / "sparse.bin"
    assert copy.stat().st_size == 64 * 2**20 and copy.stat().st_blocks * 512 < 2**20  # stored sparse

    (real_forum.root / "uploads" / "dense.bin").write_bytes(os.urandom(9 * 2**20))  # real bytes still count
    refused = snapshots.run("save", "too-big")
    assert not refused.ok and "take more than 8 MB on disk" in refused.message, refused.message
    assert [s.name for s in snapshots.run("list").snapshots] == ["with-sparse"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_over_mcp_the_refusal_comes_within_the_call(real_forum: Any, held: sqlite3.Connection,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp import Client, types

    from mybb_mcp.server import server

    monkeypatch.setattr("mybb_mcp.forum.snapshot.database.LOCK_TIMEOUT", 1.0)  # seam: the real 30 s takes long
    for key, value in real_forum.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(real_forum.root.parent)
    assert Snapshots(real_forum.root).run("save", "clean").ok
    add_thread(real_forum.db_file, "Work in progress")
    before = contents(real_forum.db_file)
    held.execute("BEGIN IMMEDIATE")
    held.execute("UPDATE mybb_settings SET value = value WHERE name = 'bbname'")
    async with Client(server) as client:
        answer = await client.call_tool("mybb_forum_snapshot", {"action": "restore", "name": "clean"})
    held.execute("ROLLBACK")
    assert isinstance(answer.content[0], types.TextContent)
    text = answer.content[0].text
    assert answer.is_error and "Nothing was restored" in text and "nothing was changed" in text, text
    assert "did not finish" not in text  # answered, not given up on
    assert contents(real_forum.db_file) == before


@pytest.mark.parametrize("serialized", ['a:1:{a:0:{}s:1:"x";}', 'a:1:{s:6:"active";a:1:{a:0:{}s:3:"foo";}}'])
def test_a_plugins_entry_with_an_array_as_a_key_reads_as_unknown(serialized: str) -> None:
    """PHP writes only int and string keys; an array there (a datacache row not MyBB's) is 'not known', not a
    crash of the snapshot's catalog."""
    assert active_plugins(serialized) is None


def test_the_plugins_entry_mybb_writes_reads_as_its_plugins() -> None:
    assert active_plugins('a:1:{s:6:"active";a:2:{s:3:"foo";s:3:"foo";i:0;s:3:"bar";}}') == ["bar", "foo"]
    assert active_plugins("a:0:{}") == []
