"""MyBB's own error log: whether MyBB logs errors and where (errorlogmedium, errorloglocation), and
which files those are (`logs/mybb_error_log.py` reads their `<error>` blocks into log queries).

MyBB's error handler swallows PHP warnings raised inside MyBB, and SQL and user errors reach the php -S
log only as a bare `[503]`: this log is where their message, file and line are."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .files import read_config_php

# How a user turns MyBB's error logging on or off (the tool argument and the CLI command).
# (answers.commands.Commands.error_logging_on says the same for each face.)
ERROR_LOGGING_MCP_HINT = '`mybb_server_start` with `mybb_error_logging: "on"`'
ERROR_LOGGING_CLI_HINT = "`mybb-server errorlog on`"
# Where the same setting lives in MyBB's Admin CP.
ADMIN_CP_ERROR_LOGGING = (
    "Admin CP -> Configuration -> Settings -> Server and Optimization Options -> Error Logging Medium"
)

# --------------------------------------------------------------------------------------------
# MyBB's error logging: state and files
# --------------------------------------------------------------------------------------------

LOGGING_MEDIUMS = ("log", "both")  # errorlogmedium values with which MyBB writes its error log
DEST_OFF, DEST_SERVER_LOG, DEST_FILES = "off", "server_log", "files"


@dataclass(frozen=True)
class ErrorLoggingState:
    """MyBB's error logging as inc/settings.php has it, explained."""

    enabled: bool  # MyBB writes <error> blocks somewhere
    medium: str  # errorlogmedium: none, log, email, both
    location: str  # errorloglocation as written ('' = PHP's error_log)
    destination: str  # DEST_OFF, DEST_SERVER_LOG (php -S log) or DEST_FILES
    files: tuple[Path, ...]  # where the <error> blocks go when destination is DEST_FILES
    explanation: str
    warning: str | None = None  # when errors are invisible
    fix: str | None = None  # how to make them visible


def error_log_paths(root: Path, location: str, admin_dir: str = "admin") -> list[Path]:
    """Where a relative errorloglocation lands: php -S runs each script from its own directory,
    so front-end pages write under the forum root and the Admin CP under its directory."""
    location = location.strip()
    if not location:
        return []
    path = Path(os.path.expanduser(location))
    if path.is_absolute():
        return [path]
    return [Path(os.path.normpath(Path(root) / base / path)) for base in ("", admin_dir)]


def _fix_text() -> str:
    return (
        f"Turn it on for development with {ERROR_LOGGING_CLI_HINT} or {ERROR_LOGGING_MCP_HINT}: "
        "this sets errorlogmedium to 'log' and errorloglocation to '' in the forum's settings table and "
        "rebuilds inc/settings.php as MyBB's Admin CP does, so MyBB's errors go to PHP's error log, which is "
        "the server log, next to the requests that raised them. Turning it off restores the previous values "
        f"(or use {ADMIN_CP_ERROR_LOGGING})."
    )


def error_logging_state(
    settings: Mapping[str, str], root: Path | None = None, admin_dir: str = "admin", php_error_log: str | None = None
) -> ErrorLoggingState:
    """MyBB's error logging from its settings; with `root`, the files a relative location resolves to.
    `php_error_log` is PHP's error_log setting when the server is given one (php -d error_log=...)."""
    medium = settings.get("errorlogmedium", "none").strip() or "none"
    location = settings.get("errorloglocation", "").strip()
    enabled = medium in LOGGING_MEDIUMS
    if not enabled:
        emailed = " (errors are only emailed)" if medium in ("email", "mail") else ""
        return ErrorLoggingState(
            False, medium, location, DEST_OFF, (),
            f"MyBB error logging is off (errorlogmedium = '{medium}'){emailed}.",
            "MyBB's error logging is off: MyBB's error handler swallows PHP warnings raised inside MyBB and "
            "plugins, and SQL and user errors show only as a bare [503] in the server log; their message, "
            "file and line are recorded nowhere.",
            _fix_text(),
        )
    if not location and not php_error_log:
        return ErrorLoggingState(
            True, medium, location, DEST_SERVER_LOG, (),
            f"MyBB logs errors (errorlogmedium = '{medium}') to PHP's error log, which under php -S is the "
            "server log itself.",
        )
    target = location or php_error_log or ""
    files = tuple(error_log_paths(root, target, admin_dir)) if root is not None else ()
    if not location:
        where = f"to PHP's error log, which the server's PHP settings set to {php_error_log} instead of the server log"
    elif Path(os.path.expanduser(location)).is_absolute():
        where = f"to {location}"
    elif len(files) == 2:
        where = (
            f"to {location!r} relative to each script's directory: php -S runs every request from its "
            f"script's directory, so front-end errors land in {files[0]} and Admin CP errors in {files[1]}"
        )
    else:
        where = f"to {location!r} relative to each script's directory"
    return ErrorLoggingState(
        True, medium, location, DEST_FILES, files, f"MyBB logs errors (errorlogmedium = '{medium}') {where}."
    )


def mybb_error_log_files(
    root: Path, settings: Mapping[str, str], admin_dir: str | None = None, php_error_log: str | None = None
) -> list[Path]:
    """The existing files MyBB's errorloglocation resolves to (forum root and Admin CP directory for a
    relative path). An empty location means PHP's error_log: the php -S log itself, read anyway, so []
    here; unless the server's PHP settings name a file (`php_error_log`), which is then returned."""
    if admin_dir is None:
        cfg = read_config_php(root)
        admin_dir = cfg.admin_dir if cfg else "admin"
    location = settings.get("errorloglocation", "").strip() or php_error_log or ""
    paths = error_log_paths(root, location, admin_dir)
    unique = list(dict.fromkeys(paths))
    return [p for p in unique if p.is_file()]
