"""Snapshot names, limits and failure codes, and the result dataclasses every action returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InvalidArgument
from ...failures import Failure

if TYPE_CHECKING:
    from .. import schema as table_schema


SNAPSHOTS_DIR = ".mybb-snapshots"
META_FILE = "snapshot.json"
CATALOG_FILE = "catalog.json"
SQLITE_FILE = "database.sqlite"
SQL_FILE = "database.sql"
FILES_DIR = "files"
FORMAT = 1

ACTIONS = ("save", "restore", "list", "delete", "diff")
MAX_NAME_LENGTH = 64
# Letters, digits, '.', '_' and '-', not starting with '.' or '-': a single path component, never hidden.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # matched whole (fullmatch): no trailing newline
_NAME = re.compile(NAME_PATTERN)
AUTO_PREFIX = "auto-before-restore-"
KEEP_AUTOMATIC = 10  # automatic snapshots beyond the newest ten are removed after a restore

# The files MyBB itself writes, relative to the forum root: two files in inc/, two whole folders.
NOT_ROLLED_BACK = (
    "Plugin sources (inc/plugins/) and all other forum files are your work: snapshots never save or roll "
    "them back. A snapshot holds the database, inc/config.php, inc/settings.php, cache/ and uploads/."
)

LOCK_TIMEOUT = 30.0
TOOL_TIMEOUT = 600.0  # a dump or a load of a large forum; bounded all the same
CONNECT_TIMEOUT = 10.0
CLIENT_PACKAGE = "mariadb-client"  # Debian/Ubuntu: mariadb-dump and mariadb (default-mysql-client works too)

# How a snapshot action failed: the values of the named failures (failures.Failure) it can end in.
FORUM_NOT_INSTALLED = Failure.FORUM_NOT_INSTALLED.value
UNSUPPORTED_DATABASE = Failure.UNSUPPORTED_DATABASE.value
DUMP_TOOL_MISSING = Failure.DUMP_TOOL_MISSING.value
SNAPSHOT_NOT_FOUND = Failure.SNAPSHOT_NOT_FOUND.value
SNAPSHOT_EXISTS = Failure.SNAPSHOT_EXISTS.value
DATABASE_MISMATCH = Failure.DATABASE_MISMATCH.value
STORAGE_UNSAFE = Failure.STORAGE_UNSAFE.value
SNAPSHOT_FAILED = Failure.SNAPSHOT_FAILED.value
BUSY = Failure.BUSY.value
FAILURE_CODES = (FORUM_NOT_INSTALLED, UNSUPPORTED_DATABASE, DUMP_TOOL_MISSING, SNAPSHOT_NOT_FOUND, SNAPSHOT_EXISTS,
                 DATABASE_MISMATCH, STORAGE_UNSAFE, SNAPSHOT_FAILED, BUSY)

MAX_MANIFEST_BYTES = 256 * 1024 * 1024  # snapshot.json and catalog.json: a thousand templates' hashes fit many times


# ----------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SnapshotInfo:
    """One saved snapshot, as `list` shows it."""

    name: str
    created: str  # ISO 8601, UTC, microseconds (orders snapshots taken within one second)
    automatic: bool
    reason: str  # why an automatic snapshot was taken ("before restoring X"); "" for the user's own
    database: str  # which database it holds, for people: "SQLite /path/forum.db"
    mybb_version: str | None
    files: int  # forum files it holds
    size_bytes: int
    path: Path


@dataclass(frozen=True)
class TableChange:
    table: str
    rows_before: int | None  # None: the table did not exist at the snapshot
    rows_after: int | None  # None: the table is gone now


@dataclass(frozen=True)
class Change:
    """Something named that was added (before None), removed (after None) or changed (both set)."""

    name: str
    group: str | None  # its setting group, template set, theme or folder, as MyBB names it
    before: str | None
    after: str | None

    @property
    def kind(self) -> str:
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"


@dataclass(frozen=True)
class SnapshotDiff:
    """What differs between a snapshot and the forum now, in MyBB's terms."""

    tables: tuple[TableChange, ...] = ()
    setting_groups: tuple[Change, ...] = ()  # before/after: the group's title
    settings: tuple[Change, ...] = ()  # before/after: the value; same value = its definition changed
    templates: tuple[Change, ...] = ()  # group: the template set
    stylesheets: tuple[Change, ...] = ()  # group: the theme
    datacache: tuple[Change, ...] = ()
    plugins_before: tuple[str, ...] | None = None  # active plugins (the `plugins` datacache entry)
    plugins_after: tuple[str, ...] | None = None
    files: tuple[Change, ...] = ()  # before/after: size in bytes
    unknown: tuple[str, ...] = ()  # sections that could not be compared, and why
    schema: tuple[table_schema.SchemaChange, ...] = ()  # columns and indexes of tables both hold
    tasks: tuple[Change, ...] = ()  # before/after: "enabled" / "disabled" (+ "; definition changed")
    usergroups: tuple[Change, ...] = ()  # name: the permission column; group: the usergroup; before/after: values

    @property
    def empty(self) -> bool:
        return not (self.tables or self.schema or self.setting_groups or self.settings or self.templates
                    or self.stylesheets or self.datacache or self.files or self.plugins_before != self.plugins_after
                    or self.tasks or self.usergroups)


@dataclass
class SnapshotResult:
    """The outcome of one snapshot action; `failure` set means nothing was changed unless `message` says so."""

    action: str
    ok: bool
    name: str | None = None
    failure: str | None = None  # a Failure value (the service hands out the Failure itself)
    message: str = ""
    detail: str = ""  # what a database tool printed, verbatim (the answer fences it)
    snapshot: SnapshotInfo | None = None
    snapshots: list[SnapshotInfo] = field(default_factory=list)
    automatic: SnapshotInfo | None = None  # restore: the snapshot of what it replaced
    files_written: int = 0
    files_removed: int = 0
    skipped: list[str] = field(default_factory=list)  # forum paths left alone (symlinks, special files)
    diff: SnapshotDiff | None = None
    pruned: list[str] = field(default_factory=list)  # old automatic snapshots removed
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    storage: Path | None = None


class SnapshotError(Exception):
    """A named failure on the way; `run` turns it into a result."""

    def __init__(self, failure: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.failure, self.message, self.detail = failure, message, detail


# ----------------------------------------------------------------------------------------- names


def validate_name(name: object) -> str:
    """A snapshot name: one path component of letters, digits, '.', '_', '-', at most 64 characters."""
    if not isinstance(name, str) or not name:
        raise InvalidArgument("A snapshot name is required.", "Give a name such as `before-plugin`.")
    if not _NAME.fullmatch(name):
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise InvalidArgument(
            f"{shown!r} is not a usable snapshot name: use 1-{MAX_NAME_LENGTH} letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (no '/', no spaces).",
            "Use a name such as `before-plugin` or `clean-install`.",
        )
    return name


def validate_action(action: object) -> str:
    if action not in ACTIONS:
        raise InvalidArgument(f"{action!r} is not a snapshot action.", f"Use one of: {', '.join(ACTIONS)}.")
    return str(action)
