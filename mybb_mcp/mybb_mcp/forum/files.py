"""The forum's own files, read without running PHP (status must stay fast): inc/config.php (the
database settings), inc/settings.php (MyBB's settings cache, read and rewritten byte for byte as MyBB's
rebuild_settings() writes it), inc/class_core.php (the version), and the bburl check. Reads are cached
by modification time. PHP literals are unescaped as PHP would."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import urlsplit

ADMIN_CP_BBURL = "Admin CP -> Configuration -> Settings -> General Configuration -> Board URL"

# Database kinds (ForumDbConfig.kind, DatabaseHealth.kind).
MYSQL, PGSQL, SQLITE, UNKNOWN = "mysql", "pgsql", "sqlite", "unknown"
_KIND_BY_TYPE = {"mysqli": MYSQL, "mysql": MYSQL, "pgsql": PGSQL, "pgsql_pdo": PGSQL, "sqlite": SQLITE}

# Where MyBB's mysqli driver connects for 'localhost': PHP's mysqli.default_socket, which on
# Debian/Ubuntu is compiled in as the first of these.
MYSQL_DEFAULT_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock")
PGSQL_SOCKET_DIRS = ("/run/postgresql", "/var/run/postgresql", "/tmp")

_T = TypeVar("_T")

# --------------------------------------------------------------------------------------------
# PHP literals
# --------------------------------------------------------------------------------------------

_SQ_ESCAPE = re.compile(r"\\([\\'])")
_DQ_ESCAPE = re.compile(r"\\(?:([nrtvef\\$\"])|([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u\{([0-9A-Fa-f]+)\})")
_DQ_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "v": "\v", "e": "\x1b", "f": "\f", "\\": "\\", "$": "$", '"': '"'}


def php_single_quoted(body: str) -> str:
    """The value of a PHP '...' literal's body: only \\\\ and \\' are escapes."""
    return _SQ_ESCAPE.sub(r"\1", body)


def php_double_quoted(body: str) -> str:
    """The value of a PHP "..." literal's body (escapes only; `$var` interpolation is left as text)."""

    def one(match: re.Match[str]) -> str:
        simple, octal, hexa, uni = match.groups()
        if simple:
            return _DQ_SIMPLE[simple]
        if octal:
            return chr(int(octal, 8) & 0xFF)
        if hexa:
            return chr(int(hexa, 16))
        return chr(int(uni, 16))

    return _DQ_ESCAPE.sub(one, body)


def addcslashes(text: str, chars: str) -> str:
    """PHP's addcslashes() for printable characters: a backslash before each of `chars`."""
    return "".join("\\" + c if c in chars else c for c in text)


# --------------------------------------------------------------------------------------------
# Reading files, cached by modification time
# --------------------------------------------------------------------------------------------

MAX_FORUM_FILE_BYTES = 16 * 1024 * 1024


class _ParsedFiles(Generic[_T]):
    """One kind of file, parsed: parse(text of path), reused while the file's mtime, size and inode are
    unchanged. One instance per kind, so each holds values of one type."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[int, int, int, _T]] = {}

    def read(self, path: Path, parse: Callable[[str], _T]) -> _T | None:
        """parse(text of path), or the value kept from the last read; None if unreadable."""
        key = str(path)
        try:
            st = path.stat()
        except OSError:
            self._kept.pop(key, None)
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FORUM_FILE_BYTES:
            return None  # a FIFO would block the read; a huge file is no config MyBB wrote
        hit = self._kept.get(key)
        if hit and hit[:3] == (st.st_mtime_ns, st.st_size, st.st_ino):
            return hit[3]
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return None
        value = parse(text)
        self._kept[key] = (st.st_mtime_ns, st.st_size, st.st_ino, value)
        return value


_configs: _ParsedFiles[ForumDbConfig | None] = _ParsedFiles()
_settings: _ParsedFiles[dict[str, str]] = _ParsedFiles()
_versions: _ParsedFiles[re.Match[str] | None] = _ParsedFiles()


# --------------------------------------------------------------------------------------------
# inc/config.php
# --------------------------------------------------------------------------------------------

_PHP_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
# A comment, or `$config[...][...] = scalar;`. Matching comments in the same left-to-right scan skips
# commented-out assignments (MyBB writes `// $config['database']['encoding'] = ...` when unsupported).
_CONFIG_TOKEN = re.compile(
    r"/\*.*?\*/|//[^\n]*|#[^\n]*"
    r"|\$config((?:\s*\[\s*(?:" + _PHP_STRING + r"|\d+)\s*\])+)\s*=\s*"
    r"(" + _PHP_STRING + r"|-?\d+|true|false|null)\s*;",
    re.DOTALL | re.IGNORECASE,
)
_CONFIG_KEY = re.compile(r"\[\s*(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|(\d+))\s*\]")


def _php_scalar(literal: str) -> str | int | bool | None:
    if literal.startswith("'"):
        return php_single_quoted(literal[1:-1])
    if literal.startswith('"'):
        return php_double_quoted(literal[1:-1])
    lowered = literal.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    return int(literal)


def _config_key(match: re.Match[str]) -> str:
    single, double, number = match.groups()
    if single is not None:
        return php_single_quoted(single)
    return php_double_quoted(double) if double is not None else number


def parse_php_config(text: str) -> dict[tuple[str, ...], str | int | bool | None]:
    """Every scalar `$config[...]` assignment in a PHP file: key path -> value (later ones win, as in PHP)."""
    values: dict[tuple[str, ...], str | int | bool | None] = {}
    for match in _CONFIG_TOKEN.finditer(text):
        keys, literal = match.group(1), match.group(2)
        if keys is None:
            continue  # a comment
        path = tuple(_config_key(key) for key in _CONFIG_KEY.finditer(keys))
        values[path] = _php_scalar(literal)
    return values


@dataclass(frozen=True)
class ForumDbConfig:
    """MyBB's database connection from inc/config.php, as MyBB's own driver would use it."""

    type: str  # as written: mysqli, mysql, pgsql, pgsql_pdo, sqlite
    database: str  # database name; for SQLite the database file as written
    table_prefix: str
    hostname: str = ""  # as written: 'localhost', 'db.example:3307', ...
    username: str = ""
    password: str = field(default="", repr=False)
    encoding: str = ""
    admin_dir: str = "admin"
    secret_pin: str = field(default="", repr=False)  # $config['secret_pin']: the Admin CP login asks for it
    config_file: Path | None = None
    # How the driver reaches the server: a TCP host and port, or a Unix socket path.
    host: str = ""
    port: int | None = None
    socket: str | None = None
    socket_is_default: bool = False  # MySQL 'localhost': PHP's mysqli.default_socket, guessed unless told
    # A read/write split config: these values describe the write connection (settings are written there).
    split: bool = False
    notes: tuple[str, ...] = ()  # what the reader noticed (a relative SQLite path, a socket in hostname...)

    @property
    def kind(self) -> str:
        return _KIND_BY_TYPE.get(self.type.lower(), UNKNOWN)

    @property
    def settings_table(self) -> str:
        return f"{self.table_prefix}settings"

    def endpoint(self) -> str:
        """Where the driver connects, for messages: a socket path, host:port, or the SQLite file."""
        if self.kind == SQLITE:
            return self.database
        if self.socket:
            return self.socket
        return f"{self.host}:{self.port}" if self.port else self.host


def mysql_endpoint(hostname: str) -> tuple[str, int | None, str | None, bool, list[str]]:
    """(host, port, socket, socket_is_default, notes) as MyBB's mysqli driver and PHP read `hostname`.

    MyBB splits 'host:port' at the first colon and passes the port separately; mysqli then connects to
    PHP's mysqli.default_socket for 'localhost' (or an empty host) whatever the port, and over TCP
    otherwise. A socket path in hostname is accepted here so the database can still be checked, but
    MyBB cannot use it: PHP throws a TypeError for a non-numeric port (checked with PHP 8.2).
    """
    text = hostname.strip()
    host, _, port_text = text.partition(":")
    if text.startswith("/") or port_text.startswith("/"):
        path = text if text.startswith("/") else port_text
        notes = [
            f"hostname {hostname!r} names a socket path, which MyBB's mysqli driver cannot use (PHP fails with "
            "a TypeError or takes it for a host name); set hostname to 'localhost' and point PHP at the socket "
            f"with MYBB_PHP_INI='mysqli.default_socket={path}'"
        ]
        return "localhost", None, path, False, notes
    port = int(port_text) if port_text.isdigit() else None
    if host in ("", "localhost"):
        socket_path = next((s for s in MYSQL_DEFAULT_SOCKETS if os.path.exists(s)), MYSQL_DEFAULT_SOCKETS[0])
        notes = [f"mysqli ignores port {port} for 'localhost' and uses the socket; "
                 f"use 127.0.0.1:{port} for TCP"] if port else []
        return "localhost", None, socket_path, True, notes
    return host, port or 3306, None, False, []


def _pgsql_endpoint(hostname: str) -> tuple[str, int | None, str | None]:
    """(host, port, socket) as libpq reads MyBB's host[:port]: empty or a directory means a Unix socket."""
    host, _, port_text = hostname.strip().partition(":")
    port = int(port_text) if port_text.isdigit() else 5432
    if host == "" or host.startswith("/"):
        directories = (host,) if host else PGSQL_SOCKET_DIRS
        candidates = [os.path.join(d, f".s.PGSQL.{port}") for d in directories]
        return "", port, next((c for c in candidates if os.path.exists(c)), candidates[0])
    return host, port, None


def _connection_values(
        values: Mapping[tuple[str, ...], str | int | bool | None]) -> tuple[dict[str, str | int | bool | None], bool]:
    """The connection MyBB writes through: plain, or the 'write' (else 'read') side of a split config."""
    db = {path[1]: value for path, value in values.items() if len(path) == 2 and path[0] == "database"}
    for side in ("write", "read"):
        for prefix in ((side, "0"), (side,)):
            found = {
                path[1 + len(prefix)]: value
                for path, value in values.items()
                if len(path) == 2 + len(prefix) and path[0] == "database" and path[1 : 1 + len(prefix)] == prefix
            }
            if "hostname" in found or "database" in found:
                return {**{k: v for k, v in db.items() if k in ("type", "table_prefix", "encoding")}, **found}, True
    return db, False


def config_from_text(text: str, config_file: Path | None = None) -> ForumDbConfig | None:
    """ForumDbConfig from inc/config.php's text; None when it holds no database type (not a MyBB config)."""
    values = parse_php_config(text)
    db, split = _connection_values(values)
    db_type = str(db.get("type") or "")
    if not db_type:
        return None
    hostname = str(db.get("hostname") or "")
    database = str(db.get("database") or "")
    notes: list[str] = []
    kind = _KIND_BY_TYPE.get(db_type.lower(), UNKNOWN)
    host, port, sock, default_socket = "", None, None, False
    if kind == MYSQL:
        host, port, sock, default_socket, notes = mysql_endpoint(hostname)
    elif kind == PGSQL:
        host, port, sock = _pgsql_endpoint(hostname)
    elif kind == SQLITE and database and not os.path.isabs(database):
        # PDO opens it relative to the working directory, which php -S sets to each script's directory.
        notes.append(
            f"the SQLite path {database!r} is relative: MyBB opens it relative to each script's directory "
            "(the forum root, but admin/ for the Admin CP); use an absolute path"
        )
    admin_dir = values.get(("admin_dir",)) or values.get(("admindir",)) or "admin"
    return ForumDbConfig(
        type=db_type,
        database=database,
        table_prefix=str(db.get("table_prefix") or ""),
        hostname=hostname,
        username=str(db.get("username") or ""),
        password=str(db.get("password") or ""),
        encoding=str(db.get("encoding") or ""),
        admin_dir=str(admin_dir),
        secret_pin=str(values.get(("secret_pin",)) or ""),
        config_file=config_file,
        host=host,
        port=port,
        socket=sock,
        socket_is_default=default_socket,
        split=split,
        notes=tuple(notes),
    )


def read_config_php(root: Path) -> ForumDbConfig | None:
    """The forum's database configuration from <root>/inc/config.php; None when MyBB is not installed."""
    path = Path(root) / "inc" / "config.php"
    return _configs.read(path, lambda text: config_from_text(text, path))


def sqlite_path(cfg: ForumDbConfig, root: Path) -> Path:
    """The SQLite database file: absolute as written, else relative to the forum root (the front end's cwd)."""
    path = Path(os.path.expanduser(cfg.database))
    return path if path.is_absolute() else Path(root) / path


# --------------------------------------------------------------------------------------------
# inc/settings.php and inc/class_core.php
# --------------------------------------------------------------------------------------------

_SETTING_LINE = re.compile(r"\$settings\[\s*'((?:[^'\\]|\\.)*)'\s*\]\s*=\s*\"((?:[^\"\\]|\\.)*)\"\s*;", re.DOTALL)
# rebuild_settings() in MyBB 1.8's inc/functions.php writes exactly this header.
SETTINGS_HEADER = (
    "<?php\n/*********************************\\ \n  DO NOT EDIT THIS FILE, PLEASE USE\n"
    "  THE SETTINGS EDITOR\n\\*********************************/\n\n"
)


def parse_settings_php(text: str) -> dict[str, str]:
    """`$settings['name'] = "value";` lines -> {name: value}, unescaped as PHP would."""
    return {
        php_single_quoted(name): php_double_quoted(value) for name, value in _SETTING_LINE.findall(text)
    }


def read_settings_php(root: Path) -> dict[str, str]:
    """MyBB's settings as cached in <root>/inc/settings.php; {} when the file is missing."""
    found = _settings.read(Path(root) / "inc" / "settings.php", parse_settings_php)
    return dict(found) if found else {}


def render_settings_php(rows: Sequence[tuple[str, str]]) -> str:
    """inc/settings.php as MyBB's rebuild_settings() writes it, from (name, value) rows ordered by title."""
    # addcslashes($name, "\\'") and addcslashes($value, '\\"$'), as MyBB escapes them.
    lines = "".join(
        "$settings['" + addcslashes(name, "\\'") + "'] = \"" + addcslashes(value, '\\"$') + '";\n'
        for name, value in rows
    )
    return f"{SETTINGS_HEADER}{lines}\n"


_VERSION = re.compile(r"""public\s+\$version\s*=\s*["']([^"']+)["']""")


def read_mybb_version(root: Path) -> str | None:
    """MyBB's version from inc/class_core.php (`public $version = "1.8.37";`)."""
    match = _versions.read(Path(root) / "inc" / "class_core.php", _VERSION.search)
    return match.group(1) if match else None


def php_ini_value(php_settings: Sequence[str], name: str) -> str | None:
    """The last `name=value` among php -d settings (as PHP applies them), or None."""
    found = None
    for item in php_settings:
        key, sep, value = item.partition("=")
        if sep and key.strip() == name:
            found = value.strip()
    return found


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` in one step (temp file, fsync, rename) keeping its mode and owner: readers see the
    old file or the new one, never half of it (MyBB writes with LOCK_EX, which readers don't take)."""
    try:
        st: os.stat_result | None = path.stat()
    except FileNotFoundError:
        st = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, (st.st_mode & 0o7777) if st else 0o644)
        if st is not None and hasattr(os, "chown"):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass  # not root: the file stays ours, as MyBB's own rewrite would leave it the web server's
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# --------------------------------------------------------------------------------------------
# bburl
# --------------------------------------------------------------------------------------------

_LOOPBACK = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}
_WILDCARD = {"0.0.0.0", "::", ""}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _url_parts(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, host, port, parts.path.rstrip("/")


def check_bburl(settings: Mapping[str, str], server_url: str) -> str | None:
    """A warning naming both addresses when MyBB's bburl is not where the server answers; None when they
    agree (localhost, 127.0.0.1 and ::1 count as the same host) or MyBB has no settings yet."""
    if not settings:
        return None
    bburl = settings.get("bburl", "").strip()
    server = server_url.rstrip("/")
    if not bburl:
        return (
            f"MyBB's bburl setting is empty, but the server is on {server}: MyBB builds every asset and link "
            f"from bburl. Set it to {server} ({ADMIN_CP_BBURL})."
        )
    b_scheme, b_host, b_port, b_path = _url_parts(bburl)
    s_scheme, s_host, s_port, s_path = _url_parts(server)
    same_host = (
        b_host == s_host
        or (b_host in _LOOPBACK and s_host in _LOOPBACK)
        or s_host in _WILDCARD  # bound to every address: any name of this machine may be right
    )
    if b_scheme == s_scheme and same_host and b_port == s_port and b_path == s_path:
        return None
    differences = []
    if b_scheme != s_scheme:
        differences.append(f"scheme {b_scheme or '?'} vs {s_scheme}")
    if not same_host:
        differences.append(f"host {b_host or '?'} vs {s_host}")
    if b_port != s_port:
        differences.append(f"port {b_port} vs {s_port}")
    if b_path != s_path:
        differences.append(f"path '{b_path or '/'}' vs '{s_path or '/'}' (the server serves the forum at its root)")
    return (
        f"MyBB's bburl is {bburl} but the server is on {server} ({', '.join(differences)}): every asset and "
        f"link on the forum's pages points to {bburl}. Set bburl to {server} ({ADMIN_CP_BBURL}), "
        "or serve the forum where bburl says."
    )

