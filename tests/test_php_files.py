"""PHP lives in `.php` files, in MyBB's style (tabs), and every one of them is valid PHP (`php -l`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import mybb_mcp

PACKAGE = Path(mybb_mcp.__file__).parent
PHP_FILES = sorted(PACKAGE.rglob("*.php"))
# Snippets moved out of Python strings into files of their own (the tool's PHP in MyBB's style).
MOVED = ("workbench/members_add.php", "workbench/members_list.php", "workbench/php_eval.php",
         "orchestration/php_probe.php", "forum/php_extensions.php", "forum/php_snippet_frame.php")


def test_the_php_files_are_found() -> None:
    assert {str(p.relative_to(PACKAGE)) for p in PHP_FILES} >= set(MOVED)


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_php_file_passes_php_lint(path: Path, php: str) -> None:
    done = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", MOVED)
def test_the_moved_snippets_are_in_mybb_style(name: str) -> None:
    text = (PACKAGE / name).read_text("utf-8")
    assert text.startswith("<?php\n/**")  # MyBB's file header: the opening tag, then a doc block
    indented = [line for line in text.splitlines() if line[:1] in (" ", "\t") and not line.startswith(" *")]
    assert all(line.startswith("\t") for line in indented), "indented with tabs, as MyBB is"


def test_no_python_module_carries_these_snippets_any_more() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text("utf-8")
        for php in ("new UserDataHandler(", "register_shutdown_function(", "get_loaded_extensions()",
                    "phpversion('xdebug')", "stream_get_contents(STDIN)", "json_encode($result"):
            assert php not in text, f"{path.name}: {php}"


def test_the_snippet_s_eval_keeps_its_line() -> None:
    """Errors in an agent's snippet are reported at "Command line code(48) : eval()'d code": the line the
    eval() had in the Python string the wrapper came from. Moving the wrapper must not move it."""
    from mybb_mcp.forum import php as forum_php
    from mybb_mcp.workbench import php_eval

    snippet = php_eval._BOOT_GLOBAL + php_eval._EVAL_FILE.read_text("utf-8").removeprefix("<?php")
    source = forum_php._PROLOGUE + "\n" + snippet + "\n;" + forum_php._EPILOGUE
    lines = [n for n, line in enumerate(source.split("\n"), 1) if "= eval($input['code'])" in line]
    assert lines == [48]
