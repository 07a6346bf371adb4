"""Issue 27, the third hostile review, the doors `init` opened: a world-readable database password
(item 1), the installer's port taken by another user (3), `init --force` destroying a MySQL forum
before the new one exists (5), a killed `init`'s leftovers (10), and two misleading words of item 14.

Each test's name starts with the issue's item number. Tests that act as a second local user create one
(root only) and skip with the reason otherwise; MySQL tests run on the private MariaDB fixture.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import signal
import stat
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mybb_mcp.forum.install import InstallError, InstallRequest, install_forum
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.conftest import free_port, http_get
from tests.fixtures.cli import TIMEOUT, Cli, base_env
from tests.fixtures.mariadb import MariaDB
from tests.fixtures.real_mybb import MybbTemplate, RealForum, archive_path, copy_forum
from tests.reliability.local_users import LocalUser

DB_PASSWORD = "Db-pass-7f3a9c"  # what must never be readable by another user

pytestmark = pytest.mark.skipif(not archive_path().is_file(),
                                reason=f"MyBB release archive not found at {archive_path()} (set MYBB_TEST_ARCHIVE)")


def _site(base: Path, php: str) -> tuple[Cli, Path, int]:
    root, port = base / "site" / "TestForum", free_port()
    cwd = base / "cwd"
    cwd.mkdir()
    return Cli({**base_env(), "MYBB_ROOT": str(root), "MYBB_PORT": str(port), "MYBB_PHP": php}, cwd), root, port


@pytest.fixture
def site(tmp_path: Path, php: str) -> Iterator[tuple[Cli, Path, int]]:
    cli, root, port = _site(tmp_path, php)
    yield cli, root, port
    cli.run("stop", "--force")


def _mysql_url(mariadb: MariaDB, database: str, user: str = "forum") -> str:
    mariadb.create_forum_database(database, user, DB_PASSWORD, with_settings_table=False)
    return f"mysql://{user}:{DB_PASSWORD}@127.0.0.1:{mariadb.port}/{database}"


def _tables(mariadb: MariaDB, database: str) -> dict[str, int]:
    """Every table of the database with its row count."""
    conn = mariadb.connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            names = [row[0] for row in cur.fetchall()]
            counts = {}
            for name in names:
                cur.execute(f"SELECT COUNT(*) FROM `{name}`")
                counts[name] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def _usernames(mariadb: MariaDB, database: str) -> list[str]:
    conn = mariadb.connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT username FROM mybb_users ORDER BY uid")
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


# ----------------------------------------------------------------------------- 1: the database password

_FIND_SECRET = """
import os, sys
secrets, found = [s.encode() for s in sys.argv[2:]], []
for top, dirs, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(top, name)
        try:
            with open(path, 'rb') as handle:
                data = handle.read()
                if any(secret in data for secret in secrets):
                    found.append(path)
        except OSError:
            pass
print('\\n'.join(found))
"""


@pytest.mark.mariadb
def test_1_another_user_reads_no_database_password_beside_a_mysql_forum(shared_dir: Path, php: str,
                                                                        mariadb: MariaDB,
                                                                        other_user: LocalUser) -> None:
    """The attack as filed: a second local user looks for the database password (and the admin's) in
    everything init, start, a page request and a snapshot (a MySQL dump) wrote; they find none, and MyBB
    still serves."""
    cli, root, port = _site(shared_dir, php)
    try:
        done = cli.run("init", "--from", str(archive_path()), "--db", _mysql_url(mariadb, "forum_secret"))
        assert done.returncode == 0, done.stdout + done.stderr
        config = root / "inc" / "config.php"
        assert stat.S_IMODE(config.stat().st_mode) == 0o600 and DB_PASSWORD in config.read_text()
        status, page = http_get(f"http://127.0.0.1:{port}/index.php")
        assert status == 200 and "<title>MyBB Test Forum</title>" in page  # php -S runs as its owner
        assert cli.run("request", "admin/index.php", "--as", "admin").returncode == 0
        saved = cli.run("snapshot", "save", "s1")
        assert saved.returncode == 0, saved.stdout + saved.stderr
        assert DB_PASSWORD not in done.stdout + saved.stdout
        admin_password = re.search(r"\| Password \| `([^`]+)`", done.stdout)
        assert admin_password, done.stdout
        found = other_user.run(["/usr/bin/python3", "-c", _FIND_SECRET, str(shared_dir), DB_PASSWORD,
                                admin_password.group(1)],
                               env={"PATH": "/usr/bin:/bin"}, cwd=Path("/"))
        assert found.returncode == 0, found
        assert found.stdout.strip() == "", f"another user read the database password in: {found.stdout}"
        config.chmod(0o644)  # the search is real: with the mode MyBB's installer leaves, it finds the file
        found = other_user.run(["/usr/bin/python3", "-c", _FIND_SECRET, str(shared_dir), DB_PASSWORD],
                               env={"PATH": "/usr/bin:/bin"}, cwd=Path("/"))
        assert found.stdout.split() == [str(config)], found
        config.chmod(0o600)
        statuses = json.loads(cli.run("status", "--json").stdout)
        assert not [w for w in statuses.get("warnings", []) if "database password" in w], statuses
    finally:
        cli.run("stop", "--force")


def _give_config_a_password(forum: RealForum) -> Path:
    config = forum.root / "inc" / "config.php"
    text = config.read_text()
    assert "$config['database']['password'] = '';" in text
    config.write_text(text.replace("$config['database']['password'] = '';",
                                   f"$config['database']['password'] = '{DB_PASSWORD}';"))
    config.chmod(0o644)
    return config


def test_1_start_and_status_warn_about_a_brought_forums_readable_config(real_forum: RealForum) -> None:
    config = _give_config_a_password(real_forum)
    service = ServerOrchestrationService(real_forum.config())
    try:
        started = service.start(real_forum.port)
        assert started.success, started.message
        for warnings in (started.warnings, service.get_status().warnings):
            found = [w for w in warnings if "database password" in w]
            assert len(found) == 1, warnings
            assert str(config) in found[0] and "0644" in found[0] and f"chmod 600 {config}" in found[0]
            assert DB_PASSWORD not in found[0]
        config.chmod(0o600)
        assert not [w for w in service.get_status().warnings if "database password" in w]
    finally:
        service.stop(force=True)


def test_1_a_config_without_a_password_is_no_warning(real_forum: RealForum) -> None:
    (real_forum.root / "inc" / "config.php").chmod(0o644)  # SQLite: no password in it
    assert not [w for w in ServerOrchestrationService(real_forum.config()).get_status().warnings
                if "database password" in w]


# ----------------------------------------------------------------------------- 3: the installer's port


class _Squatter:
    """A second local user's listener on a loopback port, keeping every byte anyone sends it."""

    CODE = """
import socket, sys
server = socket.socket()
server.bind(('127.0.0.1', 0))
server.listen(16)
print(server.getsockname()[1], flush=True)
got = open(sys.argv[1], 'ab')
while True:
    conn, _ = server.accept()
    conn.settimeout(5)
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            got.write(data); got.flush()
            conn.sendall(b'HTTP/1.0 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n')
    except OSError:
        pass
    conn.close()
"""

    def __init__(self, user: LocalUser, folder: Path) -> None:
        self.received = folder / "received"
        self.received.touch()
        os.chown(self.received, user.uid, user.gid)
        self.proc = subprocess.Popen(["/usr/bin/python3", "-c", self.CODE, str(self.received)],
                                     env={"PATH": "/usr/bin:/bin"}, cwd="/", user=user.uid, group=user.gid,
                                     extra_groups=[], stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def test_3_a_port_squatter_receives_no_credentials(shared_dir: Path, php: str, other_user: LocalUser,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Another user holds the port init's installer would use (the race won, made certain: the port
    chooser returns theirs where one still exists). Nothing reaches them, no process of ours listens,
    and the install completes with our admin."""
    squatter = _Squatter(other_user, shared_dir)
    try:
        with contextlib.suppress(ImportError):  # the earlier design's seam, where it still exists
            from mybb_mcp.forum import installer_server  # type: ignore[attr-defined]

            monkeypatch.setattr(installer_server, "_free_port", lambda: squatter.port)
        listening: list[int] = []
        already = {child.pid for child in psutil.Process().children(recursive=True)}  # a database server...

        def watch(step: str) -> None:
            for child in psutil.Process().children(recursive=True):
                if child.pid in already:
                    continue
                with contextlib.suppress(psutil.Error):
                    listening.extend(c.laddr.port for c in child.net_connections("tcp")
                                     if c.status == psutil.CONN_LISTEN)

        root = shared_dir / "site" / "TestForum"
        with contextlib.suppress(InstallError):
            install_forum(InstallRequest(source=archive_path(), root=root, bburl="http://127.0.0.1:8022", php=php,
                                         admin_user="owner", admin_password="Admin-pass-91bd"), watch)
    finally:
        squatter.stop()
    received = squatter.received.read_bytes()
    assert b"Admin-pass-91bd" not in received and b"adminpass" not in received, received[:300]
    assert received == b"" and listening == []
    assert (root / "install" / "lock").is_file()


# ----------------------------------------------------------------------------- 5: init --force over MySQL


def _damaged_archive(folder: Path) -> Path:
    data = archive_path().read_bytes()
    damaged = folder / "damaged.tar.gz"
    damaged.write_bytes(data[: len(data) // 2])
    return damaged


def _failing_installer(folder: Path) -> Path:
    """A MyBB whose installer stops at its `templates` page, after it has made its tables."""
    with tarfile.open(archive_path()) as tar:
        tar.extractall(folder / "src", filter="data")
    forum = next((folder / "src").iterdir())
    (forum / "install" / "resources" / "mybb_theme.xml").write_text("<not a theme")
    return forum


@pytest.mark.mariadb
@pytest.mark.parametrize("failure", ["damaged archive", "installer fails after making its tables"])
def test_5_a_failing_force_install_leaves_the_mysql_forum_as_it_was(site: tuple[Cli, Path, int], tmp_path: Path,
                                                                    mariadb: MariaDB, failure: str) -> None:
    cli, _root, port = site
    url = _mysql_url(mariadb, "forum_force")
    first = cli.run("init", "--from", str(archive_path()), "--db", url, "--admin", "first")
    assert first.returncode == 0, first.stdout + first.stderr
    before = _tables(mariadb, "forum_force")
    assert len(before) > 50 and _usernames(mariadb, "forum_force") == ["first"]

    source = _damaged_archive(tmp_path) if failure == "damaged archive" else _failing_installer(tmp_path)
    failed = cli.run("init", "--from", str(source), "--db", url, "--force", "--admin", "second")
    assert failed.returncode == 1, failed.stdout
    assert "is as it was" in failed.stdout
    assert _tables(mariadb, "forum_force") == before  # every table, every row
    assert _usernames(mariadb, "forum_force") == ["first"]
    restarted = cli.run("start")
    assert restarted.returncode == 0, restarted.stdout
    assert "<title>MyBB Test Forum</title>" in http_get(f"http://127.0.0.1:{port}/index.php")[1]


@pytest.mark.mariadb
def test_5_a_force_install_over_mysql_replaces_the_forum_whole(site: tuple[Cli, Path, int],
                                                               mariadb: MariaDB) -> None:
    cli, root, port = site
    url = _mysql_url(mariadb, "forum_swap")
    assert cli.run("init", "--from", str(archive_path()), "--db", url, "--admin", "first").returncode == 0
    conn = mariadb.connect("forum_swap")
    try:
        with conn.cursor() as cur:  # a plugin's table: MyBB's installer leaves it, and so does init
            cur.execute("CREATE TABLE mybb_plugin_extra (id INT)")
    finally:
        conn.close()
    replaced = cli.run("init", "--from", str(archive_path()), "--db", url, "--force", "--admin", "second")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert "MyBB tables mybb_* were replaced" in replaced.stdout
    tables = _tables(mariadb, "forum_swap")
    assert all(name.startswith("mybb_") for name in tables), tables  # no stage or set-aside table left
    assert "mybb_plugin_extra" in tables
    assert _usernames(mariadb, "forum_swap") == ["second"]
    assert "$config['database']['table_prefix'] = 'mybb_';" in (root / "inc" / "config.php").read_text()
    assert "<title>MyBB Test Forum</title>" in http_get(f"http://127.0.0.1:{port}/index.php")[1]
    login = cli.run("request", "admin/index.php", "--as", "admin")
    assert login.returncode == 0 and "Logged in" in login.stdout, login.stdout


# ----------------------------------------------------------------------------- 10: a killed init


def _our_scratch_folders() -> set[str]:
    found = set()
    for base in ("/dev/shm", "/tmp"):
        with contextlib.suppress(OSError):
            found |= {os.path.join(base, n) for n in os.listdir(base) if n.startswith("mybb-install-")}
    return found


def test_10_a_killed_init_leaves_nothing_the_next_init_does_not_clear(site: tuple[Cli, Path, int]) -> None:
    cli, root, port = site
    scratch_before = _our_scratch_folders()
    killed = cli.popen("init", "--from", str(archive_path()))
    staging: Path | None = None
    try:
        deadline = time.monotonic() + TIMEOUT
        while staging is None and time.monotonic() < deadline:  # an installer page running: kill init then
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(killed.pid).children(recursive=True):
                    line = " ".join(child.cmdline())
                    if ".TestForum.installing-" in line and "php" in line:
                        staging = next(p for p in root.parent.iterdir() if p.name.startswith(".TestForum.installing-"))
                        break
            if killed.poll() is not None:
                pytest.fail("init ended before an installer page was caught running: " + (killed.stdout.read()
                                                                                       if killed.stdout else ""))
            time.sleep(0.005)
        assert staging is not None
    finally:
        killed.kill()  # SIGKILL: no finally of its own runs
        killed.wait()
    record = staging / "run.json"  # what the killed run recorded (its scratch database's folder)
    recorded = json.loads(record.read_text()) if record.is_file() else {}
    left_scratch = {recorded["scratch"]} if recorded.get("scratch") else _our_scratch_folders() - scratch_before
    assert left_scratch and all(Path(p).is_dir() for p in left_scratch)
    # What a killed run leaves holds the forum's config (a password, on MySQL): nobody else may enter it.
    assert all(stat.S_IMODE(Path(p).stat().st_mode) == 0o700 for p in [staging, *left_scratch])

    again = cli.run("init", "--from", str(archive_path()), "--force")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "An earlier init was stopped before it finished; removed what it left" in again.stdout
    assert str(staging) in again.stdout
    assert not staging.exists()
    assert not [p for p in root.parent.iterdir() if ".installing-" in p.name]
    assert not any(Path(p).exists() for p in left_scratch), left_scratch
    strays = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, TypeError):
            if str(staging) in " ".join(proc.info["cmdline"] or []):
                strays.append(proc.pid)
    assert strays == [], "a process of the killed init still runs"
    assert "<title>MyBB Test Forum</title>" in http_get(f"http://127.0.0.1:{port}/index.php")[1]


def test_10_an_init_at_work_is_not_cleared_away(site: tuple[Cli, Path, int]) -> None:
    """A staging folder whose init still runs is another init at work: refused, nothing removed."""
    from mybb_mcp.forum.install_leftovers import RunRecord, clear_leftovers

    _cli, root, _port = site
    root.parent.mkdir(parents=True)
    staging = root.parent / ".TestForum.installing-abcd1234"
    staging.mkdir(mode=0o700)
    holder = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        record = RunRecord(staging)
        record.update(init={"pid": holder.pid, "started": psutil.Process(holder.pid).create_time()})
        with pytest.raises(InstallError) as refused:
            clear_leftovers(root, None)
        assert f"Another init (process {holder.pid}) is installing" in refused.value.message
        assert staging.is_dir() and holder.poll() is None
    finally:
        holder.kill()
        holder.wait()
    notes = clear_leftovers(root, None)  # its init is gone now: cleared, and said
    assert len(notes) == 1 and str(staging) in notes[0] and not staging.exists()


@pytest.mark.mariadb
def test_10_a_killed_mysql_inits_stage_tables_are_dropped_and_no_forum_table(tmp_path: Path,
                                                                            mariadb: MariaDB) -> None:
    """A MySQL run killed midway left tables under its stage prefix: the next init drops those, and only those."""
    from mybb_mcp.forum.install import parse_database_url
    from mybb_mcp.forum.install_leftovers import RunRecord, clear_leftovers

    database = parse_database_url(_mysql_url(mariadb, "forum_leftover"))
    conn = mariadb.connect("forum_leftover")
    try:
        with conn.cursor() as cur:
            for table in ("mybbmcp0123abcd_users", "mybbmcp0123abcd_posts", "mybb_users", "mybbmcp99999999_users"):
                cur.execute(f"CREATE TABLE `{table}` (id INT)")
    finally:
        conn.close()
    root = tmp_path / "site" / "TestForum"
    staging = root.parent / ".TestForum.installing-dead0001"
    staging.mkdir(parents=True, mode=0o700)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(gone.pid).create_time()
    gone.wait()
    record = RunRecord(staging)
    record.update(init={"pid": gone.pid, "started": started},
                  mysql={"host": database.host, "name": database.name, "user": database.user,
                         "prefix": "mybbmcp0123abcd_"})
    record.close()
    notes = clear_leftovers(root, database)
    assert len(notes) == 1 and "its 2 tables mybbmcp0123abcd_*" in notes[0], notes
    assert sorted(_tables(mariadb, "forum_leftover")) == ["mybb_users", "mybbmcp99999999_users"]
    assert not staging.exists()


# ----------------------------------------------------------------------------- 14: words of unpacking


def test_14_a_full_disk_while_unpacking_is_named_as_such(tmp_path: Path, php: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC cannot be made real without a small file system of our own: the seam is tarfile's copy."""
    written = threading.Event()

    def full_disk(src, dst, length=None, exception=OSError, bufsize=None):  # type: ignore[no-untyped-def]
        written.set()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tarfile, "copyfileobj", full_disk)
    root = tmp_path / "site" / "TestForum"
    with pytest.raises(InstallError) as failed:
        install_forum(InstallRequest(source=archive_path(), root=root, bburl="http://127.0.0.1:8022", php=php))
    assert written.is_set()
    words = failed.value.message + " " + failed.value.hint
    assert "disk is full" in words and "damaged" not in words, words
    assert "Free space" in failed.value.hint
    assert not root.exists() and not [p for p in root.parent.iterdir() if ".installing-" in p.name]


def test_14_a_full_disk_while_copying_a_folder_source_is_named_as_such(tmp_path: Path, php: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    forum = _failing_installer(tmp_path)  # any MyBB folder: the copy fails before its installer runs

    def full_disk(src, dst, *, follow_symlinks=True):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(shutil, "copyfile", full_disk)  # what copytree's copy2 writes with
    root = tmp_path / "site" / "TestForum"
    with pytest.raises(InstallError) as failed:
        install_forum(InstallRequest(source=forum, root=root, bburl="http://127.0.0.1:8022", php=php))
    assert "disk is full" in failed.value.message and "Free space" in failed.value.hint
    assert len(failed.value.message) < 1000, failed.value.message  # not one line per file
    assert not root.exists() and not [p for p in root.parent.iterdir() if ".installing-" in p.name]


def test_14_a_damaged_archive_is_still_named_damaged(tmp_path: Path, php: str) -> None:
    root = tmp_path / "site" / "TestForum"
    with pytest.raises(InstallError) as failed:
        install_forum(InstallRequest(source=_damaged_archive(tmp_path), root=root, bburl="http://127.0.0.1:8022",
                                     php=php))
    assert "damaged" in failed.value.hint and "disk is full" not in failed.value.message


# ----------------------------------------------------------------------------- 14: a planted workbench folder


def test_14_a_workbench_folder_planted_by_another_user_is_named_and_never_used(
        mybb_template: MybbTemplate, shared_dir: Path, other_user: LocalUser) -> None:
    from mybb_mcp.forum.requests import PageRequest

    repo = shared_dir / "repo"
    forum = copy_forum(mybb_template, repo, free_port())
    repo.chmod(0o1777)  # a shared folder, as /tmp is: anyone may create a name in it
    planted = repo / ".mybb-server-workbench"
    made = other_user.run(["/bin/mkdir", "-m", "0777", str(planted)], env={"PATH": "/usr/bin:/bin"}, cwd=Path("/"))
    assert made.returncode == 0 and planted.stat().st_uid == other_user.uid, made
    service = ServerOrchestrationService(forum.config())
    try:
        started = service.start(forum.port)
        assert started.success, started.message
        for warnings in (started.warnings, service.get_status().warnings):
            named = [w for w in warnings if str(planted) in w]
            assert len(named) == 1, warnings
            assert f"belongs to user {other_user.name}" in named[0] and f"sudo rm -rf {planted}" in named[0]
            assert "trace" in named[0]
        traced = service.forum.request_page(PageRequest("index.php", trace=True))
        assert traced.failure and str(planted) in traced.problem and "older version" not in traced.problem
        assert "Remove that folder" in traced.hint
        plain = service.forum.request_page(PageRequest("index.php"))
        assert plain.failure is None and plain.response is not None and plain.response.status == 200
        assert list(planted.iterdir()) == []  # nothing of ours was written into it, or read from it
    finally:
        service.stop(force=True)
