"""The house rules, checked on the source: module-level imports form no cycle, and data flows one way
(faces -> service -> mechanics -> results -> render). Imports under `if TYPE_CHECKING:` and inside
functions do not run at import time, so they are not edges."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import mybb_mcp

PACKAGE_DIR = Path(mybb_mcp.__file__).parent
FACES = {"mybb_mcp.cli", "mybb_mcp.server", "mybb_mcp.handlers", "mybb_mcp.tools_registry", "mybb_mcp.__main__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _ancestors(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _with_packages(target: str, importer: str, known: set[str]) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first, except the packages the importer sits in:
    they are already being initialised when it runs."""
    return ({target} | _ancestors(target)) & known - _ancestors(importer)


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE_DIR.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges: set[str] = set()
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(name, path.name == "__init__.py", node)
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                edges |= _with_packages(target, name, known)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def _is_face(name: str) -> bool:
    return any(name == face or name.startswith(face + ".") for face in FACES)


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "mybb_mcp.orchestration.server_service" in graph and "mybb_mcp.forum.report" in graph
    assert "mybb_mcp.forum.report" in graph["mybb_mcp.orchestration.server_service"]


def test_no_import_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_nothing_below_the_faces_imports_a_face() -> None:
    graph = import_graph()
    below = [name for name in graph if not _is_face(name) and name != "mybb_mcp"]
    offenders = {name: sorted(t for t in graph[name] if _is_face(t)) for name in below}
    assert {name: faces for name, faces in offenders.items() if faces} == {}


def test_the_forum_package_does_not_import_the_server() -> None:
    graph = import_graph()
    offenders = {
        name: sorted(t for t in edges if t.startswith("mybb_mcp.orchestration"))
        for name, edges in graph.items() if name.startswith("mybb_mcp.forum")
    }
    assert {name: targets for name, targets in offenders.items() if targets} == {}


def every_import() -> dict[str, set[str]]:
    """Every module each module names in an import, wherever the import sits (in a function, under
    TYPE_CHECKING): what it depends on, whether or not the import runs at import time."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        name = module_name(path)
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, path.name == "__init__.py", node)
                targets |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        found[name] = targets
    return found


def test_every_import_names_a_module_or_a_name_that_exists() -> None:
    """An import inside a function runs only when the function does: one that names a moved module would
    fail in the field, not at import time."""
    def exists(target: str) -> bool:
        try:
            importlib.import_module(target)
            return True
        except ModuleNotFoundError:
            module, _, attribute = target.rpartition(".")
            return exists(module) and hasattr(importlib.import_module(module), attribute)

    missing = [f"{name}: {target}" for name, targets in every_import().items()
               for target in sorted(targets) if target.startswith("mybb_mcp.") and not exists(target)]
    assert missing == []


def _is_module(target: str) -> bool:
    parent = target.rpartition(".")[0]
    return hasattr(importlib.import_module(parent), "__path__") and importlib.util.find_spec(target) is not None


def test_every_attribute_of_a_module_of_ours_exists() -> None:
    """`module.NAME` on a module of this package names something the module has: a name moved away, or an
    import dropped that others read through the module, fails here rather than on the path that reads it."""
    missing = []
    for path in PACKAGE_DIR.rglob("*.py"):
        name = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = _resolve(name, path.name == "__init__.py", node)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target.startswith("mybb_mcp") and _is_module(target):
                        aliases[alias.asname or alias.name] = target
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("mybb_mcp.") and alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                module = importlib.import_module(aliases[node.value.id])
                if not hasattr(module, node.attr):
                    missing.append(f"{name}:{node.lineno}: {aliases[node.value.id]}.{node.attr}")
    assert missing == []


def test_the_forum_does_not_use_the_workbench() -> None:
    """The workbench is built on the forum (its files, MyBB's PHP, snapshots), never the other way."""
    offenders = {name: sorted(t for t in targets if t.startswith("mybb_mcp.workbench"))
                 for name, targets in every_import().items() if name.startswith("mybb_mcp.forum")}
    assert {name: targets for name, targets in offenders.items() if targets} == {}


def test_results_import_nothing_at_run_time() -> None:
    assert import_graph()["mybb_mcp.results"] == set()


# ------------------------------------------------------------------ sizes: what one person reads in one sitting

MAX_MODULE_LINES = 700


def _lines(path: Path) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def _source_files() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*") if p.suffix in (".py", ".php") and "__pycache__" not in p.parts)


def package_lines() -> dict[str, int]:
    """Lines of each package under `mybb_mcp`, its sub-packages included (`forum` counts
    `forum/snapshot/`); the modules at the top (config, errors, results ...) are the package `mybb_mcp`."""
    sizes: dict[str, int] = {}
    for path in _source_files():
        parts = path.relative_to(PACKAGE_DIR).parts
        package = "mybb_mcp" if len(parts) == 1 else f"mybb_mcp.{parts[0]}"
        sizes[package] = sizes.get(package, 0) + _lines(path)
    return sizes


def test_no_module_is_over_700_lines() -> None:
    over = {str(p.relative_to(PACKAGE_DIR)): n for p in _source_files() if (n := _lines(p)) > MAX_MODULE_LINES}
    assert over == {}


def test_no_package_holds_more_than_a_third_of_the_lines() -> None:
    sizes = package_lines()
    total = sum(sizes.values())
    assert {name: n for name, n in sizes.items() if n * 3 > total} == {}, f"{total} lines in all"


def test_the_size_rules_see_the_package() -> None:
    sizes = package_lines()
    assert {"mybb_mcp", "mybb_mcp.orchestration", "mybb_mcp.logs", "mybb_mcp.answers", "mybb_mcp.forum",
            "mybb_mcp.workbench", "mybb_mcp.cli"} <= set(sizes)
    assert "mybb_mcp.forum.snapshot" not in sizes  # counted in forum
    assert sum(sizes.values()) > 10_000


# ----------------------------------------------------------- one way: face -> service -> mechanics -> result -> answers

LAYERS = {  # a package may import only from its own layer and the ones below it
    "face": 4, "service": 3, "answers": 2, "mechanics": 1, "base": 0,
}


def layer(name: str) -> str:
    if _is_face(name):
        return "face"
    if name == "mybb_mcp.orchestration" or name.startswith("mybb_mcp.orchestration.") and name.rsplit(".", 1)[1] in (
        "server_service", "observe", "log_calls", "forum_calls", "workbench_calls"
    ):
        return "service"
    if name.startswith("mybb_mcp.answers"):
        return "answers"
    if name in ("mybb_mcp", "mybb_mcp.results", "mybb_mcp.errors", "mybb_mcp.config", "mybb_mcp.safe_files",
                "mybb_mcp.untrusted", "mybb_mcp.failures", "mybb_mcp.php_builds"):
        return "base"
    return "mechanics"


def test_data_flows_one_way() -> None:
    """Faces call the service; the service calls the mechanics (log engine, forum, process); mechanics
    return result dataclasses; answers render them. Nothing imports a layer above its own: the service
    never renders, the mechanics never call the service, the answers never read a log or a forum."""
    graph = import_graph()
    upward = {
        name: sorted(t for t in edges if LAYERS[layer(t)] > LAYERS[layer(name)])
        for name, edges in graph.items()
    }
    assert {name: targets for name, targets in upward.items() if targets} == {}


def test_the_log_engine_and_the_forum_do_not_import_each_other_s_service() -> None:
    graph = import_graph()
    offenders = {
        name: sorted(t for t in edges if layer(t) in ("service", "face", "answers"))
        for name, edges in graph.items() if name.startswith(("mybb_mcp.logs", "mybb_mcp.forum", "mybb_mcp.workbench"))
    }
    assert {name: targets for name, targets in offenders.items() if targets} == {}


# ------------------------------------------------------------------ packages: one way, type-only imports included

# Each `mybb_mcp.X` (a subpackage, or a module at the top) by layer: a unit names only units of lower layers, in
# any import at all (at the top, in a function, under TYPE_CHECKING). `results` sits right under the service
# whose answers it holds: its dataclasses name the forum's, the log engine's and the workbench's types.
PACKAGE_LAYERS: dict[str, int] = {
    "mybb_mcp": 0, "mybb_mcp.errors": 0, "mybb_mcp.failures": 0, "mybb_mcp.untrusted": 0, "mybb_mcp.safe_files": 0,
    "mybb_mcp.layout": 1, "mybb_mcp.php_builds": 1,
    "mybb_mcp.config": 2,
    "mybb_mcp.forum": 3,
    "mybb_mcp.logs": 4,
    "mybb_mcp.workbench": 5,
    "mybb_mcp.results": 6,
    "mybb_mcp.orchestration": 7, "mybb_mcp.agent_setup": 7,
    "mybb_mcp.answers": 8,
    "mybb_mcp.tools_registry": 9,
    "mybb_mcp.handlers": 10,
    "mybb_mcp.server": 11, "mybb_mcp.cli": 11,
    "mybb_mcp.__main__": 12,
}


def unit_of(name: str, units: set[str]) -> str:
    unit = ".".join(name.split(".")[:2])
    return unit if unit in units else "mybb_mcp"  # `from .. import __version__` names the package itself


def package_graph() -> dict[str, set[str]]:
    """Unit -> the units it names in any import (type-only and in-function imports count)."""
    imports = every_import()
    units = {".".join(name.split(".")[:2]) for name in imports}
    graph: dict[str, set[str]] = {}
    for name, targets in imports.items():
        unit = unit_of(name, units)
        edges = graph.setdefault(unit, set())
        edges |= {unit_of(t, units) for t in targets if t == "mybb_mcp" or t.startswith("mybb_mcp.")} - {unit}
    return graph


def test_no_cycle_between_packages_type_only_imports_included() -> None:
    assert find_cycle(package_graph()) is None


def test_every_package_has_a_layer() -> None:
    assert set(package_graph()) <= set(PACKAGE_LAYERS), sorted(set(package_graph()) - set(PACKAGE_LAYERS))


def test_no_package_names_one_of_a_layer_above_its_own() -> None:
    upward = {unit: sorted(t for t in targets if t != "mybb_mcp" and PACKAGE_LAYERS[t] >= PACKAGE_LAYERS[unit])
              for unit, targets in package_graph().items()}
    assert {unit: targets for unit, targets in upward.items() if targets} == {}


def test_the_package_graph_counts_type_only_imports() -> None:
    """`results` names the forum's types only under TYPE_CHECKING: the graph still has the edge."""
    assert "mybb_mcp.forum" in package_graph()["mybb_mcp.results"]
    assert "mybb_mcp.forum" not in import_graph()["mybb_mcp.results"]


def test_no_underscore_name_is_shared_between_modules() -> None:
    """A name another module uses is public: no `from x import _name`, no `module._name` on a module of ours."""
    shared = []
    for path in PACKAGE_DIR.rglob("*.py"):
        name = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = _resolve(name, path.name == "__init__.py", node)
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        shared.append(f"{name}: from {base} import {alias.name}")
                    if base.startswith("mybb_mcp") and _is_module(f"{base}.{alias.name}"):
                        modules.add(alias.asname or alias.name)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                shared.append(f"{name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert shared == []
