"""Fault 10: exposure, shells and file modes.

Binding to a non-loopback address happens only when asked for explicitly,
and the answer warns that the forum (Admin CP included) is then reachable
from the network. There is no shell anywhere. The state file is 0600 and the
logs are created with the user's umask-restricted modes.
"""

from __future__ import annotations

import ast
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

import mybb_mcp
from mybb_mcp.answers.lifecycle import render_result
from mybb_mcp.config import Config, load_config
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.reliability.conftest import cli_env, run_cli

EXPOSED = "reachable from the network"


def listen_addresses(pid: int, port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process(pid).net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


def test_the_default_binds_loopback_only(forum: Path, php: str, port: int, tmp_path: Path,
                                         make_service: Callable[..., ServerOrchestrationService]) -> None:
    assert Config(mybb_root=forum).host == "127.0.0.1"
    config = load_config({"MYBB_ROOT": str(forum)}, cwd=tmp_path)
    assert config.host == "127.0.0.1"
    service = make_service(host=config.host)
    started = service.start()
    assert started.success and started.warnings == []
    assert listen_addresses(started.pid, port) == {"127.0.0.1"}
    assert EXPOSED not in render_result(started)


@pytest.mark.parametrize("how", ["argument", "MYBB_HOST", "cli"])
def test_a_non_loopback_bind_only_when_asked_and_always_warned(
    how: str, forum: Path, php: str, port: int, tmp_path: Path,
    make_service: Callable[..., ServerOrchestrationService],
) -> None:
    service = make_service()  # loopback config: stops whatever ran at teardown
    if how == "cli":
        done = run_cli(["start", "--host", "0.0.0.0"],
                       cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port)), tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        text = done.stdout
        pid = service.get_status().pid
        assert pid is not None
    else:
        if how == "argument":
            started = service.start(host="0.0.0.0")
        else:
            exposed = load_config({"MYBB_ROOT": str(forum), "MYBB_PHP": php, "MYBB_PORT": str(port),
                                   "MYBB_HOST": "0.0.0.0"}, cwd=tmp_path)
            started = make_service(host=exposed.host).start()
        assert started.success, started
        assert any(EXPOSED in warning and "Admin CP" in warning for warning in started.warnings)
        text = render_result(started)
        pid = started.pid
    assert EXPOSED in text and "Admin CP" in text and "0.0.0.0" in text
    assert listen_addresses(pid, port) == {"0.0.0.0"}


def test_loopback_names_do_not_warn(make_service: Callable[..., ServerOrchestrationService], port: int) -> None:
    started = make_service(host="localhost").start()
    assert started.success and started.warnings == [], started


# ----------------------------------------------------------------------------- no shell

SHELL_CALLS = {"system", "popen", "getoutput", "getstatusoutput", "create_subprocess_shell", "spawn"}


def package_sources() -> Iterator[Path]:
    yield from Path(mybb_mcp.__file__).parent.rglob("*.py")


def test_no_shell_anywhere_in_the_package() -> None:
    found = []
    for path in package_sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in SHELL_CALLS:
                    found.append(f"{path.name}:{node.lineno} {name}()")
                for keyword in node.keywords:
                    if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant)
                                                       and keyword.value.value is False):
                        found.append(f"{path.name}:{node.lineno} shell=")
            if isinstance(node, ast.Constant) and node.value in ("/bin/sh", "sh", "bash", "/bin/bash"):
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert found == []
    assert len(list(package_sources())) > 10  # the scan saw the package


def test_php_is_our_direct_child_running_from_an_argument_list(service: ServerOrchestrationService) -> None:
    started = service.start()
    php = psutil.Process(started.pid)
    assert php.ppid() == os.getpid()
    assert os.path.basename(php.exe()).startswith("php")
    assert php.cmdline()[0] == service.config.php or os.path.realpath(php.cmdline()[0]) == php.exe()
    assert os.getsid(php.pid) == php.pid  # its own session: no terminal signal reaches it


# ----------------------------------------------------------------------------- modes


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    previous = os.umask(0o022)
    os.umask(previous)

    def set_(mask: int) -> None:
        os.umask(mask)

    yield set_
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077, 0o002])
def test_files_are_created_with_umask_restricted_modes_and_state_0600(
    mask: int, umask: Callable[[int], None], make_service: Callable[..., ServerOrchestrationService],
) -> None:
    umask(mask)
    service = make_service(log_max_mb=1)
    config = service.config
    started = service.start()
    assert started.success, started
    assert mode(config.state_file) == 0o600
    assert mode(config.lock_file) == 0o600 & ~mask
    assert mode(config.log_dir) == 0o777 & ~mask
    assert mode(config.log_file) == 0o666 & ~mask

    assert service.restart().success  # rotation on start keeps the mode
    assert mode(config.log_file.with_name("server.log.1")) == 0o666 & ~mask
    assert mode(config.log_file) == 0o666 & ~mask
    assert mode(config.state_file) == 0o600

    with open(config.log_file, "ab") as log:  # past the limit: rotated in place by the next start
        log.write(b"x" * (1024 * 1024 + 1) + b"\n")
    assert service.start().notes[-1].startswith("The log passed 1 MB and was rotated")
    assert mode(config.log_file.with_name("server.log.2")) == 0o666 & ~mask
    assert mode(config.log_file.with_name("server.log.1")) == 0o666 & ~mask
    assert mode(config.log_file) == 0o666 & ~mask
    assert not [p for p in config.repo_root.iterdir() if p.name.endswith((".tmp", ".partial"))]
