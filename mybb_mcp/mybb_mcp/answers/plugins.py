"""mybb_forum_plugins answers (and `mybb-server plugins`): the result of workbench/plugins.py as markdown.

Plugin files, their _info and MyBB's messages are the forum's text, not ours: every value is shown as
code (no markup, no control characters) and cut to a bounded length.
"""

from __future__ import annotations

import re

from ..forum.snapshot.model import SnapshotDiff
from ..workbench.plugin_admin import AdminProblem as Problem
from ..workbench.plugins import PluginInfo, PluginsResult
from .commands import MCP_COMMANDS, Commands

MAX_CHARS = 12_000
MAX_VALUE = 120
MAX_PROBLEMS = 20
MAX_NAMES = 25
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def code(text: object, limit: int = MAX_VALUE) -> str:
    value = CONTROL.sub("?", str(text)).replace("\n", " ")
    if len(value) > limit:
        value = value[:limit] + "…"
    return "`" + value.replace("`", "'") + "`"


def render_plugins(result: PluginsResult, commands: Commands = MCP_COMMANDS) -> str:
    """The whole answer; the CLI's names the commands as `mybb-server plugins ...`."""
    title = {"list": "Plugins", "check": "Plugin Check"}.get(result.action, f"Plugin {result.action.capitalize()}")
    head = f"# {title}" + (f": {result.name}" if result.name else "")
    lines = [head, "", result.message]
    if result.action == "list":
        lines += _list(result)
    elif result.action == "check":
        lines += _check(result)
    else:
        lines += _lifecycle(result)
    if result.hint:
        lines += ["", f"**Next:** {result.hint}"]
    lines += ["", _next(result, commands)]
    return _within("\n".join(lines))


def _within(text: str, budget: int = MAX_CHARS) -> str:
    if len(text) <= budget:
        return text
    cut = text[:budget].rsplit("\n", 1)[0]
    return cut + f"\n\n… answer cut at {budget:,} characters ({len(text) - len(cut):,} left out): ask for one " \
                 "plugin by name (action check) for its details."


def _flag(value: bool | None, yes: str = "yes", no: str = "no", unknown: str = "—") -> str:
    return unknown if value is None else (yes if value else no)


def _list(result: PluginsResult) -> list[str]:
    if not result.ok:
        return []
    if not result.plugins:
        return ["", "inc/plugins/ holds no plugin files."]
    lines = ["", f"MyBB {result.mybb_version or '?'}. Installed: its `_is_installed` (— when it has none: MyBB "
             "counts it as installed). Active: MyBB's plugins cache.", "",
             "| Codename | Title | Version | Author | Compatible | Installed | Active | Functions |",
             "|---|---|---|---|---|---|---|---|"]
    for plugin in result.plugins:
        lines.append(_row(plugin))
    troubled = [p for p in result.plugins if p.problems]
    for plugin in troubled:
        lines.append("")
        lines.append(f"Loading {code(plugin.codename)} raised:")
        lines += _problems(list(plugin.problems))
    return lines


def _row(plugin: PluginInfo) -> str:
    cells = [code(plugin.codename, 60), code(plugin.title, 60) if plugin.title else "—",
             code(plugin.version, 20) if plugin.version else "—", code(plugin.author, 40) if plugin.author else "—",
             _flag(plugin.compatible) + (f" ({code(plugin.compatibility, 30)})" if plugin.compatibility else ""),
             _flag(plugin.installed), _flag(plugin.active), ", ".join(plugin.functions) or "none"]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _problems(problems: list[Problem]) -> list[str]:
    lines = [f"- **{code(p.kind, 40)}** {code(p.message, 300)} at {code(p.place, 160)}" + _where(p)
             for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"- … and {len(problems) - MAX_PROBLEMS} more.")
    return lines


def _where(problem: Problem) -> str:
    parts = []
    if problem.function:
        parts.append(f"in `{problem.function}()`")
    if problem.plugin_at and problem.plugin_at != problem.place:
        parts.append(f"called from {code(problem.plugin_at, 160)}")
    if problem.stage != "plugins page":
        parts.append(problem.stage)
    return f" ({', '.join(parts)})" if parts else ""


def _lifecycle(result: PluginsResult) -> list[str]:
    lines: list[str] = []
    if result.completed is None:  # refused: nothing ran; loading it may still have raised
        return ["", "**Errors loading it:**", *_problems(result.problems)] if result.problems else lines
    lines.append("")
    if result.admin:
        lines.append(f"**Clicked:** the Admin CP's plugins page (MyBB's own `admin/index.php`), as admin "
                     f"{code(result.admin, 60)}.")
    if result.ran:
        ran = " → ".join(f"`{result.name}_{step}()`" for step in result.ran)
        tail = ", then it updated the plugins cache" if result.completed else ""
        lines.append(f"**Ran:** {ran}, in the Admin CP's order{tail}.")
    else:
        lines.append("**Ran:** no lifecycle function of the plugin" + (
            " (it has none for this step); the Admin CP updated its plugins cache." if result.completed else "."))
    lines.append(f"**Completed:** {'yes' if result.completed else 'no'}")
    lines += ["", "**The Admin CP answered:**", *_clicks(result)]
    if result.output:
        lines += ["", f"**The plugin printed:** {code(result.output, 400)}"]
    if result.problems:
        lines += ["", f"**Errors and warnings of this run ({len(result.problems)}, raised in the Admin CP):**"]
        lines += _problems(result.problems)
    else:
        lines += ["", "**Errors of this run:** none."]
    lines += ["", "**What changed** (the snapshot diff's terms):"]
    if result.changes is None:
        lines.append(f"- unknown: {result.changes_unknown or 'not measured'}.")
    else:
        lines += _changes(result.changes)
    return lines


def _clicks(result: PluginsResult) -> list[str]:
    lines: list[str] = []
    if result.link_question:
        lines.append(f"- MyBB's uninstall link asked {code(result.link_question)}: answered Yes.")
    for click in result.clicks:
        query = "&".join(f"{k}={v if k != 'my_post_key' else '…'}" for k, v in click.query.items())
        lines.append(f"- {click.method} {code('admin/index.php?' + query, 200)}:")
        if click.confirm is not None:
            title = f" (page {code(click.confirm.get('title', ''), 80)})" if click.confirm.get("title") else ""
            lines.append(f"  - the plugin asked {code(click.confirm.get('message') or 'Are you sure?', 200)}"
                         f"{title}: answered Yes (its form posted again).")
        if click.flash:
            lines.append(f"  - flash message ({code(click.flash.get('type') or 'none', 20)}): "
                         f"{code(click.flash.get('message', ''), 300)}")
        if click.redirect:
            lines.append(f"  - redirect to {code(click.redirect, 200)}")
        elif not click.redirect_known and click.flash:
            lines.append("  - a redirect (its target is known only with Xdebug loaded)")
        if click.page_title and click.confirm is None:
            lines.append(f"  - a page titled {code(click.page_title, 120)}")
        if click.timed_out:
            stopped = click.stopped_in or {}
            function = f" in `{stopped['function']}()`" if stopped.get("function") else ""
            lines.append(f"  - stopped at the time limit ({stopped.get('limit', '?')} s){function}")
    if result.ended:
        lines.append(f"- ended: {result.ended}.")
    return lines


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMES])
    return shown + (f" … and {len(items) - MAX_NAMES} more" if len(items) > MAX_NAMES else "")


def _changes(diff: SnapshotDiff) -> list[str]:
    lines: list[str] = []
    created = [t.table for t in diff.tables if t.rows_before is None]
    dropped = [t.table for t in diff.tables if t.rows_after is None]
    rows = [f"{t.table} {t.rows_before}→{t.rows_after}" for t in diff.tables
            if t.rows_before is not None and t.rows_after is not None]
    if created:
        lines.append(f"- tables created: {code(_names(created), 600)}")
    if dropped:
        lines.append(f"- tables dropped: {code(_names(dropped), 600)}")
    if rows:
        lines.append(f"- rows: {code(_names(rows), 600)}")
    for noun, changes in (("setting groups", diff.setting_groups), ("settings", diff.settings),
                          ("templates", diff.templates), ("stylesheets", diff.stylesheets)):
        for kind in ("added", "removed", "changed"):
            names = [c.name + (f" ({c.group})" if c.group and noun == "templates" else "") for c in changes
                     if c.kind == kind]
            if names:
                lines.append(f"- {noun} {kind}: {code(_names(names), 600)}")
    for what in ("column", "index"):
        for kind in ("added", "removed", "changed"):
            names = [f"{c.table}.{c.name}" + (f" {c.after}" if c.after and kind != "removed" else "")
                     for c in diff.schema if c.what == what and c.kind == kind]
            if names:
                lines.append(f"- {'columns' if what == 'column' else 'indexes'} {kind}: {code(_names(names), 600)}")
    values = [f"{c.name}: {c.before!r} → {c.after!r}" for c in diff.settings
              if c.kind == "changed" and c.before != c.after]
    if values:
        lines.append(f"- setting values: {code(_names(values), 600)}")
    for kind in ("added", "removed", "changed"):
        tasks = [c.name + (f" ({c.before} → {c.after})" if kind == "changed" else f" ({c.after or c.before})")
                 for c in diff.tasks if c.kind == kind]
        if tasks:
            lines.append(f"- tasks {kind}: {code(_names(tasks), 600)}")
    groups = [f"{c.group}: {c.name} {c.before}→{c.after}" for c in diff.usergroups]
    if groups:
        lines.append(f"- usergroup permissions: {code(_names(groups), 600)}")
    other = [c.name for c in diff.datacache if c.name != "plugins"]
    if other:
        lines.append(f"- datacache entries changed: {code(_names(other), 400)}")
    if diff.plugins_before != diff.plugins_after:
        lines.append(f"- active plugins: {code(', '.join(diff.plugins_before or ()) or 'none', 300)} → "
                     f"{code(', '.join(diff.plugins_after or ()) or 'none', 300)}")
    return lines or ["- nothing in the database."]


def _check(result: PluginsResult) -> list[str]:
    plugin = result.plugins[0] if result.plugins else None
    lines = ["", ("**Hooks** (what MyBB holds for the plugin once loaded in the front end and in the Admin CP, "
                  "against every `run_hooks` site of this forum: MyBB's and every plugin's):")]
    if not result.hooks:
        lines.append("- none: the plugin registers no hooks.")
    for use in result.hooks:
        where = f"line {use.line}" if use.line else (f"registered at run time; function at {code(use.defined_at, 120)}"
                                                     if use.defined_at else "registered at run time")
        function = f" → {code(use.function, 80)}" if use.function else ""
        contexts = f" [{', '.join(use.contexts)}]" if use.contexts else ""
        if use.known is None:
            lines.append(f"- ? {code(use.hook, 80)}{function} ({where}): a computed name that registered nothing "
                         "when the plugin was loaded, not checked.")
        elif use.known and use.computed_site:
            runs = ", ".join(code(r, 160) for r in use.runs_at)
            lines.append(f"- ok {code(use.hook, 80)}{function} ({where}){contexts}: no site writes this name out; "
                         f"it can run where a name is built at run time: {runs}.")
        elif use.known:
            runs = ", ".join(use.runs_at)
            lines.append(f"- ok {code(use.hook, 80)}{function} ({where}){contexts}: runs at {runs}.")
        else:
            better = (f" Did you mean {code(use.suggestion, 80)} (run at {use.suggestion_at})?"
                      if use.suggestion else "")
            lines.append(f"- **unknown** {code(use.hook, 80)}{function} ({where}){contexts}: no `run_hooks` site "
                         f"in this forum runs a hook of this name, so the function is never called.{better}")
    if result.missing_functions:
        lines += ["", "**Hook functions that do not exist** once the plugin is loaded: "
                  + ", ".join(code(f, 80) for f in result.missing_functions) + " (MyBB would stop with a fatal "
                  "error when the hook runs)."]
    if plugin is not None:
        if plugin.compatible is False:
            lines += ["", f"**Compatibility:** its _info says {code(plugin.compatibility or 'nothing', 60)}, which "
                          f"does not include MyBB {result.mybb_version}: the Admin CP refuses to activate it."]
        elif plugin.compatible:
            lines += ["", f"**Compatibility:** compatible with MyBB {result.mybb_version}."]
        if plugin.problems:
            lines += ["", "**Loading it raised:**", *_problems(list(plugin.problems))]
        lines += ["", f"Installed: {_flag(plugin.installed, unknown='— (no _is_installed)')}; active: "
                      f"{_flag(plugin.active)}; functions: {', '.join(plugin.functions) or 'none'}."]
    return lines


def _next(result: PluginsResult, commands: Commands) -> str:
    def call(action: str, name: str | None = None) -> str:
        if not commands.mcp:
            return f"`mybb-server plugins {action}{' ' + name if name else ''}`"
        named = f', name: "{name}"' if name else ""
        return f'`mybb_forum_plugins` {{action: "{action}"{named}}}'

    if result.action == "list":
        return f"Details of one: {call('check', 'NAME')}; install it: {call('install', 'NAME')}."
    name = result.name
    if result.action in ("install", "activate") and result.ok:
        return (f"Load a page with its hooks traced: `mybb_server_request` {{path: \"index.php\", trace: true}}; "
                f"undo: {call('deactivate', name)} or {call('uninstall', name)}.")
    if result.action == "uninstall" and result.ok:
        return f"Anything left behind shows above under What changed; see all plugins: {call('list')}."
    return f"See all plugins: {call('list')}; check this one: {call('check', name)}."
