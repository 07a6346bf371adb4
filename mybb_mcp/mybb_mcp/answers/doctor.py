"""Markdown for `doctor`: one line per check, status first, with what was found and the fix."""

from __future__ import annotations

import shlex

from ..forum.doctor import INFO, OK, PROBLEM, SKIPPED, WARNING, DoctorReport, Finding
from ..untrusted import code_span, one_line
from .commands import MCP_COMMANDS, Commands

MARKS = {OK: "✓", PROBLEM: "✗", WARNING: "⚠", INFO: "ℹ", SKIPPED: "skipped"}


def _php_fix(code: str, commands: Commands) -> str:
    if commands.mcp:
        return f"`mybb_forum_php` with `code`: {code_span(code)} (needs MYBB_ALLOW_PHP=1), or `mybb-server php`"
    return code_span(f"mybb-server php {shlex.quote(code)}")


def render_finding(finding: Finding, commands: Commands = MCP_COMMANDS) -> str:
    mark = MARKS.get(finding.status, finding.status)
    line = f"{mark} {finding.name}"
    if finding.what:
        line += f" — {one_line(finding.what)}"
    if finding.status in (PROBLEM, WARNING, INFO) and (finding.fix or finding.php_fix):
        fix = one_line(finding.fix) if finding.fix else ""
        if finding.php_fix:
            fix = (fix + ": " if fix else "") + _php_fix(finding.php_fix, commands)
        line += f" — Fix: {fix}"
    return line


def render_doctor(report: DoctorReport, commands: Commands = MCP_COMMANDS) -> str:
    mcp = commands.mcp
    problems = len(report.problems)
    warnings = sum(1 for f in report.findings if f.status == WARNING)
    version = f"MyBB {report.mybb_version}" if report.mybb_version else "MyBB (version unknown)"
    verdict = ("clean" if not problems and not warnings else
               ", ".join(part for part in (f"{problems} problem{'s' if problems != 1 else ''}" if problems else "",
                                           f"{warnings} warning{'s' if warnings != 1 else ''}" if warnings else "")
                         if part))
    summary = f"{version} at {report.root}, {len(report.findings)} checks in {report.seconds:.1f} s.\n"
    out = [f"# Forum Doctor: {verdict}\n", summary]
    ordered = sorted(report.findings, key=lambda f: (f.status != PROBLEM, f.status != WARNING, f.status == OK))
    out += [render_finding(f, commands) for f in ordered]
    if problems:
        again = "`mybb_forum_doctor`" if mcp else "`mybb-server doctor`"
        out.append(f"\n**Next:** apply each fix, then run {again} again.")
    return "\n".join(out) + "\n"
