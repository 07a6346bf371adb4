"""Members made by MyBB's own UserDataHandler (hashing, groups, stats cache as a registration does it).

Each member's password is kept beside the admin's, in the forum's credentials file (ours, mode 0600,
written beside and renamed over), so `mybb_server_request {as: NAME}` logs in at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument, MybbMcpError
from ..forum.php import PhpRunError, run_mybb_php

# MyBB 1.8's default groups: Registered (2), Super Moderators (3: moderate every forum), Administrators (4).
ROLE_GROUPS = {"member": 2, "moderator": 3, "admin": 4}
GROUP_ROLES = {2: "member", 3: "moderator", 4: "admin", 6: "moderator (forum)", 5: "awaiting activation",
               7: "banned", 1: "guest"}
MAX_LIST = 200
_FORBIDDEN = set("<>&\\\"',;")


class MemberProblem(MybbMcpError):
    """MyBB refused the member (its own validation messages), or its code did not run."""


@dataclass(frozen=True)
class Member:
    uid: int
    username: str
    usergroup: int
    role: str
    email: str = ""
    additional_groups: str = ""
    password_kept: bool = False


@dataclass(frozen=True)
class MemberAdded:
    member: Member
    credentials_file: Path | None
    generated_password: bool
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MemberList:
    members: list[Member]
    total: int
    credentials_file: Path


_ADD_FILE = Path(__file__).with_name("members_add.php")

_LIST_FILE = Path(__file__).with_name("members_list.php")


def _php(path: Path) -> str:
    """A snippet of ours for run_mybb_php: the file's PHP without its opening tag."""
    return path.read_text("utf-8").removeprefix("<?php")


def check_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else name
    if not isinstance(name, str) or not 1 <= len(name) <= 30 or any(c in _FORBIDDEN or ord(c) < 32 for c in name):
        raise InvalidArgument(f"{name!r} is not a MyBB user name.", "Use 1-30 characters without < > & \\ \" ' , ;.")
    if name.lower() in ("guest", "admin"):
        raise InvalidArgument(f"{name!r} is a role name of mybb_server_request's `as`, not usable for a member.",
                              "Choose another name (the admin account exists already).")
    return name


def add_member(root: Path, keep_password: Callable[[str, str], Path], name: str, role: str = "member",
               password: str | None = None, php: str = "php", php_settings: Sequence[str] = ()) -> MemberAdded:
    """A real user made by MyBB's UserDataHandler; its password kept (0600) for the request tool."""
    name = check_name(name)
    if role not in ROLE_GROUPS:
        raise InvalidArgument(f"role {role!r} is not one of {', '.join(ROLE_GROUPS)}.",
                              "Pass member, moderator or admin.")
    generated = password is None
    if password is None:
        password = secrets.token_urlsafe(12)
    elif not 1 <= len(password) <= 100:
        raise InvalidArgument("The password must be 1-100 characters.", "Pass another, or none to have one made.")
    email = f"u{secrets.token_hex(6)}@example.com"
    try:
        run = run_mybb_php(root, _php(_ADD_FILE), {"name": name, "password": password, "email": email,
                                        "group": ROLE_GROUPS[role]}, php=php, php_settings=php_settings)
    except PhpRunError as exc:
        raise MemberProblem(exc.message, exc.hint) from None
    data: dict[str, Any] = run.result or {}
    if data.get("errors"):
        refused = " ".join(str(e) for e in data["errors"])
        raise MemberProblem("MyBB refused the member: " + refused + " Nothing was added.",
                            "Fix what MyBB names (another name, a longer password) and try again.")
    notes: list[str] = []
    kept: Path | None = None
    try:
        kept = keep_password(str(data["username"]), password)
    except OSError as exc:
        notes.append(f"Could not keep the password ({exc.filename}: {exc.strerror}); "
                     f"set MYBB_MEMBER_<NAME>_PASSWORD to log in as {name}.")
    group = int(data["usergroup"])
    member = Member(int(data["uid"]), str(data["username"]), group, GROUP_ROLES.get(group, f"group {group}"),
                    str(data.get("email") or ""), "", kept is not None)
    return MemberAdded(member, kept, generated, notes)


def list_members(root: Path, credentials_file: Path, kept: Collection[str], php: str = "php",
                 php_settings: Sequence[str] = ()) -> MemberList:
    """The forum's users (first MAX_LIST by uid), and which of them the request tool can log in as."""
    try:
        run = run_mybb_php(root, _php(_LIST_FILE), {"limit": MAX_LIST}, php=php, php_settings=php_settings)
    except PhpRunError as exc:
        raise MemberProblem(exc.message, exc.hint) from None
    members = []
    for row in (run.result or {}).get("rows", []):
        group = int(row["usergroup"])
        name = str(row["username"])
        members.append(Member(int(row["uid"]), name, group, GROUP_ROLES.get(group, f"group {group}"),
                              str(row.get("email") or ""), str(row.get("additionalgroups") or ""),
                              name in kept))
    return MemberList(members, int((run.result or {}).get("total", len(members))), credentials_file)
