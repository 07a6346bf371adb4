"""`SnapshotStorage`: one forum's snapshot folder, kept beside its state in `<repo_root>/.mybb-snapshots/`:
checked before anything is read from it or written to it, its lock, and the snapshots it holds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from ...safe_files import read_own_bounded
from .model import (
    BUSY,
    FORMAT,
    FORUM_NOT_INSTALLED,
    LOCK_TIMEOUT,
    MAX_MANIFEST_BYTES,
    META_FILE,
    SNAPSHOT_FAILED,
    SNAPSHOT_NOT_FOUND,
    SNAPSHOTS_DIR,
    STORAGE_UNSAFE,
    SnapshotError,
    SnapshotInfo,
)
from .tree import DEFAULT_MAX_BYTES


class SnapshotStorage:
    """The folder the snapshots of one forum are kept in; the actions (save.py, restore.py, diff.py) build on it."""

    def __init__(self, mybb_root: Path, storage: Path | None = None, clock: Callable[[], float] = time.time,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(mybb_root)
        self.max_bytes = max_bytes  # MYBB_SNAPSHOT_MAX_MB: the forum files one snapshot may hold
        # The caller names the folder when forums share a parent (the service keys it per forum).
        self.storage = storage or self.root.parent / SNAPSHOTS_DIR
        self._clock = clock

    # --- storage

    def _store(self, create: bool) -> Path | None:
        """The storage folder, checked: ours, a real directory, private. None when absent and not created."""
        path = self.storage
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if not create:
                return None
            if not self.root.is_dir():
                raise SnapshotError(FORUM_NOT_INSTALLED, f"The forum root {self.root} does not exist.")
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
            info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise SnapshotError(STORAGE_UNSAFE,
                                f"{path} is not a directory owned by you (a symlink, a file or another user's): "
                                "snapshots are not read from or written there.")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(path, 0o700)
        return path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        store = self._store(create=True)
        assert store is not None
        fd = os.open(store / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise SnapshotError(BUSY, f"Another snapshot operation on this forum held "
                                            f"{store / '.lock'} for {LOCK_TIMEOUT:.0f} s.") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)

    def _folder(self, name: str) -> Path:
        """An existing snapshot's folder (checked like the storage), or SNAPSHOT_NOT_FOUND."""
        store = self._store(create=False)
        path = (store or self.storage) / name
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            info = None
        if store is None or info is None:
            known = ", ".join(s.name for s in self._infos()[:10]) or "none yet"
            raise SnapshotError(SNAPSHOT_NOT_FOUND, f"There is no snapshot named {name!r} "
                                f"(snapshots of this forum: {known}).")
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise SnapshotError(STORAGE_UNSAFE, f"{path} is not a snapshot folder of yours.")
        return path

    @staticmethod
    def _read_json(folder: Path, file_name: str) -> dict[str, object]:
        try:  # ours, a regular file, bounded, never blocking on a FIFO planted in its place
            data = json.loads(read_own_bounded(folder / file_name, MAX_MANIFEST_BYTES))
        except (OSError, ValueError) as exc:
            raise SnapshotError(SNAPSHOT_FAILED,
                                f"The snapshot {folder.name!r} is unreadable ({folder / file_name}: {exc}); "
                                "delete it.") from None
        if not isinstance(data, dict):
            raise SnapshotError(SNAPSHOT_FAILED, f"The snapshot {folder.name!r} is unreadable ({folder / file_name} "
                                "holds no JSON object); delete it.")
        return data

    def _meta(self, folder: Path) -> dict[str, object]:
        meta = self._read_json(folder, META_FILE)
        if meta.get("format") != FORMAT:
            raise SnapshotError(SNAPSHOT_FAILED,
                                f"The snapshot {folder.name!r} was written in a format this version does not read.")
        return meta

    @staticmethod
    def _files_of(folder: Path, meta: Mapping[str, object]) -> dict[str, object]:
        """The manifest's table of files (checked further where they are written back, tree.py)."""
        files = meta.get("files", {})
        if not isinstance(files, dict):
            raise SnapshotError(SNAPSHOT_FAILED, f"The snapshot {folder.name!r} is unreadable ({folder / META_FILE} "
                                "holds no table of files); delete it.")
        return files

    @staticmethod
    def _tables_of(folder: Path, meta: Mapping[str, object]) -> list[str]:
        """The tables the snapshot holds, as its manifest names them."""
        tables = meta.get("tables", [])
        if not isinstance(tables, list) or not all(isinstance(table, str) for table in tables):
            raise SnapshotError(SNAPSHOT_FAILED, f"The snapshot {folder.name!r} is unreadable ({folder / META_FILE} "
                                "holds no list of tables); delete it.")
        return list(tables)

    def _info(self, folder: Path, meta: Mapping[str, object]) -> SnapshotInfo:
        size = 0
        for dirpath, _, names in os.walk(folder):
            for name in names:
                with contextlib.suppress(OSError):
                    size += os.lstat(os.path.join(dirpath, name)).st_size
        version, files = meta.get("mybb_version"), meta.get("files", {})
        return SnapshotInfo(
            name=folder.name, created=str(meta.get("created", "")), automatic=bool(meta.get("automatic")),
            reason=str(meta.get("reason", "")), database=str(meta.get("database_description", "")),
            mybb_version=version if isinstance(version, str) else None,
            files=len(files) if isinstance(files, (dict, list)) else 0, size_bytes=size, path=folder,
        )

    def _infos(self) -> list[SnapshotInfo]:
        store = self._store(create=False)
        if store is None:
            return []
        infos = []
        for entry in os.scandir(store):
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            with contextlib.suppress(SnapshotError):
                infos.append(self._info(Path(entry.path), self._meta(Path(entry.path))))
        return sorted(infos, key=lambda info: (info.created, info.name))
