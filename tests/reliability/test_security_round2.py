"""Issue 18, the second hostile review: a forum made by `init` is no door to root.

Each test's name starts with the issue's item number (`test_1_...` is item 1). Tests that act as a
second local user create one (root only) and skip with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mybb_mcp.forum.folder_modes import open_folders
from mybb_mcp.forum.install import InstallerServer, find_forum_files, unpack_source
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.fixtures.real_mybb import MybbTemplate, RealForum, archive_path
from tests.reliability.local_users import LocalUser, other_user, shared_dir  # noqa: F401 (fixtures)

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


@pytest.fixture
def staged_forum(tmp_path: Path) -> Path:
    if not archive_path().is_file():
        pytest.skip(NO_ARCHIVE)
    staging = tmp_path / "staging"
    staging.mkdir(mode=0o700)
    unpack_source(archive_path(), staging / "forum", staging / "unpacked")
    return staging


def _post(url: str, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers or {}), timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def test_2_a_prober_without_the_runs_secret_reaches_no_installer_page(staged_forum: Path, php: str) -> None:
    docroot = staged_forum / "forum"
    with InstallerServer(php, docroot, staged_forum / "installer.log") as server:
        base = f"http://127.0.0.1:{server.port}"
        for path, data in (("install/index.php", b"action=license"), ("install/index.php", b""),
                           ("index.php", b""), ("inc/config.default.php", b""), ("install/", b"")):
            status, body = _post(f"{base}/{path}", data)
            assert status == 403 and "MyBB" not in body, (path, status, body[:200])
        status, body = _post(f"{base}/install/index.php", b"action=intro",
                             {InstallerServer.SECRET_HEADER: "0" * 64})
        assert status == 403
        # The run that holds the secret is served MyBB's installer.
        assert "license" in server.post("install/index.php", [("action", "intro")])
    assert not (staged_forum / "installer-router.php").read_text().count(server.secret)


def test_2_another_user_probing_the_installer_changes_nothing(staged_forum: Path, php: str,
                                                               other_user: LocalUser) -> None:
    docroot = staged_forum / "forum"
    with InstallerServer(php, docroot, staged_forum / "installer.log") as server:
        probe = ("import urllib.request,sys\n"
                 "op=urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
                 "try:\n op.open(urllib.request.Request(sys.argv[1],data=b'action=final&adminuser=evil'),timeout=20)\n"
                 " print('served')\n"
                 "except urllib.error.HTTPError as e:\n print(e.code)\n")
        result = other_user.run(["/usr/bin/python3", "-c", probe, f"http://127.0.0.1:{server.port}/install/index.php"],
                                env={"PATH": "/usr/bin:/bin"}, cwd=Path("/"))
        assert result.stdout.strip() == "403", result
    assert not find_forum_files(docroot) is None  # the staged files are still there, untouched
    assert not (docroot / "install" / "lock").exists()
