"""Development switches the tool makes in the forum, and undoes: MyBB's error logging turned on (into
the server log) or back off, the way MyBB's settings editor does it (update the settings table, rebuild
inc/settings.php), remembering the values it replaced so "off" restores them."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from ..safe_files import read_own_json
from .database import check_database, open_settings_table
from .error_log import ADMIN_CP_ERROR_LOGGING
from .files import (
    MYSQL,
    PGSQL,
    SQLITE,
    read_config_php,
    render_settings_php,
    write_atomic,
)

# File next to the state file that remembers the values `error-logging off` restores.
ERRORLOG_STATE_NAME = ".mybb-server-errorlog.json"


@dataclass(frozen=True)
class SettingChange:
    name: str
    old: str
    new: str


@dataclass(frozen=True)
class ErrorLoggingChange:
    """What set_error_logging did (or why it did nothing)."""

    ok: bool
    enabled: bool  # the state asked for
    changes: tuple[SettingChange, ...] = ()  # settings whose value changed (empty: already so)
    files_touched: tuple[Path, ...] = ()  # inc/settings.php, the remembered-values file
    database: str = ""  # which database was updated
    remembered: Path | None = None  # the file holding the values "off" restores
    explanation: str = ""  # what changed and what it means
    error: str | None = None  # why nothing changed
    hint: str | None = None  # what to do instead


_PREFIX_OK = re.compile(r"^[A-Za-z0-9_]*$")
_LOGGING_SETTINGS = ("errorlogmedium", "errorloglocation")

def _medium_on(medium: str) -> str:
    return "both" if medium in ("email", "mail", "both") else "log"


def _load_remembered(path: Path, root: Path) -> dict[str, str] | None:
    data = read_own_json(path, 1024 * 1024)  # ours, regular, bounded, never blocking on a planted FIFO
    if not isinstance(data, dict) or data.get("mybb_root") != os.path.abspath(root):
        return None
    saved = data.get("settings")
    if not isinstance(saved, dict) or not all(isinstance(v, str) for v in saved.values()):
        return None
    return {k: v for k, v in saved.items() if k in _LOGGING_SETTINGS}


def set_error_logging(root: Path, enabled: bool, state_dir: Path, timeout: float = 5.0,
                      memory_name: str = ERRORLOG_STATE_NAME) -> ErrorLoggingChange:
    """Turn MyBB's error logging on (errorlogmedium 'log', errorloglocation '' = the server log) or off
    (restore what it was), by updating the settings table and rebuilding inc/settings.php the way MyBB's
    own settings editor does. The values replaced by "on" are remembered in <state_dir>/<memory_name>
    (one file per forum: a folder's second forum has a name of its own, see layout.py)."""
    root = Path(root)
    cfg = read_config_php(root)
    if cfg is None:
        return ErrorLoggingChange(
            False, enabled, error=f"MyBB is not installed at {root} (no inc/config.php).",
            hint="Install it first: start the server and open /install/ in a browser.",
        )
    if cfg.kind == PGSQL:
        return ErrorLoggingChange(
            False, enabled,
            error="This forum uses PostgreSQL, which mybb-mcp cannot write to (it has no PostgreSQL driver).",
            hint=f"Change it in {ADMIN_CP_ERROR_LOGGING}: choose 'Log errors' and leave Error Log Location empty "
            "to log into the server log.",
        )
    if cfg.kind not in (MYSQL, SQLITE) or not _PREFIX_OK.match(cfg.table_prefix):
        return ErrorLoggingChange(
            False, enabled,
            error=f"inc/config.php has an unusable database type {cfg.type!r} or table prefix {cfg.table_prefix!r}.",
            hint=f"Fix inc/config.php, or use {ADMIN_CP_ERROR_LOGGING}.",
        )
    remembered_path = Path(state_dir) / memory_name
    settings_file = root / "inc" / "settings.php"
    try:
        db = open_settings_table(cfg, root, timeout)
    except Exception as exc:  # sqlite3.Error, pymysql.MySQLError, OSError: all mean "cannot reach it"
        health = check_database(cfg, min(timeout, 2.0), root)
        return ErrorLoggingChange(
            False, enabled, error=f"Cannot open the forum's database: {health.summary if not health.ok else exc}.",
            hint=health.hint or f"Check inc/config.php, or use {ADMIN_CP_ERROR_LOGGING}.",
        )
    touched: list[Path] = []
    with closing(db.conn):
        try:
            current = db.values(_LOGGING_SETTINGS)
        except Exception as exc:
            return ErrorLoggingChange(
                False, enabled, database=db.description, error=f"Cannot read {cfg.settings_table}: {exc}.",
                hint=f"Is the installation complete? Otherwise use {ADMIN_CP_ERROR_LOGGING}.",
            )
        missing = [name for name in _LOGGING_SETTINGS if name not in current]
        if missing:
            return ErrorLoggingChange(
                False, enabled, database=db.description,
                error=f"The settings table has no {' or '.join(missing)} setting.",
                hint="Run MyBB's upgrade script (/install/upgrade.php) or reinstall; then try again.",
            )
        saved = _load_remembered(remembered_path, root)
        if enabled:
            target = {"errorlogmedium": _medium_on(current["errorlogmedium"]), "errorloglocation": ""}
            if saved is None:
                # Remember the forum's own values before the first change; a second "on" keeps them.
                record = {"version": 1, "mybb_root": os.path.abspath(root), "saved_at": time.time(),
                          "settings": current}
                remembered_path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(remembered_path, json.dumps(record, indent=2) + "\n")
                touched.append(remembered_path)
        else:
            target = saved if saved is not None else {"errorlogmedium": "none"}
        changes = tuple(
            SettingChange(name, current[name], value) for name, value in target.items() if current.get(name) != value
        )
        try:
            for change in changes:
                db.update(change.name, change.new)
            text = render_settings_php(db.ordered())
            write_atomic(settings_file, text)
            db.conn.commit()
        except Exception as exc:
            db.conn.rollback()
            return ErrorLoggingChange(
                False, enabled, database=db.description, files_touched=tuple(touched),
                error=f"Could not update the settings: {exc}.",
                hint=f"Check that {settings_file} and the database are writable, or use {ADMIN_CP_ERROR_LOGGING}.",
            )
    touched.append(settings_file)
    if not enabled and remembered_path.exists():
        remembered_path.unlink()
        touched.append(remembered_path)
    return ErrorLoggingChange(
        True, enabled, changes, tuple(touched), db.description,
        remembered_path if enabled else None,
        _change_explanation(enabled, changes, saved is not None, settings_file),
    )


def _change_explanation(enabled: bool, changes: Sequence[SettingChange], had_saved: bool, settings_file: Path) -> str:
    listed = "; ".join(f"{c.name}: '{c.old}' -> '{c.new}'" for c in changes) or "no setting changed (already so)"
    if enabled:
        return (
            f"MyBB error logging is on: {listed}. MyBB now writes its errors (PHP warnings inside MyBB and "
            "plugins, SQL and user errors) to PHP's error log, which is the server log (unless the server's PHP "
            f"settings set error_log), so the logs query shows them beside their requests. {settings_file} was "
            "rebuilt as MyBB's settings editor does; it takes "
            "effect on the next request. Turn it off to restore the previous values."
        )
    restored = ("the values saved when it was turned on are restored" if had_saved
                else "nothing was saved, so errorlogmedium is set to 'none'")
    return (f"MyBB error logging is back to the forum's own setting ({restored}): {listed}. "
            f"{settings_file} was rebuilt.")



# --------------------------------------------------------------------------------------------
# What reaches the log: every error kind, visible or hidden, and why
# --------------------------------------------------------------------------------------------

# The kinds of error a page can raise, grouped by what makes them reach the server log.
KINDS_ALWAYS = "fatal errors (undefined functions, memory and time limits), uncaught exceptions, parse errors"
KINDS_MYBB = "warnings (E_WARNING, E_USER_WARNING), E_USER_DEPRECATED, SQL errors and E_USER_ERROR (MyBB's 503 page)"
KINDS_XDEBUG = "notices and deprecations (E_NOTICE, E_USER_NOTICE, E_DEPRECATED such as strlen(null))"
XDEBUG_FORCING = "xdebug.force_error_reporting"


@dataclass(frozen=True)
class HiddenKinds:
    kinds: str
    why: str
    fix: str  # the one thing to do (a command or a setting)


@dataclass(frozen=True)
class Visibility:
    """Which error kinds reach the server log (with message, file and line), which do not, and why."""

    visible: tuple[tuple[str, str], ...]  # (kinds, by what)
    hidden: tuple[HiddenKinds, ...]
    fresh_code: str  # how the server runs the code as it is now
    switched_on_by_tool: bool = False  # MyBB's error logging is on because this tool turned it on


def _forced_by_xdebug(argv: Sequence[str]) -> bool:
    return any(arg.startswith(XDEBUG_FORCING + "=") and arg.split("=", 1)[1].strip() not in ("", "0")
               for arg in argv)


def error_visibility(
    *,
    server_argv: Sequence[str],
    xdebug_installed: bool,
    logging_enabled: bool | None,
    fresh_code: str,
    switched_on_by_tool: bool = False,
    logging_off_fix: str = "",
    dev_ini: bool = True,
    php_build: str | None = None,
    channel: bool = False,
) -> Visibility:
    """From the PHP command line the server runs (or would run) with, whether Xdebug is installed, and
    MyBB's error logging (None: MyBB not installed or its settings unreadable). `channel`: the server runs
    the tool's error channel (orchestration/errors.php), which logs the notices and deprecations MyBB drops
    when Xdebug does not force them."""
    visible: list[tuple[str, str]] = [(KINDS_ALWAYS, "PHP itself (php -S repeats them on the request line)")]
    hidden: list[HiddenKinds] = []
    if logging_enabled:
        how = "MyBB's error logging (switched on by this tool)" if switched_on_by_tool else "MyBB's error logging"
        visible.append((KINDS_MYBB, how))
    elif logging_enabled is False:
        hidden.append(HiddenKinds(
            KINDS_MYBB,
            "MyBB's error handler swallows warnings and shows SQL and user errors only as its 503 page, logging "
            "nothing, while MyBB error logging is off (errorlogmedium)",
            logging_off_fix,
        ))
    if _forced_by_xdebug(server_argv):
        visible.append((KINDS_XDEBUG, "Xdebug's force_error_reporting (MyBB switches them off on every request)"))
    elif channel:
        without = f"the PHP build this forum runs on ({php_build}) has no Xdebug" if php_build is not None \
            else "Xdebug does not force them"
        visible.append((KINDS_XDEBUG, (f"the tool's error channel, in PHP's own format (MyBB switches them off on "
                                       f"every request and {without})")))
    else:
        why = ("MyBB's errorHandler calls error_reporting() without them on every request, overriding "
               "-d error_reporting; only Xdebug's force_error_reporting brings them back")
        if not xdebug_installed and php_build is not None:
            hidden.append(HiddenKinds(KINDS_XDEBUG, why + f", and the PHP build this forum runs on ({php_build}) has "
                                      "no Xdebug: this PHP cannot show them",
                                      "to see them, run the forum on a PHP with Xdebug (unset MYBB_PHP_VERSION; "
                                      "`apt-get install php-xdebug`), then restart the server"))
        elif not xdebug_installed:
            hidden.append(HiddenKinds(KINDS_XDEBUG, why + ", and Xdebug is not installed",
                                      "`apt-get install php-xdebug`, then restart the server"))
        elif not dev_ini:
            hidden.append(HiddenKinds(KINDS_XDEBUG, why + ", and MYBB_DEV_INI=0 leaves Xdebug as php.ini has it",
                                      "set MYBB_DEV_INI=1 (the default), then restart the server"))
        else:
            hidden.append(HiddenKinds(KINDS_XDEBUG, why + "; the server was started without it (before Xdebug "
                                      "was installed?)", "restart the server"))
    return Visibility(tuple(visible), tuple(hidden), fresh_code, switched_on_by_tool)


def switched_on_by_tool(state_dir: Path, root: Path, memory_name: str = ERRORLOG_STATE_NAME) -> bool:
    """Whether MyBB's error logging is on because this tool turned it on (it remembers what to restore)."""
    return _load_remembered(Path(state_dir) / memory_name, root) is not None
