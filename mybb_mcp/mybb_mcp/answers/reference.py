"""Markdown for `mybb_forum_reference` / `mybb-server ref`: exact places (file:line), sets, signatures; the
MyBB version in the title. Text read from the forum (doc comments, values, strings) is shown as code."""

from __future__ import annotations

from ..forum.reference import HookCall, ReferenceAnswer
from ..untrusted import code_span, one_line
from .commands import MCP_COMMANDS, Commands

SEARCH_BUDGET = 4_000
LOOKUP_BUDGET = 12_000
MAX_SITES = 25


def _version(answer: ReferenceAnswer) -> str:
    return f"MyBB {answer.mybb_version}" if answer.mybb_version else "MyBB (version unknown)"


def _places(sites: list[str], limit: int = MAX_SITES) -> list[str]:
    shown = [f"- {s}" for s in sites[:limit]]
    if len(sites) > limit:
        shown.append(f"- … and {len(sites) - limit} more")
    return shown


def _call(site: HookCall) -> str:
    how = "arguments by reference" if site.by_ref else "arguments"
    return f"{site.file}:{site.line} — " + (f"{how} {code_span(site.arguments)}" if site.arguments else "no arguments")


def _hooks(answer: ReferenceAnswer) -> list[str]:
    out = []
    for hook in answer.hooks:
        refs = sum(1 for s in hook.sites if s.by_ref)
        out.append(f"\n## Hook {code_span(hook.name)}: {len(hook.sites)} call site(s)"
                   + (f", {refs} by reference" if refs else "") + "\n")
        out += _places([_call(s) for s in hook.sites])
        if hook.maybe_sites:
            out.append("Names built at run time that can be this one:")
            out += _places([f"{_call(s)}, name {code_span(s.expression)}" for s in hook.maybe_sites], 10)
        out.append(f"\nA plugin attaches with `$plugins->add_hook({hook.name!r}, 'codename_function');`"
                   + (" and receives the argument by reference (change it in place)." if refs else "."))
    return out


def _functions(answer: ReferenceAnswer) -> list[str]:
    out = []
    for d in answer.functions:
        out.append(f"\n## Function {code_span(d.name)}\n")
        out.append(f"{code_span(d.signature)} — {d.file}:{d.line}" + (f" — {code_span(d.doc)}" if d.doc else ""))
    return out


def _templates(answer: ReferenceAnswer, commands: Commands) -> list[str]:
    out = []
    for t in answer.templates:
        out.append(f"\n## Template {code_span(t.title)}\n")
        sets = (", ".join(t.sets) if t.sets else "unknown (the database could not be read, below)"
                if answer.database_problem else "no set (not in the database)")
        line = f"Exists in: {sets}."
        if t.inherited_by:
            line += f" Inherited from the master by: {', '.join(t.inherited_by)}."
        out.append(line)
        if t.sites:
            out.append("Rendered by (`$templates->get`):")
            out += _places([s.place for s in t.sites])
        elif t.maybe_sites:
            out.append("Rendered by no literal name; names built at run time that can be it:")
            out += _places([f"{s.place} {code_span(s.text)}" for s in t.maybe_sites])
        else:
            out.append("No code renders it by name.")
        get = f"`mybb_forum_templates` `get` `{t.title}`" if commands.mcp else f"`mybb-server templates get {t.title}`"
        out.append(f"Its text in every set: {get}.")
    return out


def _settings(answer: ReferenceAnswer) -> list[str]:
    out = []
    for s in answer.settings:
        out.append(f"\n## Setting {code_span(s.name)}\n")
        out.append(f"{one_line(s.title)} — group {code_span(s.group)} ({one_line(s.group_title)}), type "
                   f"{code_span(s.type)}, current value {code_span(s.value)}; in PHP `$mybb->settings['{s.name}']`.")
        if s.description:
            out.append(f"{code_span(s.description)}")
    return out


def _caches(answer: ReferenceAnswer) -> list[str]:
    out = []
    for c in answer.caches:
        out.append(f"\n## Datacache key {code_span(c.key)}\n")
        out.append(f"Stored: {'yes, ' + format(c.size, ',') + ' bytes' if c.stored else 'no'}; read with "
                   f"`$cache->read('{c.key}')`.")
        if c.rebuilders:
            out.append("Rebuilt by: " + ", ".join(f"{code_span(s.text)} ({s.place})" for s in c.rebuilders) + ".")
        if c.writers:
            out.append("Also written at:")
            out += _places([s.place for s in c.writers], 8)
    return out


def _lang(answer: ReferenceAnswer) -> list[str]:
    out = []
    for key, strings in answer.lang:
        out.append(f"\n## Language string {code_span(key)}\n")
        out += _places([f"{s.file}:{s.line} — {code_span(s.value)}" for s in strings], 10)
        out.append(f"In PHP: `$lang->{key}` after `$lang->load('FILE')` (the file's name without .lang.php).")
    return out


def _search(answer: ReferenceAnswer) -> list[str]:
    out: list[str] = []
    used = 0
    for i, hit in enumerate(answer.search_hits):
        line = f"- {hit.kind} {code_span(hit.name)} — {one_line(hit.detail)[:120]}"
        if used + len(line) > SEARCH_BUDGET - 600:
            out.append(f"- … and {len(answer.search_hits) - i} more (ask with a longer query)")
            break
        out.append(line)
        used += len(line) + 1
    else:
        if answer.search_total > len(answer.search_hits):
            out.append(f"- … {answer.search_total - len(answer.search_hits)} more match; narrow the words")
    return out


def render_reference(answer: ReferenceAnswer, commands: Commands = MCP_COMMANDS) -> str:
    mcp = commands.mcp
    version = _version(answer)
    if answer.search is not None:
        out = [f"# MyBB Reference: search {code_span(answer.search)} ({version})\n"]
        out += _search(answer) if answer.search_hits else ["Nothing matches."]
    elif answer.name is None:
        out = [f"# MyBB Reference: the index ({version})\n"]
        out += [f"- {kind}: {one_line(size)}" for kind, size in answer.sizes.items()]
        if answer.computed_hooks:
            out.append("\nHook names built at run time (a plugin's hook may be one of them):")
            out += _places([f"{s.file}:{s.line} — name {code_span(s.expression)}" for s in answer.computed_hooks], 30)
        ask = "`kind` and `name`, or `search`" if mcp else "`mybb-server ref [KIND] NAME` or `ref search WORDS`"
        out.append(f"\nLook one up with {ask}.")
    else:
        what = f"{answer.kind} " if answer.kind else ""
        out = [f"# MyBB Reference: {what}{code_span(answer.name)} ({version})"]
        out += _hooks(answer) + _templates(answer, commands) + _functions(answer) + _settings(answer) + _caches(answer)
        out += _lang(answer)
        if not answer.found:
            kinds = answer.kind or "hook, function, template, setting, cache or language string"
            out.append(f"\nNo {kinds} is called {code_span(answer.name)} in this forum.")
            if answer.suggestions:
                out.append("Closest: " + ", ".join(code_span(s) for s in answer.suggestions) + ".")
    if answer.database_problem:
        out.append(f"\n⚠ The database could not be read, so templates, settings and datacache keys are missing "
                   f"from this answer: {one_line(answer.database_problem)[:300]}")
    text = "\n".join(out) + "\n"
    budget = SEARCH_BUDGET if answer.search is not None else LOOKUP_BUDGET
    if len(text) > budget:
        text = text[:budget - 80].rsplit("\n", 1)[0] + "\n… (cut to keep the answer short; ask for one kind)\n"
    return text
