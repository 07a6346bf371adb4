"""Issue 18, the second hostile review: a forum made by `init` is no door to root.

Each test's name starts with the issue's item number (`test_1_...` is item 1). Tests that act as a
second local user create one (root only) and skip with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mybb_mcp.config import Config, load_config
from mybb_mcp.errors import ConfigError, InvalidArgument
from mybb_mcp.forum.credentials import read_credentials
from mybb_mcp.forum.dev_mode import _load_remembered
from mybb_mcp.forum.folder_modes import open_folders
from mybb_mcp.forum.install import InstallError, UnpackLimits, unpack_source
from mybb_mcp.forum.sessions import LoginProblem, credentials_file, credentials_for
from mybb_mcp.forum.snapshot import Snapshots
from mybb_mcp.forum.snapshot.model import validate_name
from mybb_mcp.forum.source import resolve_source
from mybb_mcp.orchestration import LogQueryOptions, ServerOrchestrationService
from tests.fixtures.real_mybb import MybbTemplate, RealForum, archive_path
from tests.reliability.local_users import LocalUser
from tests.reliability.test_security_visitor import (
    forged_lines,
    get,
    logged,
    post,
    query,
    status_of,
)

NO_ARCHIVE = f"MyBB release archive not found at {archive_path()} (set MYBB_TEST_ARCHIVE)"


def _writable_by_others(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            path = Path(dirpath) / name
            info = os.lstat(path)
            if not stat.S_ISLNK(info.st_mode) and info.st_mode & 0o022:
                found.append(f"{path.relative_to(root)} {stat.filemode(info.st_mode)}")
    return found


# ----------------------------------------------------------------------------- 1: forum folders


def test_1_a_forum_made_by_the_installer_has_nothing_others_may_write(mybb_template: MybbTemplate) -> None:
    assert _writable_by_others(mybb_template.root) == []
    for folder in ("cache", "cache/themes", "uploads", "uploads/avatars"):
        info = os.stat(mybb_template.root / folder)
        assert info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) == 0o755, folder


def test_1_the_forum_still_writes_its_cache_and_uploads_as_its_owner(real_forum: RealForum) -> None:
    """0755 is enough: php -S runs as the owner of the folders MyBB writes."""
    service = ServerOrchestrationService(real_forum.config())
    try:
        assert service.start().success
        for folder in ("cache", "uploads", "uploads/avatars"):
            assert os.access(real_forum.root / folder, os.W_OK)
        with urllib.request.urlopen(real_forum.url + "/index.php", timeout=30) as response:
            assert response.status == 200
    finally:
        service.stop(force=True)


def test_1_another_user_cannot_plant_php_in_uploads(mybb_template: MybbTemplate, other_user: LocalUser,
                                                     shared_dir: Path) -> None:
    forum = shared_dir / "forum"
    shutil.copytree(mybb_template.root, forum, symlinks=True)  # modes kept, as init left them
    planted = forum / "uploads" / "x.php"
    result = other_user.run(["/usr/bin/touch", str(planted)], env={"PATH": "/usr/bin:/bin"}, cwd=Path("/"))
    assert result.returncode != 0 and not planted.exists(), result


def test_1_status_warns_about_a_forum_folder_others_may_write(real_forum: RealForum) -> None:
    (real_forum.root / "uploads").chmod(0o777)
    (real_forum.root / "cache").chmod(0o775)
    status = ServerOrchestrationService(real_forum.config()).get_status()
    warning = [w for w in status.warnings if "Other local users may write" in w]
    assert len(warning) == 1, status.warnings
    assert "cache" in warning[0] and "uploads" in warning[0] and f"chmod -R go-w {real_forum.root}" in warning[0]
    assert open_folders(real_forum.root) == ["cache", "uploads"]
    (real_forum.root / "uploads").chmod(0o755)
    (real_forum.root / "cache").chmod(0o755)
    assert not [w for w in ServerOrchestrationService(real_forum.config()).get_status().warnings
                if "Other local users may write" in w]


# ----------------------------------------------------------------------------- 2: the installer window


# Round 3 replaced the installer's private php -S with MyBB's installer run in the PHP CLI: there is no
# installer port left to probe (test_2_init_succeeds_while_another_user_races_for_the_installer below,
# and tests/reliability/test_security_round3_init.py).


# ----------------------------------------------------------------------------- 3: safe reads beside the forum

BOUND = 10.0  # seconds: far above a read that does not block, far below a hang


def _bounded(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run `call` in a thread; fail (and unblock it) if it has not returned within BOUND seconds."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = call(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(BOUND)
    return thread, box


def _release(fifo: Path) -> None:
    """Open the FIFO's other end so a reader blocked on it returns (the test's cleanup, before the fix)."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.fixture
def fifo_config(tmp_path: Path) -> Iterator[tuple[Config, list[Path]]]:
    root = tmp_path / "repo" / "TestForum"
    root.mkdir(parents=True)
    planted: list[Path] = []
    yield Config(mybb_root=root), planted
    for fifo in planted:
        _release(fifo)


def _plant_fifo(path: Path, planted: list[Path]) -> Path:
    os.mkfifo(path, 0o666)
    planted.append(path)
    return path


def test_3_a_fifo_as_the_credentials_file_does_not_hang_an_admin_login(
        fifo_config: tuple[Config, list[Path]], tmp_path: Path) -> None:
    config, planted = fifo_config
    _plant_fifo(credentials_file(config), planted)
    # With the password in the environment, and without.
    thread, box = _bounded(credentials_for, "admin", config, {"MYBB_ADMIN_PASSWORD": "pw"}, tmp_path)
    assert not thread.is_alive(), "credentials_for blocked on a FIFO at the credentials file"
    assert box["value"].password == "pw"  # type: ignore[attr-defined]
    thread, box = _bounded(credentials_for, "admin", config, {}, tmp_path)
    assert not thread.is_alive(), "credentials_for blocked on a FIFO at the credentials file"
    assert isinstance(box.get("error"), LoginProblem)
    thread, box = _bounded(read_credentials, config.credentials_file)
    assert not thread.is_alive() and box == {"value": None}


def test_3_a_fifo_as_the_remembered_settings_does_not_hang(fifo_config: tuple[Config, list[Path]]) -> None:
    config, planted = fifo_config
    fifo = _plant_fifo(config.repo_root / "remembered.json", planted)
    thread, box = _bounded(_load_remembered, fifo, config.mybb_root)
    assert not thread.is_alive() and box == {"value": None}


def test_3_a_fifo_as_a_snapshot_manifest_is_refused_at_once(real_forum: RealForum) -> None:
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "first").ok
    manifest = snapshots.storage / "first" / "snapshot.json"
    manifest.unlink()
    planted = [_plant_fifo(manifest, [])]
    try:
        for action in ("restore", "diff", "list"):
            thread, box = _bounded(snapshots.run, action, None if action == "list" else "first")
            assert not thread.is_alive(), f"{action} blocked on a FIFO as snapshot.json"
            if action != "list":
                assert not box["value"].ok and "not a regular file" in box["value"].message, box  # type: ignore[attr-defined]
    finally:
        for fifo in planted:
            _release(fifo)


def test_3_over_mcp_a_planted_fifo_leaves_every_call_answering(real_forum: RealForum, tmp_path: Path) -> None:
    """A FIFO at the credentials file: the admin request answers, and the call after it too."""
    config = real_forum.config()
    planted = [_plant_fifo(config.credentials_file, [])]
    service = ServerOrchestrationService(config)
    try:
        assert service.start().success
        env = {"MYBB_ADMIN_PASSWORD": real_forum.admin_password, "MYBB_ADMIN_USER": real_forum.admin_user}
        thread, box = _bounded(credentials_for, "admin", config, env, tmp_path)
        assert not thread.is_alive() and box["value"].password == real_forum.admin_password  # type: ignore[attr-defined]
        thread, box = _bounded(service.get_status)
        assert not thread.is_alive() and box["value"].running  # type: ignore[attr-defined]
    finally:
        service.stop(force=True)
        for fifo in planted:
            _release(fifo)


# ----------------------------------------------------------------------------- 4: snapshots


def _tamper(snapshots: Snapshots, name: str, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    manifest = snapshots.storage / name / "snapshot.json"
    meta = json.loads(manifest.read_text())
    change(meta)
    manifest.write_text(json.dumps(meta))


@pytest.mark.parametrize("key", ["cache/..", "uploads/../inc", "/etc", "cache/./x", "cache//x", "inc/../../x",
                                 "admin", "../outside"])
def test_4_a_tampered_manifest_key_is_refused_before_anything_is_touched(real_forum: RealForum, key: str) -> None:
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "s").ok
    _tamper(snapshots, "s", lambda meta: meta["dirs"].__setitem__(key, 0o777))
    before = {p: os.lstat(p).st_mode for p in (real_forum.root, *real_forum.root.iterdir())}
    restored = snapshots.run("restore", "s")
    assert not restored.ok and "manifest" in restored.message and repr(key)[:40] in restored.message, restored.message
    assert {p: os.lstat(p).st_mode for p in (real_forum.root, *real_forum.root.iterdir())} == before
    assert (real_forum.root / "index.php").is_file()
    assert not [s for s in snapshots.run("list").snapshots if s.automatic]  # refused before the automatic save


def test_4_a_tampered_file_key_is_refused_too(real_forum: RealForum) -> None:
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "s").ok
    _tamper(snapshots, "s", lambda meta: meta["files"].__setitem__("cache/../index.php",
                                                                  {"size": 1, "mtime_ns": 1, "mode": 0o666}))
    index = (real_forum.root / "index.php").read_bytes()
    assert not snapshots.run("restore", "s").ok
    assert (real_forum.root / "index.php").read_bytes() == index


def test_4_a_manifest_without_a_table_of_files_is_a_failure_of_diff_not_a_crash(real_forum: RealForum) -> None:
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "s").ok
    _tamper(snapshots, "s", lambda meta: meta.__setitem__("files", ["inc/config.php"]))
    diff = snapshots.run("diff", "s")
    assert not diff.ok and "holds no table of files" in diff.message, diff.message


def test_4_a_manifest_without_a_list_of_tables_is_refused_before_anything_is_touched(real_forum: RealForum) -> None:
    """The tables it names decide, on MySQL, which tables the restore drops: another shape touches nothing."""
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "s").ok
    _tamper(snapshots, "s", lambda meta: meta.__setitem__("tables", "mybb_users"))
    settings = (real_forum.root / "inc" / "settings.php").read_bytes()
    (real_forum.root / "inc" / "settings.php").write_bytes(settings + b"\n")  # a change the restore would undo
    database = real_forum.db_file.read_bytes()
    restored = snapshots.run("restore", "s")
    assert not restored.ok and "holds no list of tables" in restored.message, restored.message
    assert (real_forum.root / "inc" / "settings.php").read_bytes() == settings + b"\n"
    assert real_forum.db_file.read_bytes() == database
    assert not [s for s in snapshots.run("list").snapshots if s.automatic]  # refused before the automatic save


def test_4_restore_never_makes_a_folder_others_may_write(real_forum: RealForum) -> None:
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "s").ok
    _tamper(snapshots, "s", lambda meta: meta["dirs"].update({"uploads": 0o777, "uploads/avatars": 0o4777}))
    assert snapshots.run("restore", "s").ok
    for folder in ("uploads", "uploads/avatars"):
        assert stat.S_IMODE(os.stat(real_forum.root / folder).st_mode) == 0o755, folder


def test_4_a_symlinked_folder_on_the_way_is_refused(real_forum: RealForum, tmp_path: Path) -> None:
    snapshots = Snapshots(real_forum.root)
    (real_forum.root / "uploads" / "sub").mkdir()
    (real_forum.root / "uploads" / "sub" / "a.txt").write_text("a")
    assert snapshots.run("save", "s").ok
    shutil.rmtree(real_forum.root / "uploads" / "sub")
    outside = tmp_path / "outside"
    outside.mkdir()
    (real_forum.root / "uploads" / "sub").symlink_to(outside)
    restored = snapshots.run("restore", "s")
    assert not restored.ok and "symbolic link" in restored.message
    assert list(outside.iterdir()) == []


def _deep_chain(top: Path, depth: int) -> None:
    """`depth` nested folders below `top`, made relative to a descriptor (paths this long pass PATH_MAX)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def _remove_chain(top: Path) -> None:
    """Remove the chain below `top` one level at a time (shutil.rmtree recurses, and would crash)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while os.path.lexists(top / "d"):
            if os.path.lexists(top / "d" / "d"):
                os.rename("d/d", "n", src_dir_fd=fd, dst_dir_fd=fd)
                os.rmdir("d", dir_fd=fd)
                os.rename("n", "d", src_dir_fd=fd, dst_dir_fd=fd)
            else:
                os.rmdir("d", dir_fd=fd)
    finally:
        os.close(fd)


def test_4_a_deep_folder_chain_is_refused_with_a_message_not_a_crash(real_forum: RealForum,
                                                                     request: pytest.FixtureRequest) -> None:
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "s").ok
    _deep_chain(real_forum.root / "uploads", 1200)
    request.addfinalizer(lambda: _remove_chain(real_forum.root / "uploads"))
    for action in ("save", "restore", "diff"):
        result = snapshots.run(action, "t" if action == "save" else "s")
        assert not result.ok and "more than 64 folders deep" in result.message, (action, result.message)
    _remove_chain(real_forum.root / "uploads")


def test_4_sparse_files_stay_sparse_and_the_total_is_capped(real_forum: RealForum) -> None:
    big = real_forum.root / "uploads" / "sparse.bin"
    with open(big, "wb") as handle:
        handle.truncate(256 * 2**20)
        handle.seek(100 * 2**20)
        handle.write(b"data in the middle")
    snapshots = Snapshots(real_forum.root)
    assert snapshots.run("save", "s").ok
    copy = snapshots.storage / "s" / "files" / "uploads" / "sparse.bin"
    assert copy.stat().st_size == 256 * 2**20 and copy.stat().st_blocks * 512 < 8 * 2**20
    big.unlink()
    assert snapshots.run("restore", "s").ok
    assert big.stat().st_size == 256 * 2**20 and big.stat().st_blocks * 512 < 8 * 2**20
    with open(big, "rb") as handle:
        handle.seek(100 * 2**20)
        assert handle.read(18) == b"data in the middle"
    small = Snapshots(real_forum.root, max_bytes=64 * 2**20)
    assert small.run("save", "sparse-counts-its-blocks").ok  # 256 MB to `ls`, a few KB on disk
    (real_forum.root / "uploads" / "dense.bin").write_bytes(b"\1" * 65 * 2**20)
    refused = small.run("save", "too-big")
    assert not refused.ok and "more than 64 MB" in refused.message and "MYBB_SNAPSHOT_MAX_MB" in refused.message
    assert "too-big" not in [s.name for s in small.run("list").snapshots]


@pytest.mark.parametrize("name", ["ok\n", "ok\r", "o\x1bk", "ok\x00", "ok\t"])
def test_4_snapshot_names_with_control_characters_are_refused(name: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_name(name)


# ----------------------------------------------------------------------------- 5: archives and downloads


def _tar_bomb(path: Path, members: int, size: int) -> None:
    """A small .tar.gz whose `members` files of `size` zero bytes unpack to far more than it weighs."""
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for number in range(members):
            info = tarfile.TarInfo(f"bomb/file{number}")
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)) if size else None)


def test_5_an_archive_past_the_byte_cap_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.tar.gz"
    _tar_bomb(archive, 1, 40 * 2**20)
    assert archive.stat().st_size < 200 * 1024
    with pytest.raises(InstallError) as refused:
        unpack_source(archive, tmp_path / "forum", tmp_path / "scratch", UnpackLimits(max_bytes=16 * 2**20))
    assert refused.value.step == "unpack" and "more than 16 MB" in refused.value.message
    assert "MYBB_UNPACK_MAX_MB" in refused.value.hint
    assert not (tmp_path / "forum").exists() and list((tmp_path / "scratch").iterdir()) == []


def test_5_a_zip_past_the_byte_cap_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("bomb/zeros", bytes(40 * 2**20))
    with pytest.raises(InstallError) as refused:
        unpack_source(archive, tmp_path / "forum", tmp_path / "scratch", UnpackLimits(max_bytes=16 * 2**20))
    assert refused.value.step == "unpack" and "MYBB_UNPACK_MAX_MB" in refused.value.hint
    assert list((tmp_path / "scratch").iterdir()) == []


def test_5_an_archive_past_the_entry_cap_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "many.tar.gz"
    _tar_bomb(archive, 300, 0)
    with pytest.raises(InstallError) as refused:
        unpack_source(archive, tmp_path / "forum", tmp_path / "scratch", UnpackLimits(max_entries=200))
    assert "more than 200 entries" in refused.value.message and "MYBB_UNPACK_MAX_FILES" in refused.value.hint
    assert list((tmp_path / "scratch").iterdir()) == []


def test_5_the_caps_come_from_the_configuration_with_sane_defaults(tmp_path: Path) -> None:
    defaults = load_config({"MYBB_ROOT": str(tmp_path / "f")}, cwd=tmp_path)
    assert (defaults.unpack_max_mb, defaults.unpack_max_files, defaults.snapshot_max_mb) == (512, 50_000, 1024)
    set_ = load_config({"MYBB_ROOT": str(tmp_path / "f"), "MYBB_UNPACK_MAX_MB": "64", "MYBB_UNPACK_MAX_FILES": "9",
                        "MYBB_SNAPSHOT_MAX_MB": "5"}, cwd=tmp_path)
    assert (set_.unpack_max_mb, set_.unpack_max_files, set_.snapshot_max_mb) == (64, 9, 5)


def test_5_a_plain_http_source_needs_a_sha256_or_insecure(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/mybb.tar.gz"  # port 9 (discard): nothing is ever fetched from it
    with pytest.raises(InstallError) as refused:
        resolve_source(url, None, tmp_path)
    assert refused.value.step == "source" and "plain HTTP" in refused.value.message
    assert "--sha256" in refused.value.hint and "--insecure" in refused.value.hint
    assert list(tmp_path.iterdir()) == []
    for kwargs in ({"sha256": "0" * 64}, {"sha256": None, "insecure": True}):
        with pytest.raises(InstallError) as tried:  # allowed: it goes on to the download (which fails here)
            resolve_source(url, scratch=tmp_path, **kwargs)  # type: ignore[arg-type]
        assert tried.value.step == "download"


# ----------------------------------------------------------------------------- 7: numbers in configuration


@pytest.mark.parametrize("name", ["MYBB_PORT", "MYBB_WORKERS", "MYBB_LOG_MAX_MB", "MYBB_LOG_BACKUPS",
                                  "MYBB_SNAPSHOT_MAX_MB", "MYBB_UNPACK_MAX_MB", "MYBB_UNPACK_MAX_FILES"])
@pytest.mark.parametrize("raw", ["22_193", "+5", "\u0663", "0x10", "1e3", "5.0", "5 5"])
def test_7_numbers_in_configuration_are_digits_only(tmp_path: Path, name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config({"MYBB_ROOT": str(tmp_path / "f"), name: raw}, cwd=tmp_path)
    assert str(refused.value).startswith(f"{name}=") and "not a whole number" in str(refused.value)


def test_7_numbers_out_of_range_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config({"MYBB_ROOT": str(tmp_path / "f"), "MYBB_PORT": "70000"}, cwd=tmp_path)
    assert "MYBB_PORT=70000" in str(refused.value) and "1-65535" in str(refused.value)
    assert load_config({"MYBB_ROOT": str(tmp_path / "f"), "MYBB_PORT": " 8023 "}, cwd=tmp_path).port == 8023


def test_7_phps_own_worker_variable_is_read_strictly(tmp_path: Path) -> None:
    for raw in ("\u00b2", "2_0", "+3"):  # '²'.isdigit() is True, and int('²') raises
        config = load_config({"MYBB_ROOT": str(tmp_path / "f"), "PHP_CLI_SERVER_WORKERS": raw}, cwd=tmp_path)
        assert config.workers == 1
    assert load_config({"MYBB_ROOT": str(tmp_path / "f"), "PHP_CLI_SERVER_WORKERS": "4"}, cwd=tmp_path).workers == 4


@pytest.mark.parametrize("args", [["start", "--port", "22_193"], ["start", "--workers", "+2"],
                                  ["logs", "--limit", "1_0"], ["request", "index.php", "--excerpt", "2_000"],
                                  ["sql", "--limit", "1_0", "SELECT 1"], ["php", "--timeout", "+5", "return 1;"],
                                  ["templates", "replace", "header", "a", "b", "--set", "0x1"]])
def test_7_numbers_on_the_command_line_are_digits_only(tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "mybb_mcp.cli", *args], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "MYBB_ROOT": str(tmp_path / "f")}, timeout=60)
    assert done.returncode == 2 and "whole number" in done.stderr, done


# ----------------------------------------------------------------------------- 6: forged entries


def test_6_a_forged_fatal_with_the_current_stamp_is_marked_and_not_counted(running: ServerOrchestrationService) -> None:
    port = running.config.port
    assert status_of(get(port, "/real_error.php?m=genuine")) == 200
    # Stamped now: in order with everything around it, so only where it begins gives it away.
    assert status_of(post(port, "/logpost.php", {"text": forged_lines(3, datetime.now(), "FORGED-NOW")})) == 200
    assert status_of(get(port, "/ok.php")) == 200
    assert logged(running, "[200]: GET /ok.php")
    for options in ({"errors_only": True, "limit": 100}, {"limit": 100}, {"since_minutes": 5, "limit": 100}):
        entries, text = query(running, **options)
        forged = [e for e in entries if "FORGED-NOW" in e.message and e.message.startswith("FORGED-NOW")]
        assert len(forged) == 3 and all(e.inside_request_data for e in forged), text
        assert not [e for e in forged if e.out_of_order]  # their stamps are in order: not what marks them
        real = [e for e in entries if "REAL-RECENT-ERROR genuine" in e.message]
        assert real and not any(e.doubtful for e in real)
        result = running.logs.search_logs(LogQueryOptions(**options))  # type: ignore[arg-type]
        assert result.summary.errors.get("fatal", 0) == 0, result.summary  # the forged FATALs are not counted
        assert "**FATAL**" not in text and "begins inside request data" in text and "not counted" in text


def test_6_real_multi_line_messages_are_not_marked(tmp_path: Path) -> None:
    from mybb_mcp.logs.forgery import starts_inside_request_data

    stamp = "[Sat Dec  5 21:00:00 2026]"
    lines = [f"{stamp} 127.0.0.1:5000 Accepted",
             f"{stamp} PHP Fatal error:  Uncaught Exception: boom in /srv/x.php:3",
             "Stack trace:", "#0 {main}", "  thrown in /srv/x.php on line 3",
             f"{stamp} PHP Warning:  Undefined variable $a in /srv/x.php on line 4",
             f"{stamp} 127.0.0.1:5000 [500]: GET /x.php",
             f"{stamp} PHP Warning:  Undefined array key \"x",
             f"{stamp} PHP Fatal error:  FORGED in /srv/y.php on line 1",
             f"{stamp} PHP Fatal error:  FORGED in /srv/y.php on line 2\" in /srv/key.php on line 3",
             f"{stamp} 127.0.0.1:5001 [200]: POST /key.php",
             f"{stamp} PHP Notice:  real again in /srv/x.php on line 9"]
    log = tmp_path / "server.log"
    log.write_text("\n".join(lines) + "\n")
    starts, offset = [], 0
    for line in lines:
        starts.append(offset)
        offset += len(line.encode()) + 1
    stamped = [start for start, line in zip(starts, lines) if line.startswith("[")]
    flagged = starts_inside_request_data(log, stamped)
    assert sorted(flagged) == [starts[8], starts[9]]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_3_over_mcp_a_fifo_at_the_credentials_file_blocks_no_worker(
        real_forum: RealForum, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, anyio_backend: str) -> None:
    """Through the SDK's real client: the admin request answers in bounded time, and so does the next call."""
    import anyio
    from mcp import Client

    from mybb_mcp.server import server

    for key, value in real_forum.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MYBB_ADMIN_PASSWORD", real_forum.admin_password)
    monkeypatch.setenv("MYBB_ADMIN_USER", real_forum.admin_user)
    monkeypatch.chdir(tmp_path)
    config = real_forum.config()
    fifo = _plant_fifo(config.credentials_file, [])
    try:
        with anyio.fail_after(90):
            async with Client(server) as client:
                started = await client.call_tool("mybb_server_start", {})
                assert not started.is_error
                answer = await client.call_tool("mybb_server_request", {"path": "admin/index.php", "as": "admin"})
                text = answer.content[0].text  # type: ignore[union-attr]
                assert "Logged in" in text, text
                status = await client.call_tool("mybb_server_status", {})
                assert "Running" in status.content[0].text  # type: ignore[union-attr]
    finally:
        _release(fifo)
        ServerOrchestrationService(config).stop(force=True)


def _listening_ports_of_our_children(already: set[int]) -> list[int]:
    """The ports processes we started (apart from `already`: a session's database server) listen on."""
    import psutil

    ports = []
    for child in psutil.Process().children(recursive=True):
        if child.pid in already:
            continue
        with contextlib.suppress(psutil.Error):
            ports += [c.laddr.port for c in child.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    return ports


def test_2_init_succeeds_while_another_user_races_for_the_installer(tmp_path: Path, php: str) -> None:
    """No installer page is reachable by anyone else: at every page of the install no process of ours
    listens on a port (the installer runs in the PHP CLI), and the install finishes with our admin."""
    if not archive_path().is_file():
        pytest.skip(NO_ARCHIVE)
    import psutil

    from mybb_mcp.forum.install import InstallRequest, install_forum

    listening: list[tuple[str, list[int]]] = []
    already = {child.pid for child in psutil.Process().children(recursive=True)}

    def watch(step: str) -> None:
        if step.startswith("MyBB installer"):
            listening.append((step, _listening_ports_of_our_children(already)))

    root = tmp_path / "site" / "TestForum"
    result = install_forum(InstallRequest(source=archive_path(), root=root, bburl="http://127.0.0.1:8022", php=php,
                                          admin_user="owner"), watch)
    assert len(listening) == 10 and all(not ports for _step, ports in listening), listening
    assert result.admin_user == "owner" and (root / "install" / "lock").is_file()
    import sqlite3

    with contextlib.closing(sqlite3.connect(result.database.path)) as db:  # type: ignore[arg-type]
        users = [row[0] for row in db.execute("SELECT username FROM mybb_users")]
    assert users == ["owner"]
