"""Benchmark: the matrix (workbench/matrix.py) on PHP builds beside the same steps on the machine's PHP.

    python bench/matrix.py

In one run, with a fresh cache (MYBB_CACHE_DIR in a temporary folder):
- a PHP version installed from the registry (`php_builds.install`, the 8.4 build through npm, with
  npm's own cache empty: downloaded): the machine's PHP needs no install;
- each MyBB release's throwaway forum, installed once by MyBB's installer (reported apart: paid once);
- one cell (PHP 8.4 x MyBB 1.8.37) beside the same cell on the machine's PHP;
- a 3 x 2 matrix (7.4, 8.2, 8.4 x 1.8.30, 1.8.37) beside the machine's PHP x the two releases.
The plugin adds a setting on install, a hook on index_start, and removes its setting on uninstall.
Archives: MYBB_TEST_ARCHIVE (else <repo>/../shared/mybb/mybb_1837.tar.gz) and mybb_1830.tar.gz beside it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT / "mybb_mcp"))  # this checkout's code, imported in main()

PLUGIN = """<?php
if(!defined("IN_MYBB"))
{
	die("Direct access not allowed.");
}

$plugins->add_hook("index_start", "benchmx_index");

function benchmx_info()
{
	return array("name" => "benchmx", "description" => "bench", "version" => "1", "compatibility" => "18*");
}

function benchmx_install()
{
	global $db;
	$db->insert_query("settings", array("name" => "benchmx_on", "title" => "On", "description" => "",
		"optionscode" => "yesno", "disporder" => 1, "value" => "1", "gid" => 1));
	rebuild_settings();
}

function benchmx_is_installed()
{
	global $db;
	return (bool)$db->fetch_field($db->simple_select("settings", "COUNT(*) AS n", "name='benchmx_on'"), "n");
}

function benchmx_uninstall()
{
	global $db;
	$db->delete_query("settings", "name='benchmx_on'");
	rebuild_settings();
}

function benchmx_index()
{
	global $mybb;
	$mybb->input['benchmx'] = 1;
}
"""


def main() -> int:
    from mybb_mcp import php_builds
    from mybb_mcp.config import Config
    from mybb_mcp.orchestration import ServerOrchestrationService
    from mybb_mcp.workbench.matrix import MatrixRequest, MatrixRunner

    archive = Path(os.environ.get("MYBB_TEST_ARCHIVE") or REPO_ROOT.parent / "shared" / "mybb" / "mybb_1837.tar.gz")
    archives = (archive, archive.with_name("mybb_1830.tar.gz"))
    work = Path(tempfile.mkdtemp(prefix="bench-matrix-"))
    try:
        cache = work / "cache"
        cache.mkdir(mode=0o700)
        plugin = work / "plugin"
        (plugin / "inc" / "plugins").mkdir(parents=True)
        (plugin / "inc" / "plugins" / "benchmx.php").write_text(PLUGIN)
        config = Config(mybb_root=work / "none" / "forum", cache_dir=cache, php=shutil.which("php") or "php")
        rows: list[tuple[str, float, str]] = []

        os.environ["npm_config_cache"] = str(work / "npm")  # npm's own cache empty: a real download
        began = time.monotonic()
        php_builds.install(php_builds.build_for("8.4"), cache)
        rows.append(("PHP 8.4 installed from the registry (npm, SHA-256, unpack, checks)", time.monotonic() - began,
                     "≤ 20 s; the machine's PHP: nothing to install"))

        def matrix(php: tuple[str, ...], mybb: tuple[str, ...]) -> tuple[float, list[float], list[str]]:
            runner = MatrixRunner(config, ServerOrchestrationService)
            start = time.monotonic()
            result = runner.run(MatrixRequest(str(plugin), php, mybb, archives=archives))
            return time.monotonic() - start, [c.seconds for c in result.cells], [c.verdict for c in result.cells]

        began = time.monotonic()
        for version in ("1.8.37", "1.8.30"):
            MatrixRunner(config, ServerOrchestrationService)._template(version, archives)
        rows.append(("both MyBB releases installed once for the matrix (paid once per cache)",
                     time.monotonic() - began, "once"))
        for version in ("7.4", "8.2"):  # the other builds, so that the matrix below times cells only
            php_builds.install(php_builds.build_for(version), cache)

        wall, cells, verdicts = matrix(("8.4",), ("1.8.37",))
        rows.append((f"one cell, PHP 8.4 x MyBB 1.8.37 ({verdicts[0]})", cells[0], "≤ 5 s"))
        wall, cells, verdicts = matrix((), ("1.8.37",))
        rows.append((f"one cell, the machine's PHP x MyBB 1.8.37 ({verdicts[0]})", cells[0], "reference"))
        wall, cells, verdicts = matrix(("7.4", "8.2", "8.4"), ("1.8.30", "1.8.37"))
        rows.append((f"3 x 2 matrix, 7.4/8.2/8.4 x 1.8.30/1.8.37 ({', '.join(verdicts)})", wall, "≤ 30 s"))
        wall, cells, verdicts = matrix((), ("1.8.30", "1.8.37"))
        rows.append((f"1 x 2, the machine's PHP x 1.8.30/1.8.37 ({', '.join(verdicts)})", wall, "reference"))

        print("| measurement | seconds | goal |\n|---|---|---|")
        for name, seconds, goal in rows:
            print(f"| {name} | {seconds:.1f} | {goal} |")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
