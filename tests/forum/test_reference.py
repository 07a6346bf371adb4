"""`mybb_forum_reference` / `mybb-server ref` on a real MyBB 1.8.37: exact places (checked against an
independent scan of the same files), the sets a template exists in, settings as they are now, a plugin's
own functions, templates and strings found once it is placed, a search kept short, the version named."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mybb_mcp.answers.commands import MCP_COMMANDS
from mybb_mcp.answers.reference import SEARCH_BUDGET, render_reference
from mybb_mcp.forum.php import PhpRunError
from mybb_mcp.forum.reference import database_view, read_database
from mybb_mcp.orchestration import ServerOrchestrationService
from tests.fixtures.real_mybb import RealForum, archive_path

pytestmark = pytest.mark.skipif(not archive_path().is_file(), reason=f"MyBB release archive not found at "
                                                                    f"{archive_path()} (set MYBB_TEST_ARCHIVE)")


def ref(forum: RealForum, *words: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYBB_")}
    return subprocess.run([sys.executable, "-m", "mybb_mcp.cli", "ref", *words], check=False, cwd=forum.root.parent,
                          env={**env, **forum.env()}, capture_output=True, text=True, timeout=60)


def grep(root: Path, pattern: str) -> list[str]:
    """file:line of every line matching `pattern` in the forum's .php files: the independent scan."""
    found = []
    compiled = re.compile(pattern)
    for path in sorted(root.rglob("*.php")):
        for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), 1):
            if compiled.search(line):
                found.append(f"{path.relative_to(root)}:{number}")
    return found


def test_a_function_answers_its_signature_file_line_and_doc(real_forum: RealForum) -> None:
    done = ref(real_forum, "build_postbit")
    assert done.returncode == 0, done.stderr
    (place,) = grep(real_forum.root, r"^function build_postbit\(")
    assert "(MyBB 1.8.37)" in done.stdout.splitlines()[0]
    assert f"`build_postbit($post, $post_type=0)` — {place} — `Build a post bit`" in done.stdout, done.stdout
    method = ref(real_forum, "function", "parse_message").stdout
    (place,) = grep(real_forum.root, r"^\s+function parse_message\(")
    assert "`postParser::parse_message`" in method and place in method


def test_a_template_answers_its_sets_and_the_code_rendering_it(real_forum: RealForum) -> None:
    done = ref(real_forum, "template", "postbit")
    assert done.returncode == 0, done.stderr
    assert "Exists in: master (-2). Inherited from the master by: Default Templates (1)." in done.stdout
    sites = grep(real_forum.root, r"""\$templates->get\(["']postbit["']""")
    assert sites and all(f"- {site}" in done.stdout for site in sites), (sites, done.stdout)
    assert done.stdout.count("\n- ") == len(sites)
    # Whatever is called postbit, without a kind: the template is among the answers.
    assert "## Template `postbit`" in ref(real_forum, "postbit").stdout


def test_a_template_copied_into_a_set_names_that_set(real_forum: RealForum) -> None:
    service = ServerOrchestrationService(real_forum.config())
    service.workbench.replace_in_template("header", "<navigation>", "<navigation> X", None, True)
    text = render_reference(service.forum.reference("template", "header"), MCP_COMMANDS)
    assert "Exists in: master (-2), Default Templates (1)." in text and "Inherited" not in text


def test_settings_caches_and_strings_as_the_forum_has_them_now(real_forum: RealForum) -> None:
    service = ServerOrchestrationService(real_forum.config())
    service.workbench.eval_php("$db->update_query('settings', array('value' => 'Renamed Board'), \"name='bbname'\"); "
                     "rebuild_settings();", 10)
    setting = ref(real_forum, "setting", "bbname").stdout
    assert "group `details`" in setting and "type `text`" in setting and "`Renamed Board`" in setting
    cache = ref(real_forum, "cache", "usergroups").stdout
    (place,) = grep(real_forum.root, r"function update_usergroups\(")
    assert f"`datacache::update_usergroups()` ({place})" in cache and "Stored: yes" in cache
    lang = ref(real_forum, "lang", "toplinks_search").stdout
    assert "inc/languages/english/global.lang.php:" in lang and "`Search`" in lang


PLUGIN = """<?php
if(!defined('IN_MYBB')) { die('no'); }

/**
 * Shows the reference box under each post.
 *
 * @param array $post
 */
function refplug_box(&$post, $style = 'plain')
{
	global $templates;
	eval('$post[\\'refbox\\'] = "'.$templates->get('refplug_box').'";');
}
"""


def test_a_plugin_placed_is_found_at_once(real_forum: RealForum) -> None:
    service = ServerOrchestrationService(real_forum.config())
    assert not service.forum.reference("function", "refplug_box").functions
    (real_forum.root / "inc" / "plugins" / "refplug.php").write_text(PLUGIN)
    lang = real_forum.root / "inc" / "languages" / "english" / "refplug.lang.php"
    lang.write_text("<?php\n$l['refplug_title'] = \"Reference box\";\n")
    answer = service.forum.reference("function", "refplug_box")
    (found,) = answer.functions
    assert (found.file, found.line) == ("inc/plugins/refplug.php", 9)
    assert found.signature == "refplug_box(&$post, $style = 'plain')"
    assert found.doc == "Shows the reference box under each post."
    template = render_reference(service.forum.reference("template", "refplug_box"), MCP_COMMANDS)
    assert "no set (not in the database)" in template and "- inc/plugins/refplug.php:12" in template
    strings = service.forum.reference("lang", "refplug_title").lang
    assert strings and strings[0][1][0].file == "inc/languages/english/refplug.lang.php"


def test_an_unknown_name_says_so_with_the_closest_names(real_forum: RealForum) -> None:
    done = ref(real_forum, "postbitt")
    assert done.returncode == 1
    assert "No hook, function, template, setting, cache or language string is called `postbitt`" in done.stdout
    assert "`postbit`" in done.stdout.split("Closest:")[1]


def test_a_search_is_ranked_and_short(real_forum: RealForum) -> None:
    done = ref(real_forum, "search", "postbit")
    assert done.returncode == 0
    assert len(done.stdout) <= SEARCH_BUDGET
    lines = done.stdout.splitlines()
    assert lines[2:5] == ["- hook `postbit` — inc/functions_post.php:898",  # exact names first, then by kind
                          "- template `postbit` — rendered at inc/functions_post.php:951",
                          "- lang `postbit` — inc/languages/english/admin/config_profile_fields.lang.php: Postbit?"]
    assert "more match" in done.stdout


def test_the_index_states_its_size(real_forum: RealForum) -> None:
    done = ref(real_forum)
    assert done.returncode == 0 and "templates in 3 sets" in done.stdout and "settings" in done.stdout


def test_over_mcp_the_reference_answers_and_refuses_a_mixed_question(real_forum: RealForum,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from mybb_mcp.server import server

    for key in [k for k in os.environ if k.startswith("MYBB_") and k != "MYBB_TEST_ARCHIVE"]:
        monkeypatch.delenv(key)
    for key, value in real_forum.env().items():
        monkeypatch.setenv(key, value)

    async def go() -> tuple[str, str, bool, str, bool]:
        async with Client(server) as client:
            good = await client.call_tool("mybb_forum_reference", {"kind": "function", "name": "build_postbit"})
            mixed = await client.call_tool("mybb_forum_reference", {"name": "postbit", "search": "post"})
            kind = await client.call_tool("mybb_forum_reference", {"kind": "widget", "name": "x"})
            return (good.content[0].text, mixed.content[0].text, bool(mixed.is_error),  # type: ignore[union-attr]
                    kind.content[0].text, bool(kind.is_error))  # type: ignore[union-attr]

    good, mixed, mixed_error, kind, kind_error = anyio.run(go)
    assert good.startswith("# MyBB Reference: function `build_postbit` (MyBB 1.8.37)"), good
    assert mixed_error and "`search` alone" in mixed
    assert kind_error and "`kind`" in kind


def test_hooks_equal_an_independent_scan_plugins_own_included(real_forum: RealForum) -> None:
    from tests.forum.test_hook_index import PLUGIN_WITH_HOOKS, tokenizer_sites

    service = ServerOrchestrationService(real_forum.config())
    assert not service.forum.reference("hook", "hookful_start").hooks
    real_forum.add_plugin("hookful", PLUGIN_WITH_HOOKS, activate=False)  # placed, not even active
    expected = tokenizer_sites(real_forum.php, real_forum.root)
    literal = {name for _file, _line, name in expected if name != "*"}
    computed = sorted(f"{file}:{line}" for file, line, name in expected if name == "*")

    size = ref(real_forum, "hook").stdout
    assert (f"{len(literal):,} hooks, {len(expected) - len(computed):,} call sites, {len(computed):,} built at run "
            "time") in size, size
    assert all(f"- {place} — name" in size for place in computed), size

    sample = sorted(literal)[::60] + ["postbit", "hookful_start", "hookful_legacy"]
    for name in sample:
        answer = service.forum.reference("hook", name)
        (hit,) = answer.hooks
        assert {(s.file, s.line) for s in hit.sites} == {(f, ln) for f, ln, n in expected if n == name}, name

    own = ref(real_forum, "hook", "hookful_start").stdout
    assert "- inc/plugins/hookful.php:12 — arguments by reference `$args`" in own, own
    built = ref(real_forum, "hook", "hookful_save_end").stdout
    assert "can be this one" in built and "inc/plugins/hookful.php:16" in built, built
    both = ref(real_forum, "postbit").stdout
    assert "## Hook `postbit`: 1 call site(s), 1 by reference" in both and "## Template `postbit`" in both
    assert "- inc/functions_post.php:898 — arguments by reference `$post`" in both


def test_the_database_look_up_is_read_as_reference_php_writes_it(real_forum: RealForum, php: str) -> None:
    db = read_database(real_forum.root, php, ())
    assert db.version == "1.8.37"
    assert db.sets[-2] == "master" and db.sets[-1] == "global"
    assert -2 in db.templates["postbit"]
    bbname = db.settings["bbname"]
    assert (bbname.name, bbname.group, bbname.type) == ("bbname", "details", "text")
    assert db.caches["usergroups"] > 0


@pytest.mark.parametrize("result", [
    [1, 2],  # not an object
    {"sets": ["master"]},  # a list where PHP writes an object keyed by sid
    {"settings": [{"name": "bbname"}]},  # a setting without its title, group ...
    {"settings": [{"name": "x", "title": [], "group": "", "group_title": "", "type": "", "value": "",
                   "description": ""}]},  # a title that is no text
    {"templates": {"postbit": "-2"}},  # sids not a list
    {"caches": {"usergroups": "many"}},  # a size that is no number
    {"version": {"major": 1}},
])
def test_a_database_look_up_in_another_shape_is_a_php_run_error(result: object) -> None:
    """What PHP answered is checked where it is read: the answer then says the database part is missing, why."""
    with pytest.raises(PhpRunError, match="shape reference.php does not write"):
        database_view(result)


def test_an_empty_php_array_is_an_empty_mapping() -> None:
    """PHP encodes an empty array as [] where a full one is an object."""
    db = database_view({"version": "1.8.37", "sets": {"-2": "master"}, "templates": [], "settings": [], "caches": []})
    assert (db.version, db.sets, db.templates, db.settings, db.caches) == ("1.8.37", {-2: "master"}, {}, {}, {})
