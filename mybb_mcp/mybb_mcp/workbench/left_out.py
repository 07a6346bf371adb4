"""Errors a request raised only because plugins were left out of it (`plugins` of mybb_server_request):
a template or script reading a variable, key or property that a left-out plugin's code sets, or calling
a function or class it defines.

Told by the name the message gives (`Undefined variable $banner`, `Undefined array key "banner"`,
`Undefined property: MyBB::$banner`, `Attempt to read property "banner"`; `Call to undefined function
banner_html()`, `Class "Banner" not found`) and the left-out plugin's own files mentioning it (`$banner`,
`'banner'`, `->banner`; `function banner_html(`, `class Banner`). A name no left-out plugin mentions
stays the page's own error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..forum.php import PLUGIN_NAME

_NAMED = (
    re.compile(r"Undefined variable:? \$?(\w+)"),
    re.compile(r"Undefined (?:array key|index):? \"?'?(\w+)"),
    re.compile(r"Undefined property: [\w\\]+::\$(\w+)"),
    re.compile(r"Attempt to read property \"(\w+)\""),
)
# What another plugin or a template calls of the left-out plugin's code: it is not defined on such a load.
_DEFINED = (
    re.compile(r"Call to undefined function (\w+)\(\)"),
    re.compile(r"Class \"?([\w\\]+?)\"? not found"),
)
MAX_SOURCE_BYTES = 2 * 1024 * 1024  # of one plugin's files read
MAX_FILES = 200
_LEVELS = ("warning", "notice", "deprecated")
_STOPS = ("fatal", "exception", "error")


def named_in(message: str) -> str | None:
    """The variable, key or property a warning says is missing."""
    first = message.split("\n", 1)[0]
    for pattern in _NAMED:
        match = pattern.search(first)
        if match:
            return match.group(1)
    return None


def defined_in(message: str) -> str | None:
    """The function or class an error says does not exist."""
    first = message.split("\n", 1)[0]
    for pattern in _DEFINED:
        match = pattern.search(first)
        if match:
            return match.group(1).rsplit("\\", 1)[-1]
    return None


def plugin_source(root: Path, name: str) -> str:
    """The text of a plugin's main file and the files of its folder (inc/plugins/NAME/), bounded."""
    base = Path(root) / "inc" / "plugins"
    files = [base / f"{name}.php"]
    folder = base / name
    if folder.is_dir() and not folder.is_symlink():
        files += sorted(folder.rglob("*.php"))[:MAX_FILES]
    text, left = [], MAX_SOURCE_BYTES
    for path in files:
        try:
            with open(path, "rb") as handle:
                data = handle.read(left)
        except OSError:
            continue
        text.append(data.decode("utf-8", "replace"))
        left -= len(data)
        if left <= 0:
            break
    return "\n".join(text)


def left_out_plugins(root: Path, option: str | Sequence[str] | None, skipped: Iterable[str] = ()) -> list[str]:
    """The plugins a request left out: the codenames asked (those MyBB would have loaded first), or for
    "none" every plugin file in inc/plugins/."""
    if option is None:
        return []
    if option == "none":
        base = Path(root) / "inc" / "plugins"
        try:
            return sorted(p.stem for p in base.glob("*.php") if PLUGIN_NAME.fullmatch(p.stem))[:MAX_FILES]
        except OSError:
            return []
    skipped = list(skipped)
    return [name for name in option if name in skipped] or list(option)


def mark_left_out(groups: Iterable[Any], root: Path, plugins: Sequence[str]) -> list[str]:
    """Set `left_out_by` on each error a left-out plugin's code explains (a variable, key or property it sets;
    a function or class it defines); their fingerprint keys."""
    if not plugins:
        return []
    sources: dict[str, str] = {}
    keys = []
    for group in groups:
        message = str(group.example.message)
        if group.fingerprint.kind in _LEVELS and (name := named_in(message)) is not None:
            mention = re.compile(r"\$" + re.escape(name) + r"\b|['\"]" + re.escape(name) + r"['\"]|->"
                                 + re.escape(name) + r"\b")
        elif group.fingerprint.kind in _STOPS and (name := defined_in(message)) is not None:
            mention = re.compile(r"\b(?:function|class|interface|trait)\s+&?" + re.escape(name) + r"\b",
                                 re.IGNORECASE)
        else:
            continue
        for plugin in plugins:
            if plugin not in sources:
                sources[plugin] = plugin_source(root, plugin)
            if mention.search(sources[plugin]):
                group.left_out_by = plugin
                keys.append(group.key)
                break
    return keys
