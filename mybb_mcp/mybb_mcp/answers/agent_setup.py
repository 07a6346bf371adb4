"""Markdown for `agent-setup`: what was written where, what was kept, and whether the server started."""

from __future__ import annotations

import json

from ..agent_setup import CLIENTS, AgentSetupResult
from ..failures import Failure
from ..untrusted import code_block, one_line


def render_agent_setup(result: AgentSetupResult) -> str:
    failed = [f for f in result.files if f.action == "refused" or f.check_error]
    head = "# Agent Setup: Done" if not failed else f"# Error: {Failure.AGENT_SETUP_INCOMPLETE.title}"
    out = [f"{head}\n", f"In {result.folder}, server `{result.server_name}`.\n"]
    for f in result.files:
        title = CLIENTS[f.client].title if f.client in CLIENTS else "Agent guide"
        line = f"- **{title}** `{f.path}`: {f.action}"
        if f.kept:
            line += f"; kept the other server(s): {', '.join(one_line(k) for k in f.kept)}"
        if f.action == "refused":
            line += f" — {one_line(f.problem)}. Fix: {one_line(f.fix)}"
        elif f.check_error:
            line += f" — ✗ the server did not start from it: {one_line(f.check_error)}"
        elif f.tools is not None:
            line += f" — ✓ started it as the client would and listed {f.tools} tools"
        out.append(line)
    if not result.checked:
        out.append("\nThe start-and-list check was skipped (--no-check): nothing proves these files work.")
    if any(f.action == "refused" and f.client in CLIENTS for f in result.files):
        out += ["\nThe entry to add by hand:\n", *code_block(json.dumps({result.server_name: result.entry},
                                                                        indent=2).splitlines())]
    if not failed:
        out.append("\n**Next:** open the project in the client (or reload it); the agent finds the tools and "
                   "the guide in AGENTS.md.")
        if any(f.client == "claude" for f in result.files) and any(f.client == "guide" for f in result.files):
            out.append("Claude Code reads CLAUDE.md rather than AGENTS.md: a line `@AGENTS.md` in CLAUDE.md "
                       "brings the guide in.")
    else:
        out.append("\n**Next:** fix what is named above and run `mybb-server agent-setup` again.")
    return "\n".join(out) + "\n"
