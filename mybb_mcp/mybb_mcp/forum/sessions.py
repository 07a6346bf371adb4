"""Who the tool is on a forum: each role's credentials (the admin's from init, members' from the
workbench, others from the environment) and the cookie jar kept for it between requests.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import find_dotenv, parse_dotenv
from ..safe_files import read_own_json

if TYPE_CHECKING:
    from ..config import Config


GUEST, ADMIN = "guest", "admin"  # the two roles every forum has; any other role is a member
SESSIONS_DIR = ".mybb-server-sessions"  # beside the state; a folder's other forums add their key


# --- credentials --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    origin: str  # where they came from, for messages (never the password)


class LoginProblem(Exception):
    """No credentials, MyBB refused them, or the login page broke (`broke`: nothing is known of the
    credentials). The message never holds the password."""

    def __init__(self, message: str, hint: str, *, broke: bool = False) -> None:
        super().__init__(message)
        self.message, self.hint, self.broke = message, hint, broke


def credentials_file(config: Config) -> Path:
    """Where `mybb-server init` keeps the admin account it created (named like the forum's state file)."""
    named = getattr(config, "credentials_file", None)
    if isinstance(named, Path):
        return named
    files = config.files
    name = "forum-credentials.json" if files.plain else f"forum-credentials.{files.key}.json"
    return config.repo_root / f".mybb-{name}"


def sessions_dir(config: Config) -> Path:
    """The forum's cookie jars: `.mybb-server-sessions/` beside the state (a folder's other forums: with
    their key, as their state file is named)."""
    files = config.files
    return config.repo_root / (SESSIONS_DIR if files.plain else f"{SESSIONS_DIR}.{files.key}")


def member_env_name(username: str) -> str:
    return "MYBB_MEMBER_" + re.sub(r"[^A-Za-z0-9]", "_", username).upper() + "_PASSWORD"


def _trusted_json(path: Path) -> dict[str, object] | None:
    """A small JSON file we own, read without following a symlink; None otherwise."""
    value = read_own_json(path, 1024 * 1024)  # never blocks: a FIFO planted there must not hang logins
    return value if isinstance(value, dict) else None


def _settings(environ: Mapping[str, str], cwd: Path) -> tuple[dict[str, str], str]:
    dotenv_path = find_dotenv(cwd)
    values = dict(parse_dotenv(dotenv_path)) if dotenv_path else {}
    values.update({k: v for k, v in environ.items() if k.startswith("MYBB_") and v != ""})
    return values, str(dotenv_path) if dotenv_path else "environment"


def credentials_for(role: str, config: Config, environ: Mapping[str, str] | None = None,
                    cwd: Path | None = None) -> Credentials:
    """The username and password for `role`.

    admin: MYBB_ADMIN_USER (default: the admin `mybb-server init` created, else "admin") and
    MYBB_ADMIN_PASSWORD, from the environment or .env; else the account `init` recorded beside the state
    (`.mybb-forum-credentials.json`, ours, mode 0600). A member NAME: MYBB_MEMBER_<NAME>_PASSWORD (NAME
    upper-cased, characters other than letters and digits as `_`), else the password the members tool kept
    in that same file.
    """
    environ = os.environ if environ is None else environ
    values, where = _settings(environ, cwd or Path.cwd())
    recorded_file = credentials_file(config)
    recorded = _trusted_json(recorded_file) or {}
    if role == ADMIN:
        user = values.get("MYBB_ADMIN_USER") or recorded.get("admin_user") or "admin"
        password = values.get("MYBB_ADMIN_PASSWORD")
        if password:
            origin = "MYBB_ADMIN_PASSWORD" + (" (environment)" if environ.get("MYBB_ADMIN_PASSWORD") else f" ({where})")
            return Credentials(str(user), password, origin)
        kept_password = recorded.get("admin_password")
        if isinstance(kept_password, str) and kept_password:
            return Credentials(str(recorded.get("admin_user") or user), kept_password, str(recorded_file))
        raise LoginProblem(
            "No admin password is configured.",
            "Set MYBB_ADMIN_USER and MYBB_ADMIN_PASSWORD in the environment or the .env file (a forum made by "
            f"`mybb-server init` has them in {recorded_file.name} beside the state file).",
        )
    name = member_env_name(role)
    password = values.get(name)
    if password:
        return Credentials(role, password, name)
    kept = recorded.get("members")  # members added by mybb_forum_members / `mybb-server members add`
    member_password = kept.get(role) if isinstance(kept, dict) else None
    if isinstance(member_password, str) and member_password:
        return Credentials(role, member_password, str(recorded_file))
    raise LoginProblem(
        f"No password is configured for the member {role!r}.",
        f"Add the member with mybb_forum_members (CLI: mybb-server members add), or set {name} in the "
        "environment or the .env file, or request as guest or admin.",
    )


# --- the cookie jar of a role -------------------------------------------------------------------------

def cookie_to_dict(cookie: http.cookiejar.Cookie) -> dict[str, object]:
    return {"name": cookie.name, "value": cookie.value, "domain": cookie.domain, "path": cookie.path,
            "expires": cookie.expires, "secure": cookie.secure, "host_only": not cookie.domain_specified,
            "rest": {k: v for k, v in getattr(cookie, "_rest", {}).items() if isinstance(v, (str, type(None)))}}


def cookie_from_dict(data: Mapping[str, object]) -> http.cookiejar.Cookie | None:
    try:
        name, value, domain, path = (str(data[k]) for k in ("name", "value", "domain", "path"))
        stored = data.get("expires")
        expires = int(stored) if isinstance(stored, (int, float)) else None
        host_only = bool(data.get("host_only", True))
        kept = data.get("rest")
        # Any: http.cookiejar keeps a flag such as HttpOnly as None, which typeshed's dict[str, str] leaves out.
        rest: dict[str, Any] = kept if isinstance(kept, dict) else {}
    except (KeyError, TypeError, ValueError):
        return None
    return http.cookiejar.Cookie(
        0, name, value, None, False, domain, not host_only, domain.startswith("."), path, True,
        bool(data.get("secure")), expires, False, None, None, rest,
    )


class SessionStore:
    """The jars of every role of one forum: `<sessions_dir>/<role>.json` (directory 0700, files 0600)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _file(self, role: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9_-]", "_", role)[:40]
        if slug != role:
            import hashlib

            slug += "-" + hashlib.blake2b(role.encode(), digest_size=4).hexdigest()
        return self.directory / f"{slug}.json"

    def load(self, role: str) -> dict[str, object]:
        return _trusted_json(self._file(role)) or {}

    def save(self, role: str, data: Mapping[str, object]) -> None:
        self._ensure_directory()
        target = self._file(role)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(temporary, flags, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(temporary, target)  # replaces a symlink itself, never what it points to
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def forget(self, role: str) -> None:
        self._file(role).unlink(missing_ok=True)

    def _ensure_directory(self) -> None:
        try:
            info = os.lstat(self.directory)
        except FileNotFoundError:
            os.mkdir(self.directory, 0o700)
            return
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise PermissionError(f"{self.directory} is not a directory of ours; sessions are not kept there")
