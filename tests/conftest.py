"""Fixtures shared by every test: a real php, a fixture forum, free ports, a service that cleans up."""

from __future__ import annotations

import os
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mybb_mcp.config import Config
from tests.fixtures.docroot import write_docroot

# The fixture modules, registered once for the whole suite: a test names a fixture as a parameter and never
# imports it (an imported fixture is defined again in each module that imports it, a session one started again).
pytest_plugins = [
    "tests.fixtures.real_mybb",  # a real MyBB, copied per test: mybb_template, real_forum, on_forum
    "tests.fixtures.php_builds",  # PHP builds, fetched once: build_cache, php74, php84
    "tests.fixtures.mariadb",  # a private MariaDB server: mariadb
    "tests.reliability.local_users",  # a second local user: other_user, shared_dir
]

PHP = os.environ.get("MYBB_TEST_PHP") or shutil.which("php")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the MariaDB fixture is marked `mariadb` whether or not it says so: `./dev test`
    lists exactly these when it cannot install MariaDB (`pytest -m mariadb --collect-only`)."""
    for item in items:
        if "mariadb" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mariadb)


@pytest.fixture(scope="session", autouse=True)
def private_server_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The per-user list of running servers (XDG_STATE_HOME/mybb-mcp) goes to a temporary folder,
    inherited by the CLI and MCP subprocesses: tests never write to the real home's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
        yield


@pytest.fixture(scope="session")
def php() -> str:
    """The PHP binary. Missing PHP is an error, not a skip: the lifecycle tests are the point."""
    if not PHP:
        pytest.fail("php is not installed: run .ci/run (or apt-get install php-cli php-sqlite3)")
    return PHP


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def forum(tmp_path: Path) -> Path:
    """A fixture document root at <tmp>/repo/forum (the repo root holds state and logs)."""
    return write_docroot(tmp_path / "repo" / "forum")


@pytest.fixture
def config(forum: Path, php: str, port: int) -> Config:
    return Config(mybb_root=forum, php=php, port=port)


@pytest.fixture
def make_service(config: Config) -> Iterator[Callable[..., "object"]]:
    """Build services on the fixture forum; whatever they started is force-stopped afterwards."""
    from mybb_mcp.orchestration import ServerOrchestrationService

    made: list[ServerOrchestrationService] = []

    def make(**overrides: object) -> ServerOrchestrationService:
        service = ServerOrchestrationService(replace(config, **overrides) if overrides else config)
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop(force=True)


@pytest.fixture
def service(make_service: Callable[..., object]) -> object:
    return make_service()


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """GET a URL; (status, body) whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
