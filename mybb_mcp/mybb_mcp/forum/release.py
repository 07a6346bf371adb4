"""MyBB's own files, known from the release itself: which file of a forum is MyBB's untouched, an edited
MyBB file, or not MyBB's at all (a plugin's, a theme's, the user's own).

A *manifest* lists every file of the release with its SHA-256. `init` writes it from the archive it
installed; for a forum made otherwise it is built from a release archive at hand (MYBB_ARCHIVE) whose
`inc/class_core.php` names the forum's version. Without one, origin falls back to paths (log_parser).

A file is hashed once and re-hashed only when its size or mtime changed, so asking costs a `stat`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..safe_files import read_own_json

CORE, EDITED, NOT_MYBB = "core", "edited", "not MyBB's"
MANIFEST_FORMAT = 1
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
_VERSION = re.compile(rb"""public\s+\$version\s*=\s*["']([^"']+)["']""")
# What MyBB writes itself (not in the archive): its own, never the user's code.
_WRITTEN_BY_MYBB = frozenset({"inc/config.php", "inc/settings.php"})
_WRITTEN_DIRS = ("cache/", "uploads/", "install/")


@dataclass
class ReleaseFiles:
    """A release's files by forum-relative path, and what this forum's copies are."""

    version: str | None
    files: dict[str, str]  # path -> SHA-256
    basis: str  # how it was made, for answers: "the archive init installed (MyBB 1.8.37)" ...
    _seen: dict[str, tuple[int, int, bool]] = field(default_factory=dict)  # path -> (size, mtime_ns, same)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verdict(self, root: str, rel: str) -> str:
        """CORE (MyBB's, as released or written by MyBB), EDITED (MyBB's, changed) or NOT_MYBB."""
        if rel in _WRITTEN_BY_MYBB or rel.startswith(_WRITTEN_DIRS):
            return CORE
        digest = self.files.get(rel)
        if digest is None:
            return NOT_MYBB
        return CORE if self._unchanged(os.path.join(root, rel), digest) else EDITED

    def _unchanged(self, path: str, digest: str) -> bool:
        try:
            info = os.stat(path)
        except OSError:
            return True  # gone or unreadable: what ran was the release's (nothing says otherwise)
        with self._lock:
            seen = self._seen.get(path)
            if seen is not None and seen[:2] == (info.st_size, info.st_mtime_ns):
                return seen[2]
        same = _file_digest(path) == digest
        with self._lock:
            self._seen[path] = (info.st_size, info.st_mtime_ns, same)
        return same


def _file_digest(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


# --- building a manifest -------------------------------------------------------------------------------

def _members(source: Path) -> Iterator[tuple[str, bytes]]:
    """(path in the archive or folder, content) of every regular file."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(source).as_posix(), path.read_bytes()
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield info.filename, archive.read(info)
    else:
        with tarfile.open(source) as tar:
            for member in tar:
                if member.isfile():
                    handle = tar.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read()


def build_manifest(source: Path) -> tuple[str | None, dict[str, str]]:
    """(version, {forum-relative path: SHA-256}) of a MyBB release archive or folder: the files under the
    folder that holds index.php and inc/init.php (the archive's `Upload/`)."""
    contents = {name: data for name, data in _members(source)
                if not PurePosixPath(name).is_absolute() and ".." not in PurePosixPath(name).parts}
    tops = [name[: -len("inc/init.php")] for name in contents
            if name.endswith("inc/init.php") and name[: -len("inc/init.php")] + "index.php" in contents]
    if not tops:
        return None, {}
    top = min(tops, key=len)
    files = {name[len(top):]: hashlib.sha256(data).hexdigest() for name, data in contents.items()
             if name.startswith(top)}
    core = contents.get(top + "inc/class_core.php", b"")
    match = _VERSION.search(core)
    return (match.group(1).decode() if match else None), files


def write_manifest(path: Path, source: Path, basis: str) -> ReleaseFiles | None:
    """Build the manifest of `source` and keep it at `path` (mode 0600, replaced, never through a link)."""
    version, files = build_manifest(source)
    if not files:
        return None
    fd, temp = tempfile.mkstemp(prefix=".mybb-manifest-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"format": MANIFEST_FORMAT, "version": version, "basis": basis, "files": files}, handle)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _cache.pop(str(path), None)
    return ReleaseFiles(version, files, basis)


def read_manifest(path: Path) -> ReleaseFiles | None:
    record = read_own_json(path, MAX_MANIFEST_BYTES)
    try:
        files = record["files"]
        if record.get("format") != MANIFEST_FORMAT or not isinstance(files, dict):
            return None
        return ReleaseFiles(record.get("version"), {str(k): str(v) for k, v in files.items()},
                            str(record.get("basis") or "the release's manifest"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def forum_version(root: Path) -> str | None:
    try:
        with open(root / "inc" / "class_core.php", "rb") as handle:
            match = _VERSION.search(handle.read(256 * 1024))
    except OSError:
        return None
    return match.group(1).decode() if match else None


# --- which release a forum is: registered by the service, asked by the log's origin --------------------

@dataclass
class _Where:
    manifest: Path
    archives: tuple[Path, ...]


_registered: dict[str, _Where] = {}
_cache: dict[str, ReleaseFiles | None] = {}
_found: dict[str, ReleaseFiles | None] = {}
_registry_lock = threading.Lock()


def register(root: Path | str, manifest: Path, archives: tuple[Path, ...] = ()) -> None:
    """Where the manifest of the forum at `root` is kept, and release archives at hand for a forum that
    has none (the one whose inc/class_core.php version matches is used)."""
    with _registry_lock:
        where = _Where(Path(manifest), tuple(archives))
        if _registered.get(str(root)) != where:
            _registered[str(root)] = where
            _found.pop(str(root), None)


def release_for(root: str | None) -> ReleaseFiles | None:
    """The release files of the forum at `root`, None when unknown (origin then goes by path only)."""
    if root is None:
        return None
    where = _registered.get(root)
    if where is None:
        return None
    key = str(where.manifest)
    if key not in _cache:
        _cache[key] = read_manifest(where.manifest)
    if _cache[key] is not None:
        return _cache[key]
    if root not in _found:
        _found[root] = _from_archives(Path(root), where.archives)
    return _found[root]


def _from_archives(root: Path, archives: tuple[Path, ...]) -> ReleaseFiles | None:
    version = forum_version(root)
    if version is None:
        return None
    for archive in archives:
        if not archive.is_file():
            continue
        try:
            found, files = build_manifest(archive)
        except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile):
            continue
        if files and found == version:
            return ReleaseFiles(version, files, f"the release archive {archive} (MyBB {version})")
    return None


def basis_of(root: str | None) -> str:
    """How origins are told, for answers: from the release's own files, or by path only (and why)."""
    release = release_for(root)
    if release is not None:
        return f"by MyBB's own files and their hashes, from {release.basis}"
    return ("by path only: no manifest of MyBB's files (made by `init`) and no matching release archive at "
            "hand (set MYBB_ARCHIVE to this forum's MyBB release), so an edited MyBB file counts as MyBB's")
