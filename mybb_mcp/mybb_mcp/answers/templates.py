"""Markdown for templates: every copy of one, and a dry run (or the change made) of a replacement."""

from __future__ import annotations

from ..failures import Failure
from ..untrusted import code_block, code_span, one_line
from ..workbench.templates import TemplateReplace, TemplateView
from .commands import MCP_COMMANDS, Commands

TEMPLATE_CHARS = 6_000  # of each copy shown
BUDGET = 20_000


def cut_text(text: str, limit: int) -> list[str]:
    if len(text) <= limit:
        return text.splitlines()
    return [*text[:limit].splitlines(), f"… ({len(text):,} characters in all; {len(text) - limit:,} left out)"]


def render_template(view: TemplateView, commands: Commands = MCP_COMMANDS) -> str:
    mcp = commands.mcp
    if not view.copies:
        similar = ", ".join(code_span(s) for s in view.similar) or "none"
        return (f"# Error: {Failure.NO_SUCH_TEMPLATE.title}\n\nNo template is titled {code_span(view.title)}. "
                "Similar titles: "
                f"{similar}.\n\n**Next:** check the title.\n")
    out = [f"# Template {one_line(view.title)}\n", "| Set (sid) | Copy | Differs from master |", "|---|---|---|"]
    for c in view.copies:
        kind = "master" if c.sid == -2 else "global" if c.sid == -1 else "customised copy"
        out.append(f"| {one_line(c.set_name, cell=True)} ({c.sid}) | {kind} | "
                   f"{'—' if c.sid == -2 else 'yes' if c.modified else 'no'} |")
    out.append("\nSets not listed inherit the master.\n")
    used = sum(len(line) for line in out)
    shown_master = None
    for c in view.copies:
        if c.sid != -2 and not c.modified:
            continue  # same as the master: shown once
        body = cut_text(c.template, TEMPLATE_CHARS)
        size = sum(len(line) + 1 for line in body)
        if used + size > BUDGET:
            out.append(f"\n## {one_line(c.set_name)} ({c.sid})\n\nLeft out to keep the answer short "
                       f"({len(c.template):,} characters).")
            continue
        out += [f"\n## {one_line(c.set_name)} ({c.sid})\n", *code_block(body)]
        used += size
        shown_master = shown_master or c.sid == -2
    replace = ("`mybb_forum_templates` with `action: \"replace\"`, `find`, `replace` (a dry run until `apply: true`)"
               if mcp else f"`mybb-server templates replace {view.title} FIND REPLACE` (a dry run until --apply)")
    out.append(f"\n**Next:** change it with {replace}.")
    return "\n".join(out) + "\n"


def render_replace(result: TemplateReplace, commands: Commands = MCP_COMMANDS) -> str:
    mcp = commands.mcp
    if result.applied:
        head = f"# Template {one_line(result.title)}: Changed in {len(result.changes)} Set(s)\n"
        intro = "Changed by MyBB's own find_replace_templatesets():"
    elif result.changes:
        head = f"# Template {one_line(result.title)}: Dry Run, {len(result.changes)} Set(s) Would Change\n"
        intro = "Nothing was changed. find_replace_templatesets() would:"
    else:
        head = f"# Template {one_line(result.title)}: Nothing To Change\n"
        intro = (f"{code_span(result.find)} is in no copy of this template that find_replace_templatesets() "
                 "touches (the sets' own copies, and the master for the sets that inherit it). Nothing was changed.")
    out = [head, intro]
    used = 0
    for ch in result.changes:
        what = "update its own copy" if ch.action == "update" else "create a copy from the master (it inherits it)"
        out.append(f"\n## {one_line(ch.set_name)} (sid {ch.sid}): {what}\n")
        size = sum(len(line) + 1 for line in ch.diff)
        if used + size > BUDGET:
            out.append(f"Diff left out to keep the answer short ({size:,} characters).")
            continue
        out += code_block(ch.diff)
        used += size
    if result.untouched:
        out.append("\nCopies without the text (unchanged): " + ", ".join(one_line(u) for u in result.untouched) + ".")
    out.append("\nThe master template (sid -2) itself is never changed, as in MyBB.")
    if result.changes and not result.applied:
        how = "the same call with `apply: true`" if mcp else "the same command with --apply"
        out.append(f"\n**Next:** make the change with {how}.")
    elif result.applied:
        how = ("`mybb_server_request` on a page using it" if mcp else "`mybb-server request PATH`")
        out.append(f"\n**Next:** see it on the forum with {how}.")
    return "\n".join(out) + "\n"


def render_template_writes_disabled(title: str) -> str:
    return (f"# Template Writes Are Off\n\nMyBB evaluates every template as PHP on every page, so changing "
            f"{code_span(title)} is treated as running code: over MCP it is off unless the person running this MCP "
            "server allows PHP. MyBB's check_template() stops code in a template, but not text that prints what PHP "
            "can reach (`{$mybb->config['database']['password']}` passes it) or script for every visitor. Nothing "
            "was changed; the dry run (without `apply`) works.\n\n"
            "**Next:** set MYBB_ALLOW_PHP=1 in the MCP server's environment (its configuration in your MCP client) and "
            "restart it; or make the change yourself with "
            "`mybb-server templates replace TITLE FIND REPLACE --apply`.\n")
