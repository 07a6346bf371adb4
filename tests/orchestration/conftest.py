"""PHP builds shared by the tests that run a forum on another PHP: one cache per session, each build
fetched from the registry once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mybb_mcp import php_builds


@pytest.fixture(scope="session")
def build_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("php-cache")
    os.chmod(cache, 0o700)
    return cache


def _build(version: str, cache: Path) -> Path:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: PHP builds come from the npm registry through it")
    return php_builds.install(php_builds.build_for(version), cache)


@pytest.fixture(scope="session")
def php74(build_cache: Path) -> Path:
    return _build("7.4", build_cache)


@pytest.fixture(scope="session")
def php84(build_cache: Path) -> Path:
    return _build("8.4", build_cache)
