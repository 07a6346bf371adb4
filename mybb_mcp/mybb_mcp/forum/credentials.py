"""The admin's credentials file `init` writes beside the forum (Config.credentials_file): mode 0600, never
through a link; read back only when it is this user's regular file. The request tool, the members tool and
the matrix log in with what it holds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..safe_files import read_own_json, write_own_json


def write_credentials(path: Path, values: Mapping[str, object]) -> None:
    """Mode 0600, written beside and renamed over: a link planted at `path` is replaced, never followed."""
    write_own_json(path, values)


def read_credentials(path: Path) -> dict[str, object] | None:
    """The admin account init created (Config.credentials_file), if this user's file is there (never via a link):
    text values, and "members" (name -> password) once the members tool has kept one."""
    values = read_own_json(path, 1024 * 1024)  # ours, regular, bounded, never blocking on a planted FIFO
    return values if isinstance(values, dict) else None
