"""Fault 11: every MCP tool and CLI command, given bad input, answers clearly and changes nothing.

Wrong types, out-of-range and huge numbers, empty strings and unknown
arguments, through the real MCP client (in process) and the real CLI
(subprocesses, exit code 2). Afterwards: no state file, no logs directory,
no lock file, no PHP process - or, with a server running, the very same
server, state and log.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mybb_mcp.orchestration import ServerOrchestrationService
from tests.reliability.conftest import TIMEOUT, cli_env, php_servers, snapshot, wait_for

HUGE = 10**30

MCP_CASES: list[tuple[str, dict[str, Any], str]] = [
    # (tool, arguments, the argument the answer must name)
    ("mybb_server_start", {"port": "8022"}, "port"),
    ("mybb_server_start", {"port": 8022.0}, "port"),
    ("mybb_server_start", {"port": 8022.5}, "port"),
    ("mybb_server_start", {"port": True}, "port"),
    ("mybb_server_start", {"port": 0}, "port"),
    ("mybb_server_start", {"port": -1}, "port"),
    ("mybb_server_start", {"port": 65536}, "port"),
    ("mybb_server_start", {"port": HUGE}, "port"),
    ("mybb_server_start", {"port": ""}, "port"),
    ("mybb_server_start", {"port": []}, "port"),
    ("mybb_server_start", {"port": {}}, "port"),
    ("mybb_server_start", {"force": "yes"}, "force"),
    ("mybb_server_start", {"force": 1}, "force"),
    ("mybb_server_start", {"force": None}, "force"),
    ("mybb_server_start", {"workers": 0}, "workers"),
    ("mybb_server_start", {"workers": 65}, "workers"),
    ("mybb_server_start", {"workers": "4"}, "workers"),
    ("mybb_server_start", {"mybb_error_logging": "maybe"}, "mybb_error_logging"),
    ("mybb_server_start", {"mybb_error_logging": ""}, "mybb_error_logging"),
    ("mybb_server_start", {"host": "0.0.0.0"}, "host"),
    ("mybb_server_start", {"bogus": 1}, "bogus"),
    ("mybb_server_start", {"": 1}, "is not an argument"),
    ("mybb_server_start", {"port": 8022, "extra": True}, "extra"),
    ("mybb_server_stop", {"force": "true"}, "force"),
    ("mybb_server_stop", {"force": 0}, "force"),
    ("mybb_server_stop", {"force": None}, "force"),
    ("mybb_server_stop", {"port": 8022}, "port"),
    ("mybb_server_status", {"verbose": True}, "verbose"),
    ("mybb_server_logs", {"limit": 0}, "limit"),
    ("mybb_server_logs", {"limit": -1}, "limit"),
    ("mybb_server_logs", {"limit": 10**9}, "limit"),
    ("mybb_server_logs", {"limit": HUGE}, "limit"),
    ("mybb_server_logs", {"limit": "50"}, "limit"),
    ("mybb_server_logs", {"limit": 5.5}, "limit"),
    ("mybb_server_logs", {"limit": None}, "limit"),
    ("mybb_server_logs", {"offset": -1}, "offset"),
    ("mybb_server_logs", {"offset": HUGE}, "offset"),
    ("mybb_server_logs", {"since_minutes": 0}, "since_minutes"),
    ("mybb_server_logs", {"since_minutes": -5}, "since_minutes"),
    ("mybb_server_logs", {"since_minutes": HUGE}, "since_minutes"),
    ("mybb_server_logs", {"since_minutes": "10"}, "since_minutes"),
    ("mybb_server_logs", {"filter": ""}, "filter"),
    ("mybb_server_logs", {"filter": "   "}, "filter"),
    ("mybb_server_logs", {"filter": 42}, "filter"),
    ("mybb_server_logs", {"filter": ["a"]}, "filter"),
    ("mybb_server_logs", {"errors_only": "true"}, "errors_only"),
    ("mybb_server_logs", {"tail": 0}, "tail"),
    ("mybb_server_logs", {"exclude_static": None}, "exclude_static"),
    ("mybb_server_logs", {"mybb_errors": "no"}, "mybb_errors"),
    ("mybb_server_logs", {"level": "fatal"}, "level"),
    ("mybb_server_restart", {"port": "x"}, "port"),
    ("mybb_server_restart", {"port": 0}, "port"),
    ("mybb_server_restart", {"port": HUGE}, "port"),
    ("mybb_server_restart", {"workers": 100}, "workers"),
    ("mybb_server_restart", {"force": True}, "force"),
]



def schema_cases() -> list[tuple[str, dict[str, Any], str]]:
    """Bad values derived from every tool's published input schema, so a tool or argument added
    later is covered without editing this file."""
    from mybb_mcp.handlers.tools import ALL_TOOLS

    cases: list[tuple[str, dict[str, Any], str]] = []
    for tool in ALL_TOOLS:
        cases.append((tool.name, {"no_such_argument": 1}, "no_such_argument"))
        for name, prop in tool.input_schema.get("properties", {}).items():
            kind = prop.get("type")
            bad: list[Any] = [[], {"nested": 1}]
            if kind == "integer":
                bad += ["1", 1.5, True, HUGE, -HUGE]
                if "minimum" in prop:
                    bad.append(prop["minimum"] - 1)
                if "maximum" in prop:
                    bad.append(prop["maximum"] + 1)
            elif kind == "boolean":
                bad += ["true", 1, 0, None]
            elif kind == "string":
                bad += [5, True]
                if "enum" in prop:
                    bad += ["not-one-of-them", ""]
                if prop.get("minLength"):
                    bad.append("")
            cases += [(tool.name, {name: value}, name) for value in bad]
    return cases


MCP_CASES += schema_cases()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mcp_env(forum: Path, php: str, port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in [k for k in os.environ if k.startswith("MYBB_")] + ["PHP_CLI_SERVER_WORKERS"]:
        monkeypatch.delenv(key, raising=False)
    for key, value in {"MYBB_ROOT": str(forum), "MYBB_PORT": str(port), "MYBB_PHP": php}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    yield


def text_of(result: types.CallToolResult) -> str:
    assert isinstance(result.content[0], types.TextContent)
    return result.content[0].text


def settled_logs(service: ServerOrchestrationService) -> dict[str, Any]:
    """The log directory once PHP has finished logging the readiness probe (its 'Closing' line can
    land just after start returns)."""
    assert wait_for(lambda: service.config.log_file.read_text().endswith("Closing\n"))
    return snapshot(service.config.log_dir)


def untouched(service: ServerOrchestrationService) -> None:
    """A forum never started: nothing of ours appeared."""
    config = service.config
    assert not config.state_file.exists()
    assert not config.log_dir.exists()
    assert not config.lock_file.exists()
    assert php_servers(config.mybb_root) == []


async def call_all(client: Client) -> list[str]:
    problems = []
    for tool, args, names in MCP_CASES:
        result = await client.call_tool(tool, args)
        text = text_of(result)
        if not (result.is_error and text.startswith("# Error: Invalid Arguments") and names in text
                and "nothing was changed" in text.lower() and "**Next:**" in text):
            problems.append(f"{tool} {args!r}: is_error={result.is_error}\n{text[:400]}")
    return problems


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_every_tool_refuses_bad_arguments_and_creates_nothing(
    mode: str, mcp_env: None, service: ServerOrchestrationService,
) -> None:
    from mybb_mcp.server import server

    async with Client(server, mode=mode) as client:
        problems = await call_all(client)
        with pytest.raises(MCPError) as unknown:
            await client.call_tool("mybb_server_frobnicate", {})
        assert "Unknown tool" in str(unknown.value) and "mybb_server_start" in str(unknown.value)
    assert problems == [], "\n\n".join(problems)
    untouched(service)


@pytest.mark.anyio
async def test_bad_arguments_leave_a_running_server_exactly_as_it_was(
    mcp_env: None, service: ServerOrchestrationService,
) -> None:
    from mybb_mcp.server import server

    started = service.start()
    assert started.success
    state = service.config.state_file.read_bytes()
    logs = settled_logs(service)
    async with Client(server) as client:
        problems = await call_all(client)
    assert problems == [], "\n\n".join(problems)
    assert service.config.state_file.read_bytes() == state
    assert snapshot(service.config.log_dir) == logs  # not rotated, not written
    assert [p.pid for p in php_servers(service.config.mybb_root)] == [started.pid]


# ----------------------------------------------------------------------------- the CLI

CLI_CASES: list[list[str]] = [
    ["start", "--port", "abc"], ["start", "--port", "0"], ["start", "--port", "65536"], ["start", "--port", ""],
    ["start", "--port", "-1"], ["start", "--port", "1e3"], ["start", "--port", "8022.0"],
    ["start", "--port", str(HUGE)], ["start", "--port"], ["start", "--workers", "0"], ["start", "--workers", "65"],
    ["start", "--workers", "x"], ["start", "--host", ""], ["start", "--host", "a b"],
    ["start", "--host", "http://example.com/"], ["start", "--bogus"], ["start", "extra"], ["start", "--force=yes"],
    ["stop", "--port", "8022"], ["stop", "--force=1"], ["stop", "now"],
    ["status", "extra"], ["status", "--verbose"],
    ["logs", "--limit", "0"], ["logs", "--limit", "-5"], ["logs", "--limit", "abc"], ["logs", "--limit", ""],
    ["logs", "--limit", str(10**10)], ["logs", "--limit", str(HUGE)], ["logs", "--offset", "-1"],
    ["logs", "--offset", str(HUGE)], ["logs", "--since", "0"], ["logs", "--since", "-1"],
    ["logs", "--since", str(HUGE)], ["logs", "--grep", ""], ["logs", "--grep", "   "], ["logs", "--level", "x"],
    ["restart", "--port", "x"], ["restart", "--port", "0"], ["restart", "--workers", "0"], ["restart", "--force"],
    ["frobnicate"], [], ["--json"], ["--port", "8022", "start"],
    ["errorlog"], ["errorlog", "maybe"], ["errorlog", ""], ["errorlog", "on", "extra"],
]


def command_cases() -> list[list[str]]:
    """Every command in the CLI's table, with an unknown flag: a command added later is covered."""
    from mybb_mcp.cli.app import COMMANDS

    return [[name, "--no-such-flag"] for name in COMMANDS] + [[name, "--json", "--json=1"] for name in COMMANDS]


CLI_CASES += command_cases()

CONFIG_CASES: list[dict[str, str]] = [
    {"MYBB_PORT": "abc"}, {"MYBB_PORT": "0"}, {"MYBB_PORT": "70000"}, {"MYBB_PORT": "80.5"},
    {"MYBB_LOG_BACKUPS": "0"}, {"MYBB_LOG_BACKUPS": "many"}, {"MYBB_LOG_MAX_MB": "-1"},
    {"MYBB_LOG_MAX_MB": str(HUGE)}, {"MYBB_WORKERS": "100"}, {"MYBB_WORKERS": "0"}, {"MYBB_HOST": "a b"},
    {"MYBB_HOST": "http://x/"}, {"MYBB_DEV_INI": "maybe"}, {"MYBB_ROUTER": "2"}, {"MYBB_PHP_INI": "novalue"},
]


def run_many(runs: list[tuple[list[str], dict[str, str]]], cwd: Path, how: str,
             ) -> list[subprocess.CompletedProcess[str]]:
    """Run the CLI for each (argv, environment): as separate processes, several at a time, or in this
    process through `mybb_mcp.cli.main` (the same code, without an interpreter start per case)."""
    def one(run: tuple[list[str], dict[str, str]]) -> subprocess.CompletedProcess[str]:
        args, env = run
        return subprocess.run([sys.executable, "-m", "mybb_mcp.cli", *args], env=env, cwd=cwd,
                              capture_output=True, text=True, timeout=TIMEOUT * 2)

    if how == "subprocess":
        with ThreadPoolExecutor(max_workers=max(2, (os.cpu_count() or 2) * 2)) as pool:
            return list(pool.map(one, runs))
    return [in_process(args, env, cwd) for args, env in runs]


def in_process(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    from mybb_mcp.cli.app import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:  # what would be a traceback in a real process
                err.write("Traceback (in process)\n" + traceback.format_exc())
                code = 1
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def usage_problems(done: subprocess.CompletedProcess[str], label: str) -> list[str]:
    problems = []
    if done.returncode != 2:
        problems.append(f"{label}: exit {done.returncode}, not 2")
    if "Traceback" in done.stderr or "Traceback" in done.stdout:
        problems.append(f"{label}: traceback\n{done.stderr[-500:]}")
    if not done.stderr.strip():
        problems.append(f"{label}: nothing on stderr")
    if done.stdout.strip():
        problems.append(f"{label}: output on stdout: {done.stdout[:200]}")
    return problems


def representative(cases: list[list[str]]) -> list[list[str]]:
    """For the subprocess pass: the first two bad cases of each command, and the odd ones out."""
    chosen: list[list[str]] = []
    for args in cases:
        if not args or args[0].startswith("-") or sum(1 for c in chosen if c[:1] == args[:1]) < 2:
            chosen.append(args)
    return chosen


@pytest.mark.parametrize("how", ["in_process", "subprocess"])
def test_every_cli_command_refuses_bad_input_with_exit_2_and_creates_nothing(
    how: str, forum: Path, php: str, port: int, tmp_path: Path, service: ServerOrchestrationService,
) -> None:
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port))
    config_cases = CONFIG_CASES if how == "in_process" else CONFIG_CASES[::4]
    cli_cases = CLI_CASES if how == "in_process" else representative(CLI_CASES)
    cases: list[tuple[list[str], dict[str, str], str | None]] = [(args, env, None) for args in cli_cases]
    cases += [(["start"], {**env, **bad}, next(iter(bad))) for bad in config_cases]
    cases += [(["status"], {**env, **bad}, next(iter(bad))) for bad in config_cases[:3]]
    results = run_many([(args, run_env) for args, run_env, _ in cases], tmp_path, how)
    problems = []
    for (args, run_env, variable), done in zip(cases, results):
        label = f"mybb-server {' '.join(args)}" + (f" with {variable}={run_env[variable]!r}" if variable else "")
        problems += usage_problems(done, label)
        if variable and variable not in done.stderr:
            problems.append(f"{label}: the message does not name {variable}:\n{done.stderr[:300]}")
    assert problems == [], "\n".join(problems)
    untouched(service)


def test_bad_cli_input_leaves_a_running_server_exactly_as_it_was(
    forum: Path, php: str, port: int, tmp_path: Path, service: ServerOrchestrationService,
) -> None:
    started = service.start()
    state = service.config.state_file.read_bytes()
    logs = settled_logs(service)
    env = cli_env(MYBB_ROOT=str(forum), MYBB_PHP=php, MYBB_PORT=str(port))
    cases = [args for args in CLI_CASES if args and args[0] in ("start", "stop", "restart", "errorlog")]
    runs = [(args, env) for args in cases] + [(["stop"], {**env, "MYBB_PORT": "0"})]
    results = run_many(runs, tmp_path, "in_process") + run_many(runs[::6], tmp_path, "subprocess")
    labels = [" ".join(args) for args, _ in runs] + [" ".join(args) for args, _ in runs[::6]]
    problems = [p for label, done in zip(labels, results) for p in usage_problems(done, label)]
    assert problems == [], "\n".join(problems)
    assert service.config.state_file.read_bytes() == state
    assert snapshot(service.config.log_dir) == logs
    assert [p.pid for p in php_servers(forum)] == [started.pid]
    assert json.loads(state)["pid"] == started.pid
