"""The hook index against an independent scan (PHP's own tokenizer), on a real MyBB with plugins' own hooks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mybb_mcp.forum.hook_index import HookIndex, hook_index, name_pattern, scan_source
from tests.fixtures.real_mybb import RealForum

TOKENIZER_SCAN = Path(__file__).with_name("hook_sites.php")

# A plugin that runs hooks of its own, in every shape the scan must read right.
PLUGIN_WITH_HOOKS = r"""<?php
// $plugins->run_hooks('in_a_comment');
/* $plugins->run_hooks('in_a_block_comment'); */
$text = "$plugins->run_hooks('in_a_string')";
$doc = <<<EOT
$plugins->run_hooks('in_a_heredoc');
EOT;
function hookful_start()
{
	global $plugins, $mybb;
	$args = array('uid' => $mybb->user['uid']);
	$plugins->run_hooks(
		'hookful_start',
		$args
	);
	$plugins->run_hooks("hookful_{$mybb->input['action']}_end");
	$plugins->run_hooks('hookful_' . $mybb->input['page'] . '_done', $args);
	$plugins->run_hooks_by_ref('hookful_legacy', $args);
	$plugins->run_hooks($mybb->input['hook']);
}
?>
<p>$plugins->run_hooks('in_html_outside_php');</p>
"""


def tokenizer_sites(php: str, root: Path) -> set[tuple[str, int, str]]:
    output = subprocess.run([php, str(TOKENIZER_SCAN), str(root)], capture_output=True, text=True, check=True,
                            timeout=120).stdout
    sites = set()
    for row in output.splitlines():
        file, line, name = row.split("\t")
        sites.add((file, int(line), name))
    return sites


def index_sites(index: HookIndex) -> set[tuple[str, int, str]]:
    return {(site.file, site.line, "*" if site.computed else site.name) for site in index.sites}


def test_index_equals_an_independent_scan_plugins_own_hooks_included(real_forum: RealForum) -> None:
    real_forum.add_plugin("hookful", PLUGIN_WITH_HOOKS, activate=False)
    index = hook_index(real_forum.root)
    expected = tokenizer_sites(real_forum.php, real_forum.root)
    assert len(index.sites) == len(expected) > 1200  # MyBB 1.8.37 alone runs hooks at 1,244 places
    assert index_sites(index) == expected
    plugin = {site.line: site for site in index.sites if site.file == "inc/plugins/hookful.php"}
    assert sorted(plugin) == [12, 16, 17, 18, 19]  # nothing from comments, strings, heredocs or HTML
    assert plugin[12].name == "hookful_start" and plugin[12].arguments == "$args" and plugin[12].by_ref
    assert plugin[16].computed and plugin[16].pattern == "hookful_*_end"
    assert plugin[17].computed and plugin[17].pattern == "hookful_*_done"
    assert plugin[18].name == "hookful_legacy" and plugin[18].by_ref
    assert plugin[19].computed and plugin[19].pattern is None
    assert [site.place for site in index.find("hookful_save_end")] == ["inc/plugins/hookful.php:16"]
    assert index.closest("hookful_strat") == "hookful_start"
    assert [site.place for site in index.find("postbit")] == ["inc/functions_post.php:898"]


def test_index_follows_the_files_as_they_change(real_forum: RealForum) -> None:
    before = hook_index(real_forum.root)
    assert "hookful_start" not in before.literal_names()
    path = real_forum.add_plugin("hookful", PLUGIN_WITH_HOOKS, activate=False)
    assert "hookful_start" in hook_index(real_forum.root).literal_names()
    path.write_text(PLUGIN_WITH_HOOKS.replace("'hookful_start'", "'hookful_begin'"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    after = hook_index(real_forum.root).literal_names()
    assert "hookful_begin" in after and "hookful_start" not in after
    path.unlink()
    assert len(hook_index(real_forum.root).sites) == len(before.sites)


def test_a_linked_folder_is_not_followed(real_forum: RealForum, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.php").write_text("<?php $plugins->run_hooks('from_outside');")
    (real_forum.root / "inc" / "plugins" / "linked").symlink_to(outside)
    assert "from_outside" not in hook_index(real_forum.root).literal_names()


def test_names_built_at_run_time_get_a_pattern_when_their_parts_allow() -> None:
    assert name_pattern('"admin_{$module}_begin"') == "admin_*_begin"
    assert name_pattern("'datahandler_'.$this->name.'_validate'") == "datahandler_*_validate"
    assert name_pattern("$hook") is None
    assert name_pattern("$a ? 'x_start' : 'x_end'") is None
    sites = scan_source("<?php $plugins -> run_hooks ( 'spaced' ) ; # $plugins->run_hooks('hash');\n", "a.php")
    assert [(site.name, site.line, site.arguments, site.by_ref) for site in sites] == [("spaced", 1, "", False)]
