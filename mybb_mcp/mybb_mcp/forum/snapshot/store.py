"""`Snapshots`: one forum's snapshots, kept beside its state in `<repo_root>/.mybb-snapshots/`: the
actions (`run`) on the checked storage folder (storage.py).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable

from .diff import DiffAction
from .model import (
    META_FILE,
    NOT_ROLLED_BACK,
    SNAPSHOT_FAILED,
    SnapshotError,
    SnapshotResult,
    validate_action,
    validate_name,
)
from .restore import RestoreAction
from .tree import TreeRefused


class Snapshots(RestoreAction, DiffAction):
    """The snapshots of one forum, kept beside its state in `<repo_root>/.mybb-snapshots/`."""

    # --- entry point

    def run(self, action: str, name: str | None = None) -> SnapshotResult:
        """Do `action`; bad arguments raise InvalidArgument before anything is touched."""
        action = validate_action(action)
        target = None if action == "list" else validate_name(name)
        if target is not None:
            name = target
        started = time.perf_counter()
        try:
            result = self._list() if target is None else self._act(action, target)
        except SnapshotError as exc:
            result = SnapshotResult(action, False, name, exc.failure, exc.message, exc.detail)
        except TreeRefused as exc:  # too deep, too large, or a tampered manifest: refused before any change
            result = SnapshotResult(action, False, name, SNAPSHOT_FAILED, exc.message)
        except (OSError, sqlite3.Error) as exc:  # a full disk, a locked or broken database ...
            result = SnapshotResult(action, False, name, SNAPSHOT_FAILED,
                                    f"The snapshot {action} failed: {type(exc).__name__}: {exc}.")
        result.seconds = time.perf_counter() - started
        result.storage = self.storage
        if action in ("save", "restore"):
            result.notes.append(NOT_ROLLED_BACK)
        return result

    def _act(self, action: str, name: str) -> SnapshotResult:
        actions: dict[str, Callable[[str], SnapshotResult]] = {
            "save": self._save, "restore": self._restore, "delete": self._delete, "diff": self._diff}
        return actions[action](name)

    def _list(self) -> SnapshotResult:
        infos = self._infos()
        return SnapshotResult("list", True, snapshots=infos,
                              message=f"{len(infos)} snapshot{'s' if len(infos) != 1 else ''} of {self.root}.")

    def _delete(self, name: str) -> SnapshotResult:
        with self._locked():
            folder = self._folder(name)
            info = self._info(folder, self._meta(folder)) if (folder / META_FILE).exists() else None
            shutil.rmtree(folder)
        return SnapshotResult("delete", True, name, snapshot=info, message=f"Deleted snapshot {name!r}.")
