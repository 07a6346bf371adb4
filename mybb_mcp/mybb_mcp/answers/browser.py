"""What a page did in Chromium -> markdown: script errors (URL:line, the template of inline code), failed
requests and broken AJAX answers with the PHP errors each raised, blocked requests, the screenshot's path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .digest import render_group
from .text import code, format_ms

if TYPE_CHECKING:
    from ..workbench.browser import BrowserReport, BrowserRequest, ScriptError

SCRIPT_ERRORS_SHOWN = 8
REQUESTS_SHOWN = 6
ERRORS_PER_REQUEST = 2
BLOCKED_SHOWN = 3
# With trace, queries or profile the browser's lists share the answer's 12,000 characters: they stop at
# this many characters (each says how many it left out).
COMBINED_BUDGET = 3_500


def render_browser(report: BrowserReport | None, role: str, workbench: bool = False) -> list[str]:
    if report is None:
        return []
    how = "warm" if report.warm else "started, kept warm for the next calls" if report.kept else \
        "started for this call"
    lines = ["", f"## In the browser: {report.version}, as {role} ({format_ms(report.seconds)}, {how})", ""]
    if workbench:
        lines.append("Trace, queries and profile below are of the page's own request (its document, loaded "
                     "by the browser), not of the requests its scripts made.")
    if report.screenshot is not None:
        lines.append(f"Screenshot: `{report.screenshot}` (PNG, 1280×900).")
    problems = [r for r in report.requests if r.problem]
    if not report.script_errors and not problems:
        lines.append(f"No script errors, no failed requests, no broken AJAX answers ({len(report.requests)} "
                     "requests of the page to the forum checked; the forum's own /favicon.ico 404 is not counted).")
    budget = COMBINED_BUDGET if workbench else None
    lines += _script_errors(report, budget)
    lines += _requests(problems, None if budget is None else max(0, budget - len("\n".join(lines))))
    if report.blocked:
        shown = ", ".join(code(url, 120) for url in report.blocked[:BLOCKED_SHOWN])
        more = f" and {len(report.blocked) - BLOCKED_SHOWN} more" if len(report.blocked) > BLOCKED_SHOWN else ""
        lines += ["", (f"Blocked: {len(report.blocked)} request(s) to other addresses than the forum's "
                       f"({shown}{more}); the browser talks to the forum only. A script or style from another host "
                       "is missing here.")]
    if report.selector_count is not None:
        lines.append("The selector below was counted in the live DOM, after the page's scripts ran.")
    for note in report.notes:
        lines.append(f"Note: {note}.")
    return lines


def _place(error: ScriptError) -> str:
    where = error.url or "(no script URL)"
    if error.line:
        where += f":{error.line}"
    text = code(where, 200)
    if error.template:
        text += f" — template {code(error.template, 120)} line {error.template_line}"
    return text


def _script_errors(report: BrowserReport, budget: int | None) -> list[str]:
    errors = report.script_errors
    if not errors:
        return []
    total = len(errors) + report.dropped
    lines = ["", f"### Script errors: {total}", ""]
    shown = 0
    for index, error in enumerate(errors[:SCRIPT_ERRORS_SHOWN], 1):
        kind = "uncaught" if error.kind == "exception" else "console"
        line = f"{index}. [{kind}] {code(error.message, 300)} at {_place(error)}"
        if budget is not None and shown and len("\n".join(lines)) + len(line) > budget // 2:
            break
        lines.append(line)
        shown += 1
    if total > shown:
        lines.append(f"… and {total - shown} more.")
    return lines


def _requests(problems: list[BrowserRequest], budget: int | None) -> list[str]:
    if not problems:
        return []
    lines = ["", f"### Requests with problems: {len(problems)}", ""]
    shown = 0
    for index, record in enumerate(problems[:REQUESTS_SHOWN], 1):
        if budget is not None and shown and len("\n".join(lines)) > budget:
            break
        shown += 1
        what = f"{index}. {record.kind} {code(record.method + ' ' + record.target, 200)}"
        if record.failure:
            what += f" → failed: {code(record.failure, 160)}"
        else:
            what += f" → {record.status}"
        verdict = record.verdict
        if verdict is not None and not verdict.valid:
            what += f"; should be JSON ({verdict.expected_because}) and is not: {verdict.problem}"
        lines.append(what)
        if verdict is not None and not verdict.valid:
            for culprit in verdict.culprits[:2]:
                place = f" at {code(culprit.place, 160)}" if culprit.place else ""
                lines.append(f"   - {culprit.kind} {culprit.where} the JSON: {code(culprit.text, 200)}{place}")
        lines += _php_errors(record)
    if len(problems) > shown:
        lines.append(f"… and {len(problems) - shown} more.")
    return lines


def _php_errors(record: BrowserRequest) -> list[str]:
    if record.client_port is None:
        return ["   PHP errors of this request: not known (no request line in the server log)."] if (
            record.target.split("?", 1)[0].endswith(".php") and record.status) else []
    if not record.errors:
        return ["   PHP errors of this request: none in the logs."]
    lines = [f"   PHP errors of this request: {len(record.errors)}"]
    for index, group in enumerate(record.errors[:ERRORS_PER_REQUEST], 1):
        lines += ["   " + line for line in render_group(group, index, None, trace=False)]
    if len(record.errors) > ERRORS_PER_REQUEST:
        lines.append(f"   … and {len(record.errors) - ERRORS_PER_REQUEST} more kinds of error.")
    return lines


def browser_problems(result: Any) -> bool:
    """Whether the page did something wrong in the browser (the CLI's exit code)."""
    report = getattr(result, "browser", None)
    return bool(report is not None and report.problems)
