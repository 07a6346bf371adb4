"""Every error kind on a PHP build without Xdebug: the notices and deprecations MyBB's handler switches
off reach the server log (logged by the tool's error channel in PHP's own format) and the page answer,
with the plugin's file:line, on PHP 7.4 and 8.4."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mybb_mcp.answers.request import render_page_result
from mybb_mcp.forum.requests import PageRequest
from mybb_mcp.orchestration import LogQueryOptions, ServerOrchestrationService
from tests.fixtures.real_mybb import RealForum

PLUGIN = "buildnoise"
# Line numbers below are the plugin's: keep them in step with the source.
PLUGIN_SOURCE = """<?php
if(!defined("IN_MYBB")) { die("Direct access not allowed."); }
$plugins->add_hook("global_start", "buildnoise_raise");
function buildnoise_info() { return array("name" => "buildnoise", "version" => "1", "compatibility" => "18*"); }
function buildnoise_raise()
{
	$which = $_GET['noise'] ?? '';
	$a = array();
	if($which == 'index') { echo $a['missing']; }
	if($which == 'interp') { echo "x${which}y"; }
	if($which == 'silenced') { echo @$a['missing']; }
}
"""
PLACE = f"inc/plugins/{PLUGIN}.php"


def _serve(forum: RealForum, php: Path, version: str, cache: Path) -> Iterator[ServerOrchestrationService]:
    forum.add_plugin(PLUGIN, PLUGIN_SOURCE)
    service = ServerOrchestrationService(replace(forum.config(), php=str(php), php_version=version, cache_dir=cache))
    started = service.start()
    assert started.success, started.message
    try:
        yield service
    finally:
        service.stop(force=True)


@pytest.fixture
def on_74(real_forum: RealForum, php74: Path, build_cache: Path) -> Iterator[ServerOrchestrationService]:
    yield from _serve(real_forum, php74, "7.4", build_cache)


@pytest.fixture
def on_84(real_forum: RealForum, php84: Path, build_cache: Path) -> Iterator[ServerOrchestrationService]:
    yield from _serve(real_forum, php84, "8.4", build_cache)


def _page(service: ServerOrchestrationService, noise: str) -> str:
    page = service.forum.request_page(PageRequest("index.php", query=(("noise", noise),)))
    assert page.errors_known, render_page_result(page)
    return render_page_result(page)


def test_an_undefined_index_notice_reaches_the_log_and_the_page_on_php_74(on_74: ServerOrchestrationService) -> None:
    answer = _page(on_74, "index")
    assert "Undefined index: missing" in answer and f"{PLACE}:9" in answer, answer
    logged = on_74.logs.search_logs(LogQueryOptions(errors_only=True)).entries
    notices = [e for e in logged if "Undefined index: missing" in e.message]
    assert len(notices) == 1 and notices[0].level == "notice" and notices[0].place == f"{PLACE}:9", logged
    # A notice the page silenced with @ stays silent, as PHP keeps it.
    assert "Undefined index" not in _page(on_74, "silenced")
    status = on_74.get_status()
    assert status.visibility is not None and status.visibility.hidden == ()


def test_a_dollar_brace_deprecation_reaches_the_log_and_the_page_on_php_84(on_84: ServerOrchestrationService) -> None:
    answer = _page(on_84, "interp")
    words = "Using ${var} in strings is deprecated, use {$var} instead"
    assert words in answer and f"{PLACE}:10" in answer, answer
    logged = on_84.logs.search_logs(LogQueryOptions(errors_only=True)).entries
    deprecated = [e for e in logged if words in e.message]
    assert deprecated and deprecated[0].level == "deprecated" and deprecated[0].place == f"{PLACE}:10", logged
