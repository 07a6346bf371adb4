"""mybb_forum_plugins: list, install, activate, deactivate, uninstall and check a forum's plugins.

Everything runs in the Admin CP: the lifecycle is a click on its plugins page (plugin_admin.py runs
MyBB's own admin/index.php as the forum's admin), and list and check read each plugin file inside that
page, as it reads them (IN_ADMINCP, MYBB_ADMIN_DIR, the admin functions and language). What a step
changed is the snapshot diff (forum/snapshot/) between the database before and after it.

`check` reads the plugin's `add_hook` calls and compares them with the hooks this MyBB really runs,
found in its own source (`run_hooks("name"` with file:line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from ..errors import InvalidArgument
from ..forum import snapshot
from ..forum.hook_index import HookIndex, hook_index
from ..forum.php import PLUGIN_NAME, PhpRunError, run_mybb_php
from ..forum.snapshot.database import SnapshotDatabase
from ..untrusted import code_span
from . import plugin_admin
from .php_json import JsonObject, answer_object, iterate, object_or_empty
from .plugin_admin import AdminProblem, AdminRun
from .plugin_admin import AdminProblem as Problem

ACTIONS = ("list", "install", "activate", "deactivate", "uninstall", "check")
LIFECYCLE = ("install", "activate", "deactivate", "uninstall")
_ADD_HOOK = re.compile(
    r"""add_hook\(\s*(?:(["'])(?P<hook>[^"']+)\1|(?P<dynamic>[^,)]+))\s*,"""
    r"""\s*(?:(["'])(?P<function>[A-Za-z0-9_\\:]+)\4)?""")


# --- results ------------------------------------------------------------------------------------------

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
    clicks: list[AdminRun] = field(default_factory=list)  # each request to the Admin CP's plugins page
    admin: str | None = None  # the admin it ran as
    link_question: str | None = None  # the question MyBB's own link asks first (uninstall)
    ended: str | None = None  # how an unfinished run ended, in words
    blame: str | None = None  # "plugin", "admin_cp" (a file the Admin CP loads), "tool", or None: unknown
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
    """One hook the plugin registers (as MyBB holds it once the file is loaded), or an add_hook call of its
    source that registered nothing when loaded, held against the forum's hook index."""

    hook: str  # the name MyBB holds (for an add_hook call that registered nothing: as written)
    line: int | None  # the add_hook call's line, when the name is written out there
    function: str | None
    known: bool | None  # None: not registered when loaded, and its name is not written out
    runs_at: tuple[str, ...] = ()  # file:line of the run_hooks sites that run it (first few)
    suggestion: str | None = None
    suggestion_at: str | None = None
    contexts: tuple[str, ...] = ()  # "front end", "Admin CP": where loading the plugin registered it
    computed_site: bool = False  # it runs only where a name is built at run time (runs_at are those)
    defined_at: str | None = None  # the function's file:line
    exists: bool = True  # the function exists once the plugin is loaded


# --- what the forum runs ------------------------------------------------------------------------------

def hook_uses(source: str) -> list[HookUse]:
    """The plugin's add_hook calls as written (name, line, function), comments left out."""
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


class Verdict(TypedDict, total=False):
    """What `judge` says of a hook name: HookUse's fields of the same names."""

    known: bool
    runs_at: tuple[str, ...]
    computed_site: bool
    suggestion: str | None
    suggestion_at: str | None


def judge(name: str, index: HookIndex) -> Verdict:
    """Whether a hook name runs anywhere in the forum (MyBB's sites and every plugin's), and where."""
    literal = index.literal_names().get(name)
    if literal:
        return {"known": True, "runs_at": tuple(site.place for site in literal[:3])}
    computed = index.computed_matching(name)
    if computed:
        return {"known": True, "runs_at": tuple(f"{site.place} ({site.name})" for site in computed[:3]),
                "computed_site": True}
    close = index.closest(name)
    return {"known": False, "suggestion": close,
            "suggestion_at": index.literal_names()[close][0].place if close else None}


@dataclass
class _Held:
    """One hook and function MyBB holds for the plugin, as plugins_list.php / plugins_front.php read it."""

    contexts: list[str]
    at: str | None  # the function's file:line
    exists: bool


def registered_hooks(source: str, loaded: dict[str, list[JsonObject]], index: HookIndex) -> list[HookUse]:
    """The hooks MyBB holds for the plugin, in the front end and in the Admin CP, judged against the index;
    then add_hook calls of its source that registered nothing in either."""
    written = hook_uses(source)
    lines = {(u.hook, u.function): u.line for u in written if u.known is not None}
    merged: dict[tuple[str, str], _Held] = {}
    for context, entries in loaded.items():
        for entry in entries:
            key = (str(entry.get("hook")), str(entry.get("function")))
            at = entry.get("at")
            item = merged.setdefault(key, _Held([], None if at is None else str(at), bool(entry.get("exists"))))
            item.contexts.append(context)
    uses = []
    for (hook, function), item in merged.items():
        uses.append(HookUse(hook, lines.get((hook, function)), function, contexts=tuple(item.contexts),
                            defined_at=item.at, exists=item.exists, **judge(hook, index)))
    at_run_time = any(u.line is None for u in uses)
    for use in written:
        if any(u.hook == use.hook for u in uses) or (use.function
                                                     and any(u.function == use.function for u in uses)):
            continue
        if use.known is None and at_run_time:
            continue  # a computed add_hook: the names it registered are those above
        if use.known is None:
            uses.append(use)
        else:
            uses.append(HookUse(use.hook, use.line, use.function, **judge(use.hook, index)))
    return sorted(uses, key=lambda u: (u.line is None, u.line or 0, u.hook))


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
        php_settings: tuple[str, ...] = (), time_limit: float = plugin_admin.TIME_LIMIT) -> PluginsResult:
    """One mybb_forum_plugins action on the forum at `root`."""
    action, name = validate(action, name)
    try:
        if action == "list":
            return list_plugins(root, php, php_settings)
        assert name is not None
        if not (root / "inc" / "plugins" / f"{name}.php").is_file():
            return PluginsResult(action, name, False, f"There is no plugin {name!r}: inc/plugins/{name}.php does "
                                 "not exist.",
                                 hint="See the plugins there with action list (names are case-sensitive).")
        if action == "check":
            return check_plugin(root, name, php, php_settings)
        return lifecycle(root, action, name, php, php_settings, time_limit)
    except PhpRunError as exc:
        return PluginsResult(action, name, False, exc.message,
                             completed=None if action in ("list", "check") else False, hint=exc.hint)


def _in_admin_cp(root: Path, data: dict[str, object], php: str,
                 php_settings: tuple[str, ...]) -> tuple[JsonObject, AdminRun]:
    """list or check, read inside the Admin CP's plugins page; its answer, and the run (for its problems)."""
    run_ = plugin_admin.run_admin(root, {**data, "query": {"module": "config-plugins"}, "form": None}, php,
                                  php_settings)
    if not run_.reached:
        raise PhpRunError(_not_reached(run_, "read the plugins"), _not_reached_hint(run_))
    return object_or_empty(run_.result), run_


def _info(entry: JsonObject, active: list[str]) -> PluginInfo:
    info = object_or_empty(entry.get("info"))
    installed = entry.get("installed")
    compatible = entry.get("compatible")

    def text(key: str) -> str | None:
        value = info.get(key)
        return str(value) if value not in (None, "") else None

    return PluginInfo(
        codename=str(entry.get("codename")), title=text("name"), version=text("version"), author=text("author"),
        compatibility=text("compatibility"),
        compatible=compatible if isinstance(compatible, bool) else None,
        installed=installed if isinstance(installed, bool) else None,
        active=str(entry.get("codename")) in active,
        functions=tuple(str(f) for f in iterate(entry.get("functions", [])) if isinstance(f, str)),
        problems=tuple(plugin_admin.problems(entry.get("problems"))),
    )


def list_plugins(root: Path, php: str = "php", php_settings: tuple[str, ...] = ()) -> PluginsResult:
    answer, _ = _in_admin_cp(root, {"mode": "list"}, php, php_settings)
    active = [str(a) for a in iterate(answer.get("active", []))]
    infos = [_info(entry, active) for entry in iterate(answer.get("plugins", [])) if isinstance(entry, dict)]
    missing = [name for name in active if name not in {i.codename for i in infos}]
    result = PluginsResult("list", None, True, f"{len(infos)} plugin(s) in inc/plugins/, {len(active)} active.",
                           mybb_version=_version(answer), plugins=infos)
    if missing:
        result.hint = (f"Active in MyBB's plugins cache but without a file: {', '.join(missing)} "
                       "(MyBB skips them; deactivate them to tidy the cache).")
    return result


def lifecycle(root: Path, action: str, name: str, php: str = "php", php_settings: tuple[str, ...] = (),
              time_limit: float = plugin_admin.TIME_LIMIT) -> PluginsResult:
    """install (= the plugins page's "Install & Activate"), activate, deactivate, uninstall: the click on the
    Admin CP's plugins page, confirmations answered "Yes", with what it changed in the database."""
    database: SnapshotDatabase | None
    try:
        database = snapshot.forum_database(root)
    except snapshot.SnapshotError:
        database = None
    before = _catalog(database)
    try:
        clicks = plugin_admin.click(root, action, name, php, php_settings, time_limit)
    except PhpRunError as exc:
        stopped = PluginsResult(action, name, False, exc.message, completed=False, hint=exc.hint)
        after = _catalog(database)
        if before is not None and after is not None:
            stopped.changes = snapshot.compare(before, after)
        return stopped
    first, last = clicks[0], clicks[-1]
    result = PluginsResult(action, name, False, "", clicks=clicks, admin=first.admin,
                           problems=[p for c in clicks for p in c.problems],
                           output=" ".join(c.output for c in clicks if c.output).strip())
    result.active_before, result.active_after = first.active_before, last.active_after
    result.installed_before, result.installed_after = first.installed_before, last.installed_after
    if last.refused:
        result.message, result.hint = _refusal(action, name, last)
        return result
    if action == "uninstall" and first.reached:
        result.link_question = "Are you sure you wish to perform this action?"
    after = _catalog(database)
    if before is not None and after is not None:
        result.changes = snapshot.compare(before, after)
    else:
        result.changes_unknown = "the database could not be read before or after the run"
    result.completed = last.committed
    result.ran = _ran(last)
    state = _state(result, name)
    if result.completed:
        result.ok = True
        result.message = f"{action.capitalize()} of {name} completed, as a click in the Admin CP: {state}."
        return result
    if not last.reached:
        result.message = f"{action.capitalize()} of {name} did not run: {_not_reached(last, 'run its plugins page')}"
        result.hint = _not_reached_hint(last)
        result.blame = "admin_cp" if _module_meta(last) else ("tool" if _tool_problem(last) else None)
        return result
    result.ended, result.blame = _ending(last, name)
    result.message = (f"{action.capitalize()} of {name} did not complete: {result.ended}. The Admin CP did not "
                      f"update its plugins cache; {state}.")
    result.hint = _failure_hint(result, name)
    return result


def _ran(run_: AdminRun) -> list[str]:
    """The plugin's functions the click called: all of them when it committed, else up to where it stopped."""
    runs = list(run_.runs)
    if run_.called is not None:
        return [step for step in runs if step in run_.called]
    stopped = (run_.stopped_in or {}).get("function") or next(
        (p.function for p in run_.problems if p.function and p.kind != "Warning"), None)
    if not run_.committed and stopped:
        step = str(stopped).rsplit("_", 1)[-1] if not str(stopped).endswith("_is_installed") else "is_installed"
        if step in runs:
            return runs[:runs.index(step) + 1]
    return runs


def _state(result: PluginsResult, name: str) -> str:
    active = name in (result.active_after or [])
    installed = {True: "installed", False: "not installed", None: None}[result.installed_after]
    return f"{name} is {'active' if active else 'inactive'}" + (f" and {installed}" if installed else "")


def _module_meta(run_: AdminRun) -> AdminProblem | None:
    """An Admin CP module's module_meta.php that stops the page: every Admin CP page loads every module's."""
    for problem in run_.problems:
        if problem.file.endswith("/module_meta.php") and problem.kind not in ("Warning", "Notice", "Deprecated"):
            return problem
    return None


def _tool_problem(run_: AdminRun) -> AdminProblem | None:
    for problem in run_.problems:
        if problem.file.endswith(plugin_admin.SCRIPT.name) or problem.file.endswith("plugins_list.php"):
            return problem
    return None


def _not_reached(run_: AdminRun, what: str) -> str:
    if (meta := _module_meta(run_)) is not None:
        return (f"the Admin CP cannot {what}: {code_span(meta.file)} (an Admin CP module) stops every Admin CP "
                f"page with {code_span(meta.kind)} at {code_span(meta.place)}, before any plugin code runs.")
    if not run_.booted:
        first = run_.problems[0] if run_.problems else None
        said = f": {code_span(first.kind)} {code_span(first.message[:300])}" if first is not None else ""
        return f"MyBB stopped while booting for the Admin CP{said}, so it cannot {what}."
    if run_.timed_out:
        return f"the Admin CP was stopped at the time limit before it could {what}."
    fatal = next((p for p in run_.problems if p.kind not in ("Warning", "Notice", "Deprecated")), None)
    if fatal is not None:
        return f"the Admin CP stopped before it could {what}: {code_span(fatal.kind)} at {code_span(fatal.place)}."
    return f"the Admin CP ended the page before it could {what} (no error was raised)."


def _not_reached_hint(run_: AdminRun) -> str:
    if (meta := _module_meta(run_)) is not None:
        return (f"Every Admin CP page fails the same way while {code_span(meta.file)} is there: fix it (or move that "
                "module folder aside), then run the action again.")
    if _tool_problem(run_) is not None:
        return "That error is the tool's own, not the plugin's: report it with the errors above."
    return "The Admin CP's own pages fail the same way: fix what stops them (above), then run the action again."


def _ending(run_: AdminRun, name: str) -> tuple[str, str | None]:
    """How a click that reached the plugin's step ended before the plugins cache, and whose that is."""
    if run_.timed_out:
        stopped = run_.stopped_in or {}
        function = stopped.get("function") or next((p.function for p in run_.problems if p.function), None)
        limit = stopped.get("limit") or plugin_admin.TIME_LIMIT
        where = f" at {code_span(str(stopped['at']))}" if stopped.get("at") else ""
        running = f"`{function}()` ran{where} and was stopped" if function else "the plugin's step was stopped"
        return f"{running} at the time limit ({limit} s)", "plugin" if function else None
    fatal = [p for p in run_.problems if p.kind not in ("Warning", "Notice", "Deprecated")]
    if fatal:
        first = fatal[0]
        inside = f" in `{first.function}()`" if first.function else ""
        if _tool_problem(run_):
            return f"the tool's own harness failed ({code_span(first.kind)} at {code_span(first.place)})", "tool"
        owner = "plugin" if first.plugin_at or first.file.startswith(f"inc/plugins/{name}") else None
        if "database table is locked" in first.message:
            owner = None  # SQLite under the Admin CP's page: see _failure_hint
        return f"{code_span(first.kind)}{inside} at {code_span(first.place)}", owner
    if run_.confirm is not None:
        return "a confirmation page was still asking after the answers the tool gives", None
    flash = " (its flash message and redirect are shown)" if run_.flash else ""
    return (f"the plugin ended the page itself{flash} before the Admin CP's own end, as it does in the Admin CP",
            "plugin")


def _failure_hint(result: PluginsResult, name: str) -> str:
    leftovers = " A step that stopped may have left part of its work behind: see What changed."
    if result.clicks and result.clicks[-1].timed_out:
        return ("A page of the Admin CP is stopped at PHP's time limit too (max_execution_time, 30 s by default): "
                "find why that function does not finish (a loop, a wait on something that never comes)." + leftovers)
    if result.blame == "tool":
        return "This failure is the tool's, not the plugin's: the plugin was not at fault." + leftovers
    if any("database table is locked" in p.message for p in result.problems):
        return ("The Admin CP's own page fails the same way on SQLite: while its own queries are still open, SQLite "
                "refuses to drop or alter a table (\"database table is locked\"). The same click completes on "
                "MySQL/MariaDB; on SQLite the plugin's code is not what to fix." + leftovers)
    if result.blame == "plugin" and not result.problems:
        return ("This is what a click in the Admin CP does too: the plugin ends the page itself, and the Admin CP "
                f"leaves {name} as it is now." + leftovers)
    if result.blame == "plugin":
        return ("The Admin CP's own code ran this click, so a click in the Admin CP fails the same way: the "
                f"error is in {name}'s code (above)." + leftovers)
    return ("The Admin CP's own code ran this click and fails the same way; the tool cannot tell whether the "
            "plugin or something it relies on is at fault (see the errors above)." + leftovers)


def _refusal(action: str, name: str, run_: AdminRun) -> tuple[str, str]:
    refused = str(run_.refused)
    if refused == "no admin":
        return ("Nothing was run: no user of this forum may use the Admin CP, so there is no admin to click as.",
                "Add one with mybb_forum_members (action add, role admin), then run the action again.")
    if refused.startswith(("already", "not")):
        message = f"Nothing was run: {name} is {refused}."
    elif refused.startswith("cannot"):
        message = f"Nothing was run: {name} {refused} in the Admin CP."
    else:
        message = f"Nothing was run: {name} has {refused}."
    return message, _refusal_hint(action, name, refused)


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


def _catalog(database: SnapshotDatabase | None) -> dict[str, Any] | None:
    """The database's catalog now, as the snapshot module holds it (its own shape, passed on to compare)."""
    if database is None:
        return None
    try:
        return snapshot.current_catalog(database)
    except Exception:  # what changed is extra: the run's own answer stands without it
        return None


def check_plugin(root: Path, name: str, php: str = "php", php_settings: tuple[str, ...] = ()) -> PluginsResult:
    """The plugin loaded in the Admin CP and in the front end; the hooks MyBB then holds for it, each held
    against every run_hooks site of the forum (the hook index)."""
    source = (root / "inc" / "plugins" / f"{name}.php").read_text("utf-8", "replace")
    answer, _ = _in_admin_cp(root, {"mode": "check", "name": name}, php, php_settings)
    entry = answer_object(answer.get("plugin")) or {"codename": name}
    front_end = _FRONT_END.read_text("utf-8").removeprefix("<?php")
    front = answer_object(run_mybb_php(root, front_end, {"library": str(_LIBRARY), "name": name}, php=php,
                                       php_settings=php_settings).result)
    loaded: dict[str, list[JsonObject]] = {
        "Admin CP": [h for h in iterate(entry.get("hooks") or []) if isinstance(h, dict)],
        "front end": [h for h in iterate(front.get("hooks") or []) if isinstance(h, dict)]}
    uses = registered_hooks(source, loaded, hook_index(root))
    plugin = _info(entry, [str(a) for a in iterate(answer.get("active", []))])
    missing = sorted({u.function for u in uses if u.function and not u.exists and u.contexts})
    result = PluginsResult("check", name, True, "", mybb_version=_version(answer), plugins=[plugin],
                           hooks=uses, missing_functions=missing)
    if front.get("error"):
        result.hint = f"Loading it as a page raised {code_span(str(front['error']))[:300]}."
    wrong = [u for u in uses if u.known is False]
    findings = len(wrong) + len(missing) + (plugin.compatible is False) + bool(plugin.problems)
    result.ok = findings == 0
    result.message = (f"{name}: no problems found ({len(uses)} hook(s) checked)." if result.ok
                      else f"{name}: {findings} problem(s) found.")
    return result


def _version(answer: JsonObject) -> str | None:
    """The MyBB version the Admin CP's page read (text, from MyBB's own $mybb->version)."""
    version = answer.get("mybb_version")
    return None if version is None else str(version)


_LIBRARY = Path(__file__).with_name("plugins_list.php")
_FRONT_END = Path(__file__).with_name("plugins_front.php")
