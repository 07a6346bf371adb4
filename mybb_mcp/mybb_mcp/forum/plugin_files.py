"""Which plugin a forum file that is not MyBB's belongs to, by its codename: from the file's name (a
plugin's main file `inc/plugins/NAME.php`, its Admin CP module `admin/modules/config/NAME.php`, its
language file `NAME.lang.php`, its task `inc/tasks/NAME.php`, its own script `NAME.php` beside index.php)
and from what the plugins' main files name (the folder a main file loads, `inc/plugins/ougc/Awards/`, a
script it links to). None when no plugin can be tied to the file: the answer then says "your code".

The main files are read (bounded) at most every few seconds per forum: error origins are told per entry.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

from .php import PLUGIN_NAME

MAX_MAIN_BYTES = 256 * 1024
MAX_PLUGINS = 300
CACHE_SECONDS = 3.0
# MyBB 1.8's own Admin CP modules: a file in one of them named after a plugin is that plugin's page.
CORE_ADMIN_MODULES = frozenset({"config", "forum", "home", "style", "tools", "user"})

_cache: dict[str, tuple[float, int, dict[str, str]]] = {}  # root -> (read at, folder's mtime, texts)
_lock = threading.Lock()


def main_files(root: str | Path) -> dict[str, str] | None:
    """codename -> the text of inc/plugins/NAME.php (bounded); None when the folder cannot be read."""
    key = str(root)
    now = time.monotonic()
    folder = Path(root) / "inc" / "plugins"
    try:
        changed = os.stat(folder).st_mtime_ns  # a plugin added or removed: read again at once
    except OSError:
        return None
    with _lock:
        cached = _cache.get(key)
        if cached is not None and now - cached[0] < CACHE_SECONDS and cached[1] == changed:
            return cached[2]
    texts: dict[str, str] = {}
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix == ".php" and PLUGIN_NAME.fullmatch(p.stem))
    except OSError:
        return None
    for path in paths[:MAX_PLUGINS]:
        try:
            with open(path, "rb") as handle:
                text = handle.read(MAX_MAIN_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
        texts[path.stem] = text
    with _lock:
        _cache[key] = (now, changed, texts)
    return texts


def is_plugin(name: str, text: str) -> bool:
    """A plugin's main file: MyBB lists a file of inc/plugins/ as a plugin by its NAME_info()."""
    return re.search(r"function\s+" + re.escape(name) + r"_info\s*\(", text, re.IGNORECASE) is not None


def _mentioned(texts: dict[str, str], needles: list[str]) -> str | None:
    """The plugin whose main file names the most specific needle (a path, a file name); the one whose
    codename relates to it when several do."""
    for needle in needles:
        pattern = re.compile(r"(?<![\w.-])" + re.escape(needle) + r"(?![\w-])")
        found = [name for name, text in texts.items() if pattern.search(text)]
        if len(found) == 1:
            return found[0]
        if found:
            token = needle.rsplit("/", 1)[-1].split(".", 1)[0].lower()
            related = [name for name in found if token and (token in name.lower() or name.lower() in token)]
            return (related or found)[0]
    return None


def owner(root: str | Path, rel: str) -> str | None:
    """The codename of the plugin the forum-relative file `rel` (not one of MyBB's) belongs to."""
    parts = rel.split("/")
    texts = main_files(root)
    if texts is None:
        return None
    stem = parts[-1].removesuffix(".php")
    if len(parts) >= 3 and parts[:2] == ["inc", "plugins"]:
        if len(parts) == 3:  # a plugin's main file, or a file of its own another plugin's main file loads
            if stem in texts and not is_plugin(stem, texts[stem]):
                loader = _mentioned({n: t for n, t in texts.items() if n != stem and is_plugin(n, t)},
                                    ["/".join(parts[n:]) for n in range(3)])
                return loader or stem
            return stem
        if parts[2] in texts:
            return parts[2]
        # A vendor folder: the main file that loads this path, the deepest part of it it names.
        tail = parts[2:]
        return _mentioned(texts, ["/".join(tail[:n]) for n in range(len(tail), 0, -1)])
    if len(parts) >= 4 and parts[:2] == ["admin", "modules"]:
        if parts[2] not in CORE_ADMIN_MODULES:
            return parts[2]  # a module of its own: MyBB names it by the plugin's codename
        return stem if stem in texts else _mentioned(texts, [f"{parts[2]}/{parts[3]}", parts[3]])
    if parts[-1].endswith(".lang.php"):
        name = parts[-1][: -len(".lang.php")]
        return name if name in texts else _mentioned(texts, [f"load('{name}'", f'load("{name}"'])
    if stem in texts:
        return stem
    return _mentioned(texts, ["/".join(parts[n:]) for n in range(len(parts))])
