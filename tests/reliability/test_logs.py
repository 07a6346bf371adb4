"""Fault 9: logs are never truncated or lost.

Rotation on start keeps MYBB_LOG_BACKUPS generations (default 5), newest
first. A log grown past MYBB_LOG_MAX_MB while the server runs is rotated in
place by the next `start` (PHP holds it open with O_APPEND: copy, then
truncate, with the writers paused) without losing or tearing a line and
without a restart; status and queries never rewrite it. Every request
writes a unique marker; each must appear exactly once across all generations.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mybb_mcp.config import load_config
from mybb_mcp.failures import Failure
from mybb_mcp.orchestration import LogQueryOptions, ServerOrchestrationService
from tests.conftest import http_get
from tests.reliability.conftest import TIMEOUT


def generations(log_file: Path) -> list[Path]:
    """server.log, server.log.1, ... in order (newest first), stopping at the first gap."""
    files = [log_file] if log_file.exists() else []
    n = 1
    while (backup := log_file.with_name(f"{log_file.name}.{n}")).exists():
        files.append(backup)
        n += 1
    return files


def all_backups(log_file: Path) -> list[str]:
    return sorted(p.name for p in log_file.parent.iterdir() if p.name.startswith(log_file.name + "."))


@pytest.mark.parametrize("backups", [2, None], ids=["backups=2", "default"])
def test_start_keeps_exactly_the_configured_generations_newest_first(
    backups: int | None, forum: Path, php: str, port: int, tmp_path: Path,
    make_service: Callable[..., ServerOrchestrationService],
) -> None:
    env = {"MYBB_ROOT": str(forum), "MYBB_PHP": php, "MYBB_PORT": str(port)}
    if backups is not None:
        env["MYBB_LOG_BACKUPS"] = str(backups)
    config = load_config(env, cwd=tmp_path)
    kept = backups if backups is not None else 5
    assert config.log_backups == kept
    service = make_service(log_backups=config.log_backups)

    runs = kept + 2
    for run in range(1, runs + 1):
        if run % 2:  # forced start replaces a running server (it rotates too) ...
            started = service.start(force=True)
        else:  # ... a plain start follows a stop
            assert service.stop().success
            started = service.start()
        assert started.success, started
        assert http_get(f"{started.url}/marker.php?m=gen-{run:02d}") == (200, f"marked gen-{run:02d}")

    log_file = service.config.log_file
    files = generations(log_file)
    assert all_backups(log_file) == sorted(f"server.log.{n}" for n in range(1, kept + 1))
    assert len(files) == kept + 1
    # Newest first: server.log holds the last run, server.log.N the oldest kept; the first runs are gone.
    for index, path in enumerate(files):
        text = path.read_text()
        assert re.findall(r"MARKER (gen-\d+)", text) == [f"gen-{runs - index:02d}"], (path.name, text)


class Pacer:
    """Lets request senders run at most `batch` requests ahead of the last start call, so the log
    crosses its limit several times during the run (each start on the running server may rotate) -
    with requests still in flight while it runs."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.ticks = 0
        self.condition = threading.Condition()

    def tick(self) -> None:
        with self.condition:
            self.ticks += 1
            self.condition.notify_all()

    def wait_turn(self, sent: int) -> None:
        if sent and sent % self.batch == 0:
            with self.condition:
                seen = self.ticks
                self.condition.wait_for(lambda: self.ticks > seen, timeout=TIMEOUT)


def request_markers(url: str, markers: list[str], kb: int, pacer: Pacer, errors: list[BaseException]) -> None:
    for sent, marker in enumerate(markers):
        pacer.wait_turn(sent)
        try:
            status, body = http_get(f"{url}/big.php?m={marker}&kb={kb}", timeout=TIMEOUT)
            assert (status, body) == (200, f"big {marker}")
        except BaseException as exc:  # surfaced by the test
            errors.append(exc)
            return


def hammer(service: ServerOrchestrationService, url: str, markers: list[str], kb: int) -> None:
    """Send the requests from two threads while this thread starts the running server again (which
    rotates a log past its limit) and asks for logs, and two other 'agents' ask for status meanwhile.
    The server must never be restarted."""
    errors: list[BaseException] = []
    pacer = Pacer(max(1, 240 // kb))  # ~240 KiB per sender between two status calls
    senders = [threading.Thread(target=request_markers, args=(url, markers[i::2], kb, pacer, errors))
               for i in range(2)]
    for thread in senders:
        thread.start()
    stop = threading.Event()

    def watch() -> None:
        other = ServerOrchestrationService(service.config)
        while not stop.is_set():
            other.get_status()

    watchers = [threading.Thread(target=watch) for _ in range(2)]
    for thread in watchers:
        thread.start()
    pid = service.get_status().pid
    try:
        while any(thread.is_alive() for thread in senders):
            service.logs.search_logs(LogQueryOptions(limit=5))
            again = service.start()
            assert again.failure is Failure.ALREADY_RUNNING and again.pid == pid, again  # no restart
            pacer.tick()
    finally:
        stop.set()
        pacer.tick()
        for thread in senders + watchers:
            thread.join(TIMEOUT)
    assert not errors, errors
    service.get_status()


@pytest.mark.parametrize("workers", [1, 3])
def test_a_log_past_its_limit_is_rotated_while_serving_without_losing_a_line(
    workers: int, make_service: Callable[..., ServerOrchestrationService],
) -> None:
    """Lines up to 8 KiB (PHP writes those with one write(2)): none lost, none doubled, none torn."""
    service = make_service(log_max_mb=1, log_backups=50, workers=workers)
    started = service.start()
    assert started.success, started
    kb, count = 6, 600  # ~3.6 MB through a 1 MB limit: several rotations
    markers = [f"m{n:05d}" for n in range(count)]
    hammer(service, started.url, markers, kb)

    log_file = service.config.log_file
    files = generations(log_file)
    assert len(files) >= 3, "the log was never rotated"
    assert all(p.stat().st_size <= 2 * 1024 * 1024 for p in files[1:])  # rotated near the limit
    line = re.compile(r"^(?:\[\d+\] )?\[[^\]]+\] BIGLINE (m\d{5}) (x+) END (m\d{5})$")
    seen: dict[str, int] = {}
    torn = []
    for path in files:
        for text in path.read_text().splitlines():
            if "BIGLINE" in text or "END m" in text:
                match = line.match(text)
                if not match or match.group(1) != match.group(3) or len(match.group(2)) != kb * 1024:
                    torn.append((path.name, text[:80]))
                    continue
                seen[match.group(1)] = seen.get(match.group(1), 0) + 1
    assert not torn, f"torn lines: {torn[:5]}"
    assert {m for m, n in seen.items() if n != 1} == set(), "a line appears more than once"
    assert sorted(seen) == markers, f"lost: {sorted(set(markers) - set(seen))[:10]}"
    requests = "".join(p.read_text() for p in files)
    for marker in markers:
        assert len(re.findall(rf"GET /big\.php\?m={marker}&", requests)) == 1, marker
    # Still the same server, still serving, still logging into the (truncated) live file.
    assert http_get(f"{started.url}/marker.php?m=after") == (200, "marked after")
    assert service.logs.search_logs(LogQueryOptions(filter_keyword="MARKER after", exclude_static=False)).entries
    assert service.get_status().pid == started.pid


def test_long_lines_lose_no_byte_across_an_in_place_rotation(
    make_service: Callable[..., ServerOrchestrationService],
) -> None:
    """PHP writes a line longer than 8 KiB in 8 KiB pieces; a rotation may fall between two pieces.
    The rotation moves the unfinished line to the new log, so every line stays whole in one file, and
    the generations, oldest first and without the zone headers rotation adds, are the whole stream."""
    service = make_service(log_max_mb=1, log_backups=50)
    started = service.start()
    kb, count = 20, 160  # ~3.2 MB
    markers = [f"m{n:05d}" for n in range(count)]
    hammer(service, started.url, markers, kb)
    files = generations(service.config.log_file)
    assert len(files) >= 3, "the log was never rotated"
    stream = "".join(p.read_text() for p in reversed(files))
    stream = re.sub(r"\[[^\]\n]+\] mybb-mcp: log opened;[^\n]*\n", "", stream)
    texts = [p.read_text() for p in files]
    for marker in markers:
        whole = f"BIGLINE {marker} {'x' * kb * 1024} END {marker}\n"
        assert stream.count(whole) == 1, f"{marker} lost or doubled"
        assert sum(text.count(whole) for text in texts) == 1, f"{marker} split across two generations"


def test_stop_status_and_queries_never_truncate_the_log(service: ServerOrchestrationService) -> None:
    started = service.start()
    for n in range(5):
        http_get(f"{started.url}/marker.php?m=keep-{n}")
    service.get_status()
    service.logs.search_logs(LogQueryOptions(errors_only=True))
    before = service.config.log_file.read_text()
    assert service.stop().success
    after = service.config.log_file.read_text()
    assert after.startswith(before) and all(f"MARKER keep-{n}" in after for n in range(5))
    assert not service.config.log_file.with_name("server.log.1").exists()
