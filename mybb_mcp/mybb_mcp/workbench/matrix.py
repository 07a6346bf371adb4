"""A plugin on several PHP and MyBB releases at once (`mybb_forum_matrix`, `mybb-server matrix`).

For each MyBB release a throwaway forum is installed once with MyBB's own installer on SQLite (kept in
the user's cache, with a member for the member role and a thread posted by MyBB's PostDataHandler); each
cell is a copy of it, the plugin's files copied in,
served by `php -S` on that cell's PHP on a free port of 127.0.0.1. In each cell the pages are loaded as
guest, member and admin without the plugin (what MyBB itself raises on that PHP: core noise, never blamed
on the plugin), then the plugin is installed and activated through the Admin CP's plugins page, the pages
loaded again, the plugin deactivated and uninstalled, and what it left behind in the database compared
with the forum before the install. Cells run side by side (2 at once, at most the machine's cores), each
on its own port; every server is stopped when its cell ends, on error and on cancel too.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Protocol

from .. import php_builds
from ..config import Config, untrusted_because
from ..errors import InvalidArgument
from ..forum import files as forum_files
from ..forum import plugin_files, snapshot, source
from ..forum.credentials import read_credentials, write_credentials
from ..forum.database import open_settings_table
from ..forum.install import InstallRequest, install_forum, point_config_at_sqlite
from ..forum.install_errors import InstallError
from ..forum.php import PLUGIN_NAME, run_mybb_php
from ..forum.requests import PageRequest
from ..logs.digest import ErrorGroup
from . import members
from . import plugins as plugin_workbench

DEFAULT_PAGES = ("index.php", "forumdisplay.php?fid=2", "showthread.php?tid=1", "member.php?action=profile&uid=1",
                 "usercp.php", "admin/index.php")
_THREAD = Path(__file__).with_name("matrix_thread.php")
ROLES = ("guest", "matrixmember", "admin")
MEMBER = "matrixmember"
MAX_CELLS = 24
MAX_PAGES = 12
# Folders of a forum root a plugin's files are taken from (a folder given as the plugin).
_SKIP_DIRS = {"cache", "uploads", ".git"}


class Started(Protocol):
    """What the matrix reads of a server's start (results.ServerResult)."""

    @property
    def success(self) -> bool: ...
    @property
    def message(self) -> str: ...


class PageAnswer(Protocol):
    """What the matrix reads of a page request's answer (results.PageResult)."""

    @property
    def failure(self) -> str | None: ...  # a results.Failure (a str enum), None when there is a page
    @property
    def errors(self) -> Sequence[ErrorGroup]: ...
    @property
    def errors_known(self) -> bool: ...
    @property
    def errors_note(self) -> str | None: ...


class CellPages(Protocol):
    """The part of a cell's service that loads pages (the orchestration's `service.forum`)."""

    def request_page(self, request: PageRequest) -> PageAnswer: ...


class CellService(Protocol):
    """What the matrix calls on the service it makes for each cell (the orchestration's server service)."""

    def start(self) -> Started: ...
    def stop(self, force: bool = False) -> Started: ...
    @property
    def forum(self) -> CellPages: ...


class MatrixCancelled(Exception):
    """The caller cancelled: the cells still running were stopped."""


@dataclass(frozen=True)
class MatrixRequest:
    plugin: str  # a codename of a plugin in the forum, or a folder laid out like a forum root
    php: tuple[str, ...] = ()  # releases ("7.4"); empty: the forum's own PHP
    mybb: tuple[str, ...] = ()  # releases ("1.8.30"); empty: the forum's own MyBB
    pages: tuple[str, ...] = ()  # empty: DEFAULT_PAGES
    archives: tuple[Path, ...] = ()  # MyBB release archives to use offline (checked against the pins)


@dataclass(frozen=True)
class CellError:
    level: str
    message: str
    place: str  # file:line (forum-relative)
    page: str
    role: str
    stage: str = "page"  # "page", or the lifecycle step (install, activate, ...)

    @property
    def key(self) -> tuple[str, str]:
        return (self.message, self.place)


@dataclass
class Cell:
    php: str  # the PHP release named ("7.4"), or "own"
    php_version: str  # what the binary is ("7.4.33")
    mybb: str
    verdict: str = "not run"  # "ok", "errors", "fails", "not run"
    errors: list[CellError] = field(default_factory=list)  # the plugin's, in order
    core_noise: list[CellError] = field(default_factory=list)  # raised without the plugin too
    core_entries: int = 0  # MyBB's own notices/deprecations (no user code on the stack) the page answers left out
    core_kinds: list[str] = field(default_factory=list)  # the first of their messages
    steps: list[str] = field(default_factory=list)  # lifecycle steps and how each ended
    left_behind: list[str] = field(default_factory=list)  # what the uninstall left in the database
    problem: str | None = None  # why the cell could not run
    seconds: float = 0.0
    port: int | None = None


@dataclass
class MatrixResult:
    plugin: str
    files: list[str]
    pages: tuple[str, ...]
    roles: tuple[str, ...]
    cells: list[Cell]
    parallel: int
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


Progress = Callable[[str, int, int], None]  # (message, done, total)


def _split(values: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        out += [v.strip() for v in str(value).split(",") if v.strip()]
    return tuple(dict.fromkeys(out))


def validate(request: MatrixRequest) -> MatrixRequest:
    """Bad input is refused before anything is made."""
    php = tuple(php_builds.build_for(v).version for v in _split(request.php))
    try:
        mybb = tuple(source.known_release(v).version for v in _split(request.mybb))
    except InstallError as exc:
        raise InvalidArgument(str(exc.message if hasattr(exc, "message") else exc),
                              "Name pinned MyBB releases: " + ", ".join(r.version for r in source.KNOWN_RELEASES)
                              + ".") from None
    pages = _split(request.pages) or DEFAULT_PAGES
    for page in pages:
        if page.startswith(("/", "http:", "https:")) or ".." in page or len(page) > 300:
            raise InvalidArgument(f"The page {page[:80]!r} is not a path inside the forum.",
                                  "Name pages as in the forum's root: index.php, showthread.php?tid=1.")
    if len(pages) > MAX_PAGES:
        raise InvalidArgument(f"{len(pages)} pages: at most {MAX_PAGES}.", "Name fewer pages.")
    if len(php or (None,)) * len(mybb or (None,)) > MAX_CELLS:
        raise InvalidArgument(f"At most {MAX_CELLS} cells.", "Name fewer PHP or MyBB releases.")
    return replace(request, php=php, mybb=mybb, pages=pages, archives=tuple(Path(a) for a in request.archives))


def plugin_files_of(config: Config, plugin: str) -> tuple[str, dict[str, Path]]:
    """(codename, forum-relative path -> file to copy) for a codename in the forum or a folder."""
    folder = Path(plugin).expanduser()
    if os.sep in plugin or folder.is_dir():
        if not folder.is_dir():
            raise InvalidArgument(f"{plugin} is not a folder.", "Name a plugin codename or a folder laid out "
                                  "like a forum root (inc/plugins/NAME.php ...).")
        found = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")
                 if p.is_file() and not p.is_symlink() and not _SKIP_DIRS & set(p.relative_to(folder).parts)}
        mains = [rel for rel in found if rel.startswith("inc/plugins/") and rel.count("/") == 2
                 and rel.endswith(".php") and PLUGIN_NAME.fullmatch(rel[12:-4])]
        if len(mains) != 1:
            raise InvalidArgument(f"{folder} holds {len(mains)} plugin main files (inc/plugins/NAME.php): one is "
                                  "needed.", "Lay the folder out like a forum root with one plugin in it.")
        for rel, path in found.items():  # its PHP runs as you: only files no other user could have written
            problem = untrusted_because(path)
            if problem is not None:
                raise InvalidArgument(f"{folder}/{rel} is not run: {problem}.", "Copy the plugin into a folder of "
                                      "yours that others may not write, then name that folder.")
        return mains[0][12:-4], found
    if not PLUGIN_NAME.fullmatch(plugin):
        raise InvalidArgument(f"{plugin!r} is not a plugin codename.", "Name a plugin as in inc/plugins/NAME.php.")
    root = config.mybb_root
    if not (root / "inc" / "plugins" / f"{plugin}.php").is_file():
        raise InvalidArgument(f"No plugin {plugin} in {root} (no inc/plugins/{plugin}.php).",
                              "Name a plugin of this forum (mybb_forum_plugins action list), or a folder.")
    found = {}
    for path in root.rglob("*"):
        inside = path.relative_to(root)
        if _SKIP_DIRS & set(inside.parts) or not path.is_file() or path.is_symlink():
            continue
        if plugin_files.owner(root, inside.as_posix()) == plugin:
            found[inside.as_posix()] = path
    return plugin, found


@dataclass(frozen=True)
class _Template:
    folder: Path  # holds forum/, forum.sqlite and the credentials of its admin and member
    version: str


class MatrixRunner:
    """Runs one matrix for the forum `config` names (its PHP and MyBB are the defaults)."""

    def __init__(self, config: Config, service_factory: Callable[[Config], CellService],
                 progress: Progress | None = None, cancel: threading.Event | None = None, parallel: int = 2) -> None:
        self.config = config
        self.factory = service_factory
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.parallel = parallel  # cells at once, at most the machine's cores
        self.cache = config.build_cache
        self._ports: set[int] = set()
        self._lock = threading.Lock()
        self._done = 0

    # -- what the matrix runs on -------------------------------------------------------------------
    def _php(self, version: str | None) -> tuple[str, str, str]:
        """(label, binary, version it says) for a release, or the forum's own PHP (None)."""
        if version is None:
            label = self.config.php_version or "own"
            return label, self.config.php, _php_version(self.config.php)
        build = php_builds.build_for(version)
        if not php_builds.is_installed(build, self.cache):
            self._say(f"installing PHP {build.php_version} from the registry")
        return version, str(php_builds.install(build, self.cache)), build.php_version

    def _mybb(self, version: str | None) -> str:
        if version is not None:
            return version
        known = self._forum_release()
        if known is None:
            raise InvalidArgument(f"The MyBB release of {self.config.mybb_root} is not one the matrix can install.",
                                  "Name the releases: --mybb 1.8.30,1.8.37.")
        return known

    def _forum_release(self) -> str | None:
        try:
            with open(self.config.mybb_root / "inc" / "class_core.php", "rb") as handle:
                text = handle.read(256 * 1024).decode("utf-8", "replace")
        except OSError:
            return None
        found = re.search(r'\$version = "(1\.8\.\d+)"', text)
        if not found:
            return None
        try:
            return source.known_release(found.group(1)).version
        except InstallError:
            return None

    def _template(self, version: str, archives: tuple[Path, ...]) -> _Template:
        """The release's throwaway forum, installed once with MyBB's installer (on the forum's own PHP)."""
        release = source.known_release(version)
        folder = self.cache / "matrix" / f"mybb-{release.version}-{release.sha256[:12]}-t1"  # t1: with its thread
        if (folder / "ready").is_file():
            return _Template(folder, version)
        php_builds.own_folder(self.cache / "matrix")  # ours, 0700, never a link
        self._say(f"installing MyBB {version} once for the matrix")
        staging = Path(tempfile.mkdtemp(prefix="install-", dir=self.cache / "matrix"))
        try:
            archive = next((a for a in archives if a.is_file() and source.file_sha256(a) == release.sha256), None)
            if archive is None:
                got = source.resolve_source(release.url, release.sha256, staging)
                archive = got.path
            installed = install_forum(InstallRequest(source=archive, root=staging / "forum",
                                                     bburl="http://127.0.0.1:1", php=self.config.php))
            cell = replace(self.config, mybb_root=staging / "forum", php_version=None)
            write_credentials(cell.credentials_file, {"url": installed.bburl, "admin_user": installed.admin_user,
                                                      "admin_password": installed.admin_password})
            members.add_member(cell.mybb_root, lambda n, p: keep_member_password(cell, n, p), MEMBER,
                               php=self.config.php, php_settings=self.config.php_settings)
            thread = run_mybb_php(cell.mybb_root, _THREAD.read_text("utf-8").removeprefix("<?php"), {"fid": 2},
                                  php=self.config.php, php_settings=self.config.php_settings)
            if not isinstance(thread.result, dict) or thread.result.get("tid") != 1:  # the default thread page
                raise RuntimeError(f"MyBB did not post the matrix's thread: {thread.result!r}"[:300])
            for leftover in staging.iterdir():  # a downloaded archive: the forum and its database stay
                if leftover.is_file() and leftover.name != "forum.sqlite" and not leftover.name.startswith("."):
                    leftover.unlink()
            (staging / "ready").write_text(version + "\n")
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return _Template(folder, version)

    # -- the run -----------------------------------------------------------------------------------
    def run(self, request: MatrixRequest) -> MatrixResult:
        started = time.monotonic()
        request = validate(request)
        codename, files = plugin_files_of(self.config, request.plugin)
        php = [self._php(v) for v in (request.php or (None,))]
        mybb = [self._mybb(v) for v in (request.mybb or (None,))]
        archives = request.archives  # and MYBB_ARCHIVE, when it names a file: offline, checked against the pins
        if self.config.archive and not source.is_url(self.config.archive):
            archives = (*archives, Path(self.config.archive))
        templates = {v: self._template(v, archives) for v in dict.fromkeys(mybb)}
        cells = [Cell(label, said, version) for version in mybb for (label, _binary, said) in php]
        binaries = {label: binary for (label, binary, _said) in php}
        parallel = max(1, min(self.parallel, os.cpu_count() or 1, len(cells)))
        result = MatrixResult(codename, sorted(files), request.pages, ("guest", "member", "admin"), cells, parallel)
        self._total = len(cells)
        scratch = Path(tempfile.mkdtemp(prefix="matrix-", dir=self.cache / "matrix"))
        try:
            with ThreadPoolExecutor(max_workers=parallel) as pool:  # cells side by side, each on its own port
                futures = [pool.submit(self._cell, cell, binaries[cell.php], templates[cell.mybb], codename, files,
                                       request.pages, scratch / f"cell{i}") for i, cell in enumerate(cells)]
                try:
                    for future in futures:
                        future.result()
                except BaseException:  # Ctrl-C or a failure: the other cells stop at their next step
                    self.cancel.set()
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if self.cancel.is_set():
            raise MatrixCancelled("cancelled")
        result.seconds = time.monotonic() - started
        return result

    def _say(self, message: str) -> None:
        if self.progress:
            self.progress(message, self._done, getattr(self, "_total", 0))

    def _port(self) -> int:
        with self._lock:
            while True:
                with closing(socket.socket()) as sock:
                    sock.bind(("127.0.0.1", 0))
                    port = int(sock.getsockname()[1])
                if port not in self._ports:
                    self._ports.add(port)
                    return port

    def _cell(self, cell: Cell, php: str, template: _Template, codename: str, files: dict[str, Path],
              pages: tuple[str, ...], folder: Path) -> None:
        if self.cancel.is_set():
            return
        began = time.monotonic()
        service: CellService | None = None
        try:
            subprocess.run(["cp", "-a", "--", str(template.folder), str(folder)], check=True, timeout=60)
            root = folder / "forum"
            point_config_at_sqlite(root, folder / "forum.sqlite")
            cell.port = self._port()
            _set_bburl(root, f"http://127.0.0.1:{cell.port}")
            for rel, path in files.items():
                target = root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            # OPcache says a compile-time diagnostic (`${var}` from 8.2) only while it compiles, and not to a user
            # error handler once the file is old enough to be cached: recorded, it is said on every include.
            settings = (*self.config.php_settings, "opcache.record_warnings=1")
            config = replace(self.config, mybb_root=root, port=cell.port, host="127.0.0.1", php=php,
                             php_version=None, workers=1, php_settings=settings)
            service = self.factory(config)
            started = service.start()
            if not started.success:
                cell.verdict, cell.problem = "fails", f"the server did not start: {started.message}"
                return
            baseline = self._pages(service, pages, cell)
            cell.core_noise = _unique(baseline)
            noise = {e.key for e in baseline}
            database = snapshot.forum_database(root)
            before = snapshot.current_catalog(database)
            for step in ("install", "activate"):
                if not self._step(service, cell, step, codename, php, config):
                    break
            else:
                loaded = self._pages(service, pages, cell)
                cell.errors += [e for e in _unique(loaded) if e.key not in noise]
                cell.core_noise += [e for e in _unique(loaded) if e.key in noise and e not in cell.core_noise]
                for step in ("deactivate", "uninstall"):
                    if not self._step(service, cell, step, codename, php, config):
                        break
            after = snapshot.current_catalog(database)
            cell.left_behind = _left_behind(snapshot.compare(before, after))
            if cell.verdict == "not run":
                cell.verdict = "errors" if cell.errors else "ok"
        except Exception as exc:  # noqa: BLE001 - one cell's trouble is that cell's answer; the others still run
            cell.verdict, cell.problem = "fails", f"{type(exc).__name__}: {exc}"[:300]
        finally:
            if service is not None:
                service.stop(force=True)
            cell.seconds = time.monotonic() - began
            with self._lock:
                self._done += 1
            self._say(f"cell PHP {cell.php} × MyBB {cell.mybb}: {cell.verdict}")

    def _step(self, service: CellService, cell: Cell, step: str, codename: str, php: str, config: Config) -> bool:
        if self.cancel.is_set():
            raise MatrixCancelled("cancelled")
        done = plugin_workbench.lifecycle(config.mybb_root, step, codename, php=php, php_settings=config.php_settings)
        if not done.ok and not done.problems and f"{codename} has no _{step}" in done.message:  # MyBB offers none
            cell.steps.append(f"{step}: not offered ({done.message})")
            return True
        cell.steps.append(f"{step}: {'done' if done.ok else 'failed'}")
        for problem in done.problems:
            cell.errors.append(CellError(problem.kind, problem.message, problem.plugin_at or problem.place,
                                         "admin/index.php?module=config-plugins", "admin", step))
        if not done.ok:
            cell.verdict = "fails"
            if not done.problems:
                cell.errors.append(CellError("failed", done.message, "(no file)",
                                             "admin/index.php?module=config-plugins", "admin", step))
        return done.ok

    def _pages(self, service: CellService, pages: tuple[str, ...], cell: Cell | None = None) -> list[CellError]:
        found: list[CellError] = []
        for page in pages:
            roles = (("guest", "guest"), (MEMBER, "member"), ("admin", "admin"))
            for role, shown in roles[2:] if page.startswith("admin/") else roles:  # the Admin CP: admins only
                if self.cancel.is_set():
                    raise MatrixCancelled("cancelled")
                path, _, query = page.partition("?")
                pairs = tuple((name, value) for name, _, value in (p.partition("=") for p in query.split("&") if p))
                answer = service.forum.request_page(PageRequest(path, role=role, query=pairs))
                left_out = _CORE_NOISE.search(answer.errors_note or "")
                # MyBB's own noise under this PHP: counted apart, never the plugin's
                if left_out and cell is not None:
                    cell.core_entries += int(left_out.group(1))
                    for kind in left_out.group(2).split("; "):
                        if kind and kind not in cell.core_kinds and len(cell.core_kinds) < 3:
                            cell.core_kinds.append(kind[:120])
                if not answer.errors_known:  # "no errors" is then not claimed
                    found.append(CellError("unknown", answer.errors_note or "the log could not be tied to the request",
                                           "(no file)", page, shown))
                if answer.failure:
                    found.append(CellError("failed", answer.failure, "(no file)", page, shown))
                for group in answer.errors:
                    entry = group.example
                    place = entry.place or (f"{entry.source_file}:{entry.source_line}" if entry.source_file
                                            else "(no file)")
                    found.append(CellError(entry.level or "error", _message(entry.message), place, page, shown))
        return found


_CORE_NOISE = re.compile(r"(\d+) MyBB core notice\(s\)/deprecation\(s\).*?: (.*?)(?:; the |$)")
_IN_FILE = re.compile(r" in /\S+ on line \d+$")


def _message(text: str) -> str:
    """The first line without PHP's " in /the/cell/path on line N" (the place is told apart, the path is the
    cell's own): the same error reads the same in every cell."""
    return _IN_FILE.sub("", text.split("\n", 1)[0])[:300]


def keep_member_password(config: Config, name: str, password: str) -> Path:
    """The member's password beside the admin's, where the request tool looks for it (as the members tool keeps
    it)."""
    values = dict(read_credentials(config.credentials_file) or {})
    kept = values.get("members")
    values["members"] = {**(kept if isinstance(kept, dict) else {}), name: password}
    write_credentials(config.credentials_file, values)
    return config.credentials_file


def _php_version(php: str) -> str:
    try:
        done = subprocess.run([php, "-r", "echo PHP_VERSION;"], capture_output=True, text=True, timeout=20,
                              check=False)
    except OSError:
        return "?"
    return done.stdout.strip()[:20] or "?"


def _set_bburl(root: Path, bburl: str) -> None:
    """bburl in the settings table and inc/settings.php, as MyBB's settings editor writes them (dev_mode does
    the same for its settings)."""
    cfg = forum_files.read_config_php(root)
    if cfg is None:
        raise RuntimeError(f"no inc/config.php in {root}")
    db = open_settings_table(cfg, root, 5.0)
    with closing(db.conn):
        db.update("bburl", bburl)
        forum_files.write_atomic(root / "inc" / "settings.php", forum_files.render_settings_php(db.ordered()))
        db.conn.commit()


def _unique(errors: list[CellError]) -> list[CellError]:
    seen: set[tuple[str, str]] = set()
    placed = {e.message for e in errors if e.place != "(no file)"}
    out = []
    for error in errors:
        if error.place == "(no file)" and error.message in placed:  # the same error, once without its place
            continue
        if error.key not in seen:
            seen.add(error.key)
            out.append(error)
    return out


def _left_behind(diff: snapshot.SnapshotDiff) -> list[str]:
    out = [f"table {t.table}" for t in diff.tables if t.rows_before is None and t.rows_after is not None]
    for label, changes in (("setting group", diff.setting_groups), ("setting", diff.settings),
                           ("template", diff.templates), ("stylesheet", diff.stylesheets), ("task", diff.tasks),
                           ("cache", diff.datacache)):
        out += [f"{label} {c.name}" for c in changes if c.kind == "added"]
    out += [f"column {c}" for c in diff.schema]
    return out[:20]


def differences(result: MatrixResult) -> list[str]:
    """Errors new or gone from one version to the next: along PHP for each MyBB, along MyBB for each PHP."""
    by = {(c.php, c.mybb): c for c in result.cells}
    phps = list(dict.fromkeys(c.php for c in result.cells))
    mybbs = list(dict.fromkeys(c.mybb for c in result.cells))
    lines: list[str] = []

    def compare(a: Cell, b: Cell, label: str) -> None:
        keys_a = {e.key: e for e in a.errors}
        keys_b = {e.key: e for e in b.errors}
        for key, error in keys_b.items():
            if key not in keys_a:
                lines.append(f"{label}: new `{error.place}` {error.message}")
        for key, error in keys_a.items():
            if key not in keys_b:
                lines.append(f"{label}: gone `{error.place}` {error.message}")

    for mybb in mybbs:
        for first, second in pairwise(phps):
            compare(by[(first, mybb)], by[(second, mybb)], f"MyBB {mybb}, PHP {first} → {second}")
    for php in phps:
        for first, second in pairwise(mybbs):
            compare(by[(php, first)], by[(php, second)], f"PHP {php}, MyBB {first} → {second}")
    return lines
