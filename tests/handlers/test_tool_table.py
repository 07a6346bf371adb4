"""The MCP edge is one table: every tool has exactly one row, one argument model, one work function and
one entry in the docs, and tools/list, the schemas and the dispatch all come from that table."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from pydantic import BaseModel

from mybb_mcp import tools_registry
from mybb_mcp.handlers import edge
from mybb_mcp.handlers.tools import ALL_TOOLS, ROWS, TOOLS
from mybb_mcp.logs.options import MAX_SINCE_MINUTES
from mybb_mcp.tools_registry import ToolName
from mybb_mcp.workbench import php_eval, sql

DOCS = Path(__file__).resolve().parents[2] / "docs" / "wiki" / "mcp_tools"


def test_every_tool_has_exactly_one_row() -> None:
    names = [row.name for row in TOOLS]
    assert sorted(names) == sorted(ToolName) and len(names) == len(set(names)) == len(ROWS)


def test_every_row_has_its_own_model_and_its_own_work_function() -> None:
    models = [row.model for row in TOOLS]
    works = [row.work for row in TOOLS]
    assert len(set(models)) == len(models) and len(set(works)) == len(works)
    for row in TOOLS:
        assert issubclass(row.model, BaseModel) and row.model.__module__ == tools_registry.__name__, row.name
        assert inspect.isfunction(row.work), row.name
        assert list(inspect.signature(row.work).parameters) == ["service", "args", "progress"], row.name
        module = row.work.__module__
        assert module.startswith("mybb_mcp.handlers.") and module not in (edge.__name__, "mybb_mcp.handlers.tools")
    defined = {obj for obj in vars(tools_registry).values()
               if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == tools_registry.__name__
               and obj.__name__.endswith("Args") and not obj.__name__.startswith("_")}
    assert defined == set(models), "an argument model without a row, or a row whose model is elsewhere"


def test_the_tools_list_is_the_table_in_order() -> None:
    assert [tool.name for tool in ALL_TOOLS] == [row.name.value for row in TOOLS]
    for tool, row in zip(ALL_TOOLS, TOOLS):
        assert tool.title == row.title and tool.description == row.description
        assert tool.annotations is not None and tool.annotations.read_only_hint == row.hints.read_only


def test_every_tool_has_one_docs_entry() -> None:
    pages = [p for p in DOCS.glob("*.md") if p.name != "index.md"]
    index = (DOCS / "index.md").read_text("utf-8")
    for name in ToolName:
        # a section of a page (## name), or a page of its own (# name: ...)
        heading = re.compile(rf"^##? `?{name.value}`?(?:[ :]|$)", re.MULTILINE)
        found = sum(len(heading.findall(page.read_text("utf-8"))) for page in pages)
        assert found == 1, f"{name.value}: {found} sections in docs/wiki/mcp_tools/"
        assert len(re.findall(rf"^\| `{name.value}` \|", index, re.MULTILINE)) == 1, f"{name.value}: index row"


def test_the_models_take_the_domains_own_limits() -> None:
    schema = {tool.name: tool.input_schema["properties"] for tool in ALL_TOOLS}
    assert schema[ToolName.SQL.value]["limit"]["maximum"] == sql.MAX_LIMIT
    assert schema[ToolName.SQL.value]["limit"]["default"] == sql.DEFAULT_LIMIT
    assert schema[ToolName.SQL.value]["sql"]["maxLength"] == sql.MAX_SQL_CHARS
    assert schema[ToolName.PHP.value]["timeout_seconds"]["maximum"] == php_eval.MAX_TIMEOUT
    assert schema[ToolName.PHP.value]["code"]["maxLength"] == php_eval.MAX_CODE_CHARS
    # One bound on both faces: the log engine's own, which `mybb-server logs --since` applies.
    assert schema[ToolName.LOGS.value]["since_minutes"]["maximum"] == MAX_SINCE_MINUTES
