"""Diffing a snapshot against the forum now, in MyBB's terms.
"""

from __future__ import annotations

from .compare import compare, when_text
from .database import SnapshotDatabase, database_identity, describe_database, forum_database_of
from .model import CATALOG_FILE, SnapshotResult
from .storage import SnapshotStorage
from .tree import read_tree


class DiffAction(SnapshotStorage):
    """`diff`: what changed in the forum since a snapshot."""

    def _diff(self, name: str) -> SnapshotResult:
        with self._locked():  # a snapshot being deleted meanwhile is not half read
            return self._diff_locked(name)

    def _diff_locked(self, name: str) -> SnapshotResult:
        folder = self._folder(name)
        meta = self._meta(folder)
        cfg = forum_database_of(self.root)
        notes: list[str] = []
        if meta.get("database") != database_identity(cfg, self.root):
            notes.append(f"The snapshot holds {meta.get('database_description')}; the forum now uses "
                         f"{describe_database(cfg, self.root)}: the comparison is between different databases.")
        now = SnapshotDatabase(cfg, self.root).current_catalog()
        known = self._files_of(folder, meta)
        tree = read_tree(self.root, known=known, max_bytes=self.max_bytes)
        then = {**self._read_json(folder, CATALOG_FILE), "files": known}
        difference = compare(then, {**now, "files": tree.files})
        result = SnapshotResult("diff", True, name, snapshot=self._info(folder, meta), diff=difference,
                                skipped=tree.skipped, notes=notes,
                                message=f"Changes in the forum since snapshot {name!r} (saved {when_text(meta)}).")
        return result

