"""Several forums, several spellings, several agents on one machine: one truth per forum.

State, lock and log belong to one forum, keyed by its resolved root; the first forum in a folder
keeps the plan's names, any other gets names of its own. Everything here runs real `php -S`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mybb_mcp.config import Config, load_config
from mybb_mcp.orchestration import Failure, ServerOrchestrationService
from mybb_mcp.orchestration.layout import CLAIM_NAME, forum_key
from mybb_mcp.orchestration.render import render_result, render_status
from tests.conftest import free_port, http_get
from tests.fixtures.docroot import write_docroot
from tests.reliability.conftest import php_servers

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
        service = ServerOrchestrationService(Config(mybb_root=root, php=php, port=port or free_port(), **extra))
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
