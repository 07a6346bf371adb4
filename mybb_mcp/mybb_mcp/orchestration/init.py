"""`init`: a forum from nothing, running. The source is resolved (downloaded and checked when it is a
URL), MyBB's own installer runs (forum/install.py), the admin's password is kept beside the state for
the tools that log in, and the server is started as `start` starts it.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from .. import php_builds
from ..config import DEFAULT_PORT
from ..errors import InvalidArgument, shown_value
from ..forum import release
from ..forum.credentials import write_credentials
from ..forum.install import (
    DEFAULT_ADMIN,
    Database,
    InstallRequest,
    UnpackLimits,
    check_target,
    default_sqlite_path,
    install_forum,
    parse_database_url,
)
from ..forum.install_errors import InstallError
from ..forum.install_leftovers import clear_leftovers
from ..forum.source import DownloadProgress, known_release, resolve_source, validate_sha256
from ..forum.sql_reader import make_at_init as make_sql_reader
from ..results import InitResult
from ..safe_files import write_own_json

if TYPE_CHECKING:
    from .server_service import ServerOrchestrationService

_ADMIN_FORBIDDEN = set("<>&\\\"',;")  # MyBB refuses these in user names (or they break its pages)


@dataclass(frozen=True)
class InitOptions:
    source: str | None = None  # a path or URL; None: the newest known MyBB 1.8 release
    sha256: str | None = None
    database_url: str | None = None  # None: SQLite beside the forum
    admin: str = DEFAULT_ADMIN
    force: bool = False
    port: int | None = None
    insecure: bool = False  # accept a plain-http:// source without --sha256
    mybb: str | None = None  # a pinned MyBB release ("1.8.30"): its archive, or --from checked against its hash
    php: str | None = None  # a PHP release for this forum ("7.4", php_builds.py): installed, used, remembered

    def validated(self) -> InitOptions:
        admin = self.admin.strip() if isinstance(self.admin, str) else self.admin
        if not isinstance(admin, str) or not 1 <= len(admin) <= 30 or any(
                c in _ADMIN_FORBIDDEN or ord(c) < 32 for c in admin):
            raise InvalidArgument(f"admin name {shown_value(self.admin)} is not a MyBB user name.",
                                  "Use 1-30 characters without < > & \\ \" ' , ;.")
        if self.sha256 is not None:
            try:
                validate_sha256(self.sha256)
            except InstallError as exc:
                raise InvalidArgument(exc.message, exc.hint) from None
        if self.database_url is not None:
            parse_database_url(self.database_url)  # raises InvalidArgument naming the problem
        if self.php is not None:
            php_builds.build_for(self.php)  # raises InvalidArgument naming the releases served
        if self.mybb is not None:
            return self._with_release(self.mybb)
        return self

    def _with_release(self, version: str) -> InitOptions:
        """`--mybb 1.8.30`: that release's archive (downloaded, or the one --from names), held to its pin."""
        try:
            pinned = known_release(version)
        except InstallError as exc:
            raise InvalidArgument(exc.message, exc.hint) from None
        if self.sha256 is not None and self.sha256.strip().lower() != pinned.sha256:
            raise InvalidArgument(f"--sha256 is not MyBB {pinned.version}'s pinned SHA-256 ({pinned.sha256}).",
                                  "Drop --sha256: --mybb checks the archive against the pin.")
        if self.source is not None and os.path.isdir(os.path.expanduser(self.source)):
            raise InvalidArgument(f"--mybb {pinned.version} checks an archive against its pinned SHA-256, and "
                                  f"{self.source} is a folder.", "Pass the release's archive with --from, or drop "
                                  "--mybb to install the folder unchecked.")
        return replace(self, source=self.source or pinned.url, sha256=pinned.sha256, mybb=None)


def bburl_for(host: str, port: int) -> str:
    """The board URL a browser uses for our server: loopback for a wildcard bind, [brackets] for IPv6."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    else:
        try:
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        except ValueError:
            pass
    return f"http://{host}:{port}"


def describe_database(db: Database) -> str:
    if db.engine == "sqlite":
        return f"SQLite {db.path}"
    return f"MySQL/MariaDB database {db.name!r} at {db.host} as {db.user!r} (tables {db.table_prefix}*)"


def _keep_manifest(path: Path, source: Path, version: str | None, notes: list[str]) -> None:
    """MyBB's own files and their hashes from what was installed: errors in any other file, or in one of
    these changed since, are the user's code (forum/release.py)."""
    try:
        if release.write_manifest(path, source, f"the archive init installed (MyBB {version or 'unknown'})") is None:
            notes.append("No manifest of MyBB's files could be made from the source: error origins go by path only.")
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as exc:
        notes.append(f"Could not keep the manifest of MyBB's files in {path} ({exc}): error origins go by path only.")


def init_forum(service: ServerOrchestrationService, options: InitOptions,
               progress: Callable[[str], None] | None = None,
               download_progress: DownloadProgress | None = None) -> InitResult:
    """Install MyBB at the service's MYBB_ROOT and start it. Never raises for an install failure."""
    options = options.validated()
    config = service.config
    root = config.mybb_root
    port = options.port or config.port or DEFAULT_PORT
    bburl = bburl_for(config.host, port)
    database = parse_database_url(options.database_url) if options.database_url else Database()
    started = time.monotonic()

    def failed(error: InstallError, source: str = "", notes: list[str] | None = None) -> InitResult:
        return InitResult(False, root, message=error.message, hint=error.hint, failed_step=error.step,
                          source=source, seconds=time.monotonic() - started, notes=notes or [])

    if not options.force:  # before any download: a forum already there is refused anyway
        try:
            check_target(root, Database(path=database.path or default_sqlite_path(root))
                         if database.engine == "sqlite" else database, force=False)
        except InstallError as exc:
            return failed(exc)
    notes: list[str] = []
    try:  # a killed init's staging folder, installer process, scratch database (forum/install_leftovers.py)
        notes += clear_leftovers(root, database)
    except InstallError as exc:
        return failed(exc)
    if options.force and service.get_status().running:
        stopped = service.stop()
        if not stopped.success:
            return failed(InstallError("stop", f"The running server would not stop: {stopped.message}",
                                       "Stop it (mybb-server stop --force), then run init again."))
        notes.append("The running server was stopped to replace its forum.")
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".mybb-download-", dir=root.parent))
    except OSError as exc:
        return failed(InstallError("target", f"Cannot write in {root.parent}: {exc.strerror}.",
                                   "Fix its permissions or choose another MYBB_ROOT."))
    try:
        if progress:
            progress("downloading " + (options.source or "MyBB") if not options.source or "://" in options.source
                     else "checking " + options.source)
        source = resolve_source(options.source, options.sha256, scratch, download_progress, insecure=options.insecure)
        if source.downloaded and not source.verified:
            notes.append(f"The download was not checked against a known SHA-256: it has {source.sha256} "
                         "(pass --sha256 to check it next time).")
        installed = install_forum(InstallRequest(
            source=source.path, root=root, bburl=bburl, php=config.php, database=database,
            admin_user=options.admin.strip(), force=options.force,
            limits=UnpackLimits(config.unpack_max_mb * 2**20, config.unpack_max_files),
        ), progress)
        notes += installed.notes
        _keep_manifest(config.release_manifest_file, source.path, installed.version, notes)
    except InstallError as exc:
        return failed(exc, options.source or "", notes)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    creds: Path | None = config.credentials_file
    try:
        write_credentials(config.credentials_file, {
            "url": bburl, "admin_user": installed.admin_user, "admin_password": installed.admin_password,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        })
    except OSError as exc:
        notes.append(f"Could not keep the password in {config.credentials_file}: {exc.strerror}; note it now.")
        creds = None
    notes += make_sql_reader(root, config.credentials_file, config.php_settings)  # MySQL: mybb_forum_sql's login
    if options.php is not None and config.php_version is not None:
        try:
            write_own_json(config.php_release_file, {"php_version": config.php_version})
        except OSError as exc:
            notes.append(f"Could not remember PHP {config.php_version} for this forum in {config.php_release_file} "
                         f"({exc.strerror}): set MYBB_PHP_VERSION={config.php_version} for its next starts.")
    if progress:
        progress("starting the server")
    start = service.start(port)
    return InitResult(
        success=start.success, root=root, url=bburl, admin_user=installed.admin_user,
        admin_password=installed.admin_password, credentials_file=creds, database=describe_database(installed.database),
        version=installed.version, source=source.origin, sha256=source.sha256, verified=source.verified,
        install_seconds=installed.seconds, seconds=time.monotonic() - started, start=start,
        message=("MyBB is installed and running." if start.success
                 else "MyBB is installed, but the server did not start."),
        notes=notes,
    )
