"""The request after an edit runs the edited code (OPcache on, as Debian ships it for php -S)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mybb_mcp.orchestration import ServerOrchestrationService
from mybb_mcp.orchestration.php_dev import fresh_code_explanation, probe_php
from tests.conftest import http_get

PAGE = "<?php\ninclude __DIR__ . '/inc/plugins/fresh.php';\necho fresh_version();\n"


def _write_plugin(forum: Path, version: str, mtime: int) -> None:
    """The plugin file with this version, its mtime set to `mtime` (whole seconds, as OPcache compares)."""
    plugin = forum / "inc" / "plugins" / "fresh.php"
    plugin.parent.mkdir(parents=True, exist_ok=True)
    plugin.write_text(f"<?php\nfunction fresh_version() {{ return '{version}'; }}\n")
    os.utime(plugin, (mtime, mtime))


def _edits_seen(service: ServerOrchestrationService, forum: Path) -> list[tuple[str, str]]:
    """Cache the plugin, then edit it twice within one second (same mtime, same size): what each request ran."""
    (forum / "fresh.php").write_text(PAGE)
    started = service.start()
    assert started.success, started
    url = f"{started.url}/fresh.php"
    old = int(time.time()) - 60
    _write_plugin(forum, "v0", old)  # old enough for OPcache to cache it
    assert http_get(url) == (200, "v0")
    assert http_get(url) == (200, "v0")  # served from the cache, just revalidated
    second = int(time.time())
    seen = []
    for version in ("v1", "v2"):  # two edits stamped with the same second
        _write_plugin(forum, version, second)
        seen.append((version, http_get(url)[1]))
    return seen


def test_two_edits_within_one_second_are_each_run_by_the_next_request(
    make_service: Callable[..., ServerOrchestrationService], forum: Path, php: str
) -> None:
    service = make_service()
    for wanted, ran in _edits_seen(service, forum):
        assert ran == wanted


def test_without_the_development_settings_opcache_runs_the_old_code(
    make_service: Callable[..., ServerOrchestrationService], forum: Path, php: str
) -> None:
    """The control: php.ini's OPcache (revalidate_freq=2) serves the cached copy, so the test above can fail."""
    runtime = probe_php(php)
    if not runtime.opcache:
        pytest.skip(f"{php} has no OPcache: every request compiles afresh, there is nothing stale to show")
    service = make_service(dev_ini=False, php_settings=("opcache.revalidate_freq=2",))
    seen = _edits_seen(service, forum)
    assert any(wanted != ran for wanted, ran in seen), seen


def test_status_explains_how_fresh_code_is_ensured(php: str) -> None:
    from mybb_mcp.config import DEFAULT_PHP_SETTINGS

    text = fresh_code_explanation(DEFAULT_PHP_SETTINGS, probe_php(php))
    assert "same second" in text or "no OPcache" in text
    stale = fresh_code_explanation(("opcache.revalidate_freq=2",), probe_php(php))
    assert "old code" in stale or "no OPcache" in stale
