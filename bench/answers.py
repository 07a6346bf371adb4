"""Every tool's answer on a fixed forum, for a before/after check of a refactoring.

    python bench/answers.py OUT.md [--template DIR]

Installs MyBB 1.8.37 once (by the product's own installer, from MYBB_TEST_ARCHIVE or
<repo>/../shared/mybb/mybb_1837.tar.gz) into DIR (default: a folder under the system's temp dir, kept
for the next run), copies it, and runs a fixed list of calls on the copy: every MCP tool through the
SDK's in-process client (`mcp.Client(mybb_mcp.server.server)`), the tools list itself, then every CLI
command as a subprocess. Each answer is written to OUT with only times, PIDs, ports and paths
normalised, so two runs of the same code write the same file: `diff` the files of two commits.
Everything the run starts is stopped before it exits; the copy is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT))

# (tool, arguments, environment added for the call)
MCP_CALLS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    ("mybb_server_status", {}, {}),
    ("mybb_server_stop", {}, {}),
    ("mybb_server_start", {}, {}),
    ("mybb_server_start", {}, {}),
    ("mybb_server_status", {}, {}),
    ("mybb_server_status", {"all": True}, {}),
    ("mybb_server_request", {"path": "index.php"}, {}),
    ("mybb_server_request", {"path": "index.php", "as": "admin", "contains": "Forum", "selector": "#content"}, {}),
    ("mybb_server_request", {"path": "nothing-here.php"}, {}),
    ("mybb_server_request", {"path": "index.php", "as": "nobody"}, {}),
    ("mybb_server_logs", {}, {}),
    ("mybb_server_logs", {"errors_only": True, "limit": 5}, {}),
    ("mybb_server_logs", {"digest": True}, {}),
    ("mybb_server_logs", {"offset": 3, "digest": True}, {}),
    ("mybb_server_logs", {"since_minutes": 600_000}, {}),
    ("mybb_server_logs", {"limit": 0, "bogus": 1}, {}),
    ("mybb_forum_sql", {"sql": "SELECT uid, username, usergroup FROM mybb_users"}, {}),
    ("mybb_forum_sql", {"table": "users"}, {}),
    ("mybb_forum_sql", {"sql": "DELETE FROM mybb_users"}, {}),
    ("mybb_forum_sql", {"table": "no_such_table"}, {}),
    ("mybb_forum_sql", {"sql": "SELECT 1", "limit": 501}, {}),
    ("mybb_forum_members", {"action": "list"}, {}),
    ("mybb_forum_members", {"action": "add", "name": "alice", "password": "correct-horse-1"}, {}),
    ("mybb_forum_members", {"action": "add", "name": "alice", "password": "correct-horse-1"}, {}),
    ("mybb_forum_templates", {"action": "get", "title": "footer"}, {}),
    ("mybb_forum_templates", {"action": "replace", "title": "footer", "find": "Powered", "replace": "Run"}, {}),
    ("mybb_forum_templates", {"action": "replace", "title": "footer", "find": "Powered", "replace": "Run",
                              "apply": True}, {}),
    ("mybb_forum_templates", {"action": "get", "title": "no_such_template"}, {}),
    ("mybb_forum_php", {"code": "return 1 + 1;"}, {}),
    ("mybb_forum_php", {"code": "echo 'hi'; return $mybb->settings['bbname'];"}, {"MYBB_ALLOW_PHP": "1"}),
    ("mybb_forum_php", {"code": "throw new Exception('thrown here');"}, {"MYBB_ALLOW_PHP": "1"}),
    ("mybb_forum_snapshot", {"action": "list"}, {}),
    ("mybb_forum_snapshot", {"action": "save", "name": "s1"}, {}),
    ("mybb_forum_snapshot", {"action": "diff", "name": "s1"}, {}),
    ("mybb_forum_snapshot", {"action": "diff", "name": "nope"}, {}),
    ("mybb_forum_snapshot", {"action": "delete", "name": "s1"}, {}),
    ("mybb_forum_plugins", {"action": "list"}, {}),
    ("mybb_forum_plugins", {"action": "check", "name": "hello"}, {}),
    ("mybb_forum_plugins", {"action": "check", "name": "nope"}, {}),
    ("mybb_forum_reference", {"kind": "hook", "name": "index_start"}, {}),
    ("mybb_forum_reference", {"kind": "setting", "name": "bbname"}, {}),
    ("mybb_forum_reference", {"name": "no_such_name_anywhere"}, {}),
    ("mybb_forum_doctor", {}, {}),
    ("mybb_forum_init", {}, {}),
    ("mybb_server_restart", {}, {}),
    ("mybb_server_restart", {"port": "80"}, {}),
    ("mybb_server_stop", {}, {}),
    ("mybb_server_stop", {}, {}),
    ("mybb_no_such_tool", {}, {}),
]

CLI_CALLS: list[list[str]] = [
    ["status"], ["start"], ["status"], ["list"],
    ["request", "index.php"], ["request", "nothing-here.php", "--json"],
    ["logs"], ["logs", "--errors"], ["logs", "--since", "600000"], ["logs", "--digest"],
    ["sql", "SELECT uid, username FROM mybb_users"], ["sql", "--describe", "users"], ["sql", "DELETE FROM mybb_users"],
    ["members", "list"], ["templates", "get", "footer"],
    ["php", "return 1 + 1;"],
    ["snapshot", "list"], ["snapshot", "save", "s2"], ["snapshot", "diff", "s2"], ["snapshot", "delete", "s2"],
    ["plugins", "list"], ["plugins", "check", "hello"],
    ["ref", "hook", "index_start"], ["doctor"], ["errorlog", "off"],
    ["restart"], ["stop"], ["stop"], ["init"], ["--version"], ["bogus"],
]


def normalise(text: str, forum: Path, port: int) -> str:
    for path, name in ((forum.parent, "<REPO>"), (Path(tempfile.gettempdir()), "<TMP>")):
        text = text.replace(str(path), name)
    text = re.sub(rf"\b{port}\b", "<PORT>", text)
    text = re.sub(r"\b\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:?\d\d|Z| UTC)?", "<TIME>", text)
    text = re.sub(r"\b\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d( [A-Za-z/_]+)?", "<TIME>", text)
    text = re.sub(r"\b\d\d:\d\d:\d\d\b", "<TIME>", text)
    text = re.sub(r"\b\d+(\.\d+)?\s?(ms|s|µs|seconds?|minutes?|hours?|min)\b", "<DUR>", text)
    text = re.sub(r"\b(PID|pid|process)\s*:?\s*\d+", r"\1 <PID>", text)
    text = re.sub(r"\b(pids?|PIDs?) [\d, ]+", r"\1 <PID>", text)
    text = re.sub(r"(PID \| )\d+", r"\1<PID>", text)
    text = re.sub(r"(<PORT> \| )\d+ \|", r"\1<PID> |", text)
    text = re.sub(r"(client ports?:? )\d+", r"\1<CPORT>", text)
    text = re.sub(r'("client_port": )\d+', r"\1<CPORT>", text)
    text = re.sub(r'"\d{4,5}": \[', '"<CPORT>": [', text)
    text = re.sub(r'("(seconds|elapsed|time|time_ms|ms|started|started_at|pid)": )[\d.e-]+', r"\1<N>", text)
    text = re.sub(r"\bu[0-9a-f]{12}@example\.com", "<EMAIL>", text)
    text = re.sub(r"\bc\d[A-Za-z0-9_\-.~=]{10,}", "<CURSOR>", text)
    text = re.sub(r"\b\d+(\.\d+)? ?(KB|MB|GB|B|bytes|kB)\b", "<SIZE>", text)
    text = re.sub(r"\b(uptime|up|since|ago|age)\b[^\n|]*", r"\1 <T>", text)
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def record_mcp(out: list[str], forum: Path, port: int) -> None:
    import mcp.types as types
    from mcp import Client
    from mcp.shared.exceptions import MCPError

    from mybb_mcp.server import server

    async with Client(server) as client:
        listed = (await client.list_tools()).tools
        out.append("## tools/list\n")
        out.append(json.dumps([tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed],
                              indent=1, sort_keys=True))
        for tool, args, env in MCP_CALLS:
            for key, value in env.items():
                os.environ[key] = value
            try:
                result = await client.call_tool(tool, args)
                content = result.content[0]
                text = content.text if isinstance(content, types.TextContent) else repr(content)
                head = f"is_error={bool(result.is_error)}"
            except MCPError as exc:
                text, head = str(exc), "MCPError"
            finally:
                for key in env:
                    os.environ.pop(key, None)
            out.append(f"\n## mcp {tool} {json.dumps(args, sort_keys=True)} {head}\n")
            out.append(normalise(text, forum, port))


def record_cli(out: list[str], forum: Path, port: int, env: dict[str, str]) -> None:
    for argv in CLI_CALLS:
        done = subprocess.run([sys.executable, "-m", "mybb_mcp.cli", *argv], env=env, cwd=forum.parent,
                              capture_output=True, text=True, timeout=600, check=False)
        out.append(f"\n## cli {' '.join(argv)} exit={done.returncode}\n")
        out.append("### stdout\n" + normalise(done.stdout, forum, port))
        out.append("### stderr\n" + normalise(done.stderr, forum, port))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--template", type=Path, default=Path(tempfile.gettempdir()) / "mybb-mcp-answers-template")
    args = parser.parse_args()

    from mybb_mcp.config import Config
    from mybb_mcp.orchestration import ServerOrchestrationService
    from tests.fixtures.real_mybb import MybbTemplate, copy_forum, install_template

    php = os.environ.get("MYBB_PHP") or shutil.which("php") or "php"
    saved = args.template / "template.json"
    if saved.is_file():
        template = MybbTemplate(**{**json.loads(saved.read_text()), "root": Path(json.loads(saved.read_text())["root"]),
                                   "db_file": Path(json.loads(saved.read_text())["db_file"])})
    else:
        shutil.rmtree(args.template, ignore_errors=True)
        args.template.mkdir(parents=True)
        template = install_template(args.template, php)
        saved.write_text(json.dumps({**template.__dict__, "root": str(template.root),
                                     "db_file": str(template.db_file)}))
    work = Path(tempfile.mkdtemp(prefix="mybb-answers-"))
    port = free_port()
    forum = copy_forum(template, work / "repo", port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}
    env.update({"MYBB_ROOT": str(forum.root), "MYBB_PORT": str(port), "MYBB_PHP": php,
                "XDG_STATE_HOME": str(work / "xdg"), "PYTHONPATH": str(REPO_ROOT / "mybb_mcp")})
    os.environ.clear()
    os.environ.update(env)
    os.chdir(forum.root.parent)
    out: list[str] = [f"# answers (mybb_mcp from {REPO_ROOT})\n"]
    try:
        asyncio.run(record_mcp(out, forum.root, port))
        record_cli(out, forum.root, port, env)
    finally:
        ServerOrchestrationService(Config(mybb_root=forum.root, php=php, port=port)).stop(force=True)
        shutil.rmtree(work, ignore_errors=True)
    args.out.write_text("\n".join(out).replace(str(REPO_ROOT), "<CODE>") + "\n", "utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
