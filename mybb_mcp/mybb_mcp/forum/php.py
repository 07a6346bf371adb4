"""Running MyBB's own PHP code: a snippet with MyBB booted (`IN_MYBB` + `inc/init.php`), for exact writes.

The snippet runs at the top level after MyBB's bootstrap, so `$db`, `$cache`, `$mybb`, `$plugins` are
there as in a page. It gets the caller's data as `$input` (decoded from JSON on stdin: no value is ever
pasted into PHP source) and answers by setting `$result`, which comes back decoded from JSON. PHP runs
from an argument list, in its own session, with a bounded time; nothing goes through a shell.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MybbMcpError

PLUGIN_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
RESULT_MARKER = "\n--mybb-mcp-result--\n"
DEFAULT_TIMEOUT = 30.0

# The frame of a snippet (booting MyBB before it, printing $result after it), in a .php file of its own.
_FRAME = Path(__file__).with_name("php_snippet_frame.php").read_text("utf-8")
_PROLOGUE, _EPILOGUE = _FRAME.split("// --mybb-mcp-prologue--\n", 1)[1].split("// --mybb-mcp-snippet--\n", 1)


class PhpRunError(MybbMcpError):
    """MyBB's PHP did not run to the end: it exited, timed out, or printed no result."""

    def __init__(self, message: str, hint: str = "", stopped: str | None = None) -> None:
        super().__init__(message, hint)
        self.stopped = stopped  # STOPPED_TIME or STOPPED_OUTPUT when the limits stopped it


STOPPED_TIME, STOPPED_OUTPUT = "time", "output"
_SUPERVISOR = Path(__file__).with_name("php_limits.py")
_EXIT_WALL, _EXIT_OUTPUT, _EXIT_NOT_RUN = 124, 125, 127  # php_limits.py's


@dataclass(frozen=True)
class PhpLimits:
    """Limits held from outside the PHP (php_limits.py): the code cannot lift them, and every process it
    starts is ended with it, `setsid` or not."""

    cpu_seconds: int
    memory_bytes: int  # address space (RLIMIT_AS), above PHP's own memory_limit
    output_bytes: int  # of stdout and of stderr, each
    wall_seconds: float


class PhpTimeout(PhpRunError):
    """MyBB's PHP did not finish within the time given and was killed (with whatever it started)."""


@dataclass(frozen=True)
class PhpRun:
    result: Any  # the snippet's $result, decoded from JSON
    output: str  # what it printed before the result


def run_mybb_php(
    root: Path,
    code: str,
    data: Mapping[str, Any] | Sequence[Any] | None = None,
    php: str = "php",
    timeout: float = DEFAULT_TIMEOUT,
    php_settings: Sequence[str] = (),
    limits: PhpLimits | None = None,
) -> PhpRun:
    """Run `code` with MyBB booted from `root`; `data` arrives as `$input`, `$result` comes back."""
    source = _PROLOGUE + "\n" + code + "\n;" + _EPILOGUE
    return _run(root, ["-r", source, "--"], data, php, timeout, php_settings, limits)


def run_php_script(
    root: Path,
    script: Path,
    data: Mapping[str, Any] | Sequence[Any] | None = None,
    php: str = "php",
    timeout: float = DEFAULT_TIMEOUT,
    php_settings: Sequence[str] = (),
) -> PhpRun:
    """Run a PHP file of ours that boots MyBB itself (e.g. as the Admin CP does): `root` is its argv[1],
    `data` its stdin as JSON; it prints the result marker and its JSON answer, even when stopped."""
    return _run(root, [str(script)], data, php, timeout, php_settings)


def _run(root: Path, program: list[str], data: Mapping[str, Any] | Sequence[Any] | None, php: str,
         timeout: float, php_settings: Sequence[str], limits: PhpLimits | None = None) -> PhpRun:
    argv = [php]
    for setting in php_settings:
        argv += ["-d", setting]
    argv += ["-d", "display_errors=stderr", *program, str(root)]
    if limits is not None:
        argv = [sys.executable, "-I", str(_SUPERVISOR), "--cpu", str(limits.cpu_seconds),
                "--memory", str(limits.memory_bytes), "--output", str(limits.output_bytes),
                "--wall", f"{limits.wall_seconds:g}", "--", *argv]
        timeout = limits.wall_seconds + 10  # the supervisor's own stop, then its sweep, come first
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(root),
            start_new_session=True,  # its own group: a timeout kills whatever it started too
        )
    except OSError as exc:
        raise PhpRunError(f"Cannot run PHP ({php}): {exc.strerror or exc}.", "Install PHP or set MYBB_PHP.") from exc
    try:
        out, err = proc.communicate(json.dumps(data).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise PhpTimeout(
            f"MyBB's PHP did not finish within {timeout:g} s in {root}.",
            "Check the database server is reachable (inc/config.php).",
        ) from None
    text = out.decode("utf-8", "replace")
    before, marker, after = text.rpartition(RESULT_MARKER)
    if limits is not None and proc.returncode == _EXIT_NOT_RUN and not marker:
        why = err.decode("utf-8", "replace").strip()[-200:] or "it could not be started"
        raise PhpRunError(f"Cannot run PHP ({php}): {why}.", "Install PHP or set MYBB_PHP.")
    if limits is not None and proc.returncode in (_EXIT_WALL, _EXIT_OUTPUT):
        if proc.returncode == _EXIT_WALL:
            raise PhpRunError(f"MyBB's PHP did not finish within {limits.wall_seconds:g} s in {root}.",
                              stopped=STOPPED_TIME)
        raise PhpRunError(f"MyBB's PHP printed more than {limits.output_bytes:,} bytes and was stopped.",
                          stopped=STOPPED_OUTPUT)
    if not marker:
        words = (err.decode("utf-8", "replace").strip() or text.strip())[-2000:]
        raise PhpRunError(
            f"MyBB's PHP stopped before the end (exit {proc.returncode}) in {root}: {words or 'no output'}",
            "Fix what it names; the forum's inc/config.php and database must be usable.",
        )
    try:
        result = json.loads(after)
    except ValueError:
        raise PhpRunError(f"MyBB's PHP answered something that is not JSON: {after[:200]!r}.") from None
    return PhpRun(result=result, output=before)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # our own child's group, created by start_new_session
    except ProcessLookupError:
        pass
    proc.communicate()

