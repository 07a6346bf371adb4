"""Restoring a snapshot: what is replaced is first kept as an automatic snapshot (the restore can be
undone); old automatic snapshots are pruned.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import datetime, timezone

from .compare import when_text
from .database import SnapshotDatabase, database_identity, describe_database, forum_database_of
from .model import (
    AUTO_PREFIX,
    BUSY,
    DATABASE_MISMATCH,
    FILES_DIR,
    KEEP_AUTOMATIC,
    SNAPSHOT_FAILED,
    SnapshotError,
    SnapshotResult,
)
from .save import SaveAction
from .tree import TreeRefused, checked_manifest, write_tree


class RestoreAction(SaveAction):
    """`restore`: the forum put back as a snapshot holds it; what it replaces is first saved (SaveAction)."""

    def _restore(self, name: str) -> SnapshotResult:
        with self._locked():
            folder = self._folder(name)
            meta = self._meta(folder)
            cfg = forum_database_of(self.root)
            if meta.get("database") != database_identity(cfg, self.root):
                raise SnapshotError(DATABASE_MISMATCH,
                                    f"Snapshot {name!r} holds {meta.get('database_description')}, but the forum now "
                                    f"uses {describe_database(cfg, self.root)} (inc/config.php): nothing was restored.")
            database = SnapshotDatabase(cfg, self.root)
            database.require_tools()
            # A manifest changed since the save could name `cache/..`: checked before anything is touched.
            files, dirs = checked_manifest(self.root, meta.get("files", {}), meta.get("dirs", {}))
            tables = self._tables_of(folder, meta)
            # First keep what is about to be replaced: the restore can then be undone.
            keep = self._auto_name()
            try:
                kept = self._save_locked(keep, automatic=True, reason=f"before restoring {name}")
            except SnapshotError as exc:
                if exc.failure != BUSY:
                    raise
                return self._locked_out(name, exc)
            try:
                database.restore(folder, tables)
            except SnapshotError as exc:
                if exc.failure != BUSY:
                    return self._failed_part_way(name, keep, kept, exc)
                # The database refused before a page was written, and the files come after it: nothing changed,
                # so the copy of "before" has nothing to undo.
                shutil.rmtree(self.storage / keep, ignore_errors=True)
                return self._locked_out(name, exc)
            except (TreeRefused, OSError, sqlite3.Error) as exc:
                return self._failed_part_way(name, keep, kept, exc)
            try:
                sync = write_tree(self.root, folder / FILES_DIR, files, dirs)
            except (SnapshotError, TreeRefused, OSError, sqlite3.Error) as exc:
                return self._failed_part_way(name, keep, kept, exc)
            result = SnapshotResult(
                "restore", True, name, snapshot=self._info(folder, meta), automatic=kept.snapshot,
                files_written=sync.written, files_removed=sync.removed, skipped=sync.skipped,
                message=f"Restored snapshot {name!r} (saved {when_text(meta)}): the database and the files MyBB "
                        f"writes are as they were then.",
            )
            result.pruned = self._prune(keep)
            return result

    @staticmethod
    def _failed_part_way(name: str, keep: str, kept: SnapshotResult, exc: Exception) -> SnapshotResult:
        failure = exc.failure if isinstance(exc, SnapshotError) else SNAPSHOT_FAILED
        message = exc.message if isinstance(exc, (SnapshotError, TreeRefused)) else str(exc)
        result = SnapshotResult("restore", False, name, failure,
                                f"Restoring {name!r} failed part way: {message} The forum may be half "
                                f"restored; what it was just before is kept as snapshot {keep!r}.",
                                exc.detail if isinstance(exc, SnapshotError) else "")
        result.automatic = kept.snapshot
        return result

    @staticmethod
    def _locked_out(name: str, exc: SnapshotError) -> SnapshotResult:
        return SnapshotResult("restore", False, name, BUSY,
                              f"Nothing was restored: {exc.message[:1].lower()}{exc.message[1:]} The database and the "
                              "forum files are as they were.")

    def _auto_name(self) -> str:
        stamp = datetime.fromtimestamp(self._clock(), timezone.utc).strftime("%Y%m%d-%H%M%S")
        name, counter = f"{AUTO_PREFIX}{stamp}", 1
        while os.path.lexists(self.storage / name):
            counter += 1
            name = f"{AUTO_PREFIX}{stamp}-{counter}"
        return name

    def _prune(self, keep: str) -> list[str]:
        automatic = [info for info in self._infos() if info.automatic and info.name != keep]
        pruned = [info.name for info in automatic[:max(0, len(automatic) - (KEEP_AUTOMATIC - 1))]]
        for old in pruned:
            shutil.rmtree(self.storage / old, ignore_errors=True)
        return pruned

