"""`agent-setup`: an agent connected to this forum in one command.

It writes the MCP client configuration for this forum (Claude Code's `.mcp.json`, Cursor's
`.cursor/mcp.json`, VS Code's `.vscode/mcp.json`), merged into what is there: other servers and keys
are kept, and an entry of the same name that is not ours is never replaced. It writes a short guide
for the agent in `AGENTS.md`, between markers, leaving the rest of the file as it was. Then it starts
the server from each written file, as the client would (stdio, the initialize handshake), and lists its
tools: a configuration that does not start is reported as failed, never as done.

Files are replaced by rename from a temporary file beside them; a link where we write is refused, not
followed. A file that is not plain JSON (VS Code allows comments) is refused, unchanged: the answer
gives the entry to add by hand.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import anyio

from .config import Config

SERVER_NAME = "mybb"
CHECK_TIMEOUT = 30.0


@dataclass(frozen=True)
class ClientFormat:
    """Where a client keeps its project's MCP servers, and how it spells one."""

    name: str
    title: str
    path: str  # relative to the project folder
    key: str  # the object holding the servers
    typed: bool  # whether an entry carries "type": "stdio"


CLIENTS: dict[str, ClientFormat] = {
    "claude": ClientFormat("claude", "Claude Code", ".mcp.json", "mcpServers", True),
    "cursor": ClientFormat("cursor", "Cursor", ".cursor/mcp.json", "mcpServers", False),
    "vscode": ClientFormat("vscode", "VS Code", ".vscode/mcp.json", "servers", True),
}
GUIDE_FILE = "AGENTS.md"
GUIDE_BEGIN = "<!-- mybb-mcp: begin (written by mybb-server agent-setup; edits between these lines are replaced) -->"
GUIDE_END = "<!-- mybb-mcp: end -->"


class SetupRefused(Exception):
    """A file we must not change: what, and how to go on."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem, self.fix = path, problem, fix


@dataclass
class FileWritten:
    client: str  # a ClientFormat name, or "guide"
    path: Path
    action: str  # "added", "updated", "unchanged", "refused"
    kept: list[str] = field(default_factory=list)  # the user's other servers, kept
    problem: str = ""
    fix: str = ""
    tools: int | None = None  # the tools the started server listed
    check_error: str = ""


class ServerEntry(TypedDict):
    """A client's entry for this server, as its JSON file holds it."""

    command: str
    args: list[str]
    env: dict[str, str]


@dataclass
class AgentSetupResult:
    folder: Path
    server_name: str
    entry: ServerEntry
    files: list[FileWritten]
    checked: bool

    @property
    def ok(self) -> bool:
        return all(f.action != "refused" and not f.check_error for f in self.files)


def server_command() -> tuple[str, list[str]]:
    """How a client starts this package's MCP server: the console script beside this Python, else -m."""
    script = Path(sys.executable).parent / "mybb-mcp"
    if script.is_file() and os.access(script, os.X_OK):
        return str(script), []
    return sys.executable, ["-m", "mybb_mcp"]


def server_entry(config: Config) -> ServerEntry:
    command, args = server_command()
    env = {"MYBB_ROOT": str(Path(config.mybb_root).resolve()), "MYBB_PORT": str(config.port)}
    if config.php != "php":
        env["MYBB_PHP"] = config.php
    return {"command": command, "args": args, "env": env}


def _is_ours(entry: object) -> bool:
    if not isinstance(entry, Mapping):
        return False
    command, args = str(entry.get("command", "")), entry.get("args") or []
    return Path(command).name == "mybb-mcp" or (isinstance(args, list) and "mybb_mcp" in args)


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise SetupRefused(path, "is a link or not a regular file, and links are not followed where this tool "
                           "writes", "replace it with a regular file (or remove it), then run agent-setup again")
    if info.st_uid != os.geteuid():
        raise SetupRefused(path, "belongs to another user", "check who wrote it, then run agent-setup again")
    text = path.read_text("utf-8")
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:  # the only ValueError json.loads raises on text
        raise SetupRefused(path, f"is not plain JSON ({exc.msg}, line {exc.lineno}; comments are not kept by a "
                           "rewrite), so it was left unchanged", "add the entry below by hand") from None
    if not isinstance(data, dict):
        raise SetupRefused(path, "does not hold a JSON object", "fix it, or add the entry below by hand")
    return data


def _write(path: Path, text: str) -> None:
    """Replace `path` by rename from a temporary file beside it (its mode kept; never through a link)."""
    parent = path.parent
    if parent.is_symlink():
        raise SetupRefused(parent, "is a link, and links are not followed where this tool writes",
                           "replace it with a folder, then run agent-setup again")
    parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        mode = 0o644
    temp = parent / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def merge_client(folder: Path, client: ClientFormat, name: str, entry: ServerEntry) -> FileWritten:
    path = folder / client.path
    ours: dict[str, object] = {"type": "stdio", **entry} if client.typed else dict(entry)
    try:
        data = _read_json(path)
    except SetupRefused as exc:
        return FileWritten(client.name, path, "refused", problem=exc.problem, fix=exc.fix)
    except OSError as exc:
        return FileWritten(client.name, path, "refused", problem=exc.strerror or str(exc), fix="fix its permissions")
    data = {} if data is None else data
    existed = path.exists()
    servers = data.get(client.key)
    if servers is None:
        servers = {}
    if not isinstance(servers, dict):
        return FileWritten(client.name, path, "refused", problem=f"its {client.key!r} is not an object",
                           fix="fix it, or add the entry below by hand")
    current = servers.get(name)
    kept = sorted(k for k in servers if k != name)
    if current is not None and not _is_ours(current):
        return FileWritten(client.name, path, "refused", kept,
                           problem=f"already has a server named {name!r} that does not run mybb-mcp; it is yours "
                                   "and was left as it was", fix="run agent-setup with --name OTHER")
    if current == ours:
        return FileWritten(client.name, path, "unchanged", kept)
    servers[name] = ours
    data[client.key] = servers
    try:
        _write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    except SetupRefused as exc:
        return FileWritten(client.name, path, "refused", kept, problem=exc.problem, fix=exc.fix)
    action = "updated" if existed and current is not None else "added"
    return FileWritten(client.name, path, action, kept)


def guide_text(name: str) -> str:
    """The agent's guide: the loop, the tools, MyBB's conventions for plugins."""
    return f"""{GUIDE_BEGIN}
## MyBB forum (mybb-mcp)

This project's MyBB forum runs under the `{name}` MCP server. Ask it, not your memory: hook names,
function signatures, templates and settings differ between MyBB releases and plugins.

**The loop**
1. `mybb_server_start` (or `mybb_server_status`), then `mybb_forum_doctor`: fix what it reports first.
2. Before writing code: `mybb_forum_reference` with `kind` and `name` (a hook's call sites and arguments,
   a function's signature, a template's sets and the code rendering it, a setting, a cache, a language
   string), or `search`.
3. Change the plugin in `inc/plugins/`; `mybb_forum_plugins` `check`, then `install`/`activate` (MyBB's own code).
4. `mybb_server_request` the page (`as`: guest, admin or a member; `trace: true` shows hooks and templates run),
   then `mybb_server_logs` with the answer's `cursor` for only what is new. Repeat from 3.
5. `mybb_forum_snapshot` `save` before risky steps, `diff` after an uninstall to see what it left behind.

**MyBB plugin conventions**
- `inc/plugins/CODENAME.php` starts with `if(!defined('IN_MYBB')) {{ die('Direct access not allowed.'); }}`.
- Functions are prefixed with the codename: `CODENAME_info()` (name, version, `compatibility` such as `18*`),
  `_install`, `_is_installed`, `_uninstall`, `_activate`, `_deactivate`.
- Hooks: `$plugins->add_hook('HOOK', 'CODENAME_function');` at file level; hook names come from `run_hooks`
  calls (look them up), arguments by reference where the call site says so.
- Templates: add them in `_install`/`_activate` (`$db->insert_query('templates', ...)`; sid -2: the master each
  set can customise, -1: global),
  render with `eval('$out = "'.$templates->get('CODENAME_name').'";');`, edit core ones with
  `find_replace_templatesets()` (`inc/adminfunctions_templates.php`) and undo that in `_deactivate`.
- Settings: a `settinggroups` row and `settings` rows in `_install`, then `rebuild_settings()`; read
  `$mybb->settings['CODENAME_x']`.
- Input: `$mybb->get_input('x', MyBB::INPUT_INT)`; SQL values through `$db->escape_string()` or `(int)`;
  output through `htmlspecialchars_uni()`; forms check `verify_post_check($mybb->get_input('my_post_key'))`.
- Language strings: `$lang->load('CODENAME')` reads `inc/languages/english/CODENAME.lang.php`.
{GUIDE_END}
"""


def merge_guide(folder: Path, name: str) -> FileWritten:
    path = folder / GUIDE_FILE
    section = guide_text(name)
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            raise SetupRefused(path, "is a link or not a regular file", "replace it with a regular file")
        if info.st_uid != os.geteuid():
            raise SetupRefused(path, "belongs to another user", "check who wrote it, then run agent-setup again")
        text = path.read_text("utf-8")
    except FileNotFoundError:
        text = None
    except SetupRefused as exc:
        return FileWritten("guide", path, "refused", problem=exc.problem, fix=exc.fix)
    if text is None:
        new = "# Agent guide\n\n" + section
    elif GUIDE_BEGIN in text and GUIDE_END in text.split(GUIDE_BEGIN, 1)[1]:
        before, rest = text.split(GUIDE_BEGIN, 1)
        after = rest.split(GUIDE_END, 1)[1].removeprefix("\n")
        new = before + section + after
    else:
        new = text + ("" if text.endswith("\n") or not text else "\n") + ("\n" if text.strip() else "") + section
    if new == text:
        return FileWritten("guide", path, "unchanged")
    try:
        _write(path, new)
    except SetupRefused as exc:
        return FileWritten("guide", path, "refused", problem=exc.problem, fix=exc.fix)
    return FileWritten("guide", path, "added" if text is None or GUIDE_BEGIN not in text else "updated")


# Any: the entry as read back from the client's file, unchecked on purpose: whatever stops the start is the answer.
async def _list_tools(entry: Any, cwd: Path) -> int:
    from mcp import Client, StdioServerParameters

    # As the clients do: their own environment, the entry's env on top.
    env = {**os.environ, **{str(k): str(v) for k, v in (entry.get("env") or {}).items()}}
    params = StdioServerParameters(command=str(entry["command"]), args=[str(a) for a in entry.get("args") or []],
                                   env=env, cwd=str(cwd))
    with anyio.fail_after(CHECK_TIMEOUT):
        async with Client(params, mode="legacy") as client:  # the initialize handshake today's clients use
            return len((await client.list_tools()).tools)


def start_and_list(path: Path, client: ClientFormat, name: str, folder: Path) -> tuple[int | None, str]:
    """Start the server from the file as written (read back) and list its tools: (count, error)."""
    try:
        entry = json.loads(path.read_text("utf-8"))[client.key][name]
        count = anyio.run(_list_tools, entry, folder)
    except TimeoutError:
        return None, f"the server did not answer within {CHECK_TIMEOUT:.0f} s"
    except Exception as exc:  # noqa: BLE001 (whatever stops it is the answer: the configuration does not work)
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if count == 0:
        return count, "the server started but listed no tools"
    return count, ""


def setup_agent(config: Config, folder: Path, clients: Sequence[str], name: str = SERVER_NAME,
                guide: bool = True, check: bool = True) -> AgentSetupResult:
    folder = Path(folder).resolve()
    entry = server_entry(config)
    files: list[FileWritten] = []
    for key in clients:
        client = CLIENTS[key]
        written = merge_client(folder, client, name, entry)
        if check and written.action != "refused":
            written.tools, written.check_error = start_and_list(written.path, client, name, folder)
        files.append(written)
    if guide:
        files.append(merge_guide(folder, name))
    return AgentSetupResult(folder, name, entry, files, check)
