"""Markdown for read-only SQL answers and table descriptions, kept within a character budget."""

from __future__ import annotations

from typing import Any

from ..untrusted import code_block, one_line
from ..workbench.sql import VALUE_CHARS, SqlAnswer, TableDescription

ANSWER_BUDGET = 20_000  # characters of table; every answer stays under 25,000


def _value(value: Any, width: int = VALUE_CHARS) -> str:
    if value is None:
        return "NULL"
    text = str(value)
    if len(text) > width:
        text = f"{text[:width]}… ({len(text):,} chars)"
    return one_line(text, cell=True)


def render_sql(answer: SqlAnswer, tool: str, budget: int = ANSWER_BUDGET) -> str:
    """The rows as a markdown table; the total, and what was left out and how to get it."""
    out = [f"# SQL Result: {answer.total:,}{'+' if answer.total_is_lower_bound else ''} "
           f"row{'s' if answer.total != 1 else ''}\n",
           f"{answer.engine}, read-only, {answer.seconds * 1000:.0f} ms. Table prefix: `{answer.table_prefix}`.\n",
           *code_block(answer.sql.strip().splitlines()[:20]), ""]
    if not answer.columns:
        out.append("The statement returned no result set.")
        return "\n".join(out) + "\n"
    lines = ["| " + " | ".join(one_line(c, cell=True) for c in answer.columns) + " |",
             "|" + "---|" * len(answer.columns)]
    used = sum(len(line) + 1 for line in lines)
    shown = 0
    for row in answer.rows:
        line = "| " + " | ".join(_value(v) for v in row) + " |"
        if used + len(line) + 1 > budget:
            break
        lines.append(line)
        used += len(line) + 1
        shown += 1
    out += lines
    left = answer.total - shown
    if left > 0:
        why = (f"the {shown:,} rows that fit the answer" if shown < len(answer.rows)
               else f"the first {shown:,} (limit {answer.limit})")
        more = "more than " if answer.total_is_lower_bound else ""
        out.append(f"\nShown: {why}; {more}{left:,} more row{'s' if left != 1 else ''} not shown. "
                   f"Next: narrow with WHERE / select fewer columns, or page with `LIMIT n OFFSET {shown}` "
                   f"in the SQL ({tool}).")
    cut = any(isinstance(v, (str, bytes)) and len(str(v)) > VALUE_CHARS for row in answer.rows[:shown] for v in row)
    if cut:
        out.append(f"\nValues longer than {VALUE_CHARS} characters are cut; select `SUBSTR(col, N, 200)` "
                   "to read further.")
    return "\n".join(out) + "\n"


def render_table(desc: TableDescription, tool: str) -> str:
    if not desc.columns:
        similar = ", ".join(f"`{n}`" for n in desc.similar) or "none"
        return (f"# Error: No Such Table\n\nThe forum's database ({desc.engine}) has no table `{one_line(desc.table)}` "
                f"(nor `{desc.table_prefix}{one_line(desc.table)}`). Similar names: {similar}.\n\n"
                f"**Next:** list the tables with {tool} and the SQL "
                + ("`SELECT name FROM sqlite_master WHERE type='table'`" if desc.engine.startswith("SQLite")
                   else "`SHOW TABLES`") + ".\n")
    out = [f"# Table {desc.table}\n", f"{desc.engine}; {desc.rows:,} rows; prefix `{desc.table_prefix}`.\n",
           "| Column | Type | Null | Default | Key | Extra |", "|---|---|---|---|---|---|"]
    for c in desc.columns:
        out.append(f"| {one_line(c.name, cell=True)} | {one_line(c.type, cell=True)} | "
                   f"{'yes' if c.nullable else 'no'} | {_value(c.default, 80)} | {c.key} | {one_line(c.extra, cell=True)} |")
    out.append("\n## Indexes\n")
    if desc.indexes:
        out += [f"- `{one_line(i.name)}`{' (unique)' if i.unique else ''}: {', '.join(one_line(c) for c in i.columns)}"
                for i in desc.indexes]
    else:
        out.append("None (SQLite: a rowid table; an INTEGER PRIMARY KEY is its rowid).")
    return "\n".join(out) + "\n"
