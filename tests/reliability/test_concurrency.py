"""Fault 3: several agents and people drive the same forum at once.

Threads (each with its own service object, as separate MCP sessions would)
and separate processes call start on the same forum at the same instant.
Exactly one PHP server may result; every caller gets a true answer (one
success, the others "already running" naming the same PID); the previous log
is rotated once; the state file is whole; nothing is orphaned.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mybb_mcp.config import Config
from mybb_mcp.orchestration import Failure, ServerOrchestrationService
from tests.conftest import http_get
from tests.reliability.conftest import TIMEOUT, Remote, launch, php_leaders, php_servers, wait_ready

THREADS = 6
PROCESSES = 4


def spec_of(config: Config) -> dict[str, Any]:
    return {"root": str(config.mybb_root), "php": config.php, "port": config.port}


def run_together(config: Config, tmp_path: Path, thread_work: Callable[[ServerOrchestrationService], Any],
                 process_body: str, threads: int = THREADS, processes: int = PROCESSES,
                 ) -> tuple[list[Any], list[dict[str, Any]]]:
    """Start `processes` subprocesses and `threads` threads, release them all at once, collect answers."""
    go = tmp_path / "go"
    remotes: list[Remote] = [launch(process_body, spec_of(config), go) for _ in range(processes)]
    wait_ready(remotes)
    barrier = threading.Barrier(threads + 1)
    answers: list[Any] = [None] * threads
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        service = ServerOrchestrationService(config)
        barrier.wait()
        try:
            answers[index] = thread_work(service)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    go.touch()
    barrier.wait()
    for thread in pool:
        thread.join(TIMEOUT * 2)
    assert not errors, errors
    remote_answers = [answer for remote in remotes for answer in remote.results()]
    return answers, remote_answers


def test_concurrent_starts_from_threads_and_processes_make_exactly_one_server(
    service: ServerOrchestrationService, tmp_path: Path,
) -> None:
    config = service.config
    config.log_dir.mkdir(parents=True)
    config.log_file.write_text("PREVIOUS RUN\n")

    local, remote = run_together(config, tmp_path, lambda s: s.start(), "emit(service.start())")

    answers = [{"success": r.success, "failure": r.failure.value if r.failure else None, "pid": r.pid}
               for r in local] + remote
    assert len(answers) == THREADS + PROCESSES
    winners = [a for a in answers if a["success"]]
    assert len(winners) == 1, answers
    pid = winners[0]["pid"]
    for answer in answers:
        if not answer["success"]:
            assert answer["failure"] == Failure.ALREADY_RUNNING.value, answers
            assert answer["pid"] == pid, answers

    # Exactly one PHP server for this forum, and it is the one every caller named.
    assert [proc.pid for proc in php_servers(config.mybb_root)] == [pid]
    state = json.loads(config.state_file.read_text())
    assert state["pid"] == pid and state["port"] == config.port
    assert http_get(f"http://127.0.0.1:{config.port}/ok.php") == (200, "ok")

    # Rotation happened once: the previous log is .1, nothing was pushed to .2, one banner in the new log.
    assert (config.log_dir / "server.log.1").read_text() == "PREVIOUS RUN\n"
    assert not (config.log_dir / "server.log.2").exists()
    log = config.log_file.read_text()
    assert log.count("Development Server") == 1
    assert "PREVIOUS RUN" not in log
    # No temporary state file left behind by an interrupted writer.
    assert not [p.name for p in config.repo_root.iterdir() if p.name.endswith(".tmp")]


def test_concurrent_stops_stop_once_and_all_answer_truly(
    service: ServerOrchestrationService, tmp_path: Path,
) -> None:
    started = service.start()
    assert started.success
    local, remote = run_together(service.config, tmp_path, lambda s: s.stop(), "emit(service.stop())")
    answers = [{"success": r.success, "failure": r.failure.value if r.failure else None, "pid": r.pid}
               for r in local] + remote
    winners = [a for a in answers if a["success"]]
    assert len(winners) == 1 and winners[0]["pid"] == started.pid, answers
    assert all(a["failure"] == Failure.NOT_RUNNING.value for a in answers if not a["success"]), answers
    assert php_servers(service.config.mybb_root) == []
    assert not service.config.state_file.exists()


STORM_BODY = """
import random
rng = random.Random()
for _ in range(4):
    op = rng.choice(["start", "stop", "restart", "status", "start_force"])
    if op == "start": emit(service.start())
    elif op == "start_force": emit(service.start(force=True))
    elif op == "stop": emit(service.stop())
    elif op == "restart": emit(service.restart())
    else: emit(service.get_status())
"""


def storm_thread(service: ServerOrchestrationService) -> list[Any]:
    rng = random.Random()
    results = []
    for _ in range(4):
        op = rng.choice(["start", "stop", "restart", "status", "start_force"])
        if op == "start":
            results.append(service.start())
        elif op == "start_force":
            results.append(service.start(force=True))
        elif op == "stop":
            results.append(service.stop())
        elif op == "restart":
            results.append(service.restart())
        else:
            results.append(service.get_status())
    return results


@pytest.mark.parametrize("round_", range(3))
def test_a_storm_of_mixed_operations_leaves_state_and_reality_in_agreement(
    round_: int, service: ServerOrchestrationService, tmp_path: Path,
) -> None:
    """Starts, stops, restarts and status calls from threads and processes at once. Afterwards the
    state file and the processes agree: one server named by a whole state file, or none and no file."""
    config = service.config
    torn: list[bytes] = []
    reads = [0]
    done = threading.Event()

    def read_state() -> None:  # a reader that never takes the lock must never see a half-written file
        while not done.is_set():
            try:
                data = config.state_file.read_bytes()
            except FileNotFoundError:
                continue
            reads[0] += 1
            try:
                json.loads(data)
            except ValueError:
                torn.append(data)

    reader = threading.Thread(target=read_state)
    reader.start()
    try:
        local, remote = run_together(config, tmp_path, storm_thread, STORM_BODY, threads=4, processes=3)
    finally:
        done.set()
        reader.join(TIMEOUT)
    assert torn == [], f"{len(torn)} torn reads of {reads[0]}"
    results = [r for batch in local for r in batch]
    for result in results:
        if hasattr(result, "success") and not result.success:
            assert result.failure in (Failure.ALREADY_RUNNING, Failure.NOT_RUNNING), result
    for answer in remote:
        if answer["success"] is False:
            assert answer["failure"] in ("already_running", "not_running"), answer

    leaders = php_leaders(config.mybb_root)
    if config.state_file.exists():
        state = json.loads(config.state_file.read_text())
        assert [p.pid for p in leaders] == [state["pid"]], (state, leaders)
        assert service.get_status().running
        assert http_get(f"http://127.0.0.1:{config.port}/ok.php") == (200, "ok")
    else:
        assert leaders == [], "a PHP server runs that no state file records (an orphan)"
        assert not service.get_status().running
    assert not [p.name for p in config.repo_root.iterdir() if p.name.endswith(".tmp")]


def test_status_racing_restarts_never_loses_the_running_server(
    service: ServerOrchestrationService,
) -> None:
    """While another caller restarts the server over and over, status calls run beside it. A status
    that judged the old server dead must not then delete the new server's state file (an orphan)."""
    config = service.config
    assert service.start().success
    stop = threading.Event()
    errors: list[BaseException] = []

    def poll_status() -> None:
        watcher = ServerOrchestrationService(config)
        while not stop.is_set():
            try:
                watcher.get_status()
            except BaseException as exc:
                errors.append(exc)
                return

    pollers = [threading.Thread(target=poll_status) for _ in range(3)]
    for thread in pollers:
        thread.start()
    try:
        for _ in range(8):
            result = service.restart()
            assert result.success, result
            assert config.state_file.exists(), "a concurrent status call deleted the new server's state"
            state = json.loads(config.state_file.read_text())
            assert state["pid"] == result.pid
    finally:
        stop.set()
        for thread in pollers:
            thread.join(TIMEOUT)
    assert not errors, errors
    assert [p.pid for p in php_leaders(config.mybb_root)] == [json.loads(config.state_file.read_text())["pid"]]


@pytest.mark.parametrize("round_", range(3))
def test_two_forums_started_on_the_same_port_at_once(round_: int, tmp_path: Path, php: str) -> None:
    """Two forums (two repositories, so two different locks) configured with the same port, started
    by two agents at the same moment. Both pass the port check; only one PHP can bind. The other must
    not take the winner's answers to its readiness probe for its own server."""
    from tests.conftest import free_port
    from tests.fixtures.docroot import write_docroot

    port = free_port()
    services = []
    for name in ("alpha", "beta"):
        root = write_docroot(tmp_path / name / "forum")
        (root / "which.php").write_text(f"<?php echo '{name}';\n")
        services.append(ServerOrchestrationService(Config(mybb_root=root, php=php, port=port)))
    barrier = threading.Barrier(2)
    results: dict[int, Any] = {}

    def start(index: int) -> None:
        barrier.wait()
        results[index] = services[index].start()

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        winners = [i for i, result in results.items() if result.success]
        assert len(winners) == 1, [results[i] for i in sorted(results)]
        winner, loser = winners[0], 1 - winners[0]
        lost = results[loser]
        assert lost.failure is Failure.PORT_IN_USE, lost
        assert lost.port_owner is not None and lost.port_owner.pid == results[winner].pid
        assert not services[loser].config.state_file.exists()
        assert not services[loser].get_status().running
        assert php_servers(services[loser].config.mybb_root) == []
        name = ("alpha", "beta")[winner]
        assert http_get(f"http://127.0.0.1:{port}/which.php") == (200, name)
    finally:
        for service in services:
            service.stop(force=True)
