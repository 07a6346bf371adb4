"""`mybb_forum_reference`: MyBB's own reference, read from this forum's files and database.

The files (every .php under the root: MyBB's and every plugin's) give functions, the code rendering
each template, language strings, what rebuilds each datacache key (reference_index.py) and the hooks
(hook_index.py); the database, read by MyBB booted (reference.php), gives the sets each template
exists in, the settings and the datacache keys stored. Every answer names the MyBB version.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidArgument
from .files import read_mybb_version
from .hook_index import HookIndex, hook_index
from .php import PhpRunError, run_mybb_php
from .reference_index import FileIndex, FunctionDef, LangString, Site, file_index

KINDS = ("hook", "function", "template", "setting", "cache", "lang")
_PHP_FILE = Path(__file__).with_name("reference.php")
DB_TIMEOUT = 10.0
MAX_SEARCH_HITS = 40
NAME = re.compile(r"[A-Za-z0-9_:.\-\\]{1,200}")


@dataclass(frozen=True)
class TemplateHit:
    title: str
    sets: tuple[str, ...]  # the copies: "master (-2)", "Default Templates (1)"
    sites: tuple[Site, ...]  # the code rendering it: $templates->get('title')
    maybe_sites: tuple[Site, ...] = ()  # names built at run time that could be this one
    inherited_by: tuple[str, ...] = ()  # template sets without their own copy, using the master


@dataclass(frozen=True)
class SettingHit:
    name: str
    title: str
    group: str
    group_title: str
    type: str
    value: str
    description: str


@dataclass(frozen=True)
class CacheHit:
    key: str
    stored: bool  # a row in the datacache table
    size: int
    rebuilders: tuple[Site, ...]  # datacache::update_*()
    writers: tuple[Site, ...]  # other $cache->update('key', ...) calls


@dataclass(frozen=True)
class HookCall:
    file: str
    line: int
    arguments: str
    by_ref: bool
    expression: str = ""  # for a name built at run time: the expression as written


@dataclass(frozen=True)
class HookHit:
    name: str
    sites: tuple[HookCall, ...]  # the calls naming it
    maybe_sites: tuple[HookCall, ...] = ()  # calls whose name, built at run time, can be this one


@dataclass(frozen=True)
class SearchHit:
    kind: str
    name: str
    detail: str
    score: int


@dataclass
class ReferenceAnswer:
    kind: str | None
    name: str | None
    search: str | None
    mybb_version: str | None
    hooks: list[HookHit] = field(default_factory=list)
    functions: list[FunctionDef] = field(default_factory=list)
    templates: list[TemplateHit] = field(default_factory=list)
    settings: list[SettingHit] = field(default_factory=list)
    caches: list[CacheHit] = field(default_factory=list)
    lang: list[tuple[str, tuple[LangString, ...]]] = field(default_factory=list)
    search_hits: list[SearchHit] = field(default_factory=list)
    search_total: int = 0  # hits before the cut to MAX_SEARCH_HITS
    sizes: dict[str, str] = field(default_factory=dict)  # kind -> what the index holds (no name asked)
    computed_hooks: list[HookCall] = field(default_factory=list)  # hook names built at run time (no name asked)
    suggestions: list[str] = field(default_factory=list)  # closest names when nothing matched
    database_problem: str | None = None  # why the database's kinds could not be read
    seconds: float = 0.0

    @property
    def found(self) -> bool:
        return bool(self.hooks or self.functions or self.templates or self.settings or self.caches or self.lang
                    or self.search_hits or self.sizes)


# --- the database's part --------------------------------------------------------------------------------

@dataclass
class DatabaseView:
    version: str | None
    sets: dict[int, str]
    templates: dict[str, list[int]]
    settings: dict[str, SettingHit]
    caches: dict[str, int]


def read_database(root: Path, php: str, php_settings: Sequence[str]) -> DatabaseView:
    code = _PHP_FILE.read_text("utf-8").removeprefix("<?php")
    return database_view(run_mybb_php(root, code, {}, php=php, timeout=DB_TIMEOUT, php_settings=php_settings).result)


class _Unexpected(Exception):
    """reference.php's $result is not in the shape it writes."""


def _scalar(value: object) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise _Unexpected


def _entries(data: Mapping[str, object], key: str) -> Mapping[object, object]:
    """A JSON object of the answer; an empty PHP array arrives as [] (or the key is absent): {}."""
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise _Unexpected
    return value


def database_view(result: object) -> DatabaseView:
    """reference.php's $result, checked as it is read; another shape is a PhpRunError (the database's part of
    the answer is then left out, saying why)."""
    data = result or {}
    try:
        if not isinstance(data, dict):
            raise _Unexpected
        version = data.get("version")
        version_text = None if version is None else _scalar(version)
        sets = {int(_scalar(k)): _scalar(v) for k, v in _entries(data, "sets").items()}
        rows = data.get("settings") or []
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise _Unexpected
        settings = {_scalar(row["name"]): SettingHit(*(_scalar(row[key]) for key in _SETTING_KEYS)) for row in rows}
        templates: dict[str, list[int]] = {}
        for title, sids in _entries(data, "templates").items():
            if not isinstance(sids, list):
                raise _Unexpected
            templates[_scalar(title)] = [int(_scalar(sid)) for sid in sids]
        caches = {_scalar(k): int(_scalar(v)) for k, v in _entries(data, "caches").items()}
    except (_Unexpected, KeyError, ValueError):
        raise PhpRunError("MyBB's PHP answered the database look-up in a shape reference.php does not write.",
                          "Run it again; if this stays, the forum's PHP or database is not MyBB's.") from None
    return DatabaseView(version_text, sets, templates, settings, caches)


_SETTING_KEYS = ("name", "title", "group", "group_title", "type", "value", "description")  # SettingHit's order


# --- look-ups --------------------------------------------------------------------------------------------

def _template(title: str, files: FileIndex, db: DatabaseView | None) -> TemplateHit | None:
    sids = db.templates.get(title, []) if db is not None else []
    sites = files.template_sites.get(title, [])
    if not sids and not sites:
        return None
    sets = tuple(f"{db.sets.get(sid, 'set')} ({sid})" for sid in sorted(sids)) if db is not None else ()
    inherited = tuple(f"{name} ({sid})" for sid, name in sorted(db.sets.items())
                      if sid > 0 and sid not in sids) if db is not None and -2 in sids else ()
    maybe = () if sites else tuple(s for s in files.computed_template_sites if _could_build(s.text, title))
    return TemplateHit(title, sets, tuple(sites), maybe, inherited)


def _could_build(expression: str, title: str) -> bool:
    """Whether a template name built at run time ("forumbit_depth{$depth}_forum") could be `title`."""
    if not expression or expression.startswith("$"):
        return False
    pattern = re.escape(expression)
    pattern = re.sub(r"\\\{\\\$[^}]*\\\}|\\\$\w+(?:\\\[[^\]]*\\\])*", ".+", pattern)
    return re.fullmatch(pattern, title) is not None


def _cache(key: str, files: FileIndex, db: DatabaseView | None) -> CacheHit | None:
    rebuilders = tuple(files.cache_rebuilders.get(key, ()))
    writers = tuple(s for s in files.cache_writers.get(key, ()) if not s.file.endswith("class_datacache.php"))
    stored = db is not None and key in db.caches
    if not (rebuilders or writers or stored):
        return None
    return CacheHit(key, stored, db.caches.get(key, 0) if db is not None else 0, rebuilders, writers[:8])


def _hooks(name: str, index: HookIndex) -> list[HookHit]:
    sites = index.literal_names().get(name, [])
    maybe = index.computed_matching(name)
    if not sites and not maybe:
        return []
    return [HookHit(name, tuple(HookCall(s.file, s.line, s.arguments, s.by_ref) for s in sites),
                    tuple(HookCall(s.file, s.line, s.arguments, s.by_ref, s.name) for s in maybe))]


def _hook_sizes(index: HookIndex) -> str:
    names = index.literal_names()
    computed = index.computed_sites()
    return (f"{len(names):,} hooks, {sum(len(v) for v in names.values()):,} call sites, {len(computed):,} built at "
            f"run time, in {index.files_scanned:,} files")


def _sizes(kind: str | None, hooks: HookIndex, files: FileIndex, db: DatabaseView | None) -> dict[str, str]:
    sizes: dict[str, Callable[[], str]] = {
        "hook": lambda: _hook_sizes(hooks),
        "function": lambda: f"{len({d.name for v in files.functions.values() for d in v}):,} functions and methods "
                            f"in {files.files_scanned:,} files",
        "template": lambda: (f"{len(db.templates):,} templates in {len(db.sets):,} sets" if db is not None else
                             "the database could not be read") + f"; {len(files.template_sites):,} rendered by name "
                             f"in the code, {len(files.computed_template_sites):,} names built at run time",
        "setting": lambda: f"{len(db.settings):,} settings" if db is not None else "the database could not be read",
        "cache": lambda: (f"{len(db.caches):,} datacache keys stored" if db is not None else "") +
                         f"; {len(files.cache_rebuilders):,} rebuilt by datacache::update_*()",
        "lang": lambda: f"{len(files.lang):,} language keys in "
                        f"{len({s.file for v in files.lang.values() for s in v}):,} files",
    }
    return {k: f() for k, f in sizes.items() if kind in (None, k)}


def _names(kind: str, hooks: HookIndex, files: FileIndex, db: DatabaseView | None) -> list[str]:
    if kind == "function":
        return sorted({d.name for defs in files.functions.values() for d in defs})
    if kind == "template":
        return sorted(set(files.template_sites) | (set(db.templates) if db else set()))
    if kind == "setting":
        return sorted(db.settings) if db else []
    if kind == "cache":
        return sorted(set(files.cache_rebuilders) | (set(db.caches) if db else set()))
    if kind == "lang":
        return sorted(files.lang)
    return sorted(hooks.literal_names())


def look_up(answer: ReferenceAnswer, kind: str | None, name: str, hooks: HookIndex, files: FileIndex,
            db: DatabaseView | None) -> None:
    kinds = KINDS if kind is None else (kind,)
    if "hook" in kinds:
        answer.hooks = _hooks(name, hooks)
    if "function" in kinds:
        answer.functions = list(files.functions.get(name.lower(), []))
    if "template" in kinds and (hit := _template(name, files, db)) is not None:
        answer.templates = [hit]
    if "setting" in kinds and db is not None and name in db.settings:
        answer.settings = [db.settings[name]]
    if "cache" in kinds and (cache := _cache(name, files, db)) is not None:
        answer.caches = [cache]
    if "lang" in kinds and name in files.lang:
        answer.lang = [(name, tuple(files.lang[name]))]
    if not answer.found:
        pool = [n for k in kinds for n in _names(k, hooks, files, db)]
        lowered = {n.lower(): n for n in pool}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=6, cutoff=0.6)
        contains = [n for n in pool if name.lower() in n.lower()][:6]
        answer.suggestions = list(dict.fromkeys([lowered[c] for c in close] + contains))[:8]


# --- search ----------------------------------------------------------------------------------------------

def _score(words: Sequence[str], name: str, text: str) -> int:
    low = name.lower()
    query = " ".join(words)
    if low == query or low.split("::")[-1] == query:
        return 100
    if all(w in low for w in words):
        return 70 if low.startswith(words[0]) else 50
    if all(w in low or w in text for w in words):
        return 20
    return 0


def search(answer: ReferenceAnswer, query: str, hooks: HookIndex, files: FileIndex, db: DatabaseView | None) -> None:
    words = [w for w in query.lower().split() if w]
    hits: list[SearchHit] = []

    def add(kind: str, name: str, detail: str, text: str = "") -> None:
        score = _score(words, name, text.lower())
        if score:
            hits.append(SearchHit(kind, name, detail, score))

    for hook, sites in hooks.literal_names().items():
        add("hook", hook, sites[0].place + (f" and {len(sites) - 1} more site(s)" if len(sites) > 1 else ""))
    seen: set[int] = set()
    for defs in files.functions.values():
        for d in defs:
            if id(d) not in seen:
                seen.add(id(d))
                add("function", d.name, f"{d.file}:{d.line} {d.doc}".strip(), d.doc)
    titles = set(files.template_sites) | (set(db.templates) if db else set())
    for title in titles:
        rendered = files.template_sites.get(title, [])
        add("template", title, f"rendered at {rendered[0].place}" if rendered else "in the database")
    if db is not None:
        for s in db.settings.values():
            add("setting", s.name, f"{s.title} ({s.group}) = {s.value[:40]}", f"{s.title} {s.description}")
    for key in set(files.cache_rebuilders) | (set(db.caches) if db else set()):
        add("cache", key, "datacache key")
    for key, strings in files.lang.items():
        add("lang", key, f"{strings[0].file}: {strings[0].value[:60]}", strings[0].value)
    order = {k: i for i, k in enumerate(KINDS)}
    hits.sort(key=lambda h: (-h.score, order[h.kind], len(h.name), h.name))
    answer.search_hits, answer.search_total = hits[:MAX_SEARCH_HITS], len(hits)


# --- the entry point -------------------------------------------------------------------------------------

def check_question(root: Path, kind: str | None, name: str | None, query: str | None) -> None:
    """InvalidArgument for an unknown kind, a name that cannot be one, `search` with a name, or no MyBB."""
    if kind is not None and kind not in KINDS:
        raise InvalidArgument(f"{kind!r} is not a kind of reference.", f"Use one of {', '.join(KINDS)}.")
    if name is not None and not NAME.fullmatch(name):
        raise InvalidArgument(f"{name[:80]!r} cannot be a MyBB name.",
                              "Names are letters, digits, _ . - : (Class::method); use search for words.")
    if query is not None and (name is not None or kind is not None or not 2 <= len(query.strip()) <= 200):
        raise InvalidArgument("search takes 2-200 characters, without a kind or name.",
                              "Ask with search alone, or with kind and name.")
    if not (Path(root) / "inc" / "class_core.php").is_file():
        raise InvalidArgument(f"No MyBB at {root} (no inc/class_core.php).",
                              "Set MYBB_ROOT to a MyBB forum (or make one with `mybb-server init`).")


DB_KINDS = ("template", "setting", "cache")


def reference(root: Path, kind: str | None, name: str | None, query: str | None, php: str = "php",
              php_settings: Sequence[str] = ()) -> ReferenceAnswer:
    started = time.monotonic()
    root = Path(root)
    files = file_index(root)
    hooks = hook_index(root)  # once per answer: each call re-reads every .php file's size and mtime
    answer = ReferenceAnswer(kind, name, query, read_mybb_version(root))
    db: DatabaseView | None = None
    if kind is None or kind in DB_KINDS:
        try:
            db = read_database(root, php, php_settings)
            answer.mybb_version = db.version or answer.mybb_version
        except PhpRunError as exc:
            answer.database_problem = exc.message
    if query is not None:
        search(answer, query, hooks, files, db)
    elif name is None:
        answer.sizes = _sizes(kind, hooks, files, db)
        if kind == "hook":
            answer.computed_hooks = [HookCall(s.file, s.line, s.arguments, s.by_ref, s.name)
                                     for s in hooks.computed_sites()]
    else:
        look_up(answer, kind, name, hooks, files, db)
    answer.seconds = time.monotonic() - started
    return answer
