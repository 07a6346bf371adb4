"""The PHP extensions MyBB needs, and the Debian packages that bring them.

MyBB's installer refuses to run without xml; its pages use mbstring; each database needs its driver
(MyBB's SQLite driver is PDO's). One `php -r` lists what the PHP binary has.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

# extension -> Debian package
BASE_EXTENSIONS = {"xml": "php-xml", "mbstring": "php-mbstring"}
DATABASE_EXTENSIONS = {
    "sqlite": {"pdo_sqlite": "php-sqlite3"},
    "mysqli": {"mysqli": "php-mysql"},
    "pgsql": {"pgsql": "php-pgsql"},
}
PHP_LIST_TIMEOUT = 15.0
_LIST_EXTENSIONS = Path(__file__).with_name("php_extensions.php")
CACHE_SECONDS = 60.0  # status asks often; an extension installed meanwhile shows within a minute
_cache: dict[tuple[str, float], tuple[float, frozenset[str] | None]] = {}


@dataclass(frozen=True)
class ExtensionCheck:
    missing: tuple[str, ...] = ()  # extension names
    packages: tuple[str, ...] = ()  # Debian packages that bring them
    error: str = ""  # empty: all there
    hint: str = ""


def required_extensions(engine: str) -> dict[str, str]:
    return {**BASE_EXTENSIONS, **DATABASE_EXTENSIONS.get(engine, {})}


def loaded_extensions(php: str) -> set[str] | None:
    """Lower-cased names of the extensions `php` loads; None when PHP does not run."""
    try:
        proc = subprocess.run(
            [php, str(_LIST_EXTENSIONS)],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=PHP_LIST_TIMEOUT, start_new_session=True,
        )
        return set(json.loads(proc.stdout))
    except (OSError, subprocess.TimeoutExpired, ValueError, TypeError):
        return None


def _cached_extensions(php: str) -> frozenset[str] | None:
    """loaded_extensions, remembered for CACHE_SECONDS per PHP binary (and its modification time)."""
    found = shutil.which(php) or php
    try:
        mtime = os.stat(found).st_mtime
    except OSError:
        mtime = -1.0
    key, now = (found, mtime), time.monotonic()
    hit = _cache.get(key)
    if hit is None or now - hit[0] > CACHE_SECONDS:
        loaded = loaded_extensions(php)
        hit = (now, frozenset(loaded) if loaded is not None else None)
        _cache[key] = hit
    return hit[1]


def check_extensions(php: str, engine: str = "sqlite", cached: bool = False) -> ExtensionCheck:
    """What `php` lacks to run MyBB on `engine`, with the apt line that fixes it.
    `cached`: for status, which runs often; an install always asks PHP afresh."""
    loaded = _cached_extensions(php) if cached else loaded_extensions(php)
    if loaded is None:
        return ExtensionCheck(error=f"PHP ({php}) does not run.",
                              hint="Install it: apt-get install -y php-cli php-xml php-mbstring php-sqlite3, "
                                   "or set MYBB_PHP.")
    needed = required_extensions(engine)
    missing = tuple(ext for ext in needed if ext not in loaded)
    if not missing:
        return ExtensionCheck()
    packages = tuple(dict.fromkeys(needed[ext] for ext in missing))
    return ExtensionCheck(
        missing=missing,
        packages=packages,
        error=f"PHP ({php}) lacks the extension{'s' if len(missing) > 1 else ''} MyBB needs: {', '.join(missing)}.",
        hint=f"Install {'them' if len(missing) > 1 else 'it'}: apt-get install -y {' '.join(packages)}",
    )
