"""Fault 8: odd paths work; bad roots, binaries and log directories are refused clearly.

A MyBB root whose path holds spaces, quotes, `$`, backticks, shell
metacharacters or non-ASCII must work (there is no shell to misread it). A
missing root, a root that is a file, one without index.php, a wrong MYBB_PHP
and an unwritable logs/ each get a clear message and change nothing.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from mybb_mcp.answers.lifecycle import render_result
from mybb_mcp.config import Config, load_config
from mybb_mcp.orchestration import Failure, LogQueryOptions, ServerOrchestrationService
from tests.conftest import http_get
from tests.fixtures.docroot import write_docroot
from tests.reliability.conftest import EXTRA_PAGES, cli_env, php_servers, run_cli, snapshot

ODD_NAMES = [
    "it's \"a\" $HOME `tick` café",
    "with space",
    "-leading-dash",
    "semi;colon & pipe | <angle> 100%25 *star? [x]",
    "日本語のフォーラム",
    "new\nline",
]


def odd_forum(base: Path, name: str) -> Path:
    root = write_docroot(base / name / "forum")
    for page, text in EXTRA_PAGES.items():
        (root / page).write_text(text)
    return root


@pytest.fixture
def odd_service(tmp_path: Path, php: str, port: int) -> Callable[[str], ServerOrchestrationService]:
    made: list[ServerOrchestrationService] = []

    def make(name: str) -> ServerOrchestrationService:
        service = ServerOrchestrationService(Config(mybb_root=odd_forum(tmp_path, name), php=php, port=port))
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop(force=True)


@pytest.mark.parametrize("name", ODD_NAMES, ids=range(len(ODD_NAMES)))
def test_a_forum_under_an_odd_path_is_served_and_managed(
    name: str, odd_service: Callable[[str], ServerOrchestrationService],
) -> None:
    service = odd_service(name)
    root = service.config.mybb_root
    started = service.start()
    assert started.success, render_result(started)
    assert http_get(f"{started.url}/index.php") == (200, "forum index")
    assert http_get(f"{started.url}/marker.php?m=odd-path-1") == (200, "marked odd-path-1")

    php = psutil.Process(started.pid)
    assert php.ppid() == os.getpid(), "something stands between us and PHP (a shell?)"
    assert str(root) in php.cmdline()  # one argument, exactly as given: nothing was expanded or split
    assert php.cwd() == str(root)

    status = service.get_status()
    assert status.running and status.mybb_root == root
    logs = service.logs.search_logs(LogQueryOptions(filter_keyword="odd-path-1", exclude_static=False))
    assert any("odd-path-1" in entry.message for entry in logs.entries)
    assert (root.parent / "logs" / "server.log").is_file() and (root.parent / ".mybb-server.json").is_file()

    restarted = service.restart()
    assert restarted.success and http_get(f"{restarted.url}/ok.php") == (200, "ok")
    assert service.stop().success
    assert php_servers(root) == []


def test_the_cli_and_a_dotenv_file_take_an_odd_path_literally(tmp_path: Path, php: str, port: int) -> None:
    root = odd_forum(tmp_path, ODD_NAMES[0])
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / ".env").write_text(f"MYBB_ROOT={root}\nMYBB_PHP={php}\nMYBB_PORT={port}\n")
    config = load_config({}, cwd=workdir)
    assert config.mybb_root == root  # `$HOME` and the backticks stayed as written

    env = cli_env()
    try:
        started = run_cli(["start", "--json"], env, workdir)
        assert started.returncode == 0, started.stdout + started.stderr
        assert json.loads(started.stdout)["success"] is True
        assert http_get(f"http://127.0.0.1:{port}/index.php") == (200, "forum index")
        status = json.loads(run_cli(["status", "--json"], env, workdir).stdout)
        assert status["running"] is True and status["mybb_root"] == str(root)
        assert run_cli(["stop"], env, workdir).returncode == 0
    finally:
        ServerOrchestrationService(config).stop(force=True)
    assert php_servers(root) == []


# ----------------------------------------------------------------------------- refused, nothing changed


def assert_refused_and_unchanged(service: ServerOrchestrationService, failure: Failure, *names: str,
                                 lock_allowed: bool = False) -> None:
    """Start (also forced, and restart) fails with `failure`, the message names `names`, and nothing
    in the repository directory changed (no state, no logs, no process)."""
    repo = service.config.repo_root
    before = snapshot(repo) if repo.exists() else None
    for call in (service.start, lambda: service.start(force=True), service.restart):
        result = call()
        assert not result.success and result.failure is failure, render_result(result)
        text = render_result(result)
        assert text.startswith(f"# Error: {failure.title}") and all(name in text for name in names), text
        assert "**Next:**" in text
    after = snapshot(repo) if repo.exists() else None
    if lock_allowed and after is not None and before is not None and ".mybb-server.lock" not in before:
        lock = after.pop(".mybb-server.lock", None)
        assert lock is None or lock[2] == b""  # an empty lock file may appear ...
        claim = after.pop(".mybb-server.forum", None)  # ... and the record of which forum owns the names
        assert claim is None or json.loads(claim[2] or b"") == {"version": 1, "mybb_root": str(repo / "forum")}
    assert after == before
    assert php_servers(service.config.mybb_root) == []
    stopped = service.stop()
    assert not stopped.success


@pytest.mark.parametrize("case", ["missing", "missing_parent", "a_file", "no_index_php", "empty_name"])
def test_an_unusable_mybb_root_is_refused_and_nothing_changes(
    case: str, tmp_path: Path, php: str, port: int,
) -> None:
    base = tmp_path / "repo"
    base.mkdir()
    (base / "keep.txt").write_text("the user's own file\n")
    if case == "missing":
        root = base / "no-such-forum"
    elif case == "missing_parent":
        root = tmp_path / "nowhere" / "deeper" / "forum"
    elif case == "a_file":
        root = base / "forum"
        root.write_text("not a directory\n")
    elif case == "no_index_php":
        root = base / "forum"
        root.mkdir()
        (root / "readme.txt").write_text("no index.php here\n")
    else:
        root = base / " "
    service = ServerOrchestrationService(Config(mybb_root=root, php=php, port=port))
    assert_refused_and_unchanged(service, Failure.BAD_FORUM_ROOT, str(root))


@pytest.mark.parametrize("case", ["missing_path", "not_on_path", "a_directory", "not_executable", "empty"])
def test_a_wrong_mybb_php_is_refused_and_nothing_changes(
    case: str, forum: Path, port: int, tmp_path: Path,
) -> None:
    if case == "missing_path":
        php = str(tmp_path / "bin" / "php8.9")
    elif case == "not_on_path":
        php = "php-that-does-not-exist"
    elif case == "a_directory":
        (tmp_path / "phpdir").mkdir()
        php = str(tmp_path / "phpdir")
    elif case == "not_executable":
        script = tmp_path / "php"
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o644)
        php = str(script)
    else:
        php = ""
    if case == "not_executable" and os.geteuid() == 0:
        # root may execute anything with an x bit; without any x bit even root cannot.
        assert not os.access(php, os.X_OK)
    service = ServerOrchestrationService(Config(mybb_root=forum, php=php, port=port))
    assert_refused_and_unchanged(service, Failure.PHP_NOT_FOUND, "MYBB_PHP", repr(php), lock_allowed=True)


def test_a_mybb_php_that_is_not_php_is_refused_clearly(forum: Path, port: int, tmp_path: Path) -> None:
    """An executable that is not PHP (exits at once): a clear failure, no state, no process, and the
    previous log is still there."""
    service = ServerOrchestrationService(Config(mybb_root=forum, php="/bin/false", port=port))
    service.config.log_dir.mkdir()
    service.config.log_file.write_text("previous run\n")
    result = service.start()
    assert not result.success and result.failure is Failure.PHP_EXITED, result
    text = render_result(result)
    assert "exited with status 1" in text and "**Next:**" in text
    assert not service.config.state_file.exists()
    assert php_servers(forum) == []
    kept = [p.read_text() for p in service.config.log_dir.iterdir()]
    assert "previous run\n" in kept


def test_logs_that_is_a_file_is_refused_and_nothing_changes(service: ServerOrchestrationService) -> None:
    """As root chmod cannot stop a write: `logs` being a regular file can."""
    service.config.log_dir.write_text("someone's file called logs\n")
    assert_refused_and_unchanged(service, Failure.UNSAFE_FILE,
                                 f"{service.config.log_dir} is a regular file, not a directory", lock_allowed=True)
    assert service.config.log_dir.read_text() == "someone's file called logs\n"


def test_a_full_disk_is_refused(service: ServerOrchestrationService, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC cannot be made real without a small filesystem of our own: a mock at the log write."""
    def full(self: object, log_file: Path, **_: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(log_file))

    monkeypatch.setattr(ServerOrchestrationService, "_open_log", full)
    result = service.start()
    assert not result.success and result.failure is Failure.LOG_UNWRITABLE
    assert "No space left on device" in render_result(result)
    assert not service.config.state_file.exists() and php_servers(service.config.mybb_root) == []


def test_the_cli_exits_1_with_the_reason_for_a_bad_root(tmp_path: Path, php: str, port: int) -> None:
    env = cli_env(MYBB_ROOT=str(tmp_path / "nowhere" / "forum"), MYBB_PHP=php, MYBB_PORT=str(port))
    done = run_cli(["start"], env, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "MyBB Root Not Usable" in done.stdout and str(tmp_path / "nowhere" / "forum") in done.stdout
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "nowhere").exists()
