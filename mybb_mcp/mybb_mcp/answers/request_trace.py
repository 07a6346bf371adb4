"""The workbench part of a mybb_server_request answer: which plugins ran, the trace (hooks, plugin
functions, templates), and the template behind an error in eval()'d code. Within a budget: long
lists are folded (repeats counted, hooks without plugin functions on one line) and say what was left out.

Names and messages come from the forum: each is shown as code, cut.
"""

from __future__ import annotations

from ..workbench.request_trace import RequestTrace
from .plugins import code

TRACE_BUDGET = 6000
MAX_TEMPLATES = 80


def render_workbench(trace: RequestTrace | None, asked_trace: bool, asked_plugins: object) -> list[str]:
    if trace is None:
        return []
    lines: list[str] = []
    if trace.template_errors:
        lines += ["", "## Errors in templates", ""]
        for error in trace.template_errors[:20]:
            if error.title and error.template_line is None:
                lines.append(f"- {code(error.message, 200)} at {code(error.location, 160)}: one of the templates "
                             f"MyBB got on that line: {code(error.title, 300)}.")
            elif error.title:
                where = f"template {code(error.title, 80)}" + (f" (set {code(error.set, 60)})" if error.set else "")
                line = f", line {error.template_line} of the template" if error.template_line else ""
                lines.append(f"- {code(error.message, 200)} at {code(error.location, 160)}: {where}{line}.")
            else:
                lines.append(f"- {code(error.message, 200)} at {code(error.location, 160)}: no template was got "
                             "on that line (eval()'d code of its own).")
    if missing := trace.missing_templates:
        lines += ["", "## Missing templates", ""]
        lines += [f"- template {code(title, 80)} exists in no set (MyBB rendered nothing)." for title in missing[:20]]
        if len(missing) > 20:
            lines.append(f"- … and {len(missing) - 20} more.")
    if asked_plugins is not None or asked_trace:
        lines += ["", "## Plugins for this request", ""]
        lines.append(_plugins_line(trace, asked_plugins))
    if asked_trace:
        lines += _trace(trace)
    if trace.exchanges_missing and (asked_trace or asked_plugins is not None):
        lines.append(f"Note: {trace.exchanges_missing} exchange(s) of this request left no trace (a script that "
                     "stopped before PHP's shutdown, or not a PHP page): for those, what ran is not known.")
    return lines


def _plugins_line(trace: RequestTrace, asked: object) -> str:
    if not trace.exchanges_read:
        return ("**Not known:** no exchange of this request left a trace, so whether plugins were loaded (or left "
                "out as asked) cannot be told. Restart the server (mybb_server_restart) and ask again.")
    loaded = trace.plugins_loaded
    if asked == "none":
        return ("Ran without plugins (MyBB's NO_PLUGINS switch, this request only): no plugin file was loaded."
                if loaded == [] else "Plugins off was asked, but whether MyBB loaded none is not known (no trace).")
    shown = ", ".join(code(p, 60) for p in loaded) if loaded else "none"
    text = f"Loaded: {shown}."
    if isinstance(asked, tuple):
        skipped = [p for p in asked if p in trace.skipped]
        inactive = [p for p in asked if p not in trace.skipped]
        if skipped:
            text += f" Left out for this request only: {', '.join(code(p, 60) for p in skipped)}."
        if inactive:
            text += f" Not active anyway: {', '.join(code(p, 60) for p in inactive)}."
    return text


def _trace(trace: RequestTrace) -> list[str]:
    lines = ["", "## Trace", ""]
    with_functions = [h for h in trace.hooks if h.functions]
    total_runs = sum(h.count for h in trace.hooks)
    lines.append(f"Hooks run: {total_runs} ({len({h.hook for h in trace.hooks})} distinct), "
                 f"{sum(h.count for h in with_functions)} with plugin functions.")
    body: list[str] = []
    quiet: list[str] = []
    for run in trace.hooks:
        label = run.hook + (f" ×{run.count}" if run.count > 1 else "")
        if not run.functions:
            quiet.append(label)
            continue
        if quiet:
            body.append(f"- … {code(', '.join(quiet), 600)}")
            quiet = []
        called = ", ".join(f"{code(f, 80)} ({code(trace.functions.get(f, '?'), 120)})" for f in run.functions)
        body.append(f"- **{code(label, 80)}** → {called}")
    if quiet:
        body.append(f"- … {code(', '.join(quiet), 600)}")
    if trace.hooks_dropped:
        body.append(f"- … {trace.hooks_dropped} more hook runs not recorded (the trace keeps the first 600).")
    lines += ["", "In order (hooks without plugin functions folded into `…` lines):", *body]
    templates = trace.templates
    missing = set(trace.missing_templates)
    uncached = [t for t in templates if not t.cached and t.title not in missing]
    lines += ["", f"Templates used: {len(templates)} ({len(uncached)} not in MyBB's template cache: a query each — "
                  "add them to the page's $templatelist)."]
    shown = []
    for use in templates[:MAX_TEMPLATES]:
        marks = ([use.set] if use.set else ["missing"] if use.title in missing else ["?"]) + (
            [] if use.cached or use.title in missing else ["uncached"]) + ([f"×{use.count}"] if use.count > 1 else [])
        shown.append(f"{use.title} ({', '.join(marks)})")
    if shown:
        lines.append(code("; ".join(shown), 4000))
    if len(templates) > MAX_TEMPLATES:
        lines.append(f"… and {len(templates) - MAX_TEMPLATES} more templates.")
    text = "\n".join(lines)
    if len(text) > TRACE_BUDGET:
        cut = text[:TRACE_BUDGET].rsplit("\n", 1)[0]
        return [*cut.split("\n"), f"… trace cut at {TRACE_BUDGET:,} characters: load a narrower page, or use "
                                  "mybb_server_logs for the errors."]
    return lines
