"""Settings from the environment and `.env` files, as one frozen dataclass.

Precedence: real environment variables, then the nearest `.env` file in the
working directory or one of its parents that no other user could have written
(owned by us or root, in directories only we or root may write). Relative paths in a `.env` file are
relative to that file; relative paths in the environment are relative to the
working directory. Loading never checks that the forum exists: the MCP server
must start without one and say what to set; `start` validates the root.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import php_builds
from .errors import ConfigError, InvalidArgument, shown_value
from .safe_files import read_own_json

if TYPE_CHECKING:
    from .layout import ForumFiles

DEFAULT_PORT = 8022
DEFAULT_HOST = "127.0.0.1"
DEFAULT_FORUM_DIR = "TestForum"
# Development defaults: deprecations and notices reach the log (Debian's php.ini hides E_DEPRECATED),
# and the request after an edit runs the edited code (see orchestration/php_dev.py for why these).
DEFAULT_PHP_SETTINGS = (
    "error_reporting=E_ALL",
    "log_errors=1",
    "opcache.validate_timestamps=1",
    "opcache.revalidate_freq=0",
    "opcache.file_update_protection=2",
)

ENV_VARS = {
    "MYBB_ROOT": "the forum's document root (the directory holding MyBB's index.php)",
    "MYBB_PORT": f"the port php -S listens on (1-65535, default {DEFAULT_PORT})",
    "MYBB_HOST": f"the address php -S binds (default {DEFAULT_HOST}; anything else exposes the forum)",
    "MYBB_PHP": "the PHP binary (default: php on PATH)",
    "MYBB_PHP_VERSION": "a PHP release to run the forum on instead (7.4, 8.1, 8.2, 8.3, 8.4, 8.5), installed on "
                        "first use into the cache (see php_builds.py)",
    "MYBB_CACHE_DIR": "where PHP builds are kept (default: $XDG_CACHE_HOME/mybb-mcp, else ~/.cache/mybb-mcp)",
    "MYBB_WORKERS": "PHP_CLI_SERVER_WORKERS for the server (1-64, default 1 = a single process)",
    "MYBB_LOG_MAX_MB": "past this size, start on the running server rotates logs/server.log (1-100000, default 100)",
    "MYBB_LOG_BACKUPS": "rotated logs kept: server.log.1 ... server.log.N (1-100, default 5)",
    "MYBB_PHP_INI": "extra php -d settings, separated by ';' (e.g. 'memory_limit=256M;display_errors=0')",
    "MYBB_DEV_INI": (
        "1 (default) runs PHP for development (every error logged, OPcache revalidating, Xdebug's develop mode "
        "when installed); 0 keeps php.ini's"
    ),
    "MYBB_ROUTER": "1 (default) serves through mybb-mcp's router script (php -S quirks); 0 serves plain",
    "MYBB_ARCHIVE": "the MyBB release (archive, folder or URL) `start` installs when the default forum is missing",
    "MYBB_SNAPSHOT_MAX_MB": "the forum files (cache/, uploads/, inc/config.php) one snapshot may hold (1-1000000, "
                            "default 1024)",
    "MYBB_UNPACK_MAX_MB": "the bytes a release archive may unpack to (1-100000, default 512; MyBB is ~30 MB)",
    "MYBB_UNPACK_MAX_FILES": "the entries a release archive may hold (1-10000000, default 50000; MyBB has ~1,500)",
}


@dataclass(frozen=True)
class Config:
    """What the orchestration needs. Only `mybb_root` is required."""

    mybb_root: Path
    port: int = DEFAULT_PORT
    host: str = DEFAULT_HOST
    php: str = "php"
    php_version: str | None = None  # MYBB_PHP_VERSION: `php` is then that build's binary in cache_dir
    cache_dir: Path | None = None  # where PHP builds are kept (see build_cache)
    workers: int = 1
    log_max_mb: int = 100
    log_backups: int = 5
    php_settings: tuple[str, ...] = DEFAULT_PHP_SETTINGS
    use_router: bool = True
    archive: str | None = None  # MYBB_ARCHIVE: a path (absolute) or a URL
    snapshot_max_mb: int = 1024
    unpack_max_mb: int = 512
    unpack_max_files: int = 50_000
    # MYBB_DEV_INI: run PHP for development (php_settings then start with DEFAULT_PHP_SETTINGS).
    dev_ini: bool = True
    # Where each value came from, for messages ("MYBB_ROOT from /repo/.env").
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    # `.env` files passed over because another user could have written them, each with the reason.
    ignored_dotenv: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # One spelling per forum: a symlink and its target are the same forum, with the same files.
        object.__setattr__(self, "mybb_root", Path(os.path.realpath(self.mybb_root)))

    @property
    def repo_root(self) -> Path:
        """The directory holding the forum: state file and logs live here."""
        return self.mybb_root.parent

    @property
    def files(self) -> ForumFiles:
        """This forum's state, lock and log files (layout.py decides their names)."""
        from .layout import forum_files  # where the forum's files are: beside config, one layer down

        return forum_files(self.mybb_root)

    @property
    def state_file(self) -> Path:
        return self.files.state_file

    @property
    def lock_file(self) -> Path:
        return self.files.lock_file

    @property
    def credentials_file(self) -> Path:
        """The admin account `init` created (mode 0600), for the tools that log in; named like the state."""
        files = self.files
        name = "forum-credentials.json" if files.plain else f"forum-credentials.{files.key}.json"
        return self.repo_root / f".mybb-{name}"

    @property
    def build_cache(self) -> Path:
        """Where PHP builds are kept: cache_dir (MYBB_CACHE_DIR, set by load_config), else the default."""
        return self.cache_dir or php_builds.default_cache_root(os.environ)

    @property
    def php_release_file(self) -> Path:
        """The PHP release `init --php` gave this forum (mode 0600), read when nothing else names one."""
        files = self.files
        name = "forum-php.json" if files.plain else f"forum-php.{files.key}.json"
        return self.repo_root / f".mybb-{name}"

    @property
    def release_manifest_file(self) -> Path:
        """MyBB's own files and their hashes, as `init` installed them (forum/release.py); named like the state."""
        files = self.files
        name = "release-manifest.json" if files.plain else f"release-manifest.{files.key}.json"
        return self.repo_root / f".mybb-{name}"

    @property
    def log_dir(self) -> Path:
        return self.files.log_dir

    @property
    def log_file(self) -> Path:
        return self.files.log_file


MAX_DOTENV_BYTES = 1024 * 1024
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def find_dotenv(start: Path, ignored: list[str] | None = None) -> Path | None:
    """The nearest trustworthy `.env` in `start` or a parent directory.

    A `.env` another user could have written is skipped (its reason appended to `ignored`): it would
    choose the PHP binary this process runs and the address the forum is exposed on.
    """
    for directory in (start, *start.parents):
        candidate = directory / ".env"
        try:
            os.lstat(candidate)
        except OSError:
            continue
        problem = untrusted_because(candidate)
        if problem is None:
            return candidate
        if ignored is not None:
            ignored.append(f"{candidate} was ignored: {problem}")
    return None


def _trusted_owner(uid: int) -> bool:
    return uid in (os.geteuid(), 0)


def untrusted_because(path: Path) -> str | None:
    """Why another user could have written `path` (a file we are about to believe), or None.

    Trusted: a regular file owned by us or root, not writable by group or others, in directories
    that are owned by us or root and not writable by group or others, all the way up to `/`.
    Above the file's own directory a sticky directory (such as /tmp) is fine: others may not
    rename what they do not own in it.
    """
    real = Path(os.path.realpath(path))
    try:
        info = os.stat(real)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if not _trusted_owner(info.st_uid):
        return f"it belongs to {_user_name(info.st_uid)}, not to you or root"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "other users may write to it (it is group- or world-writable)"
    for level, directory in enumerate(real.parents):
        try:
            info = os.stat(directory)
        except OSError as exc:
            return f"its directory {directory} cannot be inspected ({exc.strerror})"
        if not _trusted_owner(info.st_uid):
            return f"its directory {directory} belongs to {_user_name(info.st_uid)}, not to you or root"
        writable = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if writable and (level == 0 or not info.st_mode & stat.S_ISVTX):
            return f"other users may write to its directory {directory}"
    return None


def _user_name(uid: int) -> str:
    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"user {uid}"


def _unquote(value: str) -> str | None:
    """A value without its quotes and trailing comment; None when a quote is not closed properly."""
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        if end < 0:
            return None
        rest = value[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            return None
        return value[1:end]
    if value.startswith("#"):
        return ""
    return value.split(" #", 1)[0].split("\t#", 1)[0].rstrip()


def parse_dotenv(path: Path) -> dict[str, str]:
    """`KEY=value` lines; `#` comments (whole lines or after a value), blank lines, `export` and quotes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise OSError(0, "not a regular file")
            text = handle.read(MAX_DOTENV_BYTES + 1).decode("utf-8")
        if len(text) > MAX_DOTENV_BYTES:
            raise OSError(0, f"larger than {MAX_DOTENV_BYTES // 1024} KiB")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(
            f"Cannot read {path}: {reason}.",
            "Fix its permissions or encoding (UTF-8), or delete it and set the variables in the environment.",
        ) from exc
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        value = _unquote(match.group(2)) if match else None
        if match is None or value is None:
            raise ConfigError(
                f"{path}, line {number}, is not KEY=value: {shown_value(line.strip())}.",
                "Fix or remove that line (a quoted value ends at its closing quote; only a # comment may follow).",
            )
        values[match.group(1)] = value
    return values


_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


def whole_number(text: str) -> int | None:
    """`text` as a whole number written in plain ASCII digits (an optional '-'), else None.

    Python's int() also takes '22_193', '+5', '٣' and ' 5 \n': a setting that reads as another number
    than the one written is refused, not guessed."""
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else None


def _int_setting(name: str, raw: str, low: int, high: int, origin: str) -> int:
    value = whole_number(raw.strip(" \t"))
    if value is None:
        raise ConfigError(
            f"{name}={shown_value(raw)} ({origin}) is not a whole number (digits 0-9 only).",
            f"Set {name} to {ENV_VARS[name]}.",
        )
    if not low <= value <= high:
        raise ConfigError(
            f"{name}={value} ({origin}) is out of range {low}-{high}.",
            f"Set {name} to {ENV_VARS[name]}.",
        )
    return value


def _bool_setting(name: str, raw: str, origin: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={shown_value(raw)} ({origin}) is not 1 or 0.", f"Set {name} to {ENV_VARS[name]}.")


def _php_build_settings(lookup: Callable[[str], tuple[str, str, Path] | None], environ: Mapping[str, str],
                        values: dict[str, object], sources: dict[str, str]) -> Path:
    """MYBB_PHP_VERSION (a pinned build, see php_builds.py) kept in MYBB_CACHE_DIR; not with MYBB_PHP as well.
    Returns the cache folder."""
    found = lookup("MYBB_CACHE_DIR")
    if found:
        given = Path(os.path.expanduser(found[0].strip()))
        cache = given if given.is_absolute() else found[2] / given
        sources["MYBB_CACHE_DIR"] = found[1]
    else:
        cache = php_builds.default_cache_root(environ)
    values["cache_dir"] = cache
    found = lookup("MYBB_PHP_VERSION")
    if not found:
        return cache
    if "MYBB_PHP" in sources:
        raise ConfigError(
            f"MYBB_PHP_VERSION ({found[1]}) and MYBB_PHP ({sources['MYBB_PHP']}) are both set: the forum runs on "
            "one PHP.", "Unset one of them.")
    try:
        build = php_builds.build_for(found[0])
    except InvalidArgument as exc:
        raise ConfigError(f"MYBB_PHP_VERSION={shown_value(found[0])} ({found[1]}): {exc.message}", exc.hint) from None
    values["php"] = str(php_builds.binary_path(build, cache))
    values["php_version"] = build.version
    sources["MYBB_PHP_VERSION"] = found[1]
    return cache


def _remembered_php_release(root: Path, cache: Path, values: dict[str, object], sources: dict[str, str]) -> None:
    """The PHP release `init --php` recorded for this forum (a file of ours, 0600), when neither
    MYBB_PHP nor MYBB_PHP_VERSION says otherwise: the forum keeps running on the PHP it was made on."""
    record = Config(mybb_root=root).php_release_file
    found = read_own_json(record, 4096)
    version = found.get("php_version") if isinstance(found, dict) else None
    if not isinstance(version, str):
        return
    try:
        build = php_builds.build_for(version)
    except InvalidArgument:
        return  # a release this version no longer serves: the machine's PHP, as if nothing were recorded
    values["php"] = str(php_builds.binary_path(build, cache))
    values["php_version"] = build.version
    sources["MYBB_PHP_VERSION"] = f"{record} (init --php)"


def load_config(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Config:
    """Read the settings. Raises `ConfigError` naming the variable and the fix (and any `.env` ignored)."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    ignored: list[str] = []
    try:
        return _load_config(environ, cwd, ignored)
    except ConfigError as exc:
        exc.hint = " ".join([exc.hint, *(f"({note}.)" for note in ignored)])
        raise


def _load_config(environ: Mapping[str, str], cwd: Path, ignored: list[str]) -> Config:
    dotenv_path = find_dotenv(cwd, ignored)
    dotenv = parse_dotenv(dotenv_path) if dotenv_path else {}

    def lookup(name: str) -> tuple[str, str, Path] | None:
        """(value, origin, base directory for relative paths)."""
        if environ.get(name, "") != "":
            return environ[name], "environment", cwd
        if dotenv.get(name, "") != "" and dotenv_path is not None:
            return dotenv[name], str(dotenv_path), dotenv_path.parent
        return None

    sources: dict[str, str] = {}
    found = lookup("MYBB_ROOT")
    if found:
        raw, origin, base = found
        root = Path(os.path.expanduser(raw))
        root = root if root.is_absolute() else base / root
        sources["MYBB_ROOT"] = origin
    else:
        root = (dotenv_path.parent if dotenv_path else cwd) / DEFAULT_FORUM_DIR
        sources["MYBB_ROOT"] = "default"
    # Config resolves symlinks and '..' itself, so the state file and the process command line agree.

    values: dict[str, object] = {}
    for name, key, low, high in (
        ("MYBB_PORT", "port", 1, 65535),
        ("MYBB_LOG_MAX_MB", "log_max_mb", 1, 100_000),
        ("MYBB_LOG_BACKUPS", "log_backups", 1, 100),
        ("MYBB_SNAPSHOT_MAX_MB", "snapshot_max_mb", 1, 1_000_000),
        ("MYBB_UNPACK_MAX_MB", "unpack_max_mb", 1, 100_000),
        ("MYBB_UNPACK_MAX_FILES", "unpack_max_files", 1, 10_000_000),
    ):
        found = lookup(name)
        if found:
            values[key] = _int_setting(name, found[0], low, high, found[1])
            sources[name] = found[1]

    found = lookup("MYBB_WORKERS")
    if found:
        values["workers"] = _int_setting("MYBB_WORKERS", found[0], 1, 64, found[1])
        sources["MYBB_WORKERS"] = found[1]
    elif (php_workers := whole_number(environ.get("PHP_CLI_SERVER_WORKERS", "").strip())) is not None:
        # PHP's own variable is honoured too (values below 2 mean one process, as PHP itself says).
        values["workers"] = min(max(php_workers, 1), 64)
        sources["MYBB_WORKERS"] = "PHP_CLI_SERVER_WORKERS"

    found = lookup("MYBB_HOST")
    if found:
        host = found[0].strip()
        if not host or any(c.isspace() for c in host) or "/" in host:
            raise ConfigError(
                f"MYBB_HOST={shown_value(found[0])} ({found[1]}) is not a host name or IP address.",
                f"Set MYBB_HOST to {ENV_VARS['MYBB_HOST']}.",
            )
        values["host"] = host
        sources["MYBB_HOST"] = found[1]

    found = lookup("MYBB_PHP")
    if found:
        php = found[0].strip()
        if "/" in php or php.startswith("~"):
            php_path = Path(os.path.expanduser(php))
            php = str(php_path if php_path.is_absolute() else found[2] / php_path)
        values["php"] = php
        sources["MYBB_PHP"] = found[1]

    cache = _php_build_settings(lookup, environ, values, sources)
    if "MYBB_PHP" not in sources and "MYBB_PHP_VERSION" not in sources:
        _remembered_php_release(root, cache, values, sources)

    dev_ini = True
    found = lookup("MYBB_DEV_INI")
    if found:
        dev_ini = _bool_setting("MYBB_DEV_INI", found[0], found[1])
    values["dev_ini"] = dev_ini
    settings: list[str] = list(DEFAULT_PHP_SETTINGS) if dev_ini else []
    found = lookup("MYBB_PHP_INI")
    if found:
        for item in filter(None, (part.strip() for part in found[0].split(";"))):
            if "=" not in item or not item.split("=", 1)[0].strip():
                raise ConfigError(
                    f"MYBB_PHP_INI item {shown_value(item)} ({found[1]}) is not name=value.",
                    f"Set MYBB_PHP_INI to {ENV_VARS['MYBB_PHP_INI']}.",
                )
            settings.append(item)
    values["php_settings"] = tuple(settings)

    found = lookup("MYBB_ROUTER")
    if found:
        values["use_router"] = _bool_setting("MYBB_ROUTER", found[0], found[1])

    found = lookup("MYBB_ARCHIVE")
    if found:
        archive = found[0].strip()
        if "://" not in archive:  # a path: relative to where it was set, like MYBB_ROOT
            archive_path = Path(os.path.expanduser(archive))
            archive = os.path.abspath(archive_path if archive_path.is_absolute() else found[2] / archive_path)
        values["archive"] = archive
        sources["MYBB_ARCHIVE"] = found[1]

    return Config(mybb_root=root, sources=sources, ignored_dotenv=tuple(ignored), **values)  # type: ignore[arg-type]
