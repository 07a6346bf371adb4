"""The admin's credentials file `init` writes beside the forum (Config.credentials_file): mode 0600, never
through a link; read back only when it is this user's regular file. The request tool, the members tool and
the matrix log in with what it holds."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..safe_files import read_own_json


def write_credentials(path: Path, values: dict[str, str]) -> None:
    """Mode 0600, written beside and renamed over: a link planted at `path` is replaced, never followed."""
    fd, temp = tempfile.mkstemp(prefix=".mybb-credentials-", dir=path.parent)  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(values, handle, indent=2)
            handle.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def read_credentials(path: Path) -> dict[str, str] | None:
    """The admin account init created (Config.credentials_file), if this user's file is there (never via a link)."""
    values = read_own_json(path, 1024 * 1024)  # ours, regular, bounded, never blocking on a planted FIFO
    return values if isinstance(values, dict) else None
