"""mybb-server as a person runs it: a real subprocess against a real php -S on the fixture forum."""

from __future__ import annotations

import json
import os
import pty
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from mybb_mcp import __version__
from tests.conftest import free_port, http_get

TIMEOUT = 60.0  # generous: a slow CI machine, never a sleep


@dataclass
class Cli:
    """Runs `python -m mybb_mcp.cli` with the fixture forum in its environment, from an empty directory."""

    env: dict[str, str]
    cwd: Path

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "mybb_mcp.cli", *args]

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), cwd=self.cwd, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=TIMEOUT)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = self.run(*args)
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, bufsize=1)


def base_env() -> dict[str, str]:
    """The test runner's environment without anything that would configure the CLI behind our back."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("MYBB_") and k not in ("PHP_CLI_SERVER_WORKERS", "NO_COLOR")}


@pytest.fixture
def cli(forum: Path, port: int, php: str, tmp_path: Path) -> Iterator[Cli]:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    runner = Cli({**base_env(), "MYBB_ROOT": str(forum), "MYBB_PORT": str(port), "MYBB_PHP": php}, cwd)
    yield runner
    runner.run("stop", "--force")  # whatever the test started


@pytest.fixture
def started(cli: Cli, port: int) -> str:
    """A running server; returns its URL."""
    cli.ok("start")
    return f"http://127.0.0.1:{port}"


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def nothing_listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def repo_files(forum: Path) -> set[str]:
    """Every path beside and under the forum: what a command could have written."""
    return {str(p.relative_to(forum.parent)) for p in forum.parent.rglob("*")}


# ---------------------------------------------------------------------------- lifecycle


def test_start_serves_the_forum(cli: Cli, port: int) -> None:
    done = cli.run("start")
    url = f"http://127.0.0.1:{port}"
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("# Server Started")
    assert url in done.stdout
    assert "`mybb-server logs --errors`" in done.stdout  # CLI command names, not MCP tool names
    assert http_get(url + "/") == (200, "forum index")


def test_status_stop_and_status_again(cli: Cli, forum: Path, port: int) -> None:
    before = cli.json("status")
    assert before["running"] is False and before["pid"] is None
    cli.ok("start")
    running = cli.json("status")
    assert running["running"] is True
    assert running["port"] == port and running["url"] == f"http://127.0.0.1:{port}"
    assert isinstance(running["pid"], int)
    assert running["log_file"] == str(forum.parent / "logs" / "server.log")  # a path, as a string
    assert cli.ok("status").stdout.startswith("# Server Status: Running")

    stopped = cli.run("stop", "--json")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    result = json.loads(stopped.stdout)
    assert result["success"] is True and result["pid"] == running["pid"] and result["failure"] is None
    assert cli.json("status")["running"] is False
    assert cli.ok("status").stdout.startswith("# Server Status: Stopped")
    assert not (forum.parent / ".mybb-server.json").exists()


def test_start_twice_is_already_running(cli: Cli, started: str) -> None:
    again = cli.run("start")
    assert again.returncode == 1
    assert again.stdout.startswith("# Server Already Running")
    assert started in again.stdout
    as_json = cli.run("start", "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["failure"] == "already_running"  # enums as their value


def test_stop_when_not_running_fails(cli: Cli) -> None:
    done = cli.run("stop")
    assert done.returncode == 1
    assert done.stdout.startswith("# Error: Server Not Running")
    assert "`mybb-server start`" in done.stdout


def test_restart_gives_a_new_process_on_the_same_port(cli: Cli, started: str) -> None:
    old_pid = cli.json("status")["pid"]
    done = cli.run("restart")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("# Server Restarted") and started in done.stdout
    assert cli.json("status")["pid"] != old_pid
    assert http_get(started + "/ok.php") == (200, "ok")


# ---------------------------------------------------------------------------- logs


def test_logs_errors_keep_the_stack_trace_in_the_entry(cli: Cli, started: str) -> None:
    http_get(started + "/ok.php")
    http_get(started + "/warning.php")
    assert http_get(started + "/exception.php")[0] == 500

    text = cli.ok("logs", "--errors")
    assert text.stdout.startswith("# Server Logs")
    assert "Undefined variable $undefined_variable" in text.stdout
    assert "Thread 42 not found" in text.stdout
    assert "GET /ok.php" not in text.stdout

    entries = json.loads(cli.ok("logs", "--errors", "--json").stdout)["entries"]
    assert entries and all(entry["is_error"] for entry in entries)
    uncaught = [e for e in entries if "Uncaught RuntimeException: Thread 42 not found" in e["message"]]
    assert uncaught
    assert any("Stack trace:" in e["continuation"] and any(line.startswith("#0 ") for line in e["continuation"])
               for e in uncaught), uncaught


def test_logs_grep_keeps_only_matching_entries(cli: Cli, started: str) -> None:
    http_get(started + "/warning.php")
    http_get(started + "/exception.php")
    entries = json.loads(cli.ok("logs", "--grep", "MISSING_KEY", "--json").stdout)["entries"]
    assert entries
    assert all("missing_key" in (e["message"] + "\n".join(e["continuation"])).lower() for e in entries)
    text = cli.ok("logs", "--grep", "missing_key").stdout
    assert "missing_key" in text and "Thread 42" not in text


def test_logs_find_errors_by_a_word_of_their_url_and_by_their_page(cli: Cli, started: str) -> None:
    http_get(started + "/warning.php?plant=ZED")
    http_get(started + "/exception.php")
    by_word = json.loads(cli.ok("logs", "--errors", "--grep", "plant=zed", "--json").stdout)["entries"]
    assert [e["level"] for e in by_word] == ["warning", "warning"]  # its undefined variable and array key
    assert all(e["request"]["path"] == "/warning.php?plant=ZED" for e in by_word)
    by_page = json.loads(cli.ok("logs", "--errors", "--path", "exception.*", "--json").stdout)["entries"]
    assert [e["level"] for e in by_page] == ["exception"]
    digest = cli.ok("logs", "--digest", "--grep", "plant=zed").stdout
    assert "Undefined variable" in digest and "Thread 42" not in digest
    bad = cli.run("logs", "--path", "*")
    assert bad.returncode == 2 and "path is empty" in bad.stderr


def test_logs_json_has_entries_as_objects_and_counts(cli: Cli, started: str) -> None:
    http_get(started + "/warning.php")
    data = json.loads(cli.ok("logs", "--json").stdout)
    assert isinstance(data["entries"], list) and data["entries"]
    entry = data["entries"][-1]
    for key in ("timestamp", "event_type", "message", "level", "is_error", "continuation", "offset"):
        assert key in entry
    assert isinstance(entry["timestamp"], str)  # datetimes as ISO strings
    counts = {k: v for k, v in data.items() if k != "entries" and isinstance(v, int)}
    assert counts, data.keys()


def test_logs_head_shows_the_oldest_entries(cli: Cli, started: str) -> None:
    http_get(started + "/ok.php")
    http_get(started + "/qs.php?marker")
    every = json.loads(cli.ok("logs", "--head", "--limit", "1000", "--json").stdout)["entries"]
    assert len(every) > 2
    assert [e["offset"] for e in every] == sorted(e["offset"] for e in every)  # oldest first
    head = json.loads(cli.ok("logs", "--head", "--limit", "1", "--json").stdout)["entries"]
    tail = json.loads(cli.ok("logs", "--limit", "1", "--json").stdout)["entries"]
    assert head == every[:1]
    assert tail == every[-1:] and tail[0]["path"] == "/qs.php?marker"


# ---------------------------------------------------------------------------- logs --follow


class Follower:
    """A running `logs --follow`, its stdout read line by line on a thread so reads can time out."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.errors: list[str] = []
        for stream, sink in ((proc.stdout, self.lines.put), (proc.stderr, self.errors.append)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _pump(stream: IO[str] | None, sink: Callable[[str], None]) -> None:
        assert stream is not None
        for line in stream:
            sink(line)

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {text!r} within {timeout} s; got {self.seen!r}, stderr {self.errors!r}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line

    def following(self) -> None:
        """Block until the initial query is printed and polling has begun (the notice on stderr)."""
        wait_for(lambda: any("following" in line for line in self.errors) or self.proc.poll() is not None,
                 "the follow notice")
        assert self.proc.poll() is None, self.errors

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=TIMEOUT)


@pytest.fixture
def follower(cli: Cli) -> Iterator[Callable[..., Follower]]:
    made: list[Follower] = []

    def start(*args: str) -> Follower:
        made.append(Follower(cli.popen("logs", "--follow", *args)))
        return made[-1]

    yield start
    for f in made:
        if f.proc.poll() is None:
            f.proc.kill()
            f.proc.wait(timeout=TIMEOUT)


def test_follow_prints_new_matching_entries(follower: Callable[..., Follower], cli: Cli, started: str) -> None:
    http_get(started + "/warning.php")
    f = follower("--errors")
    f.wait_for("Undefined variable")  # the entries so far, like `logs`
    f.following()
    http_get(started + "/ok.php")  # not an error: must not be printed
    http_get(started + "/exception.php")
    f.wait_for("Thread 42 not found")
    f.wait_for("Stack trace:")  # the entry's continuation lines come with it
    assert not any("GET /ok.php" in line for line in f.seen)
    assert f.interrupt() == 0  # Ctrl-C is how a follow ends


def test_follow_starts_over_after_the_log_is_rotated(
    follower: Callable[..., Follower], cli: Cli, started: str
) -> None:
    f = follower("--grep", "qs.php")
    f.following()
    http_get(started + "/qs.php?before")
    f.wait_for("qs.php?before")
    cli.ok("restart")  # rotates server.log to server.log.1 and starts a new one
    http_get(started + "/qs.php?after")
    f.wait_for("qs.php?after")
    assert f.interrupt() == 0


def test_follow_reads_a_replacing_file_from_its_start(follower: Callable[..., Follower], forum: Path) -> None:
    """Rotation by rename: the new file is already longer than what was read of the old one."""
    log = forum.parent / "logs" / "server.log"
    log.parent.mkdir()
    stamp = "[Tue Nov 24 05:51:39 2026]"
    log.write_text(f"{stamp} 127.0.0.1:1 [200]: GET /old-marker\n")
    f = follower("--grep", "marker")
    f.wait_for("old-marker")
    f.following()
    replacement = log.with_name("server.log.new")
    replacement.write_text(f"{stamp} 127.0.0.1:2 [200]: GET /new-marker\n"
                           + f"{stamp} 127.0.0.1:3 [200]: GET /x\n" * 50)
    log.rename(log.with_name("server.log.1"))
    replacement.rename(log)  # appears whole: never shorter than the old file
    f.wait_for("new-marker")
    assert f.interrupt() == 0


def test_follow_starts_over_after_the_log_is_truncated(
    follower: Callable[..., Follower], forum: Path
) -> None:
    log = forum.parent / "logs" / "server.log"
    log.parent.mkdir()
    stamp = "[Tue Nov 24 05:51:39 2026]"
    log.write_text(f"{stamp} 127.0.0.1:1 [200]: GET /first-marker\n" * 50)
    f = follower("--grep", "marker", "--json")
    f.wait_for("first-marker")
    f.following()
    log.write_text(f"{stamp} 127.0.0.1:2 [200]: GET /second-marker\n")  # shorter than before: truncated
    line = f.wait_for("second-marker")
    assert json.loads(line)["path"] == "/second-marker"  # --json --follow streams one entry per line
    assert f.interrupt() == 0


# ---------------------------------------------------------------------------- bad usage


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["start", "--port", "0"], "port"),
        (["start", "--port", "70000"], "port"),
        (["start", "--port", "abc"], "port"),
        (["start", "--host", " "], "host"),
        (["restart", "--workers", "0"], "workers"),
        (["logs", "--limit", "-1"], "limit"),
        (["logs", "--since", "0"], "since"),
        (["logs", "--grep", ""], "keyword"),
        (["start", "--no-such-flag"], "--no-such-flag"),
        (["launch"], "launch"),
    ],
)
def test_bad_usage_exits_2_and_changes_nothing(cli: Cli, forum: Path, port: int, args: list[str], named: str) -> None:
    before = repo_files(forum)
    done = cli.run(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert named in done.stderr
    assert "--help" in done.stderr  # where to read the fix
    assert done.stdout == ""
    assert repo_files(forum) == before  # no state file, no lock, no log
    assert nothing_listens(port)


def test_out_of_range_values_say_the_range(cli: Cli) -> None:
    assert "1 to 65535" in cli.run("start", "--port", "70000").stderr
    assert "whole number" in cli.run("start", "--port", "abc").stderr
    assert "between 1 and 1000" in cli.run("logs", "--limit", "-1").stderr
    too_many = cli.run("logs", "--limit", "5000")  # the query module's bound, not one of the CLI's own
    assert too_many.returncode == 2 and "offset" in too_many.stderr


def test_bad_configuration_exits_2_naming_the_variable(cli: Cli, forum: Path) -> None:
    done = cli.run("start", env={"MYBB_PORT": "abc"})
    assert done.returncode == 2
    assert "MYBB_PORT" in done.stderr and "whole number" in done.stderr
    assert done.stdout == ""
    assert not (forum.parent / ".mybb-server.json").exists()


def test_missing_forum_root_fails_with_the_root_message(cli: Cli, tmp_path: Path) -> None:
    done = cli.run("start", env={"MYBB_ROOT": str(tmp_path / "no-such-forum")})
    assert done.returncode == 1
    assert done.stdout.startswith("# Error: MyBB Root Not Usable")
    assert "no-such-forum" in done.stdout and "MYBB_ROOT" in done.stdout


def test_an_invalid_argument_from_the_service_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], forum: Path, tmp_path: Path
) -> None:
    """The one edge mapping: a MybbMcpError raised below the CLI becomes exit 2 with its message and hint."""
    from mybb_mcp.cli import app as cli_module
    from mybb_mcp.errors import InvalidArgument

    def refuse(self: object, *args: object, **kwargs: object) -> None:
        raise InvalidArgument("workers 99 is out of range.", "Pass 1-64.")

    monkeypatch.setattr(cli_module.ServerOrchestrationService, "start", refuse)
    monkeypatch.setenv("MYBB_ROOT", str(forum))
    monkeypatch.chdir(tmp_path)
    assert cli_module.main(["start"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "# Error: Invalid Arguments" in captured.err and "workers 99" in captured.err
    assert "Pass 1-64." in captured.err


# ---------------------------------------------------------------------------- help, version, colour


def test_version_and_help(cli: Cli) -> None:
    version = cli.ok("--version")
    assert version.stdout.strip() == f"mybb-server {__version__}"
    help_text = cli.ok("--help").stdout
    for command in ("start", "stop", "restart", "status", "logs"):
        assert command in help_text
    assert "examples:" in help_text and "mybb-server logs --errors" in help_text
    assert "--follow" in cli.ok("logs", "--help").stdout


def test_no_command_is_usage(cli: Cli) -> None:
    done = cli.run()
    assert done.returncode == 2 and "COMMAND" in done.stderr


def run_on_terminal(cli: Cli, *args: str, env: dict[str, str] | None = None) -> str:
    """Run with stdout on a pseudo-terminal, as a person sees it."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cli.argv(*args), cwd=cli.cwd, env={**cli.env, **(env or {})}, stdout=slave,
                            stderr=subprocess.PIPE)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.wait(timeout=TIMEOUT)
    return b"".join(chunks).decode()


def test_colour_only_on_a_terminal_without_no_color(cli: Cli) -> None:
    bold_heading = "\x1b[1m# Server Status: Stopped"
    assert bold_heading in run_on_terminal(cli, "status")
    assert "\x1b[" not in run_on_terminal(cli, "status", env={"NO_COLOR": "1"})
    assert "\x1b[" not in cli.ok("status").stdout  # a pipe
    error = run_on_terminal(cli, "stop")
    assert "\x1b[1m\x1b[31m# Error: Server Not Running" in error


def test_colour_marks_error_levels() -> None:
    from mybb_mcp.cli.output import RED, RESET, YELLOW, colourize

    text = colourize("`05:51:39` **FATAL** boom\n`05:51:40` **WARNING** hmm\n`05:51:41` **REQUEST** GET /")
    assert f"{RED}**FATAL**{RESET}" in text
    assert f"{YELLOW}**WARNING**{RESET}" in text
    assert "\x1b" not in text.splitlines()[2]


def test_start_on_another_free_port_flag(cli: Cli) -> None:
    other = free_port()
    done = cli.run("start", "--port", str(other), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["port"] == other and result["url"] == f"http://127.0.0.1:{other}"
    assert http_get(result["url"] + "/ok.php") == (200, "ok")


def test_errorlog_on_and_off_rebuild_settings_and_restore(tmp_path: Path, port: int, php: str) -> None:
    from tests.fixtures.mybb_forum import make_sqlite_forum

    forum = make_sqlite_forum(tmp_path / "repo" / "forum")
    runner = Cli({**base_env(), "MYBB_ROOT": str(forum.root), "MYBB_PORT": str(port), "MYBB_PHP": php}, tmp_path)
    on = runner.ok("errorlog", "on")
    assert on.stdout.startswith("# MyBB Error Logging: On")
    assert "$settings['errorlogmedium'] = \"log\";" in forum.settings_file.read_text()
    status = runner.json("status")
    assert status["forum"]["error_logging"]["enabled"] is True
    off = runner.ok("errorlog", "off")
    assert off.stdout.startswith("# MyBB Error Logging: Off")
    assert "$settings['errorlogmedium'] = \"none\";" in forum.settings_file.read_text()
    bad = runner.run("errorlog", "maybe")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_errorlog_without_an_installed_forum_fails_clearly(cli: Cli) -> None:
    done = cli.run("errorlog", "on")
    assert done.returncode == 1
    assert "# MyBB Error Logging: Not Changed" in done.stdout
    assert "not installed" in done.stdout
