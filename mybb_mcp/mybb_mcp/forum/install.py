"""A forum from a MyBB release: unpack it, run MyBB's own installer in the PHP CLI, lock it.

Everything is built in a staging folder beside the target (`.NAME.installing-XXXX/`, same file
system) and moved into place only once MyBB's installer has finished and written `install/lock`: a
failed install leaves nothing behind but its error, which names the step and MyBB's own words. The
installer runs as a browser would drive it, page by page, each page a PHP CLI process given its form
fields on stdin (installer_cli.py): no socket carries a password. MyBB writes its own schema, settings,
templates and admin user. A MySQL forum is installed under a prefix of its own and swapped in whole
(install_mysql.py); a run killed midway is cleaned up by the next (install_leftovers.py).

SQLite keeps the database beside the document root (`<parent>/<root name>.sqlite`): never inside
it, where `php -S` would serve it to anyone asking.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import html
import os
import re
import secrets
import shutil
import tarfile
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import InvalidArgument
from . import install_mysql
from .extensions import check_extensions
from .files import read_mybb_version
from .folder_modes import close_to_others
from .install_errors import InstallError
from .install_leftovers import RunRecord
from .installer_cli import InstallerRunner

DEFAULT_ADMIN = "admin"
DEFAULT_BOARD_NAME = "MyBB Test Forum"
DEFAULT_ADMIN_EMAIL = "admin@example.invalid"  # reserved TLD: MyBB never mails anyone from a dev forum
TABLE_PREFIX = "mybb_"
FORUM_MARKERS = ("index.php", "inc/init.php", "inc/class_core.php")

# The installer's pages in order: (action posted, the `action` the answer must offer next).
INSTALLER_STEPS: tuple[tuple[str, str], ...] = (
    ("intro", "license"),
    ("license", "requirements_check"),
    ("requirements_check", "database_info"),
    ("database_info", "create_tables"),
    ("create_tables", "populate_tables"),
    ("populate_tables", "templates"),
    ("templates", "configuration"),
    ("configuration", "adminuser"),
    ("adminuser", "final"),
    ("final", ""),
)


@dataclass(frozen=True)
class Database:
    """Where MyBB keeps its data. `engine` is MyBB's own name: sqlite, mysqli, pgsql."""

    engine: str = "sqlite"
    path: Path | None = None  # sqlite: the file (default: beside the root)
    host: str = "localhost"  # mysqli/pgsql: host, host:port, or a socket path as MyBB takes it
    user: str = ""
    password: str = field(default="", repr=False)
    name: str = ""
    table_prefix: str = TABLE_PREFIX


@dataclass(frozen=True)
class InstallRequest:
    source: Path  # a release zip (Upload/), a repository archive (tar.gz/zip), or a folder
    root: Path  # the document root to create
    bburl: str  # the URL the forum will be served at (http://127.0.0.1:8022)
    php: str = "php"
    database: Database = field(default_factory=Database)
    admin_user: str = DEFAULT_ADMIN
    admin_password: str = field(default="", repr=False)  # empty: generated
    admin_email: str = DEFAULT_ADMIN_EMAIL
    board_name: str = DEFAULT_BOARD_NAME
    force: bool = False  # replace a forum already at `root` (and its SQLite file)
    limits: UnpackLimits = field(default_factory=lambda: UnpackLimits())


@dataclass(frozen=True)
class UnpackLimits:
    """What an archive may unpack to (MYBB_UNPACK_MAX_MB, MYBB_UNPACK_MAX_FILES): a MyBB release is ~30 MB
    in ~1,500 entries, so a small archive that would fill the disk is refused before anything is written."""

    max_bytes: int = 512 * 2**20
    max_entries: int = 50_000


@dataclass(frozen=True)
class InstallResult:
    root: Path
    database: Database  # sqlite: `path` is the final file
    bburl: str
    admin_user: str
    admin_password: str = field(repr=False)
    version: str | None
    seconds: float
    notes: list[str] = field(default_factory=list)  # what else changed (old tables replaced)


ProgressCallback = Callable[[str], None]


def default_sqlite_path(root: Path) -> Path:
    return root.parent / f"{root.name}.sqlite"


def holds_forum(root: Path) -> bool:
    """Whether `root` already holds a MyBB forum (its core files)."""
    return all((root / marker).is_file() for marker in FORUM_MARKERS[:2])


def generate_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, within MyBB's default 6-30


# --- the database --------------------------------------------------------------------------------

_PREFIX = re.compile(r"[A-Za-z0-9_]{1,20}")  # what MyBB's installer accepts as a table prefix
DB_URL_FORMS = "mysql://USER:PASSWORD@HOST[:PORT]/DATABASE (or sqlite:///ABSOLUTE/PATH.sqlite)"


def parse_database_url(url: str) -> Database:
    """`--db`: mysql://user:pass@host[:port]/db[?prefix=mybb_] or sqlite:///path (percent-escapes decoded)."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    query = urllib.parse.parse_qs(parts.query)
    prefix = query.get("prefix", [TABLE_PREFIX])[0]
    if not _PREFIX.fullmatch(prefix):
        raise InvalidArgument(f"Table prefix {prefix!r} in --db is not letters, digits and _ (at most 20).",
                              "Use e.g. ?prefix=mybb_")
    if scheme in ("postgres", "postgresql", "pgsql"):
        raise InvalidArgument(
            "PostgreSQL is not offered by init: MyBB's installer has a PostgreSQL driver, but an install on it "
            "is not tested by this tool.", f"Use SQLite (the default) or MySQL/MariaDB: --db {DB_URL_FORMS}.")
    if scheme == "sqlite":
        path = urllib.parse.unquote(parts.path)
        if parts.netloc or not path.startswith("/") or "./" in path:
            raise InvalidArgument(f"--db {url!r}: the SQLite path must be absolute, without ./ or ../.",
                                  "Use sqlite:///ABSOLUTE/PATH.sqlite, or leave --db out.")
        return Database(engine="sqlite", path=Path(path), table_prefix=prefix)
    if scheme not in ("mysql", "mysqli", "mariadb"):
        raise InvalidArgument(f"--db {_redact(url)!r} is not a database URL init knows.", f"Use --db {DB_URL_FORMS}.")
    name = urllib.parse.unquote(parts.path.lstrip("/"))
    if not parts.hostname or not name or "/" in name:
        raise InvalidArgument(f"--db {_redact(url)!r} lacks a host or a database name.", f"Use --db {DB_URL_FORMS}.")
    try:
        port = parts.port
    except ValueError:
        raise InvalidArgument(f"--db {_redact(url)!r}: the port is not a number.",
                              f"Use --db {DB_URL_FORMS}.") from None
    host = parts.hostname + (f":{port}" if port else "")  # MyBB's own form: host:port
    return Database(engine="mysqli", host=host, user=urllib.parse.unquote(parts.username or ""),
                    password=urllib.parse.unquote(parts.password or ""), name=name, table_prefix=prefix)


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


# --- the story --------------------------------------------------------------------------------------


def install_forum(request: InstallRequest, progress: ProgressCallback | None = None) -> InstallResult:
    """Install MyBB at `request.root`, or raise `InstallError` having changed nothing."""
    say = progress or (lambda _step: None)
    started = time.monotonic()
    root = Path(os.path.abspath(request.root))
    db = request.database
    if db.engine == "sqlite":
        db = Database(engine="sqlite", path=Path(os.path.abspath(db.path or default_sqlite_path(root))),
                      table_prefix=db.table_prefix)
    password = request.admin_password or generate_password()

    say("checking PHP")
    missing = check_extensions(request.php, db.engine)
    if missing.error:
        raise InstallError("php extensions", missing.error, missing.hint)
    check_target(root, db, request.force)
    if db.engine == "mysqli":
        existing = install_mysql.forum_tables(db)
        if existing and not request.force:
            raise InstallError("target", f"Database {db.name!r} already holds {len(existing)} tables named "
                               f"{db.table_prefix}* (a forum?).",
                               "Pass --force to let MyBB's installer replace them, or use another table prefix "
                               "(?prefix=other_ in --db).")

    staging = _make_staging(root)
    cleanup = [staging]
    stage_db = db
    swap: install_mysql.Swap | None = None
    installed = False
    record: RunRecord | None = None
    try:
        record = RunRecord(staging)  # what the next init removes if this one is killed (install_leftovers.py)
        docroot = staging / "forum"
        say("unpacking " + request.source.name)
        unpack_source(request.source, docroot, staging / "unpacked", request.limits)
        _prepare_writable(docroot)
        if db.engine == "sqlite":
            scratch = Path(tempfile.mkdtemp(prefix="mybb-install-", dir=_fast_scratch()))
            cleanup.append(scratch)
            record.update(scratch=str(scratch))
            stage_db = Database(engine="sqlite", path=scratch / "forum.sqlite", table_prefix=db.table_prefix)
        elif db.engine == "mysqli":  # beside the forum's tables, never over them (install_mysql.py)
            stage_db = dataclasses.replace(db, table_prefix=install_mysql.new_stage_prefix())
            aside = install_mysql.new_stage_prefix()  # where the old forum's tables go once the new one is in
            record.update(mysql={"host": db.host, "name": db.name, "user": db.user, "prefix": stage_db.table_prefix,
                                 "aside": aside})
        runner = InstallerRunner(request.php, docroot, staging / "installer.log", on_child=record.child)
        _run_installer(runner, request, stage_db, password, say)
        if not (docroot / "install" / "lock").is_file():
            raise InstallError("final", "MyBB's installer finished without writing install/lock.",
                               "Make install/ writable.")
        close_to_others(docroot)  # the installer left cache/ and uploads/ 0777: a door for other users
        # The database password (and the Admin CP PIN) are in it; php -S runs as its owner, who alone reads it.
        (docroot / "inc" / "config.php").chmod(0o600)
        say("moving the forum into place")
        if db.engine == "mysqli":
            point_config_at_prefix(docroot, db.table_prefix)
            swap = install_mysql.swap_in(db, stage_db.table_prefix, aside)
        try:
            _commit(staging, docroot, root, db, stage_db)
        except InstallError as exc:
            if swap is not None:
                try:
                    install_mysql.swap_back(swap)
                except Exception as undo:  # noqa: BLE001 — said in full: the tables are not as they were
                    raise InstallError(exc.step, f"{exc.message} Putting the old tables back failed too ({undo}): "
                                       f"the new forum's tables are named {db.table_prefix}*, the old forum's "
                                       f"{aside}*.", "Rename them back by hand, or run init --force again.") from exc
            raise
        installed = True
    finally:
        for folder in cleanup:
            _remove_tree(folder)
        if record is not None:
            record.close()
        if db.engine == "mysqli" and not installed:
            with contextlib.suppress(Exception):  # the install's own error is the one to report
                install_mysql.drop_tables(db, stage_db.table_prefix)  # this run's tables only
    notes = [note for note in [install_mysql.finish(swap) if swap else None] if note]
    if swap is not None and swap.replaced:
        notes.insert(0, f"The old forum's {swap.replaced} MyBB tables {db.table_prefix}* were replaced by the new "
                        "forum's, in one step, once it was complete.")
    return InstallResult(root=root, database=db, bburl=request.bburl, admin_user=request.admin_user,
                         admin_password=password, version=read_mybb_version(root),
                         seconds=time.monotonic() - started, notes=notes)


def check_target(root: Path, db: Database, force: bool) -> None:
    """Refuse a target that holds a forum (without `force`), a link, or a folder we cannot write in."""
    if root.is_symlink():
        raise InstallError("target", f"{root} is a symbolic link.", "Point MYBB_ROOT at a real folder.")
    if root.exists() and not root.is_dir():
        raise InstallError("target", f"{root} exists and is not a folder.", "Choose another MYBB_ROOT.")
    if not force:
        if holds_forum(root):
            raise InstallError("target", f"{root} already holds a forum.",
                               "Pass --force to replace it (its files and SQLite database are deleted).")
        if root.is_dir() and any(root.iterdir()):
            raise InstallError("target", f"{root} is not empty.",
                               "Empty it, choose another MYBB_ROOT, or pass --force.")
        if db.path is not None and (db.path.exists() or db.path.is_symlink()):
            raise InstallError("target", f"The database file {db.path} already exists.",
                               "Delete it, or pass --force to replace it.")
    if db.path is not None and db.path.is_symlink():
        raise InstallError("target", f"The database path {db.path} is a symbolic link.", "Remove the link.")
    parent = root.parent
    if not parent.is_dir():
        try:
            parent.mkdir(parents=True)
        except OSError as exc:
            raise InstallError("target", f"Cannot create {parent}: {exc.strerror}.",
                               "Choose another MYBB_ROOT.") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InstallError("target", f"{parent} is not writable.",
                           "Fix its permissions or choose another MYBB_ROOT.")


def _make_staging(root: Path) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".{root.name}.installing-", dir=root.parent))
    except OSError as exc:
        raise InstallError("target", f"Cannot write in {root.parent}: {exc.strerror}.",
                           "Fix its permissions or choose another MYBB_ROOT.") from exc


def _fast_scratch() -> str | None:
    """Memory-backed scratch space for the installer's SQLite file, when there is some.

    MyBB's installer inserts thousands of rows one statement at a time and SQLite syncs each to
    disk: on a busy disk that is 20 s instead of 2. The finished file is copied into place.
    """
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- unpacking --------------------------------------------------------------------------------------


def unpack_source(source: Path, docroot: Path, scratch: Path, limits: UnpackLimits | None = None) -> None:
    """Put the forum files of `source` (archive or folder) at `docroot` (which must not exist)."""
    if source.is_dir():
        top = find_forum_files(source)
        if top is None:
            raise InstallError("unpack", f"{source} holds no MyBB forum files (index.php, inc/init.php).",
                               "Pass the folder holding index.php, or a MyBB release archive.")
        try:
            shutil.copytree(top, docroot, symlinks=True)
        except OSError as exc:  # shutil.Error gathers each file's error as text: the first one is shown
            errors = exc.args[0] if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list) else []
            words = str(errors[0][-1]) if errors and isinstance(errors[0], tuple) else (exc.strerror or str(exc))
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT) or os.strerror(errno.ENOSPC) in words
            raise InstallError("unpack", (f"The disk is full: copying {source} into {docroot.parent} failed"
                                          if full else f"Cannot copy {source} into {docroot.parent}: {words[:500]}")
                               + (f" ({len(errors)} files)" if len(errors) > 1 else "") + "; nothing was installed.",
                               f"Free space on the file system of {docroot.parent.parent}, then run init again."
                               if full else "Fix what it names, then run init again.") from exc
        return
    if not source.is_file():
        raise InstallError("unpack", f"{source} does not exist.", "Pass a MyBB release archive or folder.")
    scratch.mkdir()
    try:
        if zipfile.is_zipfile(source):
            _extract_zip(source, scratch, limits or UnpackLimits())
        elif tarfile.is_tarfile(source):
            _extract_tar(source, scratch, limits or UnpackLimits())
        else:
            raise InstallError("unpack", f"{source} is neither a zip nor a tar archive.",
                               "Pass a MyBB release archive (.zip or .tar.gz) or a folder.")
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # our disk, not the archive
            raise InstallError("unpack", f"The disk is full: unpacking {source.name} into {docroot.parent} "
                               f"failed ({exc.strerror}); nothing was installed.",
                               f"Free space on the file system of {docroot.parent.parent} (MyBB needs ~30 MB plus "
                               "its database), then run init again.") from exc
        if exc.errno is not None:  # a system error writing or reading, not the archive's contents
            raise InstallError("unpack", f"Cannot unpack {source.name} into {docroot.parent}: {exc.strerror} "
                               f"({exc.filename or source}).",
                               "Fix what it names (permissions, the file system), then run init again.") from exc
        raise InstallError("unpack", f"Cannot unpack {source}: {exc}.",
                           "The archive is damaged or incomplete: download it again.") from exc
    except (EOFError, tarfile.TarError, zipfile.BadZipFile, zlib.error) as exc:
        raise InstallError("unpack", f"Cannot unpack {source}: {exc}.",
                           "The archive is damaged or incomplete: download it again.") from exc
    top = find_forum_files(scratch)
    if top is None:
        raise InstallError("unpack", f"{source} holds no MyBB forum (no index.php with inc/init.php).",
                           "Pass a MyBB 1.8 release archive.")
    top.rename(docroot)
    _remove_tree(scratch)


def find_forum_files(folder: Path) -> Path | None:
    """The folder holding MyBB's files: `folder` itself, its `Upload/`, or its single top folder's."""
    candidates = [folder, folder / "Upload"]
    children = [c for c in folder.iterdir() if c.is_dir() and not c.is_symlink()] if folder.is_dir() else []
    if len(children) == 1:
        candidates += [children[0], children[0] / "Upload"]
    for candidate in candidates:
        if candidate.is_dir() and not candidate.is_symlink() and holds_forum(candidate):
            return candidate
    return None


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and "\\" not in name and "\0" not in name


class _Budget:
    """Counts entries and bytes as an archive's table is read; refuses past the limits, before extracting."""

    def __init__(self, source: Path, limits: UnpackLimits) -> None:
        self.source, self.limits, self.entries, self.bytes = source, limits, 0, 0

    def take(self, size: int) -> None:
        self.entries += 1
        self.bytes += max(size, 0)
        limits = self.limits
        if self.entries > limits.max_entries:
            raise InstallError("unpack", f"{self.source} holds more than {limits.max_entries} entries: it is no MyBB "
                               "release (one holds ~1,500), and nothing was unpacked.",
                               "Use an official MyBB archive, or raise MYBB_UNPACK_MAX_FILES.")
        if self.bytes > limits.max_bytes:
            raise InstallError("unpack", f"{self.source} unpacks to more than {limits.max_bytes >> 20} MB: it is no "
                               "MyBB release (one is ~30 MB), and nothing was unpacked.",
                               "Use an official MyBB archive, or raise MYBB_UNPACK_MAX_MB.")


def _extract_tar(source: Path, dest: Path, limits: UnpackLimits) -> None:
    budget = _Budget(source, limits)
    with tarfile.open(source) as tar:
        members = []
        for member in tar:
            budget.take(member.size if member.isfile() else 0)
            if not _safe_member(member.name):
                raise InstallError("unpack", f"{source} holds an unsafe path: {member.name!r}.",
                                   "Use an official MyBB archive.")
            if member.isfile() or member.isdir():
                members.append(member)
            # Links and devices are not part of a MyBB release: skipped, never created.
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, members=members, filter="data")
        else:  # Python < 3.10.12 / 3.11.4: the checks above are the filter
            tar.extractall(dest, members=members)


def _extract_zip(source: Path, dest: Path, limits: UnpackLimits) -> None:
    budget = _Budget(source, limits)
    with zipfile.ZipFile(source) as archive:
        infos = archive.infolist()
        for info in infos:  # the whole table first: nothing is written from an archive over the limits
            budget.take(info.file_size)  # extract() writes at most the declared size (zipfile checks it)
        for info in infos:
            if not _safe_member(info.filename):
                raise InstallError("unpack", f"{source} holds an unsafe path: {info.filename!r}.",
                                   "Use an official MyBB archive.")
            mode = info.external_attr >> 16
            if mode and (mode & 0o170000) == 0o120000:
                continue  # a symlink entry: not part of a MyBB release
            archive.extract(info, dest)


def _prepare_writable(docroot: Path) -> None:
    """What MyBB's own instructions ask before installing: inc/config.php present and writable."""
    config = docroot / "inc" / "config.php"
    default = docroot / "inc" / "config.default.php"
    if not config.exists():
        if default.is_file():
            default.rename(config)
        else:
            config.touch()
    (docroot / "inc" / "settings.php").touch()
    for folder in ("cache", "cache/themes", "uploads", "uploads/avatars"):
        (docroot / folder).mkdir(exist_ok=True)


# --- the installer's pages --------------------------------------------------------------------------

_NEXT_ACTION = re.compile(r'<input type="hidden" name="action" value="([a-z_]*)"')
_ERROR_DIV = re.compile(r'<div class="error">(.*?)</div>', re.DOTALL)
_PHP_ERROR = re.compile(r"(?:Fatal error|Parse error|Uncaught)[^\n]*", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def page_error(page: str) -> str:
    """MyBB's own words for a failed installer page: its error box, else a PHP error, as plain text."""
    match = _ERROR_DIV.search(page)
    text = match.group(1) if match else ""
    if not text:
        php_error = _PHP_ERROR.search(_TAG.sub("", page))
        text = php_error.group(0) if php_error else ""
    text = html.unescape(_TAG.sub(" ", text))
    text = CONTROL.sub("", re.sub(r"\s+", " ", text)).strip()  # page text is data: no terminal controls
    text = re.sub(r"^Error\s+", "", text)
    return text[:1500]


def _step_fields(action: str, request: InstallRequest, db: Database, password: str) -> list[tuple[str, str]]:
    fields = [("action", action)]
    if action == "create_tables":
        engine = db.engine
        fields.append(("dbengine", engine))
        config = {"tableprefix": db.table_prefix}
        if engine == "sqlite":
            config["dbname"] = str(db.path)
        else:
            config.update(dbhost=db.host, dbuser=db.user, dbpass=db.password, dbname=db.name, encoding="utf8mb4")
            if engine == "pgsql":
                config["encoding"] = "utf8"
        fields += [(f"config[{engine}][{key}]", value) for key, value in config.items()]
    elif action == "adminuser":
        fields += [
            ("bbname", request.board_name),
            ("bburl", request.bburl),
            ("websitename", request.board_name),
            ("websiteurl", request.bburl),
            ("cookiedomain", ""),  # empty: browsers refuse a cookie domain of 127.0.0.1
            ("cookiepath", "/"),
            ("contactemail", request.admin_email),
        ]
    elif action == "final":
        fields += [
            ("adminuser", request.admin_user),
            ("adminpass", password),
            ("adminpass2", password),
            ("adminemail", request.admin_email),
        ]
    return fields


def _run_installer(runner: InstallerRunner, request: InstallRequest, db: Database, password: str,
                   say: ProgressCallback) -> None:
    for action, expected_next in INSTALLER_STEPS:
        say(f"MyBB installer: {action}")
        try:
            page = runner.step(_step_fields(action, request, db, password))
        except InstallError as exc:
            raise InstallError(action, f"{exc.message} PHP said: {runner.log_tail() or 'nothing'}", exc.hint) from exc
        offered = _NEXT_ACTION.findall(page)
        if expected_next and expected_next not in offered:
            words = page_error(page) or runner.php_error() or runner.log_tail() or "the page offered no next step"
            raise InstallError(action, f"MyBB's installer said: {words}", _hint_for(action))
        if not expected_next and "final" in offered:  # the admin form again, with MyBB's complaint
            raise InstallError(action, f"MyBB's installer said: {page_error(page)}", _hint_for(action))


def _hint_for(action: str) -> str:
    return {
        "requirements_check": "Install the PHP extensions it names, or make the files it names writable.",
        "create_tables": "Check the database settings (--db): server running, user, password, database name.",
    }.get(action, "Fix what MyBB names and run init again.")


# --- moving into place ------------------------------------------------------------------------------


def _commit(staging: Path, docroot: Path, root: Path, db: Database, stage_db: Database) -> None:
    """Move the staged forum (and SQLite file) into place; the old forum goes only once the new one is in."""
    if db.engine == "sqlite" and db.path is not None and stage_db.path is not None:
        point_config_at_sqlite(docroot, db.path)
    old = staging / "replaced"
    old.mkdir()
    moved: list[tuple[Path, Path]] = []  # (where it was, where it went), to undo
    try:
        if root.exists():
            root.rename(old / "forum")
            moved.append((root, old / "forum"))
        if db.engine == "sqlite" and db.path is not None and stage_db.path is not None:
            if db.path.exists():
                db.path.rename(old / "forum.sqlite")
                moved.append((db.path, old / "forum.sqlite"))
            _copy_private(stage_db.path, db.path)
            moved.append((staging / "new.sqlite", db.path))
        docroot.rename(root)
    except OSError as exc:
        for was, went in reversed(moved):
            try:
                went.rename(was) if went.exists() else None
            except OSError:
                pass
        raise InstallError("move into place", f"Cannot move the forum to {root}: {exc.strerror}.",
                           "Fix the permissions of its folder.") from exc


def _copy_private(source: Path, dest: Path) -> None:
    """Copy a file to a path that must not exist yet (never through a link someone planted there)."""
    # 0600: the database holds the users' password hashes; php -S runs as this user.
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        dest.unlink()
        raise


_CONFIG_DATABASE = re.compile(r"^(\$config\['database'\]\['database'\] = ')((?:[^'\\]|\\.)*)(';)", re.MULTILINE)


def point_config_at_sqlite(root: Path, db_file: Path) -> None:
    """Rewrite the database path in inc/config.php, escaped as MyBB's installer writes it."""
    config = root / "inc" / "config.php"
    text = config.read_text("utf-8")
    escaped = str(db_file).replace("\\", "\\\\").replace("'", "\\'")
    new, count = _CONFIG_DATABASE.subn(lambda m: m.group(1) + escaped + m.group(3), text, count=1)
    if count != 1:
        raise InstallError("configure", f"{config} has no $config['database']['database'] line.",
                           "The installer wrote an unexpected inc/config.php.")
    config.write_text(new, "utf-8")


_CONFIG_PREFIX = re.compile(r"^(\$config\['database'\]\['table_prefix'\] = ')((?:[^'\\]|\\.)*)(';)", re.MULTILINE)


def point_config_at_prefix(root: Path, prefix: str) -> None:
    """Name the forum's own table prefix in inc/config.php, where the installer wrote its stage prefix."""
    config = root / "inc" / "config.php"
    text = config.read_text("utf-8")
    new, count = _CONFIG_PREFIX.subn(lambda m: m.group(1) + prefix + m.group(3), text, count=1)
    if count != 1:
        raise InstallError("configure", f"{config} has no $config['database']['table_prefix'] line.",
                           "The installer wrote an unexpected inc/config.php.")
    config.write_text(new, "utf-8")
