"""Templates: read a template in every set, and change it with MyBB's own find_replace_templatesets().

`get` shows the master template (sid -2) and every copy (global -1, the template sets), and whether a
copy differs from the master. `replace` is a dry run unless `apply`: it selects exactly the templates
find_replace_templatesets() would touch (the sets' own copies, and the sets that inherit the master,
which get a new copy) and shows the diff; with `apply` MyBB's function makes the change. `find` and
`replace` are literal text (quoted for preg_replace here, as plugins do with preg_quote).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidArgument, MybbMcpError
from ..forum.php import PhpRunError, run_mybb_php

MASTER_SID, GLOBAL_SID = -2, -1
TITLE = re.compile(r"[A-Za-z0-9_\-. ]{1,120}")


class TemplateProblem(MybbMcpError):
    """MyBB's code did not run, or the template does not exist."""


@dataclass(frozen=True)
class TemplateCopy:
    sid: int
    set_name: str
    template: str
    modified: bool  # differs from the master (for the master itself: False)
    version: str = ""


@dataclass(frozen=True)
class TemplateView:
    title: str
    copies: list[TemplateCopy]  # master first
    similar: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TemplateChange:
    sid: int
    set_name: str
    action: str  # "update" (the set's own copy) or "create" (a copy for a set inheriting the master)
    diff: list[str]


@dataclass(frozen=True)
class TemplateReplace:
    title: str
    find: str
    replace: str
    applied: bool
    changes: list[TemplateChange]
    untouched: list[str]  # sets whose copy does not contain `find`
    master_matches: bool


_READ = r"""
$title = $input['title'];
$names = array(-2 => 'master', -1 => 'global');
$q = $db->simple_select('templatesets', 'sid, title');
while ($s = $db->fetch_array($q)) { $names[(int)$s['sid']] = $s['title']; }
$copies = array();
$q = $db->simple_select('templates', 'sid, template, version', "title = '" . $db->escape_string($title) . "'",
                        array('order_by' => 'sid'));
while ($t = $db->fetch_array($q)) {
    $copies[] = array('sid' => (int)$t['sid'], 'set' => $names[(int)$t['sid']] ?? ('set ' . $t['sid']),
                      'template' => $t['template'], 'version' => (string)$t['version']);
}
$sets = array();
foreach ($names as $sid => $name) { if ($sid > 0) { $sets[] = array('sid' => $sid, 'set' => $name); } }
$similar = array();
if (!$copies) {
    $word = $db->escape_string(substr($title, 0, 40));
    $q = $db->simple_select('templates', 'DISTINCT title', "sid = -2 AND title LIKE '%{$word}%'",
                            array('order_by' => 'title', 'limit' => 15));
    while ($t = $db->fetch_array($q)) { $similar[] = $t['title']; }
}
$result = array('copies' => $copies, 'sets' => $sets, 'similar' => $similar);
"""

_APPLY = r"""
require_once MYBB_ROOT . 'inc/adminfunctions_templates.php';
$pattern = '#' . preg_quote($input['find'], '#') . '#';
$replacement = str_replace(array('\\', '$'), array('\\\\', '\\$'), $input['replace']);
$sid = $input['sid'] === null ? false : (int)$input['sid'];
$result = array('changed' => (bool)find_replace_templatesets($input['title'], $pattern, $replacement, 1, $sid));
"""


def _check_title(title: str) -> str:
    if not isinstance(title, str) or not TITLE.fullmatch(title):
        raise InvalidArgument(f"{title!r} is not a template title.", "Titles are like postbit, header, index_boardstats.")
    return title


def _read(root: Path, title: str, php: str, php_settings: Sequence[str]) -> dict:
    try:
        return run_mybb_php(root, _READ, {"title": title}, php=php, php_settings=php_settings).result or {}
    except PhpRunError as exc:
        raise TemplateProblem(exc.message, exc.hint) from None


def get_template(root: Path, title: str, php: str = "php", php_settings: Sequence[str] = ()) -> TemplateView:
    title = _check_title(title)
    data = _read(root, title, php, php_settings)
    copies = data.get("copies") or []
    master = next((c["template"] for c in copies if c["sid"] == MASTER_SID), None)
    ordered = sorted(copies, key=lambda c: (c["sid"] != MASTER_SID, c["sid"]))
    return TemplateView(title, [TemplateCopy(c["sid"], c["set"], c["template"],
                                             c["sid"] != MASTER_SID and c["template"] != master, c["version"])
                                for c in ordered], list(data.get("similar") or []))


def _diff(old: str, new: str, label: str) -> list[str]:
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"{label} (now)", f"{label} (after)",
                                     n=2, lineterm=""))


def replace_in_template(root: Path, title: str, find: str, replace: str, sid: int | None = None, apply: bool = False,
                        php: str = "php", php_settings: Sequence[str] = ()) -> TemplateReplace:
    """What find_replace_templatesets() would change (and with `apply`, the change made by it)."""
    title = _check_title(title)
    if not find:
        raise InvalidArgument("`find` is empty.", "Pass the text to look for, e.g. {$post['message']}.")
    data = _read(root, title, php, php_settings)
    copies = data.get("copies") or []
    if not any(c["sid"] == MASTER_SID for c in copies) and not copies:
        similar = ", ".join(data.get("similar") or []) or "none"
        raise TemplateProblem(f"No template is titled {title!r}. Similar titles: {similar}.",
                              "Check the title (mybb_forum_templates get).")
    if sid is not None and sid not in {s["sid"] for s in data.get("sets") or []}:
        raise InvalidArgument(f"There is no template set {sid}.", "Pass a set id from `get`, or none for every set.")
    # The selection of find_replace_templatesets(): own copies of the sets (and global, for every set).
    own = [c for c in copies if (c["sid"] == sid if sid is not None else (c["sid"] > 0 or c["sid"] == GLOBAL_SID))]
    changes, untouched = [], []
    for copy in own:
        new = copy["template"].replace(find, replace)
        if new == copy["template"]:
            untouched.append(copy["set"])
        else:
            changes.append(TemplateChange(copy["sid"], copy["set"], "update", _diff(copy["template"], new, copy["set"])))
    master = next((c for c in copies if c["sid"] == MASTER_SID), None)
    master_matches = master is not None and find in master["template"]
    if master_matches:
        have = {c["sid"] for c in copies}
        for s in data.get("sets") or []:
            if s["sid"] not in have and (sid is None or s["sid"] == sid):
                changes.append(TemplateChange(s["sid"], s["set"], "create",
                                              _diff(master["template"], master["template"].replace(find, replace),
                                                    f"{s['set']} (from master)")))
    if apply and changes:
        try:
            run_mybb_php(root, _APPLY, {"title": title, "find": find, "replace": replace, "sid": sid},
                         php=php, php_settings=php_settings)
        except PhpRunError as exc:
            raise TemplateProblem(exc.message, exc.hint) from None
    return TemplateReplace(title, find, replace, apply and bool(changes), changes, untouched, master_matches)
