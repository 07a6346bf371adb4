"""What the code claims is checked: ruff and mypy (strict) pass on the package, as `./dev test` runs them;
the package ships `py.typed`; no module is exempt from strict typing and no file from ruff's rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mybb_mcp

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(mybb_mcp.__file__).parent
BIN = Path(sys.executable).parent


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))


def test_the_package_ships_py_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert "py.typed" in _pyproject()["tool"]["setuptools"]["package-data"]["mybb_mcp"]


def test_the_checkers_are_pinned_in_the_test_extra() -> None:
    pinned = {line.split("==")[0] for line in _pyproject()["project"]["optional-dependencies"]["test"] if "==" in line}
    assert {"ruff", "mypy", "types-psutil"} <= pinned


def test_mypy_is_strict_on_every_module_and_ruff_exempts_no_file() -> None:
    tool = _pyproject()["tool"]
    mypy = tool["mypy"]
    assert mypy["strict"] is True and mypy["packages"] == ["mybb_mcp"]
    assert not any(override.get("ignore_errors") for override in mypy.get("overrides", [])), "no module exempt"
    assert "per-file-ignores" not in tool["ruff"].get("lint", {}), "no file exempt"
    dev = (REPO / "dev").read_text("utf-8")
    assert ".venv/bin/mypy" in dev and "ruff check mybb_mcp/mybb_mcp tests bench" in dev


@pytest.mark.skipif(not (BIN / "ruff").exists(), reason="ruff is not installed (pip install -e '.[test]')")
def test_ruff_passes_on_the_package_its_tests_and_benchmarks() -> None:
    done = subprocess.run([str(BIN / "ruff"), "check", "mybb_mcp/mybb_mcp", "tests", "bench"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(not (BIN / "mypy").exists(), reason="mypy is not installed (pip install -e '.[test]')")
def test_mypy_passes_on_the_package() -> None:
    done = subprocess.run([str(BIN / "mypy")], cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
