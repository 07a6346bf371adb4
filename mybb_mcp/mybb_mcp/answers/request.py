"""A page request's result -> markdown: what MyBB showed (title, error page, login state, excerpt,
selectors) and the errors of exactly this request, with what to look at next.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..failures import Failure
from .browser import render_browser
from .commands import MCP_COMMANDS
from .digest import MAX_GROUPS_SHOWN, render_group
from .request_costs import render_costs
from .request_trace import render_workbench
from .text import CONTROL, code, format_ms

if TYPE_CHECKING:
    from .commands import Commands


# --- mybb_server_request --------------------------------------------------------------------------

def render_page_result(result: Any, commands: Commands = MCP_COMMANDS) -> str:
    """The answer to one page request (forum.requests.PageResult)."""
    request = result.request
    asked = f"{request.method} {request.path}"
    if result.response is None:
        lines = [f"# {Failure.REQUEST_FAILED.title}: {asked} as {request.role}", "",
                 f"**Problem:** {result.problem.rstrip('.')}.",
                 "", f"**Next:** {result.hint}"]
        if result.errors or not result.errors_known:
            lines += [""] + _errors_section(result, "the login request")
        if result.cursor:
            lines += ["", f"Cursor: `{result.cursor}`"]
        return "\n".join(lines) + "\n"
    response = result.response
    hops = response.hops
    last = hops[-1]
    first = hops[0]
    chain = "" if len(hops) == 1 else f"{code(first.method + ' ' + first.target, 200)} → … → "
    lines = [f"# Page: {chain}{code(last.method + ' ' + last.target, 300)} → {response.status} (as {request.role})", ""]
    rows = [
        ("URL", code(response.url, 400)),
        ("Status", f"{response.status} {response.reason}"),
        ("Time", format_ms(response.seconds) + (f" over {len(hops)} exchanges" if len(hops) > 1 else "")),
        ("Title", code(_title(response.body)) if response.content_type == "text/html" else response.content_type),
    ]
    if len(hops) > 1:
        rows.append(("Redirects", " → ".join(
            f"{h.status} {code(h.target, 120)}"
            + (" (MyBB's redirect page)" if h.status == 200 and h is not last else "")
            for h in hops)))
    if response.redirect_not_followed:
        rows.append(("Redirect not followed", code(response.redirect_not_followed, 300)))
    if response.logins:
        rows.append(("Logged in", "; ".join(response.logins) + " (credentials from configuration)"))
    lines += ["| | |", "|---|---|"] + [f"| {name} | {value} |" for name, value in rows] + [""]
    redirect = response.redirect_page
    if redirect is not None:
        followed = "not followed" if response.redirect_not_followed else "followed"
        lines.append("**MyBB's redirect page: the request succeeded.** "
                     f"MyBB said {code(redirect.message or '(no message)')}"
                     f" and points to {code(redirect.url, 300)} ({followed}"
                     + (", as a GET" if followed == "followed" else "; pass `follow_redirects: true` to load it")
                     + ").")
    if response.page_error is not None and response.page_error.kind in STOP_KINDS:
        lines.append(f"**MyBB stopped:** {response.page_error.title}. "
                     f"MyBB's words: {code(response.page_error.message)}")
    elif response.page_error is not None and response.page_error.kind == "confirm":
        lines.append(_confirmation(response.page_error, response.after_post))
    elif response.page_error is not None:
        lines.append(f"**MyBB showed an error instead of the page:** {response.page_error.title}: "
                     f"{code(response.page_error.message)}")
    elif redirect is not None:
        pass
    elif response.status >= 500:
        lines.append(f"**No page:** the script stopped with status {response.status}"
                     + (" and an empty response" if not response.body.strip() else "")
                     + " (PHP's words are in the errors below).")
    else:
        lines.append("MyBB showed the page (no MyBB error page, no-permission page or login page).")
    if result.flash:
        lines.append(f"MyBB's message: {code(result.flash)}")
    if result.refresh_to:
        lines.append(f"The page refreshes to {code(result.refresh_to, 300)} (not followed).")
    if response.form_added:
        lines.append("Sent as a browser would: the fields of the page's own form on "
                     f"{code(response.form_page or '', 200)}"
                     f" (loaded first, as {request.role}) were added to yours (yours win): "
                     + ", ".join(code(name, 60) for name in response.form_added[:30])
                     + (f" and {len(response.form_added) - 30} more" if len(response.form_added) > 30 else "") + ".")
    for note in response.notes:
        lines.append(f"Note: {note}.")
    lines.append("")
    lines += _errors_section(result)
    lines += render_browser(result.browser, request.role, result.workbench is not None)
    lines += render_workbench(result.workbench, request.trace, request.plugins)
    after = _on_demand(result)
    lines += render_costs(result, ANSWER_BUDGET - len("\n".join(lines + after)) - 400)
    lines += after
    lines += ["", f"Cursor: `{result.cursor}` — what came after this request: {commands.logs_since}; "
              f"after your next request, whether these errors are fixed: {commands.digest_since}."]
    return "\n".join(lines).rstrip() + "\n"


def _confirmation(error: Any, after_post: bool) -> str:
    """MyBB (or a plugin) asks first: nothing was done, and the POST that confirms."""
    done = "nothing is done by this POST yet" if after_post else "nothing is done by this GET"
    head = f"**MyBB asks for confirmation ({done}):** {code(error.message)}"
    if not error.post_to:
        return head + " — to go ahead, POST the same path (the form's Yes button)."
    fields = ", ".join(f"{json.dumps(name)}: {json.dumps(value)}" for name, value in error.fields[:20])
    return (head + f" — to confirm, POST {code(error.post_to, 200)} with form {code('{' + fields + '}', 1200)} "
            "(the tool adds my_post_key).")


def _title(body: str) -> str:
    from ..forum.pages import page_title

    return page_title(body) or "(no title)"


STOP_KINDS = ("language_stop", "stopped")
ANSWER_BUDGET = 12_000  # with queries and profile (each section keeps its own cap too)


def _errors_section(result: Any, what: str = "this request") -> list[str]:
    """The errors the request raised, then the compile-time warnings still in files it included (PHP said
    them when it compiled the file, before this request: kept apart, never counted as raised by it)."""
    kept = [g for g in result.errors if not g.count]
    lines = _raised_section(result, [g for g in result.errors if g.count], what)
    if kept:
        lines += ["", f"## Still in files {what} included: {len(kept)} (compile-time, said before)", ""]
        for index, group in enumerate(kept[:MAX_GROUPS_SHOWN], 1):
            lines += render_group(group, index, None, trace=False)
    return lines


def _raised_section(result: Any, groups: list[Any], what: str) -> list[str]:
    hops = result.response.hops if result.response is not None else []
    ports = ", ".join(str(h.client_port) for h in hops)
    if not groups:
        if not result.errors_known:
            return [f"## Errors raised by {what}: unknown", "", f"The logs could not be tied to it: "
                    f"{result.errors_note}."]
        lines = [f"## Errors raised by {what}: none", "",
                 f"No errors: the server log and MyBB's error log recorded nothing for this request's "
                 f"exchanges (client port{'s' if ',' in ports else ''} {ports})."]
        if result.errors_note:
            lines.append(f"Note: {result.errors_note}.")
        if getattr(result, "visibility_note", None):
            lines.append(f"Note: {result.visibility_note}")
        return lines
    total = sum(g.count for g in groups)
    lines = [f"## Errors raised by {what}: {len(groups)}"
             + (f" ({total} occurrences)" if total != len(groups) else ""), ""]
    for index, group in enumerate(groups[:MAX_GROUPS_SHOWN], 1):
        lines += render_group(group, index, None)
    if len(groups) > MAX_GROUPS_SHOWN:
        lines.append(f"... and {len(groups) - MAX_GROUPS_SHOWN} more kinds of error.")
    if result.errors_note:
        lines.append(f"Note: {result.errors_note}.")
    return lines


def _on_demand(result: Any) -> list[str]:
    request, lines = result.request, []
    if request.selector is not None:
        count = result.selector_count or 0
        lines.append(f"Selector {code(request.selector)}: " + (f"present ({count} element{'s' if count != 1 else ''})."
                                                              if count else "not present."))
    if request.contains is not None:
        found = {"text": "present in the page text.", "html": "present only in the HTML markup, not the visible text.",
                 "": "not present."}[result.contains_found or ""]
        lines.append(f"Text {code(request.contains, 200)}: {found}")
    if request.debug:
        debug = result.debug
        if debug is None:
            lines.append("Debug report: MyBB did not show one (it shows it to users who may use the Admin CP, "
                         "on front-end pages: request as admin).")
        else:
            lines += ["", "## MyBB debug report", "",
                      f"- Page generation: {debug.generation_time}; PHP {debug.php_time}; database {debug.db_time}",
                      f"- Queries: {debug.query_count}",
                      f"- Templates: {debug.templates_used}"]
            if debug.extra_templates:
                lines.append("- Templates that needed extra queries (not in the page's template cache): "
                             + ", ".join(code(t, 80) for t in debug.extra_templates))
    if result.excerpt is not None:
        cut = " (cut)" if result.excerpt_cut else ""
        lines += ["", f"## Page text{cut}", ""] + _text_block(result.excerpt)
    return ([""] + lines) if lines else []


def _text_block(text: str) -> list[str]:
    """Page text in a fence, as many lines as the excerpt holds (its size is the caller's argument, already
    bounded), control characters dropped and a fence longer than any backtick run inside."""
    body = [CONTROL.sub("", line) for line in text.split("\n")]
    fence = "```"
    while any(fence in line for line in body):
        fence += "`"
    return [fence + "text", *body, fence]
