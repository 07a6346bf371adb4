"""What one mybb_server_request ran: hooks, plugin functions, templates; plugins off for that request;
the template behind an error in eval()'d code.

The router (orchestration/router.php) switches these on only for a request carrying this server's
secret, which `start` writes into the forum's workbench folder (`.mybb-server-workbench/`, 0700, beside
the state; the secret file 0600) and names to php -S in its environment (MYBB_MCP_WORKBENCH). The PHP
(request.php, request_plugins.php, request_templates.php) writes what it saw to
`trace-<id>-<client port>.json` in that folder at the end of the request; the tool reads the files of its
own exchanges (by client port) and removes every file of its id. A folder by that name that is not ours
(planted by another user, or a link) is never used: `start`, `status` and a request that needs the
workbench say so, naming the folder and the fix.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..logs.digest import ErrorGroup
from ..safe_files import describe_owner, ensure_private_dir, read_own_json, read_own_small
from . import request_costs
from .json_answer import Printed
from .php_json import JsonObject, iterate, list_or_empty, object_or_empty, to_int

WORKBENCH_DIR = ".mybb-server-workbench"
ENV_NAME = "MYBB_MCP_WORKBENCH"
SECRET_FILE = "secret"
HEADER_SECRET = "X-Mybb-Mcp-Workbench"
HEADER_OPTIONS = "X-Mybb-Mcp-Options"
MAX_TRACE_BYTES = 4 * 1024 * 1024


def workbench_dir(config: Config) -> Path:
    files = config.files
    return config.repo_root / (WORKBENCH_DIR if files.plain else f"{WORKBENCH_DIR}.{files.key}")


def refusal(config: Config) -> str | None:
    """Why the workbench folder is not used (another user's, a link, not a folder), with the fix; None
    when it is ours or not there yet."""
    folder = workbench_dir(config)
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        problem = f"cannot be inspected ({exc.strerror})"
    else:
        if stat.S_ISLNK(info.st_mode):
            problem = "is a symbolic link"
        elif not stat.S_ISDIR(info.st_mode):
            problem = "is not a folder"
        elif info.st_uid != os.geteuid():
            problem = f"belongs to {describe_owner(info.st_uid)}, not to you (planted?)"
        else:
            return None
    return (f"The workbench folder {folder} {problem}: it is never used, so mybb_server_request's trace, its "
            "plugins switch and template names in errors are off. Remove it "
            f"(`sudo rm -rf {shlex.quote(str(folder))}`), then restart the server.")


def prepare(config: Config) -> dict[str, str]:
    """Before php -S starts: the folder, a new secret, and the environment entry naming the folder."""
    folder = workbench_dir(config)
    ensure_private_dir(folder, 0o700)  # refuses a link or another user's directory
    for leftover in folder.glob("trace-*.json"):  # a previous server's, never read
        leftover.unlink(missing_ok=True)
    target = folder / SECRET_FILE
    temporary = folder / f".{SECRET_FILE}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
    finally:
        os.close(fd)
    os.replace(temporary, target)
    return {ENV_NAME: str(folder)}


def forget(config: Config) -> None:
    """No workbench for the server about to start (it runs without the router)."""
    if refusal(config) is not None:
        return  # not our folder: nothing in it is touched
    try:
        (workbench_dir(config) / SECRET_FILE).unlink(missing_ok=True)
    except OSError:
        pass


@dataclass(frozen=True)
class Workbench:
    """The headers one page request sends, and the id its trace files carry."""

    id: str
    headers: dict[str, str]


def begin(config: Config, trace: bool, plugins_off: str | tuple[str, ...] | None, *, queries: bool = False,
          profile: bool = False) -> Workbench | None:
    """The headers for this request; None when the running server has no workbench (started by another
    version, or without the router)."""
    if refusal(config) is not None:
        return None  # a secret in another user's folder is never believed
    raw = read_own_small(workbench_dir(config) / SECRET_FILE, 256)
    if not raw:
        return None
    request_id = secrets.token_hex(16)
    options: dict[str, object] = {"id": request_id, "trace": bool(trace)}
    if queries or profile:  # request_costs.py
        options.update(queries=bool(queries), profile=bool(profile))
    if plugins_off is not None:
        options["plugins"] = plugins_off if plugins_off == "none" else list(plugins_off)
    return Workbench(request_id, {HEADER_SECRET: raw.decode("ascii", "replace").strip(),
                                  HEADER_OPTIONS: json.dumps(options)})


@dataclass(frozen=True)
class HookRun:
    hook: str
    count: int  # times in a row
    functions: tuple[str, ...]


@dataclass(frozen=True)
class TemplateUse:
    title: str
    count: int
    cached: bool  # in MyBB's template cache when asked (else a query of its own)
    set: str | None  # master, global or the theme's template set


@dataclass(frozen=True)
class TemplateError:
    """A PHP error raised in eval()'d template code, and the template that was running."""

    message: str
    location: str  # PHP's: "index.php(123) : eval()'d code:5"
    title: str | None
    set: str | None
    template_line: int | None


def loaded_plugins(trace: RequestTrace | None) -> list[str] | None:
    """The plugins the request's code ran with: those MyBB loaded (plugins left out, traced), else the
    active ones (a plain load loads them all); None when not known."""
    if trace is None or not trace.exchanges_read:
        return None
    return trace.plugins_loaded if trace.plugins_loaded is not None else trace.active


@dataclass
class RequestTrace:
    trace: bool
    plugins_option: str | tuple[str, ...] | None
    plugins_loaded: list[str] | None = None
    skipped: list[str] = field(default_factory=list)
    hooks: list[HookRun] = field(default_factory=list)
    hooks_dropped: int = 0
    functions: dict[str, str] = field(default_factory=dict)  # name -> file:line
    templates: list[TemplateUse] = field(default_factory=list)
    missing_templates: list[str] = field(default_factory=list)  # asked for, in no set: always recorded
    eval_sites: dict[str, list[tuple[str, int, str | None]]] = field(default_factory=dict)  # "file(line)" ->
    # the templates got there: title, lines MyBB put before it (its start comment), set
    template_errors: list[TemplateError] = field(default_factory=list)  # filled by name_template_errors
    included: list[str] = field(default_factory=list)  # the PHP files the request's exchanges included
    active: list[str] | None = None  # the plugins MyBB's cache had active (loaded by a plain request)
    exchanges_read: int = 0
    exchanges_missing: int = 0
    costs: request_costs.RequestCosts | None = None  # queries and profile, when asked
    printed: dict[int, list[Printed] | None] = field(default_factory=dict)  # client port -> what PHP wrote


def _relative(path: str, root: Path) -> str:
    prefix = str(root).rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else path


def collect(config: Config, workbench: Workbench, ports: list[int], trace: bool,
            plugins_option: str | tuple[str, ...] | None) -> RequestTrace:
    """What the PHP of this request's own exchanges wrote; every file of its id is removed."""
    folder = workbench_dir(config)
    found = RequestTrace(trace, plugins_option)
    root = config.mybb_root
    for port in ports:
        data = read_own_json(folder / f"trace-{workbench.id}-{port}.json", MAX_TRACE_BYTES)
        if not isinstance(data, dict):
            found.exchanges_missing += 1
            continue
        found.exchanges_read += 1
        _merge(found, data, root)
        found.costs = request_costs.merge(found.costs, data)
        found.printed[port] = request_costs.output_of(data)
    for leftover in folder.glob(f"trace-{workbench.id}-*.json"):
        leftover.unlink(missing_ok=True)
    return found


def _merge(found: RequestTrace, data: JsonObject, root: Path) -> None:
    loaded = data.get("plugins_loaded")
    if isinstance(loaded, list):
        found.plugins_loaded = [str(p) for p in loaded]
    elif data.get("no_plugins"):
        found.plugins_loaded = []
    found.skipped += [str(s) for s in iterate(data.get("skipped", [])) if str(s) not in found.skipped]
    included = list_or_empty(data.get("included"))
    active = data.get("active")
    if isinstance(active, list):
        found.active = sorted({*(found.active or []), *(str(p) for p in active[:500])})
    found.included += [str(p) for p in included[:5000] if isinstance(p, str) and str(p) not in found.included]
    for item in list_or_empty(data.get("hooks")):
        if isinstance(item, list) and len(item) == 3:
            functions = tuple(str(f) for f in iterate(item[2] or []))
            found.hooks.append(HookRun(str(item[0]), to_int(item[1] or 1), functions))
    found.hooks_dropped += to_int(data.get("hooks_dropped") or 0)
    for name, place in object_or_empty(data.get("functions")).items():
        if isinstance(place, list) and len(place) == 2:
            found.functions[str(name)] = f"{_relative(str(place[0]), root)}:{place[1]}" if place[1] else \
                _relative(str(place[0]), root)
        else:
            found.functions.setdefault(str(name), "not defined")
    for item in list_or_empty(data.get("templates")):
        if isinstance(item, dict):
            template_set = item.get("set")
            found.templates.append(TemplateUse(str(item.get("title")), to_int(item.get("count") or 1),
                                               bool(item.get("cached")),
                                               None if template_set is None else str(template_set)))
    missing = list_or_empty(data.get("missing_templates"))
    found.missing_templates += [str(t) for t in missing[:1000] if str(t) not in found.missing_templates]
    for site, entries in object_or_empty(data.get("eval_sites")).items():
        match = _SITE.fullmatch(str(site))
        if not match or not isinstance(entries, list):
            continue
        key = f"{_relative(match['file'], root)}({match['line']})"
        known = found.eval_sites.setdefault(key, [])
        for entry in entries:
            if not isinstance(entry, list) or len(entry) != 3:
                continue
            title, offset, template_set = str(entry[0]), to_int(entry[1] or 0), entry[2]
            if (title, offset, template_set) not in known:
                known.append((title, offset, None if template_set is None else str(template_set)))


_SITE = re.compile(r"(?P<file>.+)\((?P<line>\d+)\)")
_EVAL_WHERE = re.compile(r"(?P<site>.+\(\d+\)) : eval\(\)'d code:(?P<line>\d+)")


def name_template_errors(trace: RequestTrace, errors: Sequence[ErrorGroup], root: Path) -> None:
    """Name the template behind each error of the request raised in eval()'d code: the template MyBB got
    on the line that eval()'d it, and the line inside the template."""
    for group in errors:
        where = str(getattr(group.fingerprint, "where", "") or "")
        match = _EVAL_WHERE.fullmatch(where)
        if not match:
            continue
        site = match["site"]
        file_part = _SITE.fullmatch(site)
        key = f"{_relative(file_part['file'], root)}({file_part['line']})" if file_part else site
        candidates = trace.eval_sites.get(key, [])
        message = str(getattr(group.example, "message", ""))
        line = int(match["line"])
        if len(candidates) == 1:
            title, offset, template_set = candidates[0]
            trace.template_errors.append(TemplateError(message, where, title, template_set, max(1, line - offset)))
        else:
            titles = ", ".join(c[0] for c in candidates) or None
            trace.template_errors.append(TemplateError(message, where, titles, None, None))
