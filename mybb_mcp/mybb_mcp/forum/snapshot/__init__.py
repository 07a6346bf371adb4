"""Snapshots of a forum's database and the files MyBB writes: save, restore (undoable), list,
delete, and diff in MyBB's terms.

- `model`: names, limits, failure codes and the result dataclasses; `validate_name`.
- `database`: the database side (SQLite copy, MySQL/MariaDB dump and load) and its catalog in MyBB's
  terms (settings, plugins, templates, tables).
- `tree`: the files MyBB writes (read, hashed, written back without following links).
- `storage`: one forum's snapshot folder, checked, and its lock; `store`: `Snapshots`, `run`;
  `save`, `restore`, `diff`: the actions; `compare`: two catalogs -> changes.
"""

from .compare import compare
from .database import current_catalog, forum_database
from .model import (
    ACTIONS,
    AUTO_PREFIX,
    FAILURE_CODES,
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    SNAPSHOTS_DIR,
    Change,
    SnapshotDiff,
    SnapshotError,
    SnapshotInfo,
    SnapshotResult,
    validate_name,
)
from .store import Snapshots

__all__ = [
    "ACTIONS",
    "AUTO_PREFIX",
    "FAILURE_CODES",
    "MAX_NAME_LENGTH",
    "NAME_PATTERN",
    "SNAPSHOTS_DIR",
    "Change",
    "SnapshotDiff",
    "SnapshotError",
    "SnapshotInfo",
    "SnapshotResult",
    "Snapshots",
    "compare",
    "current_catalog",
    "forum_database",
    "validate_name",
]
