"""Several forums, several spellings, several agents on one machine: one truth per forum.

State, lock and log belong to one forum, keyed by its resolved root; the first forum in a folder
keeps the plan's names, any other gets names of its own. Everything here runs real `php -S`.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from mybb_mcp.answers.commands import CLI_COMMANDS
from mybb_mcp.answers.lifecycle import render_result
from mybb_mcp.answers.status import render_status
from mybb_mcp.config import Config, load_config
from mybb_mcp.layout import CLAIM_NAME, forum_key
from mybb_mcp.orchestration import Failure, LogQueryOptions, ServerOrchestrationService, process
from tests.conftest import free_port, http_get
from tests.fixtures.docroot import write_docroot
from tests.reliability.conftest import Imposter, alive, cli_env, php_servers, run_cli, wait_for

Make = Callable[..., ServerOrchestrationService]


@pytest.fixture
def forums(tmp_path: Path, php: str) -> Iterator[Make]:
    """`make(name, port=None, parent="repo")`: a service on a fresh fixture forum <tmp>/<parent>/<name>,
    each page naming its forum (`which.php`). Everything started is force-stopped afterwards."""
    made: list[ServerOrchestrationService] = []

    def make(name: str, port: int | None = None, parent: str = "repo", **extra: object) -> ServerOrchestrationService:
        root = tmp_path / parent / name
        if not (root / "index.php").exists():
            write_docroot(root)
            (root / "which.php").write_text(f"<?php echo '{name}';\n")
        settings: dict[str, object] = {"php": php, **extra}
        service = ServerOrchestrationService(Config(mybb_root=root, port=port or free_port(), **settings))
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop(force=True)


# ----------------------------------------------------------------------------- item 1: files per forum


def test_two_forums_in_one_parent_run_at_once_with_their_own_state_log_and_lock(forums: Make) -> None:
    alpha, beta = forums("alpha"), forums("beta")
    a, b = alpha.start(), beta.start()
    assert a.success and b.success, (render_result(a), render_result(b))
    assert a.pid != b.pid and a.url != b.url
    assert http_get(f"{a.url}/which.php") == (200, "alpha")
    assert http_get(f"{b.url}/which.php") == (200, "beta")

    repo = alpha.config.repo_root
    # The first forum keeps the plan's layout; the second gets names of its own.
    assert alpha.config.state_file == repo / ".mybb-server.json"
    assert alpha.config.log_file == repo / "logs" / "server.log"
    key = forum_key(beta.config.mybb_root)
    assert key.startswith("beta-") and len(key) == len("beta-") + 8
    assert beta.config.state_file == repo / f".mybb-server.{key}.json"
    assert beta.config.lock_file == repo / f".mybb-server.{key}.lock"
    assert beta.config.log_file == repo / "logs" / key / "server.log"
    assert json.loads((repo / CLAIM_NAME).read_text())["mybb_root"] == str(alpha.config.mybb_root)
    assert json.loads(alpha.config.state_file.read_text())["pid"] == a.pid
    assert json.loads(beta.config.state_file.read_text())["pid"] == b.pid
    http_get(f"{b.url}/which.php?only-beta")
    assert "only-beta" in beta.config.log_file.read_text()
    assert "only-beta" not in alpha.config.log_file.read_text()

    # Each status speaks of its own forum; stopping one leaves the other serving.
    sa, sb = alpha.get_status(), beta.get_status()
    assert (sa.pid, sa.url, sa.mybb_root) == (a.pid, a.url, alpha.config.mybb_root)
    assert (sb.pid, sb.url, sb.mybb_root) == (b.pid, b.url, beta.config.mybb_root)
    stopped = beta.stop()
    assert stopped.success and stopped.pid == b.pid
    assert alpha.get_status().running and http_get(f"{a.url}/which.php") == (200, "alpha")
    assert not beta.get_status().running
    assert php_servers(beta.config.mybb_root) == []


def test_a_second_forums_start_is_not_answered_by_the_first(forums: Make) -> None:
    """The reported bug: forum B's start said "already running" (A's server)."""
    alpha = forums("alpha")
    assert alpha.start().success
    beta = forums("beta")
    started = beta.start()
    assert started.success, render_result(started)
    assert started.failure is not Failure.ALREADY_RUNNING


def test_a_state_file_of_an_older_version_stays_with_its_forum(forums: Make, tmp_path: Path) -> None:
    """A folder used before per-forum names existed: its `.mybb-server.json` names the forum that owns
    the plain names, whichever forum of the folder is used first now."""
    alpha = forums("alpha")
    started = alpha.start()
    assert started.success
    claim = alpha.config.repo_root / CLAIM_NAME
    claim.unlink()  # as an older version left the folder: a state file and no record
    beta = forums("beta")
    assert beta.config.state_file != alpha.config.state_file
    assert beta.start().success  # claims the folder for alpha, the forum the old state names
    assert json.loads(claim.read_text())["mybb_root"] == str(alpha.config.mybb_root)
    status = alpha.get_status()
    assert status.running and status.pid == started.pid


def test_a_claim_record_owned_by_someone_else_is_not_believed(forums: Make) -> None:
    """A record we cannot trust (here: a symlink to another forum's) gives no forum the plain names."""
    alpha = forums("alpha")
    repo = alpha.config.repo_root
    elsewhere = repo.parent / "elsewhere.json"
    elsewhere.write_text(json.dumps({"version": 1, "mybb_root": str(alpha.config.mybb_root)}))
    (repo / CLAIM_NAME).symlink_to(elsewhere)
    assert not alpha.config.files.plain
    assert alpha.start().success
    assert not (repo / ".mybb-server.json").exists() and alpha.config.state_file.exists()


# ----------------------------------------------------------------------------- item 2: one forum, two spellings


def test_a_symlinked_root_and_its_target_are_one_forum(forums: Make, tmp_path: Path, php: str) -> None:
    target = forums("alpha")
    link_parent = tmp_path / "links"
    link_parent.mkdir()
    (link_parent / "forum").symlink_to(target.config.mybb_root)
    via_link = ServerOrchestrationService(Config(mybb_root=link_parent / "forum", php=php, port=free_port()))
    assert via_link.config.mybb_root == target.config.mybb_root
    assert via_link.config.state_file == target.config.state_file

    started = via_link.start()
    assert started.success, render_result(started)
    again = target.start()
    assert again.failure is Failure.ALREADY_RUNNING and again.pid == started.pid
    assert len([p for p in php_servers(target.config.mybb_root)]) == 1
    assert target.get_status().pid == started.pid
    assert target.stop().success
    assert not via_link.get_status().running


def test_a_symlinked_root_from_the_environment_is_resolved(forums: Make, tmp_path: Path) -> None:
    target = forums("alpha")
    (tmp_path / "link").symlink_to(target.config.mybb_root.parent)
    config = load_config({"MYBB_ROOT": str(tmp_path / "link" / "alpha" / ".." / "alpha")}, cwd=tmp_path)
    assert config.mybb_root == target.config.mybb_root
    assert config.log_file == target.config.log_file


# ----------------------------------------------------------------------------- item 3: who holds the port


def test_a_port_held_by_another_forums_server_names_that_forum_and_suggests_a_free_port(forums: Make) -> None:
    alpha = forums("alpha")
    a = alpha.start()
    beta = forums("beta", port=a.port)
    refused = beta.start()
    assert refused.failure is Failure.PORT_IN_USE, render_result(refused)
    owner = refused.port_owner
    assert owner is not None and owner.forum_root == str(alpha.config.mybb_root) and owner.forum_url == a.url
    assert refused.free_port is not None and process.port_is_free("127.0.0.1", refused.free_port)
    assert abs(refused.free_port - a.port) <= 200
    text = render_result(refused)
    assert str(alpha.config.mybb_root) in text and a.url in text
    assert "did not start" not in text and "not touched" not in text  # it is ours, not a stranger's
    assert f"`mybb_server_start` with `port: {refused.free_port}`" in text
    # The suggestion works.
    moved = beta.start(port=refused.free_port)
    assert moved.success, render_result(moved)
    assert http_get(f"{moved.url}/which.php") == (200, "beta")

    # Status of the forum whose port is taken says whose it is, too.
    gamma = forums("gamma", port=a.port)
    status = gamma.get_status()
    assert status.foreign is not None and status.foreign.forum_root == str(alpha.config.mybb_root)
    shown = render_status(status)
    assert a.url in shown and f"port: {status.free_port}" in shown


def test_stop_without_a_server_of_ours_says_so_once(forums: Make, imposter: Callable[..., Imposter]) -> None:
    alpha = forums("alpha")
    a = alpha.start()
    beta = forums("beta", port=a.port)
    stopped = beta.stop()
    assert stopped.failure is Failure.NOT_RUNNING  # alpha's server is ours: not "not ours"
    text = render_result(stopped)
    assert text.startswith("# Error: Server Not Running") and "Not Our Server" not in text, text
    assert text.count(f"PID {a.pid}") == 1, text
    assert text.count(str(alpha.config.mybb_root)) >= 1 and "started some other way" not in text
    assert alpha.get_status().running  # not touched

    port = free_port()
    fake = imposter(listen=port)
    gamma = forums("gamma", port=port)
    stopped = gamma.stop()
    assert stopped.failure is Failure.NOT_OURS
    text = render_result(stopped)
    assert text.count(f"PID {fake.pid}") == 1 and text.count("did not start") == 1, text
    assert stopped.free_port is not None and f"port: {stopped.free_port}" in text
    fake.assert_untouched()


def test_a_port_refusal_suggests_the_nearest_free_port(forums: Make, imposter: Callable[..., Imposter]) -> None:
    port = free_port()
    fake = imposter(listen=port)
    service = forums("alpha", port=port)
    for result in (service.start(), service.restart()):
        assert result.failure is Failure.PORT_IN_USE
        assert result.free_port is not None and result.free_port != port
        assert process.port_is_free("127.0.0.1", result.free_port)
        assert f"Port {result.free_port} is free" in render_result(result)
        assert f"`mybb-server start --port {result.free_port}`" in render_result(result, CLI_COMMANDS)
    fake.assert_untouched()


# ----------------------------------------------------------------------------- item 4: start on another port


def test_start_with_another_port_while_running_says_the_port_was_not_changed(forums: Make) -> None:
    service = forums("alpha")
    started = service.start()
    other = free_port()
    again = service.start(port=other)
    assert again.failure is Failure.ALREADY_RUNNING and again.port == started.port
    assert again.requested_port == other
    text = render_result(again)
    assert text.startswith("# Server Already Running")
    assert "The port was not changed" in text and f"`mybb_server_restart` with `port: {other}`" in text
    assert f"`mybb-server restart --port {other}`" in render_result(again, CLI_COMMANDS)
    assert process.port_is_free("127.0.0.1", other)
    # Asking for the port it already has is no change to report.
    same = service.start(port=started.port)
    assert same.requested_port is None and "not changed" not in render_result(same)


# ----------------------------------------------------------------------------- item 5: the crash record


def test_a_crash_record_read_twice_and_by_every_reader_lasts_until_the_next_start(
    forums: Make, tmp_path: Path,
) -> None:
    service = forums("alpha")
    started = service.start()
    http_get(f"{started.url}/exception.php")
    os.kill(started.pid, signal.SIGKILL)
    assert wait_for(lambda: not alive(started.pid))

    first, second = service.get_status(), service.get_status()
    assert first.died is not None and second.died == first.died
    text = render_status(second)
    assert text.startswith("# Server Status: Died")
    assert "## Notes" not in text and text.count(f"PID {started.pid}") == 1, text
    # Another reader (a fresh process's view), a log query and a stop do not consume it either.
    service.logs.search_logs(LogQueryOptions(errors_only=True))
    other = ServerOrchestrationService(service.config)
    assert other.get_status().died == first.died
    stopped = service.stop()
    assert stopped.failure is Failure.NOT_RUNNING and stopped.died is not None
    env = cli_env(MYBB_ROOT=str(service.config.mybb_root), MYBB_PHP=service.config.php,
                  MYBB_PORT=str(service.config.port))
    cli = run_cli(["status"], env, tmp_path)
    assert cli.stdout.startswith("# Server Status: Died") and "SIGKILL" not in cli.stdout  # not its child
    assert service.get_status().died is not None

    restarted = service.start()
    assert restarted.success and any("had died" in note for note in restarted.notes)
    assert service.get_status().died is None and service.get_status().running


# ----------------------------------------------------------------------------- item 6: a shim that execs PHP


SHIMS = {
    # asdf/phpenv shims are shell scripts that end in `exec`; the PID stays, the program changes.
    "exec": '#!/bin/sh\nexec "{php}" "$@"\n',
    "env": '#!/bin/sh\nPATH="{bindir}:$PATH" exec /usr/bin/env php "$@"\n',
    # A wrapper that runs PHP as its child: PHP is the process in our session that holds the socket.
    "child": '#!/bin/sh\n"{php}" "$@"\n',
}


@pytest.mark.parametrize("kind", sorted(SHIMS))
def test_a_version_manager_shim_that_execs_php_is_followed_to_php(
    kind: str, forums: Make, tmp_path: Path, php: str,
) -> None:
    shim = tmp_path / "shims" / "php"
    shim.parent.mkdir()
    shim.write_text(SHIMS[kind].format(php=php, bindir=os.path.dirname(php)))
    shim.chmod(0o755)
    service = forums("alpha", php=str(shim), workers=2)
    started = service.start()
    assert started.success, render_result(started)
    state = json.loads(service.config.state_file.read_text())
    assert state["pid"] == started.pid
    assert state["cmdline"] == psutil.Process(started.pid).cmdline()  # PHP's own command line ...
    assert str(shim) not in state["cmdline"]  # ... not the shim's
    assert len(started.workers) == 2
    if kind == "child":
        assert state["session"] == psutil.Process(started.pid).ppid()  # the wrapper leads the session

    status = service.get_status()
    assert status.running and status.pid == started.pid and status.died is None
    assert http_get(f"{started.url}/which.php") == (200, "alpha")
    stopped = service.stop()
    assert stopped.success, render_result(stopped)
    assert php_servers(service.config.mybb_root) == []
    assert not alive(started.pid) and not any(alive(pid) for pid in started.workers)
    again = service.start()  # not orphaned: the port is free, the state is ours
    assert again.success, render_result(again)


# ----------------------------------------------------------------------------- item 7: the whole pool


def test_workers_3_start_lists_all_3_workers_every_time(forums: Make) -> None:
    service = forums("alpha", workers=3)
    for _ in range(5):
        started = service.start()
        assert started.success
        children = sorted(child.pid for child in psutil.Process(started.pid).children())
        assert len(started.workers) == 3 and sorted(started.workers) == children
        assert service.get_status().workers == children
        assert service.stop().success


# ----------------------------------------------------------------------------- item 8: exposure


def test_status_repeats_the_exposure_warning_while_exposed(forums: Make) -> None:
    service = forums("alpha")
    started = service.start(host="0.0.0.0")
    assert started.success and any("not loopback" in w for w in started.warnings)
    status = service.get_status()
    assert any("not loopback" in warning for warning in status.warnings)
    assert "reachable from the network" in render_status(status)
    back = service.restart(host="127.0.0.1")
    assert back.success and back.host == "127.0.0.1" and not back.warnings
    assert not [w for w in service.get_status().warnings if "not loopback" in w]


# ----------------------------------------------------------------------------- list


@pytest.fixture
def registry_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "state-home"
    monkeypatch.setenv("XDG_STATE_HOME", str(home))
    return home / "mybb-mcp" / "servers"


def test_list_with_two_forums_shows_both_and_nothing_stale(
    forums: Make, registry_home: Path, tmp_path: Path, imposter: Callable[..., Imposter],
) -> None:
    alpha, beta = forums("alpha"), forums("beta", parent="elsewhere", workers=2)
    a, b = alpha.start(), beta.start()
    assert a.success and b.success
    listed = alpha.list_servers()
    assert [(s.mybb_root, s.url, s.pid, s.health) for s in listed] == sorted(
        [(alpha.config.mybb_root, a.url, a.pid, "answering"), (beta.config.mybb_root, b.url, b.pid, "answering")],
        key=lambda row: str(row[0]))
    assert next(s for s in listed if s.pid == b.pid).workers == sorted(b.workers)
    assert stat.S_IMODE(registry_home.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in registry_home.iterdir())

    # The CLI, as JSON, and the MCP status tool with all: true.
    env = cli_env(XDG_STATE_HOME=str(registry_home.parent.parent))
    shown = json.loads(run_cli(["list", "--json"], env, tmp_path).stdout)
    assert sorted(row["pid"] for row in shown) == sorted([a.pid, b.pid])
    assert {row["url"] for row in shown} == {a.url, b.url} and all(row["health"] == "answering" for row in shown)
    text = run_cli(["list"], env, tmp_path).stdout
    assert text.startswith("# MyBB Servers: 2 Running") and a.url in text and b.url in text

    # Stale and forged entries are not shown: a crashed server, a live process that is not ours, a symlink.
    os.kill(b.pid, signal.SIGKILL)
    for pid in b.workers:
        os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not alive(b.pid))
    fake = imposter()
    forged = json.loads((registry_home / f"{alpha.config.files.key}.json").read_text())
    forged.update(pid=fake.pid, key="forged", mybb_root="/forged")
    (registry_home / "forged.json").write_text(json.dumps(forged))
    (registry_home / "linked.json").symlink_to(registry_home / f"{alpha.config.files.key}.json")
    assert [s.pid for s in alpha.list_servers()] == [a.pid]
    fake.assert_untouched()
    assert alpha.stop().success
    assert alpha.list_servers() == []
    assert run_cli(["list"], env, tmp_path).stdout.startswith("# MyBB Servers: None Running")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_list_through_the_mcp_status_tool_with_all_and_without_a_forum(
    forums: Make, registry_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mcp import Client

    from mybb_mcp.server import server

    alpha, beta = forums("alpha"), forums("beta")
    a, b = alpha.start(), beta.start()
    for key in [k for k in os.environ if k.startswith("MYBB_")]:
        monkeypatch.delenv(key)
    empty = tmp_path / "nowhere"
    empty.mkdir()
    monkeypatch.chdir(empty)  # no MYBB_ROOT, no TestForum/ here: no forum configured
    async with Client(server) as client:
        for args in ({}, {"all": True}):
            result = await client.call_tool("mybb_server_status", args)
            text = result.content[0].text  # type: ignore[union-attr]
            assert not result.is_error and text.startswith("# MyBB Servers: 2 Running"), text
            assert a.url in text and b.url in text and str(beta.config.mybb_root) in text
        assert "No forum is configured" in text or args == {"all": True}
        refused = await client.call_tool("mybb_server_status", {"all": "yes"})
        assert refused.is_error


def test_mybb_error_logging_remembers_per_forum(real_forum: Any, php: str) -> None:
    """`errorlog on` remembers the settings it replaced beside the forum: a folder's second forum in
    a file of its own, so `off` of one forum never restores the other's values."""
    first = write_docroot(real_forum.root.parent / "first")
    other = ServerOrchestrationService(Config(mybb_root=first, php=php, port=free_port()))
    try:
        assert other.start().success  # the first forum in the folder keeps the plain names
        service = ServerOrchestrationService(real_forum.config())
        files = service.config.files
        assert not files.plain
        on = service.forum.set_mybb_error_logging(True)
        assert on.ok, on
        assert files.errorlog_memory.is_file() and files.errorlog_memory.name.endswith(f".{files.key}.json")
        assert not (files.folder / ".mybb-server-errorlog.json").exists()
        off = service.forum.set_mybb_error_logging(False)
        assert off.ok, off
        assert not files.errorlog_memory.exists()
    finally:
        other.stop(force=True)
