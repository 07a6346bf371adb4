"""Forum folders no other local user may write to.

`php -S` runs PHP as whoever started it (often root). A folder of the forum that others may write
to lets any local user drop `uploads/x.php`, request it, and run code as that user. MyBB's installer
makes cache/ and uploads/ world-writable for shared hosting; a forum made by `init` is closed
(folders 0755, files 0644: the server runs as their owner, so MyBB can still write them), and
`status` warns about any other forum whose folders are open.

`inc/config.php` holds the database password: whoever reads it can write `{${system(...)}}` into a
template through the database, and MyBB eval()s every template as the server's user. A forum made by
`init` has it 0600; `start` and `status` warn about any other forum whose config with a password
others may read.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from .files import read_config_php

__all__ = ["close_to_others", "open_folders", "open_folders_warning", "readable_config_warning"]

MAX_FOLDERS = 20_000  # a forum holds ~100; the scan stays bounded in a forum that grew a huge upload tree
MAX_DEPTH = 64
_OPEN = stat.S_IWGRP | stat.S_IWOTH


def close_to_others(root: Path) -> None:
    """Take group and others' write permission off everything under `root` (links are left alone)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        _close(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    _close(Path(entry.path))


def _close(path: Path) -> None:
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    if mode & _OPEN:
        os.chmod(path, mode & ~_OPEN, follow_symlinks=False)


def open_folders(root: Path, limit: int = MAX_FOLDERS) -> list[str]:
    """The folders under `root` (itself included, as '.') that group or others may write to, relative
    to it; the scan stops after `limit` folders or MAX_DEPTH levels."""
    found: list[str] = []
    stack: list[tuple[str, int]] = [(".", 0)]
    seen = 0
    while stack and seen < limit:
        rel, depth = stack.pop()
        seen += 1
        path = root if rel == "." else root / rel
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            continue
        if info.st_mode & _OPEN:
            found.append(rel)
        if depth >= MAX_DEPTH:
            continue
        try:
            with os.scandir(path) as entries:
                children = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        stack += [(name if rel == "." else f"{rel}/{name}", depth + 1) for name in sorted(children, reverse=True)]
    return sorted(found)


def open_folders_warning(root: Path) -> str | None:
    """The status warning for a forum whose folders others may write to, with the chmod that fixes it."""
    if not root.is_dir():
        return None
    found = open_folders(root)
    if not found:
        return None
    shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    return (f"Other local users may write to folders of the forum ({shown} under {root}): anyone on this "
            "machine could put a PHP file there and run it as the user running php -S. Close them with "
            f"`chmod -R go-w {shlex.quote(str(root))}` (the server runs as their owner, so MyBB can still "
            "write its cache and uploads).")


def readable_config_warning(root: Path) -> str | None:
    """The warning for a forum whose inc/config.php holds a database password that others may read."""
    path = root / "inc" / "config.php"
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    cfg = read_config_php(root)
    if cfg is None or not cfg.password:
        return None
    quoted = shlex.quote(str(path))
    fix = (f"`chmod 600 {quoted}`" if info.st_uid == os.geteuid()
           else f"`sudo chown $(id -u) {quoted} && chmod 600 {quoted}` (php -S must run as its owner)")
    return (f"{path} holds the database password and other local users may read it (mode "
            f"{stat.S_IMODE(info.st_mode):04o}): anyone on this machine could log in to the database, put PHP "
            "into a template, and run it as the user running php -S. Make it readable by its owner only with "
            f"{fix}; the server runs as its owner, so MyBB still reads it.")
