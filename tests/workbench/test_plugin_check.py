"""`check` knows every hook that runs: the names a plugin registers come from MyBB's own `$plugins->hooks`
once the plugin is loaded (front end and Admin CP), so names built in a loop count; the hooks that exist
are every run_hooks site of the forum (the hook index), other plugins' own included."""

from __future__ import annotations

import shutil

from mybb_mcp.answers.plugins import render_plugins
from mybb_mcp.workbench import plugins as workbench
from tests.workbench.admin_cp_twin import PLUGINS


def _add(real_forum, *names: str) -> None:
    for name in names:
        shutil.copyfile(PLUGINS / f"{name}.php", real_forum.root / "inc" / "plugins" / f"{name}.php")


def test_a_hook_another_plugin_runs_is_no_false_alarm(real_forum) -> None:
    _add(real_forum, "hooker", "listener")
    result = workbench.run(real_forum.root, "check", "listener", php=real_forum.php)
    assert result.ok, render_plugins(result)
    use, built = result.hooks
    assert (use.hook, use.known, use.line, use.computed_site) == ("hooker_ready", True, 11, False)
    assert use.runs_at == ("inc/plugins/hooker.php:11",)
    assert set(use.contexts) == {"front end", "Admin CP"}
    assert "runs at inc/plugins/hooker.php:11" in render_plugins(result)
    # A name only a site with a computed name can run: flagged as such, not called unknown.
    assert (built.hook, built.known, built.computed_site) == ("hooker_index_done", True, True)
    assert built.runs_at == ('inc/plugins/hooker.php:13 ("hooker_{$stage}_done")',)
    assert "it can run where a name is built at run time" in render_plugins(result)


def test_a_misspelt_hook_among_names_built_in_a_loop_is_found(real_forum) -> None:
    _add(real_forum, "hooker")
    result = workbench.run(real_forum.root, "check", "hooker", php=real_forum.php)
    assert not result.ok
    by_hook = {u.hook: u for u in result.hooks}
    assert set(by_hook) == {"index_start", "postbitt", "global_end"}
    wrong = by_hook["postbitt"]
    assert (wrong.known, wrong.suggestion, wrong.function) == (False, "postbit", "hooker\\hook_postbitt")
    assert wrong.defined_at == "inc/plugins/hooker.php:16" and wrong.line is None
    assert by_hook["index_start"].known is True and by_hook["index_start"].runs_at[0].startswith("index.php:")
    answer = render_plugins(result)
    assert "**unknown** `postbitt`" in answer and "Did you mean `postbit`" in answer
    assert "computed name" not in answer


def test_an_active_plugin_is_checked_from_what_mybb_loaded(real_forum) -> None:
    _add(real_forum, "hooker")
    installed = workbench.run(real_forum.root, "activate", "hooker", php=real_forum.php)
    assert installed.completed
    result = workbench.run(real_forum.root, "check", "hooker", php=real_forum.php)
    assert {u.hook for u in result.hooks} == {"index_start", "postbitt", "global_end"}
    assert [u.hook for u in result.hooks if u.known is False] == ["postbitt"]
