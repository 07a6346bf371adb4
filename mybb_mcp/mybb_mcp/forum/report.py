"""One report for status: is this a MyBB, is it installed, how its database answers, where its
errors go, whether bburl matches the server, and how to install it when it is not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .database import DatabaseHealth, check_database
from .error_log import DEST_SERVER_LOG, ErrorLoggingState, error_logging_state
from .extensions import check_extensions
from .files import (
    ForumDbConfig,
    check_bburl,
    php_ini_value,
    read_config_php,
    read_mybb_version,
    read_settings_php,
)


@dataclass(frozen=True)
class ForumReport:
    """Everything status says about the forum itself."""

    root: Path
    is_mybb: bool  # inc/class_core.php exists
    installed: bool  # inc/config.php holds a database configuration
    mybb_version: str | None = None
    config: ForumDbConfig | None = None
    database: DatabaseHealth | None = None
    error_logging: ErrorLoggingState | None = None
    bburl: str | None = None
    bburl_warning: str | None = None
    install_hint: str | None = None  # how to install, when not installed
    missing_extensions: tuple[str, ...] = ()  # PHP extensions MyBB needs that the server's PHP lacks
    # Warnings that need no face-specific command, most important first. The error-logging warning is
    # not among them: faces add it with their own command (see error_logging_off / error_logging.fix).
    warnings: tuple[str, ...] = ()

    @property
    def database_summary(self) -> str | None:
        """One line for a status table's database row."""
        if self.database is not None:
            return self.database.summary if self.database.ok else f"FAILED: {self.database.summary}"
        if not self.installed:
            return "not installed (no inc/config.php)"
        return None

    @property
    def error_logging_off(self) -> bool:
        return self.error_logging is not None and not self.error_logging.enabled

    @property
    def error_logging_summary(self) -> str | None:
        """One line for a status table: where MyBB's own errors go."""
        state = self.error_logging
        if state is None:
            return None
        if not state.enabled:
            return f"off (errorlogmedium = '{state.medium}')"
        if state.destination == DEST_SERVER_LOG:
            return "on, into the server log"
        return "on, into " + (", ".join(str(p) for p in state.files) or state.location)


_KIND_ENGINE = {"mysql": "mysqli", "sqlite": "sqlite", "pgsql": "pgsql"}


def install_hint(root: Path, server_url: str | None) -> str:
    """How to install MyBB at `root`: `mybb-server init`, or its own installer in a browser."""
    where = f"{server_url.rstrip('/')}/install/" if server_url else "/install/ on the server (start it first)"
    if not (Path(root) / "inc" / "class_core.php").is_file():
        return (
            f"No MyBB found at {root} (no inc/class_core.php). Install one with `mybb-server init` "
            "(it downloads MyBB 1.8; offline: `mybb-server init --from ARCHIVE`), or copy the upload/ folder "
            f"of a MyBB 1.8 release there and open {where} in a browser."
        )
    if not (Path(root) / "install" / "index.php").is_file():
        return (
            f"MyBB is not installed at {root} (no inc/config.php), and its installer (install/) is missing: "
            f"copy install/ from MyBB's upload/ folder back, then open {where} in a browser."
        )
    return f"MyBB is not installed at {root} (no inc/config.php). Open {where} in a browser to run the installer."


def diagnose_forum(
    root: Path,
    server_url: str | None,
    check_db: bool = True,
    timeout: float = 2.0,
    php_settings: Sequence[str] = (),
    php: str | None = None,
) -> ForumReport:
    """What status reports about the forum: installed or not, database health, error logging, bburl,
    and (given `php`) the PHP extensions it lacks.
    `php_settings` are the server's php -d settings (config.php_settings): mysqli.default_socket counts."""
    root = Path(root)
    is_mybb = (root / "inc" / "class_core.php").is_file()
    version = read_mybb_version(root)
    cfg = read_config_php(root)
    extensions = None
    if php is not None and is_mybb:
        engine = _KIND_ENGINE.get(cfg.kind, "") if cfg is not None else "sqlite"
        extensions = check_extensions(php, engine, cached=True)
    missing = extensions.missing if extensions is not None else ()
    php_warning = f"{extensions.error} {extensions.hint}" if extensions is not None and missing else None
    if cfg is None:
        hint = install_hint(root, server_url)
        return ForumReport(root, is_mybb, False, version, install_hint=hint, missing_extensions=missing,
                           warnings=tuple(w for w in (php_warning, hint) if w))
    settings = read_settings_php(root)
    default_socket = php_ini_value(php_settings, "mysqli.default_socket")
    health = check_database(cfg, timeout, root, default_socket) if check_db else None
    php_error_log = php_ini_value(php_settings, "error_log")
    logging_state = error_logging_state(settings, root, cfg.admin_dir, php_error_log) if settings else None
    bburl_warning = check_bburl(settings, server_url) if server_url else None
    warnings: list[str] = [php_warning] if php_warning else []
    if (root / "install").is_dir() and not (root / "install" / "lock").exists():
        # MyBB's init.php stops every page (503) while install/ is there without its lock.
        warnings.insert(0, f"{root / 'install'} is there without its lock: MyBB answers every page with 503 "
                        f"(\"remove the install directory\"). Create {root / 'install' / 'lock'} (an empty file) "
                        "or delete install/.")
    if health is not None and not health.ok:
        warnings.append(f"Database: {health.summary}." + (f" {health.hint}" if health.hint else ""))
    warnings.extend(f"Database config: {note}." for note in cfg.notes)
    if not settings:
        warnings.append(f"{root / 'inc' / 'settings.php'} is missing or empty: MyBB rebuilds it from the database "
                        "on the next request.")
    if bburl_warning:
        warnings.append(bburl_warning)
    return ForumReport(
        root, is_mybb, True, version, cfg, health, logging_state, settings.get("bburl"), bburl_warning, None,
        missing, tuple(warnings),
    )
