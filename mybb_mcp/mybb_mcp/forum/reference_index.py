"""The reference's index of a forum's PHP files: functions and methods (signature, file:line, the doc
comment's first line), the code rendering each template, language strings, and what writes each
datacache key. Read from every .php file under the forum root (MyBB's and every plugin's), without
running them.

Built once per forum and kept while no .php file changed (their sizes and modification times); a
change rebuilds it. Links are not followed (a link out of the forum would index someone else's files).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .php_text import call_end

MAX_FILE_BYTES = 4 * 2**20  # a generated PHP file larger than this is not MyBB's or a plugin's source
MAX_FILES = 20_000
SKIPPED_DIRS = {".git", "node_modules", "vendor"}


@dataclass(frozen=True)
class FunctionDef:
    name: str  # "build_postbit", or "Class::method"
    signature: str  # as written: "build_postbit($post, $post_type=0)"
    file: str  # relative to the forum root
    line: int
    doc: str  # the doc comment's first line ("" when none)


@dataclass(frozen=True)
class Site:
    """A place in the code: file:line and the expression written there."""

    file: str
    line: int
    text: str = ""

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class LangString:
    key: str
    file: str
    line: int
    value: str


@dataclass
class FileIndex:
    fingerprint: str
    files_scanned: int
    functions: dict[str, list[FunctionDef]] = field(default_factory=dict)  # lower-cased name -> defs
    template_sites: dict[str, list[Site]] = field(default_factory=dict)  # title -> $templates->get sites
    computed_template_sites: list[Site] = field(default_factory=list)  # names built at run time
    lang: dict[str, list[LangString]] = field(default_factory=dict)  # key -> strings (one per language file)
    cache_rebuilders: dict[str, list[Site]] = field(default_factory=dict)  # key -> datacache::update_* defs
    cache_writers: dict[str, list[Site]] = field(default_factory=dict)  # key -> $cache->update() sites
    seconds: float = 0.0


_FUNCTION = re.compile(
    r"^(?P<indent>[ \t]*)(?:(?:abstract|final|public|private|protected|static)\s+)*function\s+&?\s*"
    r"(?P<name>[A-Za-z_\x80-\xff][\w\x80-\xff]*)\s*\(", re.MULTILINE)
_CLASS = re.compile(r"^[ \t]*(?:(?:abstract|final|readonly)\s+)*(?:class|interface|trait)\s+([A-Za-z_]\w*)",
                    re.MULTILINE)
_TEMPLATE_GET = re.compile(r"""\$templates->get\(\s*(["'])((?:(?!\1).){1,200}?)\1""")
_TEMPLATE_DYNAMIC = re.compile(r"""\$templates->get\(\s*(\$[^,)]{1,120})""")
_LANG = re.compile(r"""^\$l\[(["'])([^"']{1,200})\1\]\s*=\s*(["'])((?:\\.|(?!\3).)*)\3\s*;""",
                   re.MULTILINE | re.DOTALL)
_CACHE_UPDATE = re.compile(r"""\$(?:cache|this)->update\(\s*(["'])([A-Za-z0-9_]{1,100})\1""")
_LITERAL_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def php_files(root: Path) -> list[tuple[str, int, int]]:
    """(relative path, size, mtime_ns) of every .php file under `root`, links not followed."""
    found: list[tuple[str, int, int]] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if not name.endswith(".php"):
                continue
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if not os.path.isfile(path) or os.path.islink(path) or info.st_size > MAX_FILE_BYTES:
                continue
            found.append((os.path.relpath(path, root), info.st_size, info.st_mtime_ns))
            if len(found) >= MAX_FILES:
                return found
    return found


def fingerprint(files: list[tuple[str, int, int]]) -> str:
    digest = hashlib.sha256()
    for rel, size, mtime in files:
        digest.update(f"{rel}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _lines(text: str) -> list[int]:
    """The offset each line starts at, for offset -> line number by bisection."""
    return [0, *(m.end() for m in re.finditer("\n", text))]


def _line_of(starts: list[int], offset: int) -> int:
    return bisect.bisect_right(starts, offset)


def _params(text: str, start: int) -> tuple[str, int]:
    """The parameter list from the '(' at `start` to its ')', strings and nested parentheses respected."""
    limit = min(len(text), start + 4000)
    end = call_end(text, start, limit)
    return (text[start:end], end) if end is not None else (text[start:limit], limit)


_RETURN_TYPE = re.compile(r"\s*:\s*(\??[\\\w|]+)")


def _doc_before(text: str, offset: int) -> str:
    """The first line of the doc comment right above `offset` (only blanks and modifiers between)."""
    before = text[max(0, offset - 6000):offset].rstrip()
    if not before.endswith("*/"):
        return ""
    start = before.rfind("/**")
    if start < 0:
        return ""
    for raw in before[start + 3:-2].splitlines():
        line = raw.strip().lstrip("*").strip()
        if line and not line.startswith("@"):
            return line[:200]
    return ""


def _scan_functions(rel: str, text: str, starts: list[int], index: FileIndex) -> None:
    classes = [(m.start(), m.group(1)) for m in _CLASS.finditer(text)]
    for match in _FUNCTION.finditer(text):
        name = match.group("name")
        owner = None
        if match.group("indent"):
            earlier = [c for c in classes if c[0] < match.start()]
            owner = earlier[-1][1] if earlier else None
        params, after = _params(text, match.end() - 1)
        signature = f"{name}{' '.join(params.split())}"
        returned = _RETURN_TYPE.match(text, after)
        if returned:
            signature += f": {returned.group(1)}"
        full = f"{owner}::{name}" if owner else name
        line = _line_of(starts, match.start() + len(match.group("indent")))
        definition = FunctionDef(full, signature, rel, line, _doc_before(text, match.start()))
        index.functions.setdefault(full.lower(), []).append(definition)
        if owner:  # also found by the method's own name
            index.functions.setdefault(name.lower(), []).append(definition)


def _scan_templates(rel: str, text: str, starts: list[int], index: FileIndex) -> None:
    for match in _TEMPLATE_GET.finditer(text):
        name = match.group(2)
        line = _line_of(starts, match.start())
        if _LITERAL_NAME.fullmatch(name):
            index.template_sites.setdefault(name, []).append(Site(rel, line))
        else:  # "forumbit_depth{$depth}_forum": built at run time
            index.computed_template_sites.append(Site(rel, line, name))
    for match in _TEMPLATE_DYNAMIC.finditer(text):
        index.computed_template_sites.append(Site(rel, _line_of(starts, match.start()), match.group(1).strip()))


def _scan_lang(rel: str, text: str, starts: list[int], index: FileIndex) -> None:
    for match in _LANG.finditer(text):
        value = " ".join(match.group(4).split())
        index.lang.setdefault(match.group(2), []).append(
            LangString(match.group(2), rel, _line_of(starts, match.start()), value[:300]))


def _scan_caches(rel: str, text: str, starts: list[int], index: FileIndex) -> None:
    for match in _CACHE_UPDATE.finditer(text):
        index.cache_writers.setdefault(match.group(2), []).append(Site(rel, _line_of(starts, match.start())))
    if rel.replace(os.sep, "/") != "inc/class_datacache.php":
        return
    methods = list(re.finditer(r"^\s*(?:public\s+)?function\s+(update_\w+)\s*\(", text, re.MULTILINE))
    for i, method in enumerate(methods):
        body = text[method.end():methods[i + 1].start() if i + 1 < len(methods) else len(text)]
        keys = {m.group(2) for m in _CACHE_UPDATE.finditer(body)} or {method.group(1)[len("update_"):]}
        for key in keys:
            index.cache_rebuilders.setdefault(key, []).append(
                Site(rel, _line_of(starts, method.start() + len(method.group(0)) - len(method.group(0).lstrip())),
                     f"datacache::{method.group(1)}()"))


def build_index(root: Path, files: list[tuple[str, int, int]] | None = None) -> FileIndex:
    started = time.monotonic()
    files = php_files(root) if files is None else files
    index = FileIndex(fingerprint(files), len(files))
    for rel, _size, _mtime in files:
        try:
            text = (root / rel).read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        starts = _lines(text)
        _scan_functions(rel, text, starts, index)
        if "$templates->get(" in text:
            _scan_templates(rel, text, starts, index)
        if rel.endswith(".lang.php"):
            _scan_lang(rel, text, starts, index)
        if "->update(" in text:
            _scan_caches(rel, text, starts, index)
    index.seconds = time.monotonic() - started
    return index


_cache: dict[str, FileIndex] = {}
_lock = threading.Lock()


def file_index(root: Path) -> FileIndex:
    """The index of `root`'s PHP files: the one kept while no file changed, else built again."""
    root = Path(root)
    files = php_files(root)
    stamp = fingerprint(files)
    key = str(root.resolve())
    with _lock:
        kept = _cache.get(key)
        if kept is not None and kept.fingerprint == stamp:
            return kept
    index = build_index(root, files)
    with _lock:
        _cache[key] = index
    return index

