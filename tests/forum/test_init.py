"""`mybb-server init` as a person runs it (a subprocess, real php -S, MyBB's own installer), and `start`
on a fresh clone. Downloads come from a local HTTP server serving the release archive."""

from __future__ import annotations

import http.server
import io
import json
import re
import sqlite3
import stat
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from mybb_mcp.cli.init import ProgressBar
from mybb_mcp.forum import source as source_module
from mybb_mcp.forum.install import InstallError
from mybb_mcp.forum.source import Release, resolve_source
from tests.conftest import free_port, http_get
from tests.fixtures.cli import Cli, base_env
from tests.fixtures.mariadb import MariaDB
from tests.fixtures.real_mybb import RealForum, archive_path

ARCHIVE_SHA256 = "89e81885e3bb85cd9007cd76926888c934a0d3a587c0658910f6dd2b7a198c8e"

pytestmark = pytest.mark.skipif(not archive_path().is_file(),
                                reason=f"MyBB release archive not found at {archive_path()} (set MYBB_TEST_ARCHIVE)")


@pytest.fixture
def site(tmp_path: Path, php: str) -> Iterator[tuple[Cli, Path, int]]:
    """A CLI whose MYBB_ROOT (<tmp>/site/TestForum) does not exist yet; what it started is stopped."""
    root, port = tmp_path / "site" / "TestForum", free_port()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    cli = Cli({**base_env(), "MYBB_ROOT": str(root), "MYBB_PORT": str(port), "MYBB_PHP": php}, cwd)
    yield cli, root, port
    cli.run("stop", "--force")


def _password(stdout: str) -> str:
    match = re.search(r"\| Password \| `([^`]+)`", stdout)
    assert match, stdout
    return match.group(1)


def _nothing_left(folder: Path) -> bool:
    """No forum, database or scratch folder (the folder may hold what was there before)."""
    return not folder.exists() or not [p for p in folder.iterdir() if p.name not in ("logs",)]


@pytest.fixture
def archive_server() -> Iterator[str]:
    """A local HTTP server with the release archive at /mybb_1837.tar.gz."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(archive_path().parent))
    handler.log_message = lambda *_args: None  # type: ignore[attr-defined,method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{archive_path().name}"
    server.shutdown()
    server.server_close()


# --- init -------------------------------------------------------------------------------------------


def test_init_from_a_local_archive_installs_and_leaves_it_running(site: tuple[Cli, Path, int]) -> None:
    cli, root, port = site
    done = cli.run("init", "--from", str(archive_path()), "--admin", "boss")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# Forum Installed" in done.stdout and "| Admin | boss |" in done.stdout
    password = _password(done.stdout)
    assert http_get(f"http://127.0.0.1:{port}/index.php")[1].count("<title>MyBB Test Forum</title>") == 1
    creds_file = root.parent / ".mybb-forum-credentials.json"
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    creds = json.loads(creds_file.read_text())
    assert creds["admin_user"] == "boss" and creds["admin_password"] == password
    assert creds["url"] == f"http://127.0.0.1:{port}"
    assert (root / "install" / "lock").is_file()
    db_file = root.parent / "TestForum.sqlite"
    with sqlite3.connect(db_file) as conn:
        bburl = conn.execute("SELECT value FROM mybb_settings WHERE name = 'bburl'").fetchone()[0]
    conn.close()
    assert bburl == f"http://127.0.0.1:{port}"
    status = json.loads(cli.run("status", "--json").stdout)
    assert status["running"] and status["forum"]["database"]["ok"]
    assert sorted(p.name for p in root.parent.iterdir() if not p.name.startswith(".mybb-server")) == [
        ".mybb-forum-credentials.json", ".mybb-release-manifest.json", "TestForum", "TestForum.sqlite", "logs"]
    # MyBB's own files and their hashes, from the archive installed: what error origins are told by.
    manifest = json.loads((root.parent / ".mybb-release-manifest.json").read_text())
    assert manifest["version"] == "1.8.37" and "inc/class_core.php" in manifest["files"]
    assert "admin/modules/config/plugins.php" in manifest["files"] and "inc/config.php" not in manifest["files"]


def test_init_refuses_a_forum_already_there_and_force_replaces_it(real_forum: RealForum, php: str,
                                                                  tmp_path: Path) -> None:
    cli = Cli({**base_env(), **real_forum.env()}, tmp_path)
    (real_forum.root / "marker.txt").write_text("the old forum")
    try:
        assert cli.run("start").returncode == 0
        refused = cli.run("init", "--from", str(archive_path()))
        assert refused.returncode == 1 and "already holds a forum" in refused.stdout and "--force" in refused.stdout
        assert (real_forum.root / "marker.txt").exists()
        assert http_get(f"{real_forum.url}/index.php")[0] == 200, "the running forum was left alone"

        replaced = cli.run("init", "--from", str(archive_path()), "--force")
        assert replaced.returncode == 0, replaced.stdout + replaced.stderr
        assert not (real_forum.root / "marker.txt").exists()
        assert "stopped to replace" in replaced.stdout
        assert _password(replaced.stdout) != real_forum.admin_password
        assert "<title>MyBB Test Forum</title>" in http_get(f"{real_forum.url}/index.php")[1]
    finally:
        cli.run("stop", "--force")


def test_init_downloads_and_checks_the_sha256(site: tuple[Cli, Path, int], archive_server: str) -> None:
    cli, root, port = site
    done = cli.run("init", "--from", archive_server, "--sha256", ARCHIVE_SHA256.upper())
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SHA-256 {ARCHIVE_SHA256}, checked" in done.stdout
    assert http_get(f"http://127.0.0.1:{port}/")[0] == 200
    assert not list(root.parent.glob(".mybb-download-*")), "the download is deleted"


def test_a_checksum_mismatch_installs_nothing(site: tuple[Cli, Path, int], archive_server: str) -> None:
    cli, root, _port = site
    done = cli.run("init", "--from", archive_server, "--sha256", "0" * 64)
    assert done.returncode == 1
    assert "Step: **checksum**" in done.stdout and ARCHIVE_SHA256 in done.stdout
    assert _nothing_left(root.parent)


def test_a_download_that_fails_names_the_url(site: tuple[Cli, Path, int], archive_server: str) -> None:
    cli, root, _port = site
    done = cli.run("init", "--insecure", "--from", archive_server.replace("mybb_1837", "no-such-release"))
    assert done.returncode == 1 and "Step: **download**" in done.stdout and "HTTP 404" in done.stdout
    assert "--from PATH" in done.stdout and _nothing_left(root.parent)


def test_bad_init_arguments_are_usage_errors_that_change_nothing(site: tuple[Cli, Path, int]) -> None:
    cli, root, _port = site
    for args, words in (
        (["--sha256", "abc"], "not a SHA-256"),
        (["--db", "postgresql://u:p@localhost/forum"], "PostgreSQL is not offered"),
        (["--db", "mysql://u:secret@localhost"], "lacks a host or a database name"),
        (["--admin", "<script>"], "not a MyBB user name"),
        (["--port", "70000"], "out of range"),
    ):
        done = cli.run("init", "--from", str(archive_path()), *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert words in done.stderr, (args, done.stderr)
        assert "secret" not in done.stderr
    assert _nothing_left(root.parent)


def test_the_credentials_file_replaces_a_planted_link(site: tuple[Cli, Path, int], tmp_path: Path) -> None:
    cli, root, _port = site
    root.parent.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours")
    (root.parent / ".mybb-forum-credentials.json").symlink_to(victim)
    done = cli.run("init", "--from", str(archive_path()))
    assert done.returncode == 0, done.stdout + done.stderr
    creds = root.parent / ".mybb-forum-credentials.json"
    assert not creds.is_symlink() and victim.read_text() == "not yours"
    assert json.loads(creds.read_text())["admin_password"] == _password(done.stdout)


# --- start on a fresh clone -------------------------------------------------------------------------


def test_start_without_a_forum_at_the_default_place_installs_one(tmp_path: Path, php: str) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    port = free_port()
    cli = Cli({**base_env(), "MYBB_PORT": str(port), "MYBB_PHP": php, "MYBB_ARCHIVE": str(archive_path())}, clone)
    try:
        done = cli.run("start")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "no forum at" in done.stderr and "# Forum Installed" in done.stdout
        assert (clone / "TestForum" / "install" / "lock").is_file()
        assert "<title>MyBB Test Forum</title>" in http_get(f"http://127.0.0.1:{port}/")[1]
        again = cli.run("start")
        assert again.returncode == 1 and "Already Running" in again.stdout, "a second start installs nothing"
    finally:
        cli.run("stop", "--force")


def test_start_on_a_root_the_user_set_says_the_init_command(site: tuple[Cli, Path, int]) -> None:
    cli, root, _port = site
    done = cli.run("start", MYBB_ARCHIVE="/srv/mybb_1838.zip")
    assert done.returncode != 0
    assert "`mybb-server init --from /srv/mybb_1838.zip`" in done.stdout
    assert not root.exists()


# --- the download, in process -----------------------------------------------------------------------


def test_the_default_source_is_checked_against_its_pinned_sha256(tmp_path: Path, archive_server: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # The real default is on GitHub; the test machine is offline, so the pinned release points here.
    pinned = Release("1.8.37", archive_server, ARCHIVE_SHA256)
    monkeypatch.setattr(source_module, "KNOWN_RELEASES", (pinned,))
    monkeypatch.setattr(source_module, "DEFAULT_RELEASE", pinned)
    seen: list[tuple[int, int | None]] = []
    resolved = resolve_source(None, None, tmp_path, lambda done, total: seen.append((done, total)))
    assert resolved.verified and resolved.downloaded and resolved.sha256 == ARCHIVE_SHA256
    assert seen[-1][0] == seen[-1][1] == archive_path().stat().st_size
    monkeypatch.setattr(source_module, "KNOWN_RELEASES", (Release("1.8.37", archive_server, "1" * 64),))
    monkeypatch.setattr(source_module, "DEFAULT_RELEASE", source_module.KNOWN_RELEASES[0])
    (tmp_path / "again").mkdir()
    with pytest.raises(InstallError) as failure:
        resolve_source(None, None, tmp_path / "again", None)
    assert failure.value.step == "checksum" and not list((tmp_path / "again").iterdir())


def test_the_progress_bar_draws_on_one_line() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar.update(2_300_000, 4_600_000)
    bar.update(4_600_000, 4_600_000)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r[") and "\r[" + "#" * 30 + "] 100%  4.6/4.6 MB\n" in text and text.count("\n") == 1


# --- MySQL / MariaDB --------------------------------------------------------------------------------


@pytest.mark.mariadb
def test_init_on_mariadb(site: tuple[Cli, Path, int], mariadb: MariaDB) -> None:
    cli, root, port = site
    mariadb.create_forum_database("forum_init", "mybb", "s3cret", with_settings_table=False)
    url = f"mysql://mybb:s3cret@127.0.0.1:{mariadb.port}/forum_init"
    done = cli.run("init", "--from", str(archive_path()), "--db", url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MySQL/MariaDB database 'forum_init'" in done.stdout and "s3cret" not in done.stdout
    assert "<title>MyBB Test Forum</title>" in http_get(f"http://127.0.0.1:{port}/")[1]
    assert mariadb.settings("forum_init")["bburl"] == f"http://127.0.0.1:{port}"
    assert not (root.parent / "TestForum.sqlite").exists()
    assert "$config['database']['type'] = 'mysqli';" in (root / "inc" / "config.php").read_text()
    status = json.loads(cli.run("status", "--json").stdout)
    assert status["forum"]["database"]["ok"], status["forum"]["database"]

    # A second forum into the same tables is refused without --force, and changes nothing.
    cli.run("stop")
    other = Cli({**cli.env, "MYBB_ROOT": str(root.parent / "Other")}, cli.cwd)
    refused = other.run("init", "--from", str(archive_path()), "--db", url)
    assert refused.returncode == 1 and "already holds" in refused.stdout and "prefix" in refused.stdout
    assert not (root.parent / "Other").exists()
    assert mariadb.settings("forum_init")["bburl"] == f"http://127.0.0.1:{port}"


@pytest.mark.mariadb
def test_init_on_mariadb_with_a_wrong_password_names_the_database_step(site: tuple[Cli, Path, int],
                                                                      mariadb: MariaDB) -> None:
    cli, root, _port = site
    mariadb.create_forum_database("forum_badpw", "mybb2", "right", with_settings_table=False)
    done = cli.run("init", "--from", str(archive_path()),
                   "--db", f"mysql://mybb2:wrong@127.0.0.1:{mariadb.port}/forum_badpw")
    assert done.returncode == 1 and "Step: **database**" in done.stdout and "Access denied" in done.stdout
    assert _nothing_left(root.parent)


# --- status -----------------------------------------------------------------------------------------


def test_status_names_the_php_extensions_mybb_lacks(real_forum: RealForum, php: str, tmp_path: Path) -> None:
    # PHP without its php.ini (-n) loads no shared extension: xml, mbstring and pdo_sqlite are gone.
    bare_php = tmp_path / "php-without-ini"
    bare_php.write_text(f"#!{sys.executable}\nimport os, sys\nos.execv({php!r}, [{php!r}, '-n', *sys.argv[1:]])\n")
    bare_php.chmod(0o755)
    cli = Cli({**base_env(), **real_forum.env()}, tmp_path)
    bare = json.loads(cli.run("status", "--json", MYBB_PHP=str(bare_php)).stdout)["forum"]
    assert bare["missing_extensions"] == ["xml", "mbstring", "pdo_sqlite"]
    text = cli.run("status", MYBB_PHP=str(bare_php)).stdout
    assert "lacks the extensions MyBB needs: xml, mbstring, pdo_sqlite" in text
    assert "apt-get install -y php-xml php-mbstring php-sqlite3" in text
    assert json.loads(cli.run("status", "--json").stdout)["forum"]["missing_extensions"] == []
