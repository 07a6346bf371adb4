"""forum/install.py: MyBB's own installer run from a release archive, and what is left when it fails.

The happy path is the session's template forum (tests/fixtures/real_mybb.py installs it with
install_forum from the shared MyBB 1.8.37 archive); copies of it are served by a real php -S.
"""

from __future__ import annotations

import http.cookiejar
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mybb_mcp.forum.install import (
    Database,
    InstallError,
    InstallRequest,
    install_forum,
)
from mybb_mcp.forum.php import run_mybb_php
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.conftest import free_port
from tests.fixtures import real_mybb
from tests.fixtures.real_mybb import MybbTemplate, RealForum, archive_path

POST_KEY = re.compile(r'name="my_post_key" type="hidden" value="([0-9a-f]{32})"')


class Browser:
    """urllib with a cookie jar, never through a proxy."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies))

    def get(self, path: str) -> str:
        with self.opener.open(f"{self.base}/{path}", timeout=30) as response:
            return response.read().decode("utf-8", "replace")

    def post(self, path: str, fields: dict[str, str]) -> str:
        data = urllib.parse.urlencode(fields).encode()
        with self.opener.open(f"{self.base}/{path}", data=data, timeout=30) as response:
            return response.read().decode("utf-8", "replace")

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)


@pytest.fixture
def served(real_forum: RealForum) -> Iterator[RealForum]:
    service = ServerOrchestrationService(real_forum.config())
    result = service.start()
    assert result.success, result
    yield real_forum
    service.stop(force=True)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- the installed forum ----------------------------------------------------------------------------


def test_install_from_repository_archive_on_sqlite(mybb_template: MybbTemplate) -> None:
    root, db_file = mybb_template.root, mybb_template.db_file
    assert (root / "install" / "lock").is_file(), "the installer is locked afterwards"
    assert db_file.parent == root.parent and db_file.name == "forum.sqlite", "database outside the docroot"
    assert _leftovers(root.parent) == ["forum", "forum.sqlite"], "no staging folder left"
    config = (root / "inc" / "config.php").read_text()
    assert f"$config['database']['database'] = '{db_file}';" in config
    assert "$config['database']['type'] = 'sqlite';" in config
    with sqlite3.connect(db_file) as conn:
        admin = conn.execute("SELECT username, usergroup FROM mybb_users WHERE uid = 1").fetchone()
        settings = dict(conn.execute("SELECT name, value FROM mybb_settings WHERE name IN ('bburl', 'bbname')"))
        templates = conn.execute("SELECT COUNT(*) FROM mybb_templates").fetchone()[0]
    conn.close()
    assert admin == ("admin", 4)  # 4: MyBB's Administrators group
    assert settings == {"bburl": "http://127.0.0.1:8022", "bbname": "MyBB Test Forum"}
    assert templates > 500, "MyBB's own templates were inserted"
    assert '$settings[\'bburl\'] = "http://127.0.0.1:8022";' in (root / "inc" / "settings.php").read_text()


def test_copy_points_at_its_own_database_and_port(real_forum: RealForum, mybb_template: MybbTemplate) -> None:
    run = run_mybb_php(real_forum.root, "$result = [$mybb->settings['bburl'], $db->fetch_field("
                                        "$db->simple_select('settings', 'value', \"name='bburl'\"), 'value'), "
                                        "$mybb->config['database']['database']];", php=real_forum.php)
    url = f"http://127.0.0.1:{real_forum.port}"
    assert run.result == [url, url, str(real_forum.db_file)]
    assert real_forum.db_file != mybb_template.db_file


def test_index_shows_the_board_name(served: RealForum) -> None:
    page = Browser(served.url).get("index.php")
    assert "<title>MyBB Test Forum</title>" in page
    assert f'href="{served.url}/member.php?action=login"' in page, "links use the bburl of this port"


def test_admin_logs_in_on_the_front_end(served: RealForum) -> None:
    browser = Browser(served.url)
    login_page = browser.get("member.php?action=login")
    post_key = POST_KEY.search(login_page)
    assert post_key, "the login form carries MyBB's post key"
    page = browser.post("member.php", {"action": "do_login", "username": served.admin_user,
                                       "password": served.admin_password, "my_post_key": post_key.group(1)})
    assert browser.cookie("mybbuser"), page[-2000:]
    index = browser.get("index.php")
    assert "Welcome back, " in index and "member.php?action=logout" in index
    profile = rf'<a href="[^"]*member\.php\?action=profile&amp;uid=1">{served.admin_user}</a>'
    assert re.search("Welcome back, " + profile, index)


def test_wrong_password_does_not_log_in(served: RealForum) -> None:
    browser = Browser(served.url)
    post_key = POST_KEY.search(browser.get("member.php?action=login"))
    assert post_key
    page = browser.post("member.php", {"action": "do_login", "username": served.admin_user,
                                       "password": served.admin_password + "x", "my_post_key": post_key.group(1)})
    assert browser.cookie("mybbuser") is None
    assert "invalid username/password combination" in page


def test_admin_logs_in_to_the_admin_cp(served: RealForum) -> None:
    browser = Browser(served.url)
    page = browser.post("admin/index.php", {"do": "login", "username": served.admin_user,
                                            "password": served.admin_password})
    assert browser.cookie("adminsid"), page[-2000:]
    assert "Logged in as" in browser.get("admin/index.php")


def test_add_plugin_activates_it_as_the_admin_cp_does(served: RealForum) -> None:
    source = """<?php
if(!defined('IN_MYBB')) { die('Direct access not allowed.'); }
$plugins->add_hook('pre_output_page', 'hello_page');
function hello_info() { return array('name' => 'Hello', 'compatibility' => '18*'); }
function hello_install() {
    global $db;
    $db->insert_query('datacache', array('title' => 'hello_installed', 'cache' => '1'));
}
function hello_is_installed() {
    global $db;
    return (bool)$db->fetch_field($db->simple_select('datacache', 'title', "title='hello_installed'"), 'title');
}
function hello_activate() {}
function hello_page($page) { return $page . '<!-- hello from a plugin -->'; }
"""
    served.add_plugin("hello", source)
    assert "<!-- hello from a plugin -->" in Browser(served.url).get("index.php")
    with sqlite3.connect(served.db_file) as conn:
        titles = {row[0] for row in conn.execute("SELECT title FROM mybb_datacache")}
    conn.close()
    assert "hello_installed" in titles, "the plugin's _install ran (it was not installed)"


@pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB archive not found at {archive_path()}")
def test_install_from_an_official_release_zip(tmp_path: Path, php: str) -> None:
    # mybb.com's zips: the forum in Upload/, beside Documentation/. Built here from the repository archive.
    release = tmp_path / "mybb_1837.zip"
    with tarfile.open(archive_path()) as tar, zipfile.ZipFile(release, "w") as archive:
        archive.writestr("Documentation/readme.html", "<p>MyBB</p>")
        for member in tar:
            if member.isfile():
                name = "Upload/" + member.name.split("/", 1)[1]
                archive.writestr(name, tar.extractfile(member).read())  # type: ignore[union-attr]
    result = install_forum(_request(tmp_path, php, release, admin_user="owner"))
    assert result.version == "1.8.37" and result.admin_user == "owner"
    assert (result.root / "index.php").is_file() and (result.root / "install" / "lock").is_file()
    assert not (result.root / "Documentation").exists()
    assert _leftovers(tmp_path / "site") == ["forum", "forum.sqlite"]


# --- failures leave nothing -------------------------------------------------------------------------


def _request(tmp_path: Path, php: str, source: Path | None = None, **overrides: object) -> InstallRequest:
    values: dict[str, object] = dict(source=source or archive_path(), root=tmp_path / "site" / "forum",
                                     bburl="http://127.0.0.1:8022", php=php)
    values.update(overrides)
    return InstallRequest(**values)  # type: ignore[arg-type]


def test_a_damaged_archive_fails_at_unpack_and_leaves_nothing(tmp_path: Path, php: str) -> None:
    damaged = tmp_path / "mybb.tar.gz"
    damaged.write_bytes(archive_path().read_bytes()[:300_000] if archive_path().is_file() else b"\x1f\x8b" + b"0" * 999)
    (tmp_path / "site").mkdir()
    with pytest.raises(InstallError) as failure:
        install_forum(_request(tmp_path, php, damaged))
    assert failure.value.step == "unpack"
    assert "damaged" in str(failure.value) or "neither" in str(failure.value)
    assert _leftovers(tmp_path / "site") == []


def test_an_archive_without_mybb_fails_at_unpack(tmp_path: Path, php: str) -> None:
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        info = tarfile.TarInfo("project/README")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    (tmp_path / "site").mkdir()
    with pytest.raises(InstallError) as failure:
        install_forum(_request(tmp_path, php, other))
    assert failure.value.step == "unpack" and "no MyBB forum" in str(failure.value)
    assert _leftovers(tmp_path / "site") == []


def test_an_archive_escaping_its_folder_is_refused(tmp_path: Path, php: str) -> None:
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.php")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"<?php"))
    (tmp_path / "site").mkdir()
    with pytest.raises(InstallError, match="unsafe path"):
        install_forum(_request(tmp_path, php, evil))
    assert not (tmp_path / "escaped.php").exists() and _leftovers(tmp_path / "site") == []


def test_a_target_that_cannot_be_created_names_the_step(tmp_path: Path, php: str) -> None:
    blocker = tmp_path / "site"
    blocker.write_text("a file where the forum's folder should go")
    with pytest.raises(InstallError) as failure:
        install_forum(_request(tmp_path, php))
    assert failure.value.step == "target" and str(blocker) in str(failure.value)
    assert blocker.read_text() == "a file where the forum's folder should go"


@pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB archive not found at {archive_path()}")
def test_installer_failure_names_its_step_and_mybbs_words_and_leaves_nothing(tmp_path: Path, php: str) -> None:
    # MyBB's create_tables page refuses a table prefix with a space, in its own words.
    (tmp_path / "site").mkdir()
    with pytest.raises(InstallError) as failure:
        install_forum(_request(tmp_path, php, database=Database(table_prefix="my bb_")))
    assert failure.value.step == "create_tables"
    assert "Please use a valid table prefix" in str(failure.value)
    assert _leftovers(tmp_path / "site") == []


@pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB archive not found at {archive_path()}")
def test_an_unreachable_mysql_server_fails_before_anything_is_unpacked(tmp_path: Path, php: str) -> None:
    database = Database(engine="mysqli", host=f"127.0.0.1:{free_port()}", user="mybb", password="x", name="mybb")
    (tmp_path / "site").mkdir()
    with pytest.raises(InstallError) as failure:
        install_forum(_request(tmp_path, php, database=database))
    assert failure.value.step == "database" and "Can't connect" in str(failure.value)
    assert "GRANT ALL ON `mybb`.*" in failure.value.hint
    assert _leftovers(tmp_path / "site") == []


@pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB archive not found at {archive_path()}")
def test_an_existing_forum_is_refused_and_kept(real_forum: RealForum, php: str) -> None:
    before = sorted(p.name for p in real_forum.root.iterdir())
    with pytest.raises(InstallError) as failure:
        install_forum(_request(real_forum.root.parent, php, root=real_forum.root))
    assert failure.value.step == "target" and "already holds a forum" in str(failure.value)
    assert "--force" in failure.value.hint
    assert sorted(p.name for p in real_forum.root.iterdir()) == before
    assert (real_forum.root / "install" / "lock").is_file()


def test_missing_php_extensions_are_named_with_the_apt_line(tmp_path: Path, php: str) -> None:
    # PHP without its php.ini (-n) loads no shared extension: xml, mbstring and pdo_sqlite are gone.
    bare_php = tmp_path / "php-without-ini"
    bare_php.write_text(f"#!{sys.executable}\nimport os, sys\nos.execv({php!r}, [{php!r}, '-n', *sys.argv[1:]])\n")
    bare_php.chmod(0o755)
    (tmp_path / "site").mkdir()
    with pytest.raises(InstallError) as failure:
        install_forum(_request(tmp_path, str(bare_php)))
    assert failure.value.step == "php extensions"
    assert "xml" in failure.value.message and "pdo_sqlite" in failure.value.message
    assert "apt-get install -y php-xml php-mbstring php-sqlite3" in failure.value.hint
    assert _leftovers(tmp_path / "site") == []


@pytest.mark.skipif(not real_mybb.MEMORY_DIR.is_dir(), reason="no /dev/shm on this machine")
def test_forums_left_in_memory_by_a_killed_test_run_are_swept() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its PID is now free: a run that was killed
    left = Path(tempfile.mkdtemp(prefix=f"mybb-test-{dead.pid}-", dir=real_mybb.MEMORY_DIR))
    alive = Path(tempfile.mkdtemp(prefix="mybb-test-1-", dir=real_mybb.MEMORY_DIR))  # PID 1 runs
    mine = Path(tempfile.mkdtemp(prefix=f"mybb-test-{os.getpid()}-", dir=real_mybb.MEMORY_DIR))
    try:
        (left / "forum").mkdir()
        real_mybb._sweep_leftovers()
        assert not left.exists() and alive.exists() and mine.exists()
    finally:
        for folder in (left, alive, mine):
            shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB archive not found at {archive_path()}")
def test_a_php_fatal_in_an_installer_page_is_named_with_phps_words(tmp_path: Path, php: str) -> None:
    with tarfile.open(archive_path()) as tar:
        tar.extractall(tmp_path / "src", filter="data")
    forum = next((tmp_path / "src").iterdir())
    (forum / "install" / "resources" / "output.php").write_text("<?php\nmybb_mcp_missing_function();\n")
    (tmp_path / "site").mkdir()
    with pytest.raises(InstallError) as failure:
        install_forum(_request(tmp_path, php, forum))
    assert failure.value.step == "intro"
    assert "Call to undefined function mybb_mcp_missing_function()" in failure.value.message
    assert _leftovers(tmp_path / "site") == []
