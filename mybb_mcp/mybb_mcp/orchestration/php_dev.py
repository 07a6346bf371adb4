"""PHP for development: what the PHP binary has (Xdebug, OPcache) and the `-d` flags that make the
server run fresh code and log every error.

Fresh code (measured on PHP 8.2, Debian's OPcache on for `php -S`): with the default
`opcache.revalidate_freq=2` a request within 2 s of the last check runs the old script. With
`revalidate_freq=0` every request compares the file's mtime (whole seconds) with the cached one,
and `file_update_protection=2` keeps a file modified in the last 2 s out of the cache: a second
edit within the same second is compiled afresh, never served from a copy with the same mtime.
`file_update_protection=0` is what breaks same-second edits (35 of 40 stale in the measurement).
`opcache.enable=0` is also fresh, but doubles MyBB's page time; these flags keep the cache.

Visibility: MyBB's error handler calls `error_reporting()` without E_NOTICE and E_DEPRECATED on
every request; Xdebug's `force_error_reporting` (php.ini only, `-d` works) puts them back, and its
develop mode logs a stack trace below each (`PHP Stack trace:` / `PHP   N. frame` lines). Only
the kinds MyBB drops are forced: forcing warnings too would also un-silence every `@` in MyBB.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# E_NOTICE | E_USER_NOTICE | E_DEPRECATED | E_USER_DEPRECATED: what MyBB's errorHandler switches off.
FORCED_KINDS = 8 | 1024 | 8192 | 16384
XDEBUG_PACKAGE = "php-xdebug"
XDEBUG_INSTALL = f"apt-get install {XDEBUG_PACKAGE}"
# Arguments in Xdebug's stack frames: arrays as [...] (MyBB's $config holds the database password),
# strings cut at 64 characters (enough for the start of an SQL query).
_XDEBUG_DISPLAY = (
    "xdebug.var_display_max_depth=0",
    "xdebug.var_display_max_data=64",
    "xdebug.var_display_max_children=8",
)

_PROBE = Path(__file__).with_name("php_probe.php")


@dataclass(frozen=True)
class PhpRuntime:
    """What the PHP binary brings that matters for development."""

    php: str
    version: str | None = None
    xdebug: str | None = None  # Xdebug's version when the extension is loaded
    xdebug_mode: str | None = None  # xdebug.mode as php.ini (and our -d flags) leave it
    opcache: bool = False
    problem: str | None = None  # why the probe could not tell

    @property
    def has_xdebug(self) -> bool:
        return self.xdebug is not None


_cache: dict[tuple[str, float, tuple[str, ...]], PhpRuntime] = {}


def probe_php(php: str, settings: Sequence[str] = (), timeout: float = 10.0) -> PhpRuntime:
    """Ask the PHP binary (with the server's -d settings) what it has; cached per binary and settings."""
    try:
        key = (php, os.stat(php).st_mtime, tuple(settings))
    except OSError as exc:
        return PhpRuntime(php, problem=f"cannot run {php}: {exc.strerror or exc}")
    cached = _cache.get(key)
    if cached is not None:
        return cached
    argv = [php]
    for setting in settings:
        argv += ["-d", setting]
    argv.append(str(_PROBE))
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        data = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        return PhpRuntime(php, problem=f"{php} did not say what it has ({type(exc).__name__})")
    runtime = PhpRuntime(
        php,
        version=str(data.get("version") or "") or None,
        xdebug=str(data["xdebug"]) if data.get("xdebug") else None,
        xdebug_mode=str(data.get("xdebug_mode") or "") if data.get("xdebug") else None,
        opcache=bool(data.get("opcache")),
    )
    _cache[key] = runtime
    return runtime


def _develop_mode(mode: str | None) -> str:
    """xdebug.mode with develop added: a step debugger configured in php.ini keeps working."""
    modes = [m.strip() for m in (mode or "").split(",") if m.strip() and m.strip() != "off"]
    if "develop" not in modes:
        modes.append("develop")
    return ",".join(modes)


def xdebug_settings(runtime: PhpRuntime) -> list[str]:
    """The -d flags that make Xdebug log the notices and deprecations MyBB hides ([] without Xdebug)."""
    if not runtime.has_xdebug:
        return []
    return [
        f"xdebug.mode={_develop_mode(runtime.xdebug_mode)}",
        f"xdebug.force_error_reporting={FORCED_KINDS}",
        *_XDEBUG_DISPLAY,
    ]


def fresh_code_explanation(settings: Sequence[str], runtime: PhpRuntime | None) -> str:
    """How the server runs the code as it is now, from the -d settings it runs with."""
    values = {s.split("=", 1)[0].strip(): s.split("=", 1)[1].strip() for s in settings if "=" in s}
    if runtime is not None and not runtime.opcache:
        return "PHP has no OPcache: every request compiles the scripts as they are on disk."
    if values.get("opcache.enable") in ("0", "off", "Off") :
        return "OPcache is off (opcache.enable=0): every request compiles the scripts as they are on disk."
    if (values.get("opcache.validate_timestamps") in ("1", "on", "On")
            and values.get("opcache.revalidate_freq") == "0"
            and values.get("opcache.file_update_protection", "2") not in ("0",)):
        return ("OPcache checks every script's mtime on each request (revalidate_freq=0) and does not cache a "
                "file changed in the last 2 s (file_update_protection=2): the request after an edit runs the "
                "edited code, also after a second edit within the same second.")
    return ("OPcache runs with php.ini's settings: after an edit the server may run the old code for up to "
            "opcache.revalidate_freq seconds. Set MYBB_DEV_INI=1 (the default) for fresh code.")


__all__ = [
    "FORCED_KINDS",
    "PhpRuntime",
    "XDEBUG_INSTALL",
    "fresh_code_explanation",
    "probe_php",
    "xdebug_settings",
]
