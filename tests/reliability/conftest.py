"""The fault suite's tools: real processes that misbehave, and guards that nothing leaks.

Every test runs on its own temporary forum (tests/conftest.py) and real `php -S`.
Helpers here make the faults real: an imposter process that records every
signal it receives, a foreign listener, subprocesses that drive the service,
and a guard that fails any test leaving a process behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import pytest

if TYPE_CHECKING:
    from mybb_mcp.orchestration import ServerOrchestrationService

TIMEOUT = 30.0  # every wait polls; this is only the ceiling on a slow CI machine
VENV_BIN = Path(sys.executable).parent

# Pages the fault suite adds to the fixture forum.
EXTRA_PAGES = {
    # A real segmentation fault: internal-function recursion exhausts the C stack (PHP 8.2 has no stack guard).
    # Xdebug, when loaded, stops the recursion at xdebug.max_nesting_level with an Error instead: lifted here.
    "segv.php": (
        "<?php\nini_set('xdebug.max_nesting_level', '2000000000');\n"
        "function f($x) { return array_map('f', [$x]); }\nf(1);\n"
    ),
    # Writes ~KB-sized lines to the server log, each tagged with a marker the test can count.
    "big.php": (
        "<?php\n$m = $_GET['m'] ?? 'none';\n$n = (int)($_GET['kb'] ?? 16);\n"
        "error_log('BIGLINE ' . $m . ' ' . str_repeat('x', $n * 1024) . ' END ' . $m);\necho 'big ' . $m;\n"
    ),
    "marker.php": "<?php\n$m = $_GET['m'] ?? 'none';\nerror_log('MARKER ' . $m);\necho 'marked ' . $m;\n",
}


def wait_for(predicate: Callable[[], Any], timeout: float = TIMEOUT, interval: float = 0.005) -> Any:
    """Poll until `predicate()` is truthy; return its value (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
        interval = min(interval * 1.5, 0.05)


def serves(url: str) -> bool:
    """Whether a GET of `url` answers 200 right now (connection refused and timeouts are False)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose command line contains `text` (e.g. a test's forum root)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
            continue
        if any(text in part for part in proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def php_servers(root: Path) -> list[psutil.Process]:
    """Live `php -S` processes (leaders and workers) serving `root`."""
    return [
        proc for proc in processes_mentioning(str(root))
        if "-S" in (proc.info["cmdline"] or ()) and "php" in os.path.basename(proc.info["cmdline"][0])
    ]


def php_leaders(root: Path) -> list[psutil.Process]:
    """The `php -S` processes for `root` that are not workers of another one."""
    servers = php_servers(root)
    pids = {proc.pid for proc in servers}
    result = []
    for proc in servers:
        try:
            if proc.ppid() not in pids:
                result.append(proc)
        except psutil.NoSuchProcess:
            pass
    return result


def listening_pids(port: int) -> set[int]:
    return {
        conn.pid for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid
    }


def port_listening(port: int) -> bool:
    return any(
        conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
        for conn in psutil.net_connections(kind="tcp")
    )


def zombie_children(pid: int | None = None) -> list[psutil.Process]:
    parent = psutil.Process(pid or os.getpid())
    zombies = []
    for child in parent.children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                zombies.append(child)
        except psutil.NoSuchProcess:
            pass
    return zombies


def snapshot(directory: Path) -> dict[str, tuple[str, int, bytes | None]]:
    """Every entry under `directory`: kind, mode and (for files) content. Compare before/after."""
    result: dict[str, tuple[str, int, bytes | None]] = {}
    if not directory.exists():
        return result
    for path in sorted(directory.rglob("*")):
        st = path.lstat()
        if path.is_symlink():
            result[str(path.relative_to(directory))] = ("link", st.st_mode, os.readlink(path).encode())
        elif path.is_dir():
            result[str(path.relative_to(directory))] = ("dir", st.st_mode, None)
        else:
            result[str(path.relative_to(directory))] = ("file", st.st_mode, path.read_bytes())
    return result


# ----------------------------------------------------------------------------- the imposter

IMPOSTER = textwrap.dedent('''
    """A process that is not ours: records every signal it receives, optionally listens on a port
    (answering HTTP like a web server would) and forks children that do the same."""
    import json, os, signal, socket, sys, threading

    args = json.loads(sys.argv[1])
    record = args["record"]

    def note(sig, frame=None):
        with open(record, "a") as handle:
            handle.write(f"{os.getpid()} {signal.Signals(sig).name}\\n")

    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, note)
        except (OSError, ValueError):
            pass

    if args.get("listen"):
        family = socket.AF_INET6 if ":" in args.get("host", "") else socket.AF_INET
        server = socket.socket(family, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((args.get("host", "127.0.0.1"), args["listen"]))
        server.listen(16)

        def serve():
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                with conn:
                    try:
                        conn.recv(4096)
                        conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nnot your forum")
                    except OSError:
                        pass

        threading.Thread(target=serve, daemon=True).start()

    # Children: same command line, same process group and session (as PHP's workers would be).
    pipes = []
    for _ in range(args.get("children", 0)):
        ask_r, ask_w = os.pipe()
        ack_r, ack_w = os.pipe()
        if os.fork() == 0:
            os.close(ask_w); os.close(ack_r)
            while True:
                try:
                    data = os.read(ask_r, 1)
                except InterruptedError:
                    continue
                if not data:
                    os._exit(0)
                os.write(ack_w, b"k")
        os.close(ask_r); os.close(ack_w)
        pipes.append((ask_w, ack_r))

    sys.stdout.write("ready\\n"); sys.stdout.flush()
    # Handshake: a byte on stdin -> every child answers -> "ack". Signals sent before the byte
    # interrupt the blocking reads, so their handlers have run (and written) before the answer.
    while True:
        data = sys.stdin.buffer.read(1)
        if not data:
            break
        for ask_w, ack_r in pipes:
            os.write(ask_w, b"?")
            os.read(ack_r, 1)
        sys.stdout.write("ack\\n"); sys.stdout.flush()
''')


@dataclass
class Imposter:
    """A live process (and children) that must never be signalled by the service."""

    proc: subprocess.Popen[str]
    record: Path
    script: Path
    children: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def cmdline(self) -> list[str]:
        return psutil.Process(self.pid).cmdline()

    @property
    def create_time(self) -> float:
        return psutil.Process(self.pid).create_time()

    def signals(self) -> list[str]:
        """Every signal any of its processes received so far (after a handshake, so none is in flight)."""
        assert self.proc.poll() is None, f"the imposter died: exit {self.proc.returncode}"
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write("?")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "ack"
        return self.record.read_text().splitlines() if self.record.exists() else []

    def assert_untouched(self) -> None:
        """Alive, not stopped, and no signal recorded - for the leader and every child."""
        for pid in [self.pid, *self.children]:
            proc = psutil.Process(pid)
            assert proc.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_STOPPED, psutil.STATUS_DEAD), \
                f"imposter process {pid} is {proc.status()}"
        assert self.signals() == [], "the service signalled a process it did not start"
        assert self.proc.poll() is None


@pytest.fixture
def imposter(tmp_path: Path) -> Iterator[Callable[..., Imposter]]:
    """Spawn imposters: `imposter(listen=port, children=2)`. Killed at teardown."""
    made: list[Imposter] = []
    script = tmp_path / "imposter.py"
    script.write_text(IMPOSTER)

    def make(*, listen: int | None = None, children: int = 0, host: str = "127.0.0.1") -> Imposter:
        record = tmp_path / f"signals-{len(made)}.txt"
        args = json.dumps({"record": str(record), "listen": listen, "children": children, "host": host})
        proc = subprocess.Popen([sys.executable, str(script), args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        kids = [child.pid for child in psutil.Process(proc.pid).children()]
        assert len(kids) == children
        fake = Imposter(proc, record, script, kids)
        made.append(fake)
        return fake

    yield make
    for fake in made:
        for pid in [*fake.children, fake.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        fake.proc.wait(timeout=TIMEOUT)
        for child in fake.children:
            # The children are the imposter's; once it is gone they are re-parented. Wait until gone/zombie.
            wait_for(lambda: not alive(child), timeout=5)


# ----------------------------------------------------------------------------- the forum and the guard


@pytest.fixture
def forum(forum: Path) -> Path:
    """The shared fixture forum plus the fault suite's pages."""
    for name, text in EXTRA_PAGES.items():
        (forum / name).write_text(text)
    return forum


# ----------------------------------------------------------------------------- a forum a visitor attacks
# test_security_visitor.py and test_security_round2.py serve these; a module with a `running` of its own keeps it.

# Pages that put request data into the server log verbatim, as forum code does (an undefined array key
# named by the request, a message logged with the visitor's User-Agent).
HOSTILE_PAGES = {
    "key.php": "<?php\n$a = [];\necho $a[$_REQUEST['k'] ?? ''];\necho 'keyed';\n",
    "agent.php": "<?php\nerror_log('agent: ' . ($_SERVER['HTTP_USER_AGENT'] ?? ''));\necho 'agent';\n",
    "real_error.php": (
        "<?php\ntrigger_error('REAL-RECENT-ERROR ' . ($_GET['m'] ?? ''), E_USER_WARNING);\necho 'real';\n"
    ),
    # PHP's own messages reach the log escaped, one line each (the signed channel); text a page logs does not.
    "logpost.php": "<?php\nerror_log($_POST['text'] ?? '');\necho 'logged';\n",
}


@pytest.fixture
def hostile_forum(forum: Path) -> Path:
    for name, text in HOSTILE_PAGES.items():
        (forum / name).write_text(text)
    return forum


@pytest.fixture
def running(hostile_forum: Path, service: ServerOrchestrationService) -> Iterator[ServerOrchestrationService]:
    started = service.start()
    assert started.success, started
    yield service


@pytest.fixture(autouse=True)
def no_process_left_behind(tmp_path: Path) -> Iterator[None]:
    """After each test (and after its fixtures stopped what they started): no process mentions this
    test's directory. A leak is killed and fails the test, so 'no orphan' holds suite-wide."""
    yield
    leaked = wait_for(lambda: not processes_mentioning(str(tmp_path)), timeout=5) or processes_mentioning(
        str(tmp_path))
    if leaked is True:
        return
    described = []
    for proc in leaked:
        try:
            described.append(f"{proc.pid} {' '.join(proc.cmdline())}")
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    if described:
        pytest.fail("processes left behind:\n" + "\n".join(described))


# ----------------------------------------------------------------------------- driving from other processes


def service_snippet(body: str) -> str:
    """Python source for a subprocess: builds the service from argv[1] (JSON config) then runs `body`,
    printing one JSON line per result. Waits for argv[2] (a file) to appear first, so many start at once."""
    return textwrap.dedent('''
        import json, os, sys, time
        from dataclasses import asdict
        from pathlib import Path
        from mybb_mcp.config import Config
        from mybb_mcp.orchestration import ServerOrchestrationService

        spec = json.loads(sys.argv[1])
        service = ServerOrchestrationService(Config(mybb_root=Path(spec["root"]), php=spec["php"],
                                                    port=spec["port"], **spec.get("extra", {})))
        go = Path(sys.argv[2])
        print("ready", flush=True)
        while not go.exists():
            time.sleep(0.001)

        def emit(result):
            failure = getattr(result, "failure", None)
            print(json.dumps({"success": getattr(result, "success", None),
                              "failure": failure.value if failure else None,
                              "pid": result.pid, "action": getattr(result, "action", "status"),
                              "running": getattr(result, "running", None)}), flush=True)
    ''') + textwrap.dedent(body)


@dataclass
class Remote:
    """A subprocess running the service; `results()` after it exits."""

    proc: subprocess.Popen[str]

    def results(self) -> list[dict[str, Any]]:
        out, err = self.proc.communicate(timeout=TIMEOUT * 2)
        assert self.proc.returncode == 0, f"subprocess failed ({self.proc.returncode}):\n{err}"
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def launch(body: str, spec: dict[str, Any], go: Path) -> Remote:
    proc = subprocess.Popen([sys.executable, "-c", service_snippet(body), json.dumps(spec), str(go)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Remote(proc)


def wait_ready(remotes: list[Remote]) -> None:
    for remote in remotes:
        assert remote.proc.stdout is not None
        line = remote.proc.stdout.readline()
        assert line.strip() == "ready", remote.proc.stderr.read() if remote.proc.stderr else line


def cli_env(**extra: str) -> dict[str, str]:
    """The runner's environment minus anything that would configure mybb-mcp behind the test's back."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MYBB_") and k not in ("PHP_CLI_SERVER_WORKERS", "NO_COLOR")}
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path,
            timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mybb_mcp.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
