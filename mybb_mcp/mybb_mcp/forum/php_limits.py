"""A small supervisor that holds a PHP child to limits the PHP code cannot lift, run as a script:

    python php_limits.py --cpu S --memory BYTES --output BYTES --wall S -- php ARGS...

PHP's own limits are advisory to the code they bound (`ini_set('memory_limit', -1)`,
`set_time_limit(0)`), and a process the code starts can leave PHP's process group with `setsid` and
outlive any killpg. So, from outside the PHP:

- RLIMIT_AS (address space) and RLIMIT_CPU are set on the child before it runs PHP (this process has
  one thread, so a preexec function is safe here); the kernel enforces them.
- This process is a child subreaper (prctl PR_SET_CHILD_SUBREAPER): every process the PHP started, and
  their children, become ours when their parent ends, `setsid` or not. When PHP ends (or a limit is
  reached) every one of them is killed and reaped before this process exits.
- stdout and stderr are forwarded up to a byte cap each; past it the PHP is stopped.
- After `--wall` seconds the PHP and everything it started are stopped.

Exit status: PHP's own; 124 when stopped at the wall time, 125 past an output cap (a line on stderr
says which). Standard library only: it runs as a plain script, not as part of the package.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import selectors
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
EXIT_WALL, EXIT_OUTPUT, EXIT_NOT_RUN = 124, 125, 127
STOPPED_WALL = "mybb-mcp-limits: stopped at the time limit"
STOPPED_OUTPUT = "mybb-mcp-limits: stopped past the output cap"
_SWEEP_SECONDS = 5.0  # a process that keeps forking is chased this long


def _subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _children() -> list[int]:
    """Our child processes, from /proc (every orphaned descendant is one: we are a subreaper)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.append(int(name))
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep() -> None:
    """Kill and reap every process below us: children first; their orphans become ours, and so on."""
    deadline = time.monotonic() + _SWEEP_SECONDS
    while time.monotonic() < deadline:
        kids = _children()
        if not kids:
            _reap()
            return
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap()
        time.sleep(0.01)


def _limits(cpu: int, memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at `cpu` s, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def run(argv: list[str], cpu: int, memory: int, output: int, wall: float) -> int:
    _subreaper()
    try:
        child = subprocess.Popen(argv, stdin=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 preexec_fn=lambda: _limits(cpu, memory))  # noqa: PLW1509 (one thread here)
    except OSError as exc:  # PHP is not there: said in a line, as a shell would, not as a traceback
        sys.stderr.write(exc.strerror or str(exc))
        return EXIT_NOT_RUN
    assert child.stdout is not None and child.stderr is not None
    targets = {child.stdout.fileno(): (sys.stdout.buffer, [0]), child.stderr.fileno(): (sys.stderr.buffer, [0])}
    selector = selectors.DefaultSelector()
    for fd in targets:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + wall
    status: int | None = None
    stopped: str | None = None
    # Until PHP ends: not until EOF, which a process it left behind could hold off for ever.
    while status is None and stopped is None:
        wait = max(0.0, min(0.1, deadline - time.monotonic()))
        if not selector.get_map():  # both pipes at their end: only PHP's exit is left to wait for
            try:
                child.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        for key, _ in (selector.select(timeout=wait) if selector.get_map() else ()):
            out, counted = targets[key.fd]
            try:
                data = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(key.fd)
                continue
            room = output - counted[0]
            out.write(data[:max(0, room)])
            out.flush()
            counted[0] += len(data)
            if counted[0] > output:
                stopped = STOPPED_OUTPUT
        status = child.poll()
        if status is None and time.monotonic() >= deadline:
            stopped = STOPPED_WALL
    if stopped is not None:
        child.kill()
    # What PHP wrote just before it ended is still in the pipes.
    for fd, (out, counted) in targets.items():
        while counted[0] <= output:
            try:
                data = os.read(fd, 65536)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            out.write(data[:max(0, output - counted[0])])
            counted[0] += len(data)
        out.flush()
    sweep()
    child.wait()
    if stopped is not None:
        sys.stderr.write(f"\n{stopped}\n")
        sys.stderr.flush()
        return EXIT_WALL if stopped == STOPPED_WALL else EXIT_OUTPUT
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, required=True, help="CPU seconds (RLIMIT_CPU)")
    parser.add_argument("--memory", type=int, required=True, help="address space in bytes (RLIMIT_AS)")
    parser.add_argument("--output", type=int, required=True, help="bytes forwarded of stdout and of stderr, each")
    parser.add_argument("--wall", type=float, required=True, help="seconds before everything is stopped")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        parser.error("no command")
    return run(argv, args.cpu, args.memory, args.output, args.wall)


if __name__ == "__main__":
    sys.exit(main())
