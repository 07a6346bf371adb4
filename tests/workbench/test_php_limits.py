"""mybb_forum_php's limits hold from outside the PHP, on a real forum: ini_set cannot lift the memory
cap, set_time_limit(0) cannot lift the time, output is read up to a cap, and every process the code
started ends with it, one that left the process group with setsid included."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from mybb_mcp.workbench.php_eval import eval_php
from tests.fixtures.real_mybb import RealForum, archive_path

pytestmark = pytest.mark.skipif(not archive_path().is_file(), reason="MyBB release archive not found")


def sleepers(seconds: int) -> list[int]:
    """Live processes running `sleep SECONDS` (a number no other process uses); zombies are not alive."""
    found = []
    for name in os.listdir("/proc"):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        if cmdline[:2] == [b"sleep", str(seconds).encode()] and stat[stat.rfind(b")") + 2:][:1] != b"Z":
            found.append(int(name))
    return found


@pytest.fixture
def seconds() -> int:
    """A sleep length no other process on the machine uses; such sleepers are killed afterwards."""
    value = random.randint(40_000, 90_000)
    yield value
    for pid in sleepers(value):
        os.kill(pid, 9)


def run(forum: RealForum, code: str, timeout: int = 3):
    return eval_php(forum.root, code, timeout=timeout, php=forum.php)


def test_ini_set_cannot_lift_the_memory_cap(real_forum: RealForum) -> None:
    big = 2**30  # past the 512 MB of address space held from outside
    result = run(real_forum, f"ini_set('memory_limit', '-1'); $a = str_repeat('x', {big}); return strlen($a);")
    assert not result.finished and result.stopped and "address-space limit" in result.stopped, result


def test_set_time_limit_cannot_lift_the_time(real_forum: RealForum) -> None:
    result = run(real_forum, "set_time_limit(0); ini_set('max_execution_time', '0'); sleep(600); return 1;", 2)
    assert not result.finished and result.stopped and "did not finish within 2 s" in result.stopped, result


def test_output_is_read_up_to_a_cap(real_forum: RealForum) -> None:
    # Past PHP's output buffers (echo is buffered, and stopped by memory_limit first): straight to stdout.
    flood = "$out = fopen('php://stdout', 'wb'); while (true) { fwrite($out, str_repeat('y', 1 << 20)); }"
    result = run(real_forum, flood, 10)
    assert not result.finished and result.stopped and "printed more than 4 MB" in result.stopped, result


def test_a_process_started_with_setsid_ends_with_the_php(real_forum: RealForum, seconds: int) -> None:
    result = run(real_forum, f"exec('setsid sleep {seconds} > /dev/null 2>&1 &'); return 'started';")
    assert result.finished and result.return_value == "'started'", result
    assert sleepers(seconds) == []


def test_a_process_started_with_setsid_ends_when_the_php_is_stopped(real_forum: RealForum, seconds: int) -> None:
    result = run(real_forum, f"exec('setsid sleep {seconds} > /dev/null 2>&1 &'); sleep(600);", 1)
    assert not result.finished and "did not finish" in (result.stopped or ""), result
    assert sleepers(seconds) == []
