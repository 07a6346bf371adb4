"""One catalogue of failures for every tool: each a name, a title and a next step in each face's words;
titles come from it, never made up where an error is shown; renderers take the face as one argument."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import mybb_mcp
from mybb_mcp import answers
from mybb_mcp.answers.commands import CLI_COMMANDS, MCP_COMMANDS, Commands
from mybb_mcp.config import Config
from mybb_mcp.failures import CATALOGUE, Failure
from mybb_mcp.forum.requests import PageRequest
from mybb_mcp.orchestration import ServerOrchestrationService

PACKAGE = Path(mybb_mcp.__file__).parent


def test_every_failure_has_a_title_and_a_next_step_on_each_face() -> None:
    assert set(CATALOGUE) == set(Failure)
    titles = [failure.title for failure in Failure]
    assert len(set(titles)) == len(titles) and all(titles)
    for failure in Failure:
        facts = {"snapshot_delete": "DELETE", "storage": "/x"}
        mcp, cli = failure.next_step(MCP_COMMANDS.words(**facts)), failure.next_step(CLI_COMMANDS.words(**facts))
        assert mcp and cli, failure
        assert "mybb-server " not in mcp or failure is Failure.FILE_PROBLEM or "`mybb-server" not in mcp, failure
        assert "`mybb_" not in cli, failure


def _error_headings_made_up_here(path: Path) -> list[str]:
    """'# Error: <words>' written as a literal, or render_error/_refused/_failed given a string title."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.match(r"# Error: [A-Z]", node.value):
            found.append(node.value[:40])
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("render_error", "render_failure", "_refused", "_failed")):
            found += [f"{node.func.id}({arg.value!r})" for arg in node.args
                      if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.istitle()]
    return found


def test_no_failure_title_is_made_up_where_it_is_shown() -> None:
    made_up = {str(p.relative_to(PACKAGE)): _error_headings_made_up_here(p) for p in PACKAGE.rglob("*.py")}
    assert {path: titles for path, titles in made_up.items() if titles} == {}


def test_renderers_take_the_face_as_one_typed_argument() -> None:
    for path in (PACKAGE / "answers").glob("*.py"):
        module = __import__(f"mybb_mcp.answers.{path.stem}", fromlist=["_"])
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("render_") or function.__module__ != module.__name__:
                continue
            parameters = inspect.signature(function).parameters
            assert not {"mcp", "cli", "tool"} & set(parameters), f"{module.__name__}.{name}"
            if "commands" in parameters:
                assert parameters["commands"].annotation in ("Commands", Commands), f"{module.__name__}.{name}"
    assert answers  # the package is importable as a whole


@pytest.mark.parametrize("face", [MCP_COMMANDS, CLI_COMMANDS])
def test_a_page_request_to_a_stopped_server_is_a_named_failure(forum: Path, php: str, port: int,
                                                                face: Commands) -> None:
    from mybb_mcp.answers.request import render_page_result

    result = ServerOrchestrationService(Config(mybb_root=forum, php=php, port=port)).forum.request_page(
        PageRequest(path="index.php"))
    assert result.failure is Failure.NOT_RUNNING and "not running" in result.problem
    text = render_page_result(result, face)
    assert text.startswith(f"# {Failure.REQUEST_FAILED.title}: GET index.php as guest")
    assert f"**Problem:** {result.problem.rstrip('.')}." in text
