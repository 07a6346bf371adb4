"""mybb_forum_plugins: list, install, activate, deactivate, uninstall and check a forum's plugins.

The lifecycle runs MyBB's own code in a PHP CLI child with MyBB booted (forum/php.py), following the
Admin CP (admin/modules/config/plugins.php) step by step, with its PHP beside this module
(plugins.php). Not through the Admin CP's pages: on SQLite, php -S cannot uninstall a plugin that drops
a table ("database table is locked"), while the same code in a CLI process can. What a step changed is
the snapshot diff (forum/snapshot/) between the database before and after it.

`check` reads the plugin's `add_hook` calls and compares them with the hooks this MyBB really runs,
found in its own source (`run_hooks("name"` with file:line).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from ..forum import snapshot
from ..forum.php import PLUGIN_NAME, PhpRunError, run_mybb_php

ACTIONS = ("list", "install", "activate", "deactivate", "uninstall", "check")
LIFECYCLE = ("install", "activate", "deactivate", "uninstall")
_PHP_FILE = Path(__file__).with_name("plugins.php")
_RUN_HOOKS = re.compile(r"""run_hooks\(\s*(["'])([A-Za-z0-9_]+)\1""")
_ADD_HOOK = re.compile(
    r"""add_hook\(\s*(?:(["'])(?P<hook>[^"']+)\1|(?P<dynamic>[^,)]+))\s*,\s*(?:(["'])(?P<function>[A-Za-z0-9_\\:]+)\4)?""")
_SKIPPED_DIRS = {"inc/plugins", "install", "cache", "uploads", "images", "jscripts"}


# --- results ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """An error, warning or notice PHP or MyBB raised, with where (relative to the forum root)."""

    kind: str
    message: str
    file: str
    line: int

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "(no file)"


@dataclass(frozen=True)
class PluginInfo:
    codename: str
    title: str | None
    version: str | None
    author: str | None
    compatibility: str | None
    compatible: bool | None
    installed: bool | None  # None: no _is_installed (MyBB counts it as installed)
    active: bool
    functions: tuple[str, ...]
    problems: tuple[Problem, ...] = ()


@dataclass
class PluginsResult:
    """The answer of one mybb_forum_plugins call."""

    action: str
    name: str | None
    ok: bool
    message: str
    mybb_version: str | None = None
    plugins: list[PluginInfo] = field(default_factory=list)  # list; the plugin itself for the others
    # lifecycle
    completed: bool | None = None
    ran: list[str] = field(default_factory=list)  # the plugin's functions called, in order
    problems: list[Problem] = field(default_factory=list)
    output: str = ""
    active_before: list[str] | None = None
    active_after: list[str] | None = None
    installed_before: bool | None = None
    installed_after: bool | None = None
    changes: snapshot.SnapshotDiff | None = None
    changes_unknown: str | None = None
    # check
    hooks: list[HookUse] = field(default_factory=list)
    missing_functions: list[str] = field(default_factory=list)
    hint: str | None = None


@dataclass(frozen=True)
class HookUse:
    """One add_hook call of the plugin, held against the hooks MyBB runs."""

    hook: str  # the name, or the expression when it is computed
    line: int
    function: str | None
    known: bool | None  # None: a computed name, not checked
    runs_at: tuple[str, ...] = ()  # file:line where MyBB runs it (first few)
    suggestion: str | None = None
    suggestion_at: str | None = None


# --- what MyBB runs -----------------------------------------------------------------------------------

def known_hooks(root: Path) -> dict[str, list[str]]:
    """Every hook name this MyBB's own source runs, with the file:line of each place."""
    marker = root / "inc" / "class_core.php"
    try:
        stamp = marker.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _known_hooks(str(root), stamp)


@lru_cache(maxsize=8)
def _known_hooks(root_text: str, stamp: int) -> dict[str, list[str]]:
    root = Path(root_text)
    found: dict[str, list[str]] = {}
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        dirs[:] = sorted(d for d in dirs if os.path.normpath(os.path.join(rel_dir, d)) not in _SKIPPED_DIRS
                         and not os.path.islink(os.path.join(directory, d)))
        for name in sorted(files):
            if not name.endswith(".php"):
                continue
            try:
                text = Path(directory, name).read_text("utf-8", "replace")
            except OSError:
                continue
            if "run_hooks" not in text:
                continue
            rel = os.path.normpath(os.path.join(rel_dir, name))
            for match in _RUN_HOOKS.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.setdefault(match.group(2), []).append(f"{rel}:{line}")
    return found


def hook_uses(source: str) -> list[HookUse]:
    """The plugin's add_hook calls (name, line, function), comments left out."""
    uses = []
    for match in _ADD_HOOK.finditer(source):
        line_start = source.rfind("\n", 0, match.start()) + 1
        before = source[line_start:match.start()].lstrip()
        if before.startswith(("//", "#", "*")):
            continue
        line = source.count("\n", 0, match.start()) + 1
        hook = match.group("hook")
        dynamic = match.group("dynamic")
        uses.append(HookUse(hook if hook else (dynamic or "").strip(), line, match.group("function"),
                            None if hook is None else False))
    return uses


def judge_hooks(uses: list[HookUse], known: dict[str, list[str]]) -> list[HookUse]:
    judged = []
    names = sorted(known)
    for use in uses:
        if use.known is None:
            judged.append(use)
        elif use.hook in known:
            judged.append(HookUse(use.hook, use.line, use.function, True, tuple(known[use.hook][:3])))
        else:
            close = difflib.get_close_matches(use.hook, names, n=1, cutoff=0.6)
            judged.append(HookUse(use.hook, use.line, use.function, False, (), close[0] if close else None,
                                  known[close[0]][0] if close else None))
    return judged


# --- the tool -----------------------------------------------------------------------------------------

def validate(action: object, name: object) -> tuple[str, str | None]:
    if action not in ACTIONS:
        raise InvalidArgument(f"action must be one of {', '.join(ACTIONS)}, not {action!r}.",
                              "e.g. action list, or action install with name.")
    if action == "list":
        if name is not None:
            raise InvalidArgument("action list takes no name.", "Call it without name.")
        return "list", None
    if not isinstance(name, str) or not PLUGIN_NAME.fullmatch(name):
        raise InvalidArgument(f"action {action} needs the plugin's codename (its file inc/plugins/NAME.php), "
                              f"got {name!r}.", "Pass name: letters, digits and _ (see action list).")
    return action, name


def run(root: Path, action: str, name: str | None = None, php: str = "php",
        php_settings: tuple[str, ...] = ()) -> PluginsResult:
    """One mybb_forum_plugins action on the forum at `root`."""
    action, name = validate(action, name)
    if action == "list":
        try:
            return list_plugins(root, php, php_settings)
        except PhpRunError as exc:
            return PluginsResult(action, name, False, exc.message, hint=exc.hint)
    assert name is not None
    if not (root / "inc" / "plugins" / f"{name}.php").is_file():
        return PluginsResult(action, name, False, f"There is no plugin {name!r}: inc/plugins/{name}.php does not "
                             "exist.", hint="See the plugins there with action list (names are case-sensitive).")
    try:
        if action == "check":
            return check_plugin(root, name, php, php_settings)
        return lifecycle(root, action, name, php, php_settings)
    except PhpRunError as exc:
        return PluginsResult(action, name, False, exc.message, completed=False, hint=exc.hint)


def _php(root: Path, data: dict[str, Any], php: str, php_settings: tuple[str, ...]) -> Any:
    code = _PHP_FILE.read_text("utf-8").removeprefix("<?php")
    return run_mybb_php(root, code, data, php=php, php_settings=php_settings)


def _problems(items: Any) -> list[Problem]:
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            found.append(Problem(str(item.get("kind", "error")), str(item.get("message", "")),
                                 str(item.get("file") or ""), int(item.get("line") or 0)))
    return found


def _info(entry: dict[str, Any], active: list[str]) -> PluginInfo:
    info = entry.get("info") if isinstance(entry.get("info"), dict) else {}
    installed = entry.get("installed")

    def text(key: str) -> str | None:
        value = info.get(key)
        return str(value) if value not in (None, "") else None

    return PluginInfo(
        codename=str(entry.get("codename")), title=text("name"), version=text("version"), author=text("author"),
        compatibility=text("compatibility"),
        compatible=entry.get("compatible") if isinstance(entry.get("compatible"), bool) else None,
        installed=installed if isinstance(installed, bool) else None,
        active=str(entry.get("codename")) in active,
        functions=tuple(str(f) for f in entry.get("functions", []) if isinstance(f, str)),
        problems=tuple(_problems(entry.get("problems"))),
    )


def list_plugins(root: Path, php: str = "php", php_settings: tuple[str, ...] = ()) -> PluginsResult:
    answer = _php(root, {"action": "list"}, php, php_settings).result or {}
    active = [str(a) for a in answer.get("active", [])]
    infos = [_info(entry, active) for entry in answer.get("plugins", []) if isinstance(entry, dict)]
    missing = [name for name in active if name not in {i.codename for i in infos}]
    result = PluginsResult("list", None, True, f"{len(infos)} plugin(s) in inc/plugins/, {len(active)} active.",
                           mybb_version=answer.get("mybb_version"), plugins=infos)
    if missing:
        result.hint = (f"Active in MyBB's plugins cache but without a file: {', '.join(missing)} "
                       "(MyBB skips them; deactivate them to tidy the cache).")
    return result


def lifecycle(root: Path, action: str, name: str, php: str = "php",
              php_settings: tuple[str, ...] = ()) -> PluginsResult:
    """install (= _install then _activate), activate, deactivate, uninstall (= _deactivate then _uninstall),
    as the Admin CP runs them, with what they changed in the database."""
    try:
        database: Any = snapshot.forum_database(root)
    except snapshot.SnapshotError:
        database = None
    before = _catalog(database)
    run_ = _php(root, {"action": "lifecycle", "name": name, "step": action}, php, php_settings)
    answer = run_.result if isinstance(run_.result, dict) else {}
    result = PluginsResult(action, name, False, "", ran=[str(s) for s in answer.get("ran", [])],
                           problems=_problems(answer.get("problems")),
                           output=(str(answer.get("output") or "") + run_.output).strip())
    result.active_before, result.active_after = answer.get("active_before"), answer.get("active_after")
    result.installed_before, result.installed_after = answer.get("installed_before"), answer.get("installed_after")
    refused = answer.get("refused")
    if refused:
        result.message = f"Nothing was run: {name} is {refused}." if refused.startswith(("already", "not")) \
            else f"Nothing was run: {name} {refused}." if refused.startswith("cannot") \
            else f"Nothing was run: {name} has {refused}."
        result.hint = _refusal_hint(action, name, str(refused))
        return result
    result.completed = bool(answer.get("completed"))
    after = _catalog(database)
    if before is not None and after is not None:
        result.changes = snapshot.compare(before, after)
    else:
        result.changes_unknown = "the database could not be read before or after the run"
    active = result.active_after or []
    if result.completed:
        result.ok = True
        state = "active" if name in active else "inactive"
        result.message = f"{action.capitalize()} of {name} completed: it is now {state}."
    else:
        stopped = " (the run stopped: exit/die or a fatal error)" if answer.get("stopped") else ""
        state = "active" if name in active else "inactive"
        result.message = (f"{action.capitalize()} of {name} failed{stopped}: MyBB's plugins cache was not updated, "
                          f"{name} is {state}.")
        result.hint = "Fix what the errors name, then run the action again (see what changed: a failed step may " \
                      "leave part of its work behind)."
    return result


def _refusal_hint(action: str, name: str, refused: str) -> str:
    if refused == "already installed":
        return f"Activate it with action activate, or uninstall it first (action uninstall, name {name})."
    if refused == "not installed":
        return f"Install it with action install, name {name}."
    if refused == "cannot be loaded":
        return f"Fix the error loading inc/plugins/{name}.php (above), then run the action again."
    if refused.startswith("not compatible"):
        return "Add this MyBB's version to the `compatibility` of its _info (e.g. \"18*\"); see action check."
    return f"Deactivate it with action deactivate, name {name}."


def _catalog(database: Any) -> dict[str, Any] | None:
    if database is None:
        return None
    try:
        return snapshot.current_catalog(database)
    except Exception:  # what changed is extra: the run's own answer stands without it
        return None


def check_plugin(root: Path, name: str, php: str = "php", php_settings: tuple[str, ...] = ()) -> PluginsResult:
    source = (root / "inc" / "plugins" / f"{name}.php").read_text("utf-8", "replace")
    uses = judge_hooks(hook_uses(source), known_hooks(root))
    functions = sorted({u.function for u in uses if u.function and "::" not in u.function})
    answer = _php(root, {"action": "check", "name": name, "functions": functions}, php, php_settings).result or {}
    exists = answer.get("functions_exist") if isinstance(answer.get("functions_exist"), dict) else {}
    plugin = _info(answer.get("plugin") or {"codename": name}, [str(a) for a in answer.get("active", [])])
    result = PluginsResult("check", name, True, "", mybb_version=answer.get("mybb_version"), plugins=[plugin],
                           hooks=uses, missing_functions=[f for f in functions if exists.get(f) is False])
    wrong = [u for u in uses if u.known is False]
    findings = len(wrong) + len(result.missing_functions) + (plugin.compatible is False) + bool(plugin.problems)
    result.ok = findings == 0
    result.message = (f"{name}: no problems found ({len(uses)} hook(s) checked)." if result.ok
                      else f"{name}: {findings} problem(s) found.")
    return result
