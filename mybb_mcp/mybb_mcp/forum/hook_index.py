"""The hook index: every place the forum's PHP runs a plugin hook, MyBB's own and every plugin's.

A site is a `->run_hooks(...)` or `->run_hooks_by_ref(...)` call in any .php file under the forum root
(plugins active or not, calls spread over several lines too), with the arguments passed and whether they
go by reference. A name built at run time (`"admin_{$module}_begin"`, `$prefix.'_start'`) is kept as
computed, with a glob pattern when its literal parts allow one, never dropped: a hook a plugin adds may be
one of those names.

The scan reads PHP as PHP reads it: code inside `<?php … ?>` only, comments and strings skipped, so a
`run_hooks(` in a comment or an HTML page is no site. It is built once per forum and per process, and a
later call re-reads only the files whose size or mtime changed (a few ms on MyBB's ~760 files).
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

MAX_FILE_BYTES = 4 * 1024 * 1024  # MyBB's largest file is ~400 KB; a bigger .php is data, not a hook site
MAX_ARGUMENTS_CHARS = 200
_MAX_DEPTH = 64  # nested folders; the snapshot walks stop at the same depth

# Where the scan jumps to next inside PHP code: a comment, a string, the end of PHP, or a hook call.
_PHP_TOKENS = re.compile(
    r"""(?P<line_comment>//|\#(?!\[))|(?P<block_comment>/\*)|(?P<quote>['"`])"""
    r"""|<<<[ \t]*(?P<doc_quote>["']?)(?P<doc_id>[A-Za-z_][A-Za-z0-9_]*)(?P=doc_quote)\r?\n"""
    r"""|(?P<close>\?>)|->\s*(?P<call>run_hooks(?:_by_ref)?)\s*\(""")
_OPEN_TAG = re.compile(r"<\?(?:php\b|=)?", re.IGNORECASE)
_SIGNATURE_BY_REF = re.compile(r"function\s+run_hooks\s*\(\s*\$\w+\s*,\s*&")
_SIMPLE_LITERAL = re.compile(r"""^(?:'([^'\\]*)'|"([^"\\$]*)")$""")
_LITERAL_PART = re.compile(r"""^(?:'([^'\\]*)'|"([^"\\$]*)")$""")
_INTERPOLATION = re.compile(r"\{\$[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*(?:->[A-Za-z_][A-Za-z0-9_]*|\[[^\]]*\])*")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_*]+$")
# The rest of a string after its opening quote, backslash escapes included (the unrolled-loop form).
_STRING_REST = {quote: re.compile(rf"[^{quote}\\]*(?:\\.[^{quote}\\]*)*{quote}", re.DOTALL) for quote in "'\"`"}


@dataclass(frozen=True)
class HookSite:
    """One place the forum runs a hook."""

    name: str  # the hook's name; for a computed one, the expression as written (white space folded)
    file: str  # relative to the forum root, with forward slashes
    line: int  # the line of the call's `run_hooks`
    arguments: str  # what is passed after the name, as written (folded, cut); "" when nothing is
    by_ref: bool  # the arguments reach the hook's functions by reference
    computed: bool  # the name is built at run time
    pattern: str | None = None  # for a computed name: a glob of the names it can take ("admin_*_begin")

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class HookIndex:
    """Every hook site under one forum root."""

    root: Path
    sites: tuple[HookSite, ...]
    files_scanned: int
    files_skipped: tuple[str, ...] = ()  # too large or unreadable, relative paths

    def literal_names(self) -> dict[str, list[HookSite]]:
        """Each hook name written out in the source, with its sites in file and line order."""
        names: dict[str, list[HookSite]] = {}
        for site in self.sites:
            if not site.computed:
                names.setdefault(site.name, []).append(site)
        return names

    def computed_sites(self) -> list[HookSite]:
        return [site for site in self.sites if site.computed]

    def find(self, name: str) -> list[HookSite]:
        """The sites that run `name`: written out, or computed with a pattern that admits it."""
        return ([site for site in self.sites if not site.computed and site.name == name]
                + self.computed_matching(name))

    def computed_matching(self, name: str) -> list[HookSite]:
        return [site for site in self.sites
                if site.computed and site.pattern is not None and fnmatch.fnmatchcase(name, site.pattern)]

    def closest(self, name: str) -> str | None:
        """The written-out hook name nearest to `name` (a misspelling's likely intent), if any is close."""
        close = difflib.get_close_matches(name, sorted(self.literal_names()), n=1, cutoff=0.6)
        return close[0] if close else None


# --- the cache: one per forum root, files re-read only when their size or mtime changed -------------------

@dataclass(frozen=True)
class _FileEntry:
    size: int
    mtime_ns: int
    sites: tuple[HookSite, ...]


_CACHE: dict[str, dict[str, _FileEntry]] = {}
_LOCK = threading.Lock()


def hook_index(root: Path) -> HookIndex:
    """The forum's hook index, rebuilt for the files that changed since the last call."""
    root = Path(root).resolve()
    key = str(root)
    with _LOCK:
        previous = _CACHE.get(key, {})
    current: dict[str, _FileEntry] = {}
    skipped: list[str] = []
    by_ref = _arguments_by_ref(root)
    for rel, stat in _php_files(root):
        if stat.st_size > MAX_FILE_BYTES:
            skipped.append(rel)
            continue
        entry = previous.get(rel)
        if entry is None or entry.size != stat.st_size or entry.mtime_ns != stat.st_mtime_ns:
            try:
                text = (root / rel).read_bytes().decode("utf-8", "replace")
            except OSError:
                skipped.append(rel)
                continue
            sites = tuple(scan_source(text, rel)) if "run_hooks" in text else ()
            entry = _FileEntry(stat.st_size, stat.st_mtime_ns, sites)
        current[rel] = entry
    with _LOCK:
        _CACHE[key] = current
    sites = tuple(_with_by_ref(site, by_ref) for rel in sorted(current) for site in current[rel].sites)
    return HookIndex(root, sites, len(current), tuple(sorted(skipped)))


def _arguments_by_ref(root: Path) -> bool:
    """Whether this MyBB's run_hooks takes its arguments by reference (1.8 does: `&$arguments`)."""
    try:
        text = (root / "inc" / "class_plugins.php").read_text("utf-8", "replace")
    except OSError:
        return False
    return _SIGNATURE_BY_REF.search(text) is not None


def _with_by_ref(site: HookSite, signature_by_ref: bool) -> HookSite:
    if site.by_ref or not site.arguments or not signature_by_ref:
        return site
    return HookSite(site.name, site.file, site.line, site.arguments, True, site.computed, site.pattern)


def _php_files(root: Path) -> list[tuple[str, os.stat_result]]:
    """Every regular .php file under root, links not followed, as (relative path, stat)."""
    found: list[tuple[str, os.stat_result]] = []
    pending: list[tuple[str, int]] = [("", 0)]
    while pending:
        rel_dir, depth = pending.pop()
        try:
            entries = list(os.scandir(root / rel_dir if rel_dir else root))
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < _MAX_DEPTH:
                        pending.append((rel, depth + 1))
                elif entry.name.endswith(".php") and entry.is_file(follow_symlinks=False):
                    found.append((rel, entry.stat(follow_symlinks=False)))
            except OSError:
                continue
    return found


# --- reading PHP ------------------------------------------------------------------------------------------

def scan_source(text: str, rel: str) -> list[HookSite]:
    """The hook sites of one PHP file's text."""
    sites: list[HookSite] = []
    pos = 0
    length = len(text)
    while pos < length:
        opening = _OPEN_TAG.search(text, pos)
        if opening is None:
            break
        pos = opening.end()
        while pos < length:
            match = _PHP_TOKENS.search(text, pos)
            if match is None:
                return sites
            kind = match.lastgroup
            if kind == "close":
                pos = match.end()
                break
            if kind == "line_comment":
                pos = _line_comment_end(text, match.end())
            elif kind == "block_comment":
                end = text.find("*/", match.end())
                pos = length if end < 0 else end + 2
            elif kind == "quote":
                pos = _string_end(text, match.end(), match.group("quote"))
            elif match.group("doc_id"):
                pos = _heredoc_end(text, match.end(), match.group("doc_id"))
            else:
                arguments, pos = _call_arguments(text, match.end())
                line = text.count("\n", 0, match.start("call")) + 1
                sites.append(_site(arguments, rel, line, match.group("call") == "run_hooks_by_ref"))
    return sites


def _line_comment_end(text: str, pos: int) -> int:
    """A // or # comment ends at the line's end or at `?>`, whichever comes first."""
    newline = text.find("\n", pos)
    close = text.find("?>", pos, newline if newline >= 0 else len(text))
    if close >= 0:
        return close
    return len(text) if newline < 0 else newline + 1


def _string_end(text: str, pos: int, quote: str) -> int:
    """Where a string whose opening quote ends just before pos ends (an unclosed one runs to the end)."""
    match = _STRING_REST[quote].match(text, pos)
    return len(text) if match is None else match.end()


def _heredoc_end(text: str, pos: int, identifier: str) -> int:
    # Since PHP 7.3 the closing identifier may be indented and followed by more code on its line.
    closing = re.compile(r"^[ \t]*" + re.escape(identifier) + r"\b", re.MULTILINE)
    match = closing.search(text, pos)
    return len(text) if match is None else match.end()


def _call_arguments(text: str, pos: int) -> tuple[list[str], int]:
    """The top-level arguments of a call whose `(` ends just before pos, and where the call ends."""
    arguments: list[str] = []
    depth = 0
    start = pos
    length = len(text)
    while pos < length:
        char = text[pos]
        if char in "'\"`":
            pos = _string_end(text, pos + 1, char)
            continue
        if text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            pos = length if end < 0 else end + 2
            continue
        if text.startswith("//", pos) or (char == "#" and not text.startswith("#[", pos)):
            pos = _line_comment_end(text, pos + 1)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                arguments.append(text[start:pos])
                return [a for a in (_fold(a) for a in arguments) if a], pos + 1
            depth -= 1
        elif char == "," and depth == 0:
            arguments.append(text[start:pos])
            start = pos + 1
        pos += 1
    arguments.append(text[start:pos])
    return [a for a in (_fold(a) for a in arguments) if a], pos


def _fold(code: str) -> str:
    return " ".join(code.split())


def _site(arguments: list[str], rel: str, line: int, by_ref: bool) -> HookSite:
    first = arguments[0] if arguments else ""
    rest = ", ".join(arguments[1:])
    if len(rest) > MAX_ARGUMENTS_CHARS:
        rest = rest[: MAX_ARGUMENTS_CHARS - 1] + "…"
    literal = _SIMPLE_LITERAL.match(first)
    if literal is not None:
        name = literal.group(1) if literal.group(1) is not None else literal.group(2)
        return HookSite(name, rel, line, rest, by_ref and bool(rest), False)
    return HookSite(first, rel, line, rest, by_ref and bool(rest), True, name_pattern(first))


def name_pattern(expression: str) -> str | None:
    """A glob of the names a computed hook name can take, from its literal parts; None when it has none.

    `"admin_{$module}_begin"` -> `admin_*_begin`; `'datahandler_'.$this->name.'_validate'` ->
    `datahandler_*_validate`; `$hook` or a ternary -> None (nothing to go on).
    """
    parts = _split_concatenation(expression)
    if parts is None:
        return None
    pattern = ""
    for part in parts:
        literal = _LITERAL_PART.match(part)
        if literal is not None:
            pattern += literal.group(1) if literal.group(1) is not None else literal.group(2)
        elif part.startswith('"') and part.endswith('"') and len(part) >= 2:
            pattern += _INTERPOLATION.sub("*", part[1:-1])
        else:
            pattern += "*"
    pattern = re.sub(r"\*+", "*", pattern)
    if pattern.strip("*") == "" or not _PLAIN_NAME.match(pattern):
        return None
    return pattern


def _split_concatenation(expression: str) -> list[str] | None:
    """The operands of a plain `.` concatenation; None when the expression is anything else."""
    parts: list[str] = []
    start = 0
    depth = 0
    pos = 0
    length = len(expression)
    while pos < length:
        char = expression[pos]
        if char in "'\"":
            pos = _string_end(expression, pos + 1, char)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char in "?:" and depth == 0:
            return None  # a ternary or a static call: its names are not one pattern
        elif char == "." and depth == 0:
            parts.append(expression[start:pos].strip())
            start = pos + 1
        pos += 1
    parts.append(expression[start:].strip())
    return parts if all(parts) else None
