"""A plugin's matrix (workbench/matrix.py) as markdown: one table, a verdict per cell with its first
error, then what differs between cells, MyBB's own noise counted apart. Fits a budget."""

from __future__ import annotations

from ..untrusted import code_span
from ..workbench.matrix import Cell, CellError, MatrixResult, differences

DEFAULT_BUDGET = 8_000
_VERDICTS = {"ok": "✅ ok", "errors": "⚠️ errors", "fails": "❌ fails", "not run": "— not run"}


def inline_code(text: str) -> str:
    """Text from a page or a log, inert in a table cell."""
    return code_span(text).replace("|", "\\|")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error(error: CellError) -> str:
    where = f"{error.stage}" if error.stage != "page" else f"{error.page} as {error.role}"
    return f"{inline_code(error.place)} {inline_code(_cut(error.message, 140))} ({inline_code(where)})"


def _first(cell: Cell) -> str:
    if cell.errors:
        more = f" (+{len(cell.errors) - 1} more)" if len(cell.errors) > 1 else ""
        return _error(cell.errors[0]) + more
    if cell.problem:
        return inline_code(_cut(cell.problem, 200))
    return "—"


def _noise(cell: Cell) -> str:
    """MyBB's own errors on that PHP: those raised without the plugin too, and the core notices and
    deprecations the page answers leave out (no user code on the stack)."""
    parts = [str(len(cell.core_noise))] if cell.core_noise else []
    if cell.core_entries:
        parts.append(f"{cell.core_entries} core notices/deprecations")
    return " + ".join(parts) or "0"


def render_matrix(result: MatrixResult, budget: int = DEFAULT_BUDGET) -> str:
    title = f"# Matrix: plugin `{result.plugin}` ({len(result.cells)} cells, {result.seconds:.1f} s, "
    lines = [title + f"{result.parallel} at once)", ""]
    pages = ", ".join(code_span(p) for p in result.pages)
    lines.append(f"Each cell: a copy of a fresh MyBB (SQLite) served by `php -S` on 127.0.0.1; the pages ({pages}) "
                 "loaded as guest, member and admin (the Admin CP as admin only) without the plugin, then the plugin "
                 "installed and activated through the Admin CP, the pages again, then deactivated and uninstalled.")
    lines += ["", "| PHP | MyBB | verdict | first error (file:line, page, role) | MyBB noise | left behind |",
              "|---|---|---|---|---|---|"]
    for cell in result.cells:
        left = ", ".join(cell.left_behind[:3]) + (" …" if len(cell.left_behind) > 3 else "") or "nothing"
        lines.append(f"| {cell.php} ({cell.php_version}) | {cell.mybb} | {_VERDICTS.get(cell.verdict, cell.verdict)} "
                     f"| {_first(cell)} | {_noise(cell)} | {_cut(left, 120)} |")
    diff = differences(result)
    lines += ["", "## What differs between cells"]
    lines += [f"- {_cut(line, 240)}" for line in diff[:30]] or ["- Nothing: every cell raised the same errors."]
    if len(diff) > 30:
        lines.append(f"- … {len(diff) - 30} more.")
    noisy = [c for c in result.cells if c.core_noise or c.core_entries]
    if noisy:
        lines += ["", "## MyBB's own noise (raised without the plugin too, or by MyBB's code alone: not the plugin's)"]
        for cell in noisy:
            first = f"first {_error(cell.core_noise[0])}" if cell.core_noise else \
                "e.g. " + "; ".join(inline_code(_cut(k, 100)) for k in cell.core_kinds)
            lines.append(f"- PHP {cell.php} × MyBB {cell.mybb}: {_noise(cell)}, {first}")
    failed = [c for c in result.cells if c.steps and any("failed" in s for s in c.steps)]
    if failed:
        lines += ["", "## Lifecycle steps"]
        lines += [f"- PHP {c.php} × MyBB {c.mybb}: {'; '.join(c.steps)}" for c in failed]
    lines += ["", f"Files of the plugin copied into each cell: {', '.join(inline_code(f) for f in result.files[:8])}"
              + (f" (+{len(result.files) - 8})" if len(result.files) > 8 else "") + "."]
    lines += [f"Note: {note}" for note in result.notes]
    lines.append("Every cell's server was stopped; the copies were removed.")
    text = "\n".join(lines)
    if len(text) > budget:
        text = text[: budget - 120].rsplit("\n", 1)[0] + "\n\n… cut to fit the answer budget; the table above " \
            "is whole for the cells it shows."
    return text
