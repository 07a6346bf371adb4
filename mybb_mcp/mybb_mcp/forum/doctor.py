"""`doctor`: named health checks of a forum, each with a status and a one-line fix.

The file checks run in Python; what needs MyBB's state (its caches, settings table, stylesheets) runs
once in a PHP child with MyBB booted (doctor.php, reading only). When MyBB does not boot, the checks
that need it say `skipped` and why, and the reason is one finding of its own. Each broken thing is one
finding; what it breaks is said inside it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .database import check_database
from .extensions import check_extensions, loaded_extensions
from .files import check_bburl, php_ini_value, read_config_php, read_mybb_version
from .folder_modes import open_folders_warning
from .php import PhpRunError, run_mybb_php

OK, PROBLEM, WARNING, INFO, SKIPPED = "ok", "problem", "warning", "info", "skipped"
_PHP_FILE = Path(__file__).with_name("doctor.php")
BOOT_TIMEOUT = 10.0
# Used when present; MyBB runs without them (a missing one is information, not a problem).
OPTIONAL_EXTENSIONS = {
    "gd": "CAPTCHA images and attachment thumbnails",
    "curl": "fetching remote files (avatars by URL, update checks) faster than sockets",
    "zlib": "gzip-compressed pages",
}
_KIND_ENGINE = {"mysql": "mysqli", "sqlite": "sqlite", "pgsql": "pgsql"}
_TEMPLATE_GET = re.compile(r"""\$templates->get\(\s*(["'])([A-Za-z0-9_.\-]+)\1""")
_WRITTEN_BY_MYBB = ("cache", "cache/themes", "uploads", "uploads/avatars")


@dataclass(frozen=True)
class Finding:
    """One check: its name, status (ok, problem, warning, info, skipped), what was found and the fix.
    `php_fix`, when given, is PHP code (run inside the booted forum) that fixes it with MyBB's own calls."""

    name: str
    status: str
    what: str = ""
    fix: str = ""
    php_fix: str = ""


@dataclass(frozen=True)
class DoctorReport:
    root: Path
    mybb_version: str | None
    findings: tuple[Finding, ...]
    seconds: float

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == PROBLEM)


def _ok(name: str, what: str = "") -> Finding:
    return Finding(name, OK, what)


def _listed(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# --- checks on the files -----------------------------------------------------------------------------

def check_install_lock(root: Path) -> Finding:
    name = "install-lock"
    if not (root / "install").is_dir() or (root / "install" / "lock").exists():
        return _ok(name)
    return Finding(name, PROBLEM, "install/ is there without install/lock: MyBB answers every page with 503 "
                   "(\"remove the install directory\") and anyone could run the installer over the forum",
                   f"create {root / 'install' / 'lock'} (an empty file), or delete {root / 'install'}")


def check_folder_modes(root: Path) -> Finding:
    warning = open_folders_warning(root)
    if warning is None:
        return _ok("folder-modes")
    what, _, fix = warning.partition(" Close them with ")
    return Finding("folder-modes", WARNING, what.rstrip("."), "close them with " + fix.rstrip("."))


def check_writable(root: Path) -> Finding:
    """The folders MyBB writes at run time (theme caches, uploads) must be writable by the server's user."""
    name = "writable-folders"
    blocked = [rel for rel in _WRITTEN_BY_MYBB if (root / rel).is_dir() and not os.access(root / rel, os.W_OK)]
    missing = [rel for rel in ("cache", "uploads") if not (root / rel).is_dir()]
    if not blocked and not missing:
        return _ok(name)
    parts = []
    if missing:
        parts.append(f"missing: {', '.join(missing)}")
    if blocked:
        parts.append(f"not writable by this user (the server's): {', '.join(blocked)}")
    return Finding(name, PROBLEM, "; ".join(parts) + " — MyBB cannot save stylesheets, caches or uploads",
                   f"create them and give them to the server's user: chmod u+w on each under {root}")


def check_php_extensions(php: str, engine: str) -> Finding:
    name = "php-extensions"
    needed = check_extensions(php, engine, cached=True)
    if needed.error:
        return Finding(name, PROBLEM, needed.error + " MyBB's pages fail without it", needed.hint)
    loaded = loaded_extensions(php) or set()
    absent = [ext for ext in OPTIONAL_EXTENSIONS if ext not in loaded]
    if absent:
        what = "; ".join(f"{ext} is not loaded (optional: {OPTIONAL_EXTENSIONS[ext]})" for ext in absent)
        return Finding(name, INFO, what, "apt-get install -y " + " ".join(f"php-{ext}" for ext in absent
                                                                          if ext != "zlib"))
    return _ok(name)


MAX_LINTED_PLUGINS = 500
_LINT_FILE = Path(__file__).with_name("doctor_lint.php")
LINT_TIMEOUT = 10.0


def check_plugin_syntax(root: Path, php: str) -> Finding:
    """A plugin file PHP cannot parse: MyBB includes active plugins on every request, and every plugin file
    on the Admin CP's plugin page, so one parse error stops them all. One PHP process parses them all
    (doctor_lint.php), never running them."""
    name = "plugin-syntax"
    folder = root / "inc" / "plugins"
    try:
        files = sorted(str(p) for p in folder.iterdir() if p.suffix == ".php" and p.is_file() and not p.is_symlink())
    except OSError:
        return _ok(name)
    if not files:
        return _ok(name)
    try:
        done = subprocess.run([php, str(_LINT_FILE)], input=json.dumps(files[:MAX_LINTED_PLUGINS]),
                              capture_output=True, text=True, timeout=LINT_TIMEOUT, start_new_session=True,
                              check=False)
        broken = json.loads(done.stdout or "{}")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return Finding(name, SKIPPED, "PHP could not parse the plugin files")
    if not isinstance(broken, dict) or not broken:
        return _ok(name)
    shown = [f"{Path(path).relative_to(root)}: {message}" for path, message in sorted(broken.items())]
    return Finding(name, PROBLEM, f"PHP cannot parse {'; '.join(shown[:3])} — if it is active every page fails, "
                   "and the Admin CP's plugin page fails either way",
                   "fix the line PHP names (or move the file out of inc/plugins/)")


# --- checks on MyBB's state ---------------------------------------------------------------------------

def _plugin_files(root: Path, active: Sequence[str]) -> Finding:
    name = "plugin-files"
    gone = [p for p in active if p and not (root / "inc" / "plugins" / f"{p}.php").is_file()]
    if not gone:
        return _ok(name)
    first = gone[0]
    code = "".join(f'unset($p["active"]["{p}"]); ' for p in gone if re.fullmatch(r"[A-Za-z0-9_]+", p))
    return Finding(name, PROBLEM, f"active plugin(s) whose file is gone: {_listed(gone)} (inc/plugins/{first}.php "
                   "...): MyBB skips them silently, so their hooks never run while their templates, settings "
                   "and tables stay", f"put inc/plugins/{first}.php back, or take it off MyBB's active list",
                   php_fix=f'$p = $cache->read("plugins"); {code}$cache->update("plugins", $p);')


def _settings_file(data: dict[str, Any]) -> Finding:
    name = "settings-file"
    info = data.get("settings") or {}
    differ, missing, extra = info.get("differ") or [], info.get("missing") or [], info.get("extra") or []
    if not info.get("file"):
        return Finding(name, PROBLEM, "inc/settings.php is missing: MyBB runs on stale or default settings",
                       "rebuild it from the settings table", php_fix="rebuild_settings();")
    if not (differ or missing or extra):
        return _ok(name)
    parts = []
    if differ:
        parts.append(f"{len(differ)} value(s) differ from the settings table ({_listed(differ)})")
    if missing:
        parts.append(f"{len(missing)} setting(s) missing from it ({_listed(missing)})")
    if extra:
        parts.append(f"{len(extra)} only in it ({_listed(extra)})")
    return Finding(name, PROBLEM, "inc/settings.php is out of step with the settings table: " + "; ".join(parts)
                   + " — pages use the file's values, the Admin CP shows the table's",
                   "rebuild it from the table as the settings editor does", php_fix="rebuild_settings();")


def _stylesheets(data: dict[str, Any]) -> Finding:
    name = "theme-stylesheets"
    missing = data.get("stylesheets") or []
    if not missing:
        return _ok(name)
    shown = [f"cache/themes/theme{m['tid']}/{m['name']}" for m in missing]
    return Finding(name, PROBLEM, f"{len(missing)} theme stylesheet(s) missing from cache/themes ({_listed(shown)}): "
                   "pages link to them and are shown unstyled", "rewrite them with MyBB's resync_stylesheet() "
                   "(what the Admin CP's theme page does)",
                   php_fix='require_once MYBB_ROOT."admin/inc/functions_themes.php"; '
                           '$q = $db->simple_select("themestylesheets", "*"); '
                           'while($s = $db->fetch_array($q)) { resync_stylesheet($s); }')


def _caches(data: dict[str, Any]) -> Finding:
    name = "datacache"
    differ = data.get("caches") or []
    if not differ:
        return _ok(name)
    calls = " ".join(f"$cache->update_{c}();" for c in differ)
    return Finding(name, PROBLEM, f"datacache entr{'y' if len(differ) == 1 else 'ies'} MyBB would rebuild "
                   f"differently from the tables: {_listed(differ)} — pages use the stale copy",
                   "rebuild them with MyBB's own update methods (Admin CP → Tools → Cache Manager)", php_fix=calls)


def plugin_templates(root: Path, active: Sequence[str], titles: set[str]) -> Finding:
    name = "plugin-templates"
    absent: list[str] = []
    for plugin in active:
        path = root / "inc" / "plugins" / f"{plugin}.php"
        try:
            text = path.read_text("utf-8", "replace") if path.is_file() else ""
        except OSError:
            continue
        for match in _TEMPLATE_GET.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            if match.group(2) not in titles:
                absent.append(f"{match.group(2)} (inc/plugins/{plugin}.php:{line})")
    if not absent:
        return _ok(name)
    return Finding(name, PROBLEM, f"template(s) used by active plugins exist in no set: {_listed(absent)} — "
                   "those parts of the pages render empty", "reinstall the plugin (its _install or _activate "
                   "adds its templates), or add them in the Admin CP's templates")


def _cookies(values: dict[str, str], server_url: str) -> Finding:
    name = "bburl-cookies"
    bburl = values.get("bburl", "")
    problems = []
    mismatch = check_bburl({"bburl": bburl}, server_url)
    if mismatch:
        problems.append(mismatch.split(": every asset")[0] + ": every link and asset points elsewhere")
    host = (urlsplit(server_url).hostname or "").lower()
    domain = values.get("cookiedomain", "").strip().lower().lstrip(".")
    if domain and not (host == domain or host.endswith("." + domain)):
        problems.append(f"cookiedomain is '{domain}' but the forum is served on {host}: browsers drop MyBB's "
                        "cookies, so no one can log in")
    path = values.get("cookiepath", "") or "/"
    if not (urlsplit(bburl).path or "/").startswith(path.rstrip("/") or "/"):
        problems.append(f"cookiepath '{path}' is not under bburl's path: log-ins do not stick")
    if values.get("cookiesecureflag") == "1" and server_url.startswith("http://"):
        problems.append("cookiesecureflag is on but the server speaks http: browsers drop MyBB's cookies, so no "
                        "one can log in")
    if not problems:
        return _ok(name)
    return Finding(name, PROBLEM, "; ".join(problems), f"set bburl to {server_url}, cookiedomain empty, cookiepath "
                   "'/' and cookiesecureflag off (Admin CP → Configuration → Settings → General / Server and "
                   "Optimization)")


def _board_closed(values: dict[str, str]) -> Finding:
    if values.get("boardclosed") == "1":
        return Finding("board-closed", WARNING, "the board is closed: visitors and members see only the closed "
                       "message (admins still see the forum)", "open it in Admin CP → Configuration → Settings → "
                       "Board Online / Offline", php_fix='$db->update_query("settings", array("value" => 0), '
                       '"name=\'boardclosed\'"); rebuild_settings();')
    return _ok("board-closed")


BOOT_BLOCKERS = ("install-lock", "database", "php-extensions", "plugin-syntax")
NEEDS_MYBB = ("plugin-files", "settings-file", "theme-stylesheets", "datacache", "plugin-templates", "bburl-cookies",
              "board-closed")


def _boot(root: Path, php: str, php_settings: Sequence[str]) -> tuple[dict[str, Any] | None, str]:
    code = _PHP_FILE.read_text("utf-8").removeprefix("<?php")
    try:
        run = run_mybb_php(root, code, {}, php=php, timeout=BOOT_TIMEOUT, php_settings=php_settings)
    except PhpRunError as exc:
        return None, exc.message
    return (run.result, "") if isinstance(run.result, dict) else (None, "MyBB answered nothing")


def diagnose(root: Path, server_url: str, php: str = "php", php_settings: Sequence[str] = (),
             dev_notes: Sequence[str] = ()) -> DoctorReport:
    """Every check on the forum at `root`, served (or to be served) at `server_url`.
    `dev_notes`: development switches this tool made (shown as info, expected for development)."""
    started = time.monotonic()
    root = Path(root)
    findings: list[Finding] = []
    version = read_mybb_version(root)
    cfg = read_config_php(root)
    if not (root / "inc" / "class_core.php").is_file() or cfg is None:
        what = "no MyBB here (no inc/class_core.php)" if not (root / "inc" / "class_core.php").is_file() \
            else "MyBB is not installed (no database in inc/config.php)"
        findings.append(Finding("installed", PROBLEM, what, "install it with `mybb-server init`"))
        return DoctorReport(root, version, tuple(findings), time.monotonic() - started)
    findings.append(check_install_lock(root))
    health = check_database(cfg, 2.0, root, php_ini_value(php_settings, "mysqli.default_socket"))
    findings.append(_ok("database", health.summary) if health.ok else
                    Finding("database", PROBLEM, f"{health.summary}: every page shows MyBB's database error",
                            health.hint or "fix the database settings in inc/config.php"))
    findings.append(check_php_extensions(php, _KIND_ENGINE.get(cfg.kind, "")))
    findings.append(check_folder_modes(root))
    findings.append(check_writable(root))
    findings.append(check_plugin_syntax(root, php))
    data, why = _boot(root, php, php_settings) if health.ok else (None, "the database does not answer")
    if data is None:
        blocker = next((f.name for f in findings if f.status == PROBLEM and f.name in BOOT_BLOCKERS), None)
        reason = f"MyBB does not boot ({blocker}, above)" if blocker else f"MyBB does not boot: {why}"
        if blocker is None:
            findings.append(Finding("mybb-boots", PROBLEM, f"MyBB stops while starting: {why}",
                                    "fix what it names (it stops every page too)"))
        findings.extend(Finding(name, SKIPPED, reason) for name in NEEDS_MYBB)
    else:
        version = data.get("version") or version
        active = [str(p) for p in data.get("active_plugins") or []]
        values = {k: str(v) for k, v in (data.get("values") or {}).items()}
        findings += [_plugin_files(root, active), _settings_file(data), _stylesheets(data), _caches(data),
                     plugin_templates(root, active, set(data.get("template_titles") or [])),
                     _cookies(values, server_url), _board_closed(values)]
    findings.extend(Finding("development", INFO, f"{note} — expected for development") for note in dev_notes)
    return DoctorReport(root, version, tuple(findings), time.monotonic() - started)

