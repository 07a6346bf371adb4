"""What a mybb_server_request cost -> markdown: the verdict on an answer that should be JSON (always), its
queries (`queries`) and the profile of its plugin functions (`profile`). Each section within its own budget,
a summary first, the most repeated and longest first, and says what it left out.

Statements, names and printed text come from the forum: each is shown as code, cut.
"""

from __future__ import annotations

from typing import Any

from ..workbench.json_answer import JsonVerdict
from ..workbench.request_costs import QueryGroup, RequestCosts
from .text import code

QUERIES_BUDGET = 5500
PROFILE_BUDGET = 2500
JSON_BUDGET = 1500
MIN_BUDGET = 1200
SQL_CHARS = 220
TINY_MS = 1.0


def render_costs(result: Any, budget: int) -> list[str]:
    """The JSON verdict, then the queries and the profile asked for, together within `budget` characters (each
    section also within its own cap)."""
    request, trace = result.request, result.workbench
    lines = _json(result.json_verdict) if result.json_verdict is not None else []
    asked = [name for name in ("queries", "profile") if getattr(request, name, False)]
    if not asked:
        return lines
    costs: RequestCosts | None = trace.costs if trace is not None else None
    if costs is None:
        return lines + ["", f"## {' and '.join(a.capitalize() for a in asked)}: not known", "",
                        "No exchange of this request left its costs (a script that stopped before PHP's shutdown, "
                        "or not a PHP page). Restart the server (mybb_server_restart) if it predates this option."]
    left = max(MIN_BUDGET, budget - len("\n".join(lines)))
    if request.queries:
        share = min(QUERIES_BUDGET, left if not request.profile else max(MIN_BUDGET, left * 2 // 3))
        section = _queries(costs, trace.functions, request.slow_query_ms, share)
        lines += section
        left = max(MIN_BUDGET, left - len("\n".join(section)))
    if request.profile:
        lines += _profile(costs, trace.functions, min(PROFILE_BUDGET, left))
    return lines


# --- JSON ------------------------------------------------------------------------------------------------

def _json(verdict: JsonVerdict) -> list[str]:
    if verdict.valid:
        cut = " (cut)" if verdict.compact_cut else ""
        return ["", "## JSON answer: valid JSON", "", f"It should be JSON ({verdict.expected_because}) and is{cut}: "
                f"{code(verdict.compact or '', 600)}"]
    lines = ["", "## JSON answer: not valid JSON", "",
             f"**It should be JSON ({verdict.expected_because}), and is not: {verdict.problem}.** A browser's "
             "`JSON.parse` fails on it, so the page's script sees an error instead of the answer."]
    for culprit in verdict.culprits[:8]:
        where = f"{culprit.where} the JSON" if culprit.where != "instead" else "in place of JSON"
        if culprit.kind == "warning":
            lines.append(f"- PHP displayed a warning {where}: {code(culprit.text, 300)} at "
                         f"{code(culprit.place or '?', 160)} — fix the code there (or let MyBB's error handler log "
                         "it: display_errors off).")
        elif culprit.place:
            lines.append(f"- Stray output {where}: {code(culprit.text, 200)}, printed at {code(culprit.place, 160)} "
                         "(no warning explains it: an echo, print or text outside `<?php` there).")
        else:
            lines.append(f"- Output {where}: {code(culprit.text, 200)}"
                         + ("" if verdict.printed_known else " (where it was printed is not known: this exchange "
                            "left no record of its output)") + ".")
    if len(verdict.culprits) > 8:
        lines.append(f"… and {len(verdict.culprits) - 8} more.")
    return _capped(lines, JSON_BUDGET, "JSON verdict")


# --- queries ---------------------------------------------------------------------------------------------

def _plugin_of(place: str | None) -> str | None:
    if place and place.startswith("inc/plugins/"):
        return place[len("inc/plugins/"):].split("/", 1)[0].split(".", 1)[0].split(":", 1)[0] or None
    return None


def _queries(costs: RequestCosts, functions: dict[str, str], slow_ms: int, budget: int) -> list[str]:
    lines = ["", "## Queries", ""]
    total = f"**{costs.count} queries, {costs.ms:.1f} ms**"
    if costs.wrapped is None:
        lines.append(f"{total} — not known: MyBB's database object of this request could not be watched (a "
                     "database driver this tool does not extend).")
        return lines
    if costs.mybb_count == costs.count:
        lines.append(f"{total} — the same as MyBB's own count at the very end of the request (`$db->query_count`, "
                     "shutdown queries included; MyBB's debug page counts at output, before them).")
    else:
        lines.append(f"{total} — **MyBB's own count at the end differs: {costs.mybb_count}** (statements run "
                     "outside MyBB's `$db` object of this request are not listed).")
    groups = costs.groups()
    by_owner: dict[str, list[float]] = {}
    for group in groups:
        owner = f"plugin {code(group.plugin, 60)}" if group.plugin else "MyBB core"
        count_ms = by_owner.setdefault(owner, [0, 0.0])
        count_ms[0] += group.count
        count_ms[1] += group.ms
    lines.append("By owner: " + "; ".join(f"{owner} {int(c)} ({ms:.1f} ms)" for owner, (c, ms) in
                                          sorted(by_owner.items(), key=lambda item: -item[1][0])) + ".")
    slow = [g for g in groups if g.max_ms > slow_ms]
    lines.append(f"Slow (> {slow_ms} ms): " + (f"**{sum(g.count for g in slow)}**, marked ⚠ below." if slow else
                                                "none."))
    repeated = [g for g in groups if g.count > 1]
    if repeated:
        worst = max(repeated, key=lambda g: g.count)
        lines.append(f"Most repeated: ×{worst.count} from {code(worst.caller or '?', 120)}"
                     + (f" in hook {code(worst.hook, 60)}" if worst.hook else "")
                     + " — one query per item: fetch them together before the loop (or cache them).")
    lines += ["", f"{len(groups)} distinct statements (literals folded as ?), the most repeated and the longest first; "
              "#N is the position of its first run:"]
    ordered = sorted(groups, key=lambda g: (-(g.count > 1), -g.count if g.count > 1 else 0, -g.ms))
    head = "\n".join(lines)
    shown = 0
    for group in ordered:
        line = _group_line(group, slow_ms)
        if len(head) + len(line) + 160 > budget:
            break
        lines.append(line)
        head += "\n" + line
        shown += 1
    rest = ordered[shown:]
    if rest:
        lines.append(f"… {len(rest)} more statements ({sum(g.count for g in rest)} runs, "
                     f"{sum(g.ms for g in rest):.1f} ms) left out to keep this answer short: none is slow or "
                     "repeated more than those shown." if all(g.max_ms <= slow_ms for g in rest) else
                     f"… {len(rest)} more statements ({sum(g.count for g in rest)} runs, "
                     f"{sum(g.ms for g in rest):.1f} ms) left out to keep this answer short.")
    if costs.unlisted:
        lines.append(f"… and {costs.unlisted} statements after the first 2,000 ({costs.unlisted_ms:.1f} ms), counted "
                     "but not listed.")
    return lines


def _group_line(group: QueryGroup, slow_ms: int) -> str:
    mark = "⚠ " if group.max_ms > slow_ms else ""
    times = f"×{group.count} " if group.count > 1 else ""
    where = f" from {code(group.caller or '?', 120)}"
    if group.plugin and group.plugin_at and group.plugin_at != group.caller:
        where += f" via {code(group.plugin_at, 120)} (plugin {code(group.plugin, 60)})"
    elif group.plugin:
        where += f" (plugin {code(group.plugin, 60)})"
    else:
        where += " (MyBB core)"
    hook = f" in hook {code(group.hook, 60)}" if group.hook else ""
    took = f"{group.ms:.1f} ms" + (f" (max {group.max_ms:.1f})" if group.count > 1 else "")
    rows = "" if group.rows is None else (
        f", {group.rows} row{'s' if group.rows != 1 else ''}" + {"read": " read", "affected": " changed"}.get(
            group.rows_kind, ""))
    return f"- {mark}{times}{code(group.folded, SQL_CHARS)}{where}{hook} — {took}{rows}, #{group.first}"


# --- profile ---------------------------------------------------------------------------------------------

def _profile(costs: RequestCosts, functions: dict[str, str], budget: int) -> list[str]:
    lines = ["", "## Profile", ""]
    spent = sum(f.ms for f in costs.functions)
    lines.append(f"**{costs.wall_ms:.1f} ms** for the request (the router to the end of MyBB's shutdown, PHP's own "
                 f"timer), {costs.count} queries; plugin functions {spent:.1f} ms of it. Each row: its own time "
                 "(hooks it ran itself not included), largest first, so the rows add up to at most the request.")
    if not costs.functions:
        lines.append("No plugin function ran in this request.")
    rows = sorted(costs.functions, key=lambda f: -f.ms)
    tiny_at = max(TINY_MS, costs.wall_ms / 100)
    big = [f for f in rows if f.ms >= tiny_at]
    tiny = rows[len(big):]  # rows are sorted: the big ones come first
    head = "\n".join(lines)
    shown = 0
    if rows:
        lines += ["", "By plugin function:"]
    for row in big:
        place = functions.get(row.function)
        plugin = _plugin_of(place)
        owner = f"{code(place, 100)}" + (f", plugin {code(plugin, 60)}" if plugin else "") if place else "?"
        exited = " (the request ended inside it: exit)" if row.exited else ""
        line = (f"- **{row.ms:.1f} ms** · {code(row.function, 80)} in hook {code(row.hook, 60)} ({owner}) · "
                f"{row.calls} call{'s' if row.calls != 1 else ''} · {row.queries} quer{'ies' if row.queries != 1 else 'y'}"
                f"{exited}")
        if len(head) + len(line) + 300 > budget:
            break
        lines.append(line)
        head += "\n" + line
        shown += 1
    folded = big[shown:] + tiny
    if folded:
        lines.append(f"- … {len(folded)} more function rows under {tiny_at:.1f} ms each or past this section's cap "
                     f"({sum(f.ms for f in folded):.1f} ms, {sum(f.queries for f in folded)} queries together)")
    hooks: dict[str, list[float]] = {}
    for row in rows:
        entry = hooks.setdefault(row.hook, [0.0, 0, 0])
        entry[0] += row.ms
        entry[1] = max(entry[1], row.calls)
        entry[2] += row.queries
    top = sorted(hooks.items(), key=lambda item: -item[1][0])
    if top:
        lines += ["", "By hook (its plugin functions together): " + "; ".join(
            f"{code(hook, 60)} {ms:.1f} ms ×{int(calls)}, {int(queries)} q" for hook, (ms, calls, queries) in top[:8])
            + (f"; … {len(top) - 8} more" if len(top) > 8 else "") + "."]
    lines.append(f"The rest of the request (MyBB core, {costs.count - sum(f.queries for f in rows)} queries): "
                 f"{max(0.0, costs.wall_ms - spent):.1f} ms.")
    return _capped(lines, budget + 400, "profile")


def _capped(lines: list[str], budget: int, what: str) -> list[str]:
    text = "\n".join(lines)
    if len(text) <= budget:
        return lines
    cut = text[:budget].rsplit("\n", 1)[0]
    return [*cut.split("\n"), f"… {what} cut at {budget:,} characters."]
