"""Templates: read a template in every set, and change it with MyBB's own find_replace_templatesets().

`get` shows the master template (sid -2) and every copy (global -1, the template sets), and whether a
copy differs from the master. `replace` is a dry run unless `apply`: it selects exactly the templates
find_replace_templatesets() would touch (the sets' own copies, and the sets that inherit the master,
which get a new copy) and shows the diff; with `apply` MyBB's function makes the change. `find` and
`replace` are literal text (quoted for preg_replace, as plugins do with preg_quote). Every copy it would
write passes MyBB's own check_template() first, as in the Admin CP's editor: MyBB evaluates templates as
PHP, so a refused one (`{${system('id')}}`) is never written, and the dry run says so too. The PHP is
templates.php beside this module.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidArgument, MybbMcpError
from ..forum.php import PhpRunError, run_mybb_php
from .php_json import JsonObject, answer_object, int_at, items, objects, str_at, to_int

MASTER_SID, GLOBAL_SID = -2, -1
TITLE = re.compile(r"[A-Za-z0-9_\-. ]{1,120}")


class TemplateProblem(MybbMcpError):
    """MyBB's code did not run, or the template does not exist."""


class TemplateRefused(MybbMcpError):
    """MyBB's check_template() refuses a template the replacement would write: nothing was written."""


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


_PHP_FILE = Path(__file__).with_name("templates.php")


@dataclass(frozen=True)
class _Stored:
    """A row of the templates table for the title, as templates.php reads it (`set`: the set's name)."""

    sid: int
    set: str
    template: str
    version: str


@dataclass(frozen=True)
class _Read:
    copies: list[_Stored]
    sets: dict[int, str]  # the template sets (sid > 0), in MyBB's order
    similar: list[str]


def _check_title(title: str) -> str:
    if not isinstance(title, str) or not TITLE.fullmatch(title):
        raise InvalidArgument(f"{title!r} is not a template title.",
                              "Titles are like postbit, header, index_boardstats.")
    return title


def _run(root: Path, data: dict[str, object], php: str, php_settings: Sequence[str]) -> JsonObject:
    code = _PHP_FILE.read_text("utf-8").removeprefix("<?php")
    try:
        result = run_mybb_php(root, code, data, php=php, php_settings=php_settings).result
    except PhpRunError as exc:
        raise TemplateProblem(exc.message, exc.hint) from None
    return answer_object(result)


def _read(root: Path, title: str, php: str, php_settings: Sequence[str]) -> _Read:
    data = _run(root, {"action": "read", "title": title}, php, php_settings)
    copies = [_Stored(int_at(c, "sid"), str_at(c, "set"), str_at(c, "template"), str_at(c, "version"))
              for c in objects(data.get("copies"))]
    sets = {int_at(s, "sid"): str_at(s, "set") for s in objects(data.get("sets"))}
    return _Read(copies, sets, [str(t) for t in items(data.get("similar"))])


def _refuse(title: str, refused: Sequence[int], names: dict[int, str], applying: bool) -> TemplateRefused:
    sets = ", ".join(f"{names.get(sid, f'set {sid}')} ({sid})" for sid in refused)
    return TemplateRefused(
        f"MyBB's check_template() refuses the {title!r} template this replacement would write in {sets}: "
        "MyBB evaluates every template as PHP, and the Admin CP's template editor refuses such text as a security "
        f"problem. Nothing was changed{'' if applying else ' (a dry run)'}.",
        "Use plain variables such as `{$mybb->settings['bbname']}` or `{$lang->welcome_back}`; no `${...}`, calls or "
        "`$config[...]`. Code belongs in a plugin (its hooks set the variables a template prints).")


def get_template(root: Path, title: str, php: str = "php", php_settings: Sequence[str] = ()) -> TemplateView:
    title = _check_title(title)
    data = _read(root, title, php, php_settings)
    master = next((c.template for c in data.copies if c.sid == MASTER_SID), None)
    ordered = sorted(data.copies, key=lambda c: (c.sid != MASTER_SID, c.sid))
    return TemplateView(title, [TemplateCopy(c.sid, c.set, c.template, c.sid != MASTER_SID and c.template != master,
                                             c.version)
                                for c in ordered], data.similar)


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
    copies = data.copies
    if not any(c.sid == MASTER_SID for c in copies) and not copies:
        similar = ", ".join(data.similar) or "none"
        raise TemplateProblem(f"No template is titled {title!r}. Similar titles: {similar}.",
                              "Check the title (mybb_forum_templates get).")
    if sid is not None and sid not in data.sets:
        raise InvalidArgument(f"There is no template set {sid}.", "Pass a set id from `get`, or none for every set.")
    # The selection of find_replace_templatesets(): own copies of the sets (and global, for every set).
    own = [c for c in copies if (c.sid == sid if sid is not None else (c.sid > 0 or c.sid == GLOBAL_SID))]
    changes: list[TemplateChange] = []
    untouched: list[str] = []
    for copy in own:
        new = copy.template.replace(find, replace)
        if new == copy.template:
            untouched.append(copy.set)
        else:
            changes.append(TemplateChange(copy.sid, copy.set, "update", _diff(copy.template, new, copy.set)))
    master = next((c for c in copies if c.sid == MASTER_SID), None)
    master_matches = master is not None and find in master.template
    if master is not None and master_matches:
        have = {c.sid for c in copies}
        for set_sid, set_name in data.sets.items():
            if set_sid not in have and (sid is None or set_sid == sid):
                changes.append(TemplateChange(set_sid, set_name, "create",
                                              _diff(master.template, master.template.replace(find, replace),
                                                    f"{set_name} (from master)")))
    if changes:  # MyBB's check_template() on every copy it would write; with `apply`, the write in the same run
        done = _run(root, {"action": "apply" if apply else "check", "title": title, "find": find, "replace": replace,
                           "sid": sid}, php, php_settings)
        refused = [to_int(r) for r in items(done.get("refused"))]
        if refused:
            names = {c.sid: c.set for c in copies} | data.sets
            raise _refuse(title, refused, names, apply)
    return TemplateReplace(title, find, replace, apply and bool(changes), changes, untouched, master_matches)
