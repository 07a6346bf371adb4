"""Saving a snapshot: the database and the files MyBB writes, all or nothing (a half-written
snapshot never has a name).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from ..files import read_mybb_version
from .database import SnapshotDatabase, database_identity, describe_database, forum_database_of
from .model import CATALOG_FILE, FILES_DIR, FORMAT, META_FILE, SNAPSHOT_EXISTS, SnapshotError, SnapshotResult
from .storage import SnapshotStorage
from .tree import read_tree


class SaveAction(SnapshotStorage):
    """`save`: a new named snapshot of the forum as it is now, in the storage it builds on."""

    # --- actions

    def _save(self, name: str, *, automatic: bool = False, reason: str = "") -> SnapshotResult:
        SnapshotDatabase(forum_database_of(self.root), self.root).require_tools()  # refused before anything is made
        with self._locked():
            return self._save_locked(name, automatic=automatic, reason=reason)

    def _save_locked(self, name: str, *, automatic: bool = False, reason: str = "") -> SnapshotResult:
        cfg = forum_database_of(self.root)
        database = SnapshotDatabase(cfg, self.root)
        database.require_tools()
        store = self._store(create=True)
        assert store is not None
        if os.path.lexists(store / name):
            raise SnapshotError(SNAPSHOT_EXISTS, f"A snapshot named {name!r} already exists.")
        work = Path(tempfile.mkdtemp(prefix=f".saving-{name}-", dir=store))  # 0700, hidden from `list`
        try:
            found = database.save(work)
            tree = read_tree(self.root, copy_to=work / FILES_DIR, max_bytes=self.max_bytes)
            meta = {
                "format": FORMAT, "name": name,
                "created": datetime.fromtimestamp(self._clock(), timezone.utc).isoformat(timespec="microseconds"),
                "automatic": automatic, "reason": reason,
                "database": database_identity(cfg, self.root),
                "database_description": describe_database(cfg, self.root),
                "mybb_version": read_mybb_version(self.root),
                "files": tree.files, "dirs": tree.dirs, "skipped": tree.skipped, "tables": sorted(found["tables"]),
            }
            # json.dumps, not json.dump: the C encoder, ten times faster on the catalog's thousand templates.
            for file_name, data in ((CATALOG_FILE, found), (META_FILE, meta)):
                with open(work / file_name, "x", encoding="utf-8") as handle:
                    handle.write(json.dumps(data, separators=(",", ":")))
            os.rename(work, store / name)  # all or nothing: a half-written snapshot never has a name
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        folder = store / name
        result = SnapshotResult("save", True, name, snapshot=self._info(folder, meta),
                                message=f"Saved snapshot {name!r} of {meta['database_description']} and "
                                        f"{len(tree.files)} forum files.")
        result.skipped = tree.skipped
        return result

