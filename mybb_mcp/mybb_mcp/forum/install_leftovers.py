"""What an `init` that was killed (kill -9, a lost container) leaves, found and removed by the next one.

Each run records itself in its staging folder (`.NAME.installing-XXXX/run.json`, in a 0700 folder of
ours): its own process, the installer page running at the moment (a PHP process), the scratch folder
of a SQLite install and the stage prefix of a MySQL one. The next `init` of the same forum reads these
records: a run whose process still lives is another init at work (refused); a dead run's PHP process is
ended (only when its PID, start time and command line are still the ones recorded), its scratch folder
and staging folder removed, its stage tables dropped, and the answer says so.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from ..safe_files import read_own_json
from . import install_mysql
from .install_errors import InstallError
from .installer_cli import STEP_SCRIPT

if TYPE_CHECKING:
    from .install import Database

RECORD = "run.json"
_TOLERANCE = 0.5  # seconds between psutil's create_time readings of one process
_UNRECORDED_GRACE = 60.0  # seconds a staging folder without its record is left alone
_ACTIVE: set[str] = set()  # the runs of this process still at work (an MCP call may outlive its answer)


def staging_prefix(root: Path) -> str:
    return f".{root.name}.installing-"


def database_identity(pid: int) -> dict[str, Any]:
    return {"pid": pid, "started": psutil.Process(pid).create_time()}


class RunRecord:
    """This run's record in its staging folder, rewritten (beside, then renamed) as it changes."""

    def __init__(self, staging: Path) -> None:
        self.path = staging / RECORD
        self.run = secrets.token_hex(8)
        self.values: dict[str, Any] = {"init": database_identity(os.getpid()), "run": self.run}
        _ACTIVE.add(self.run)
        self._write()

    def close(self) -> None:
        """The run is over (its staging folder is being removed)."""
        _ACTIVE.discard(self.run)

    def update(self, **values: Any) -> None:
        self.values.update(values)
        self._write()

    def child(self, pid: int | None) -> None:
        """The installer page's PHP process now running (None: it ended)."""
        try:
            self.update(child=database_identity(pid) if pid else None)
        except (OSError, psutil.Error):
            pass  # the record is a help for the next run, never a reason to fail this one

    def _write(self) -> None:
        fd, temp = tempfile.mkstemp(prefix=".run-", dir=self.path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.values, handle)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _alive(entry: object, script: str | None = None) -> psutil.Process | None:
    """The process `entry` recorded, if it is still that very process."""
    if not isinstance(entry, dict) or not isinstance(entry.get("pid"), int) or \
            not isinstance(entry.get("started"), (int, float)):
        return None
    try:
        proc = psutil.Process(entry["pid"])
        if abs(proc.create_time() - entry["started"]) > _TOLERANCE or proc.uids().real != os.getuid():
            return None
        if script is not None and script not in proc.cmdline():
            return None
        return proc
    except psutil.Error:
        return None


def clear_leftovers(root: Path, database: Database | None) -> list[str]:
    """Remove what killed runs of `init` for `root` left; notes saying what went. InstallError when another
    init is installing this forum right now."""
    notes: list[str] = []
    parent = root.parent
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return notes
    for entry in entries:
        if not entry.name.startswith(staging_prefix(root)):
            continue
        info = entry.stat(follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            continue  # not a folder of ours: never entered, never removed
        staging = Path(entry.path)
        record = read_own_json(staging / RECORD, 64 * 1024)
        if not isinstance(record, dict):
            if time.time() - info.st_mtime < _UNRECORDED_GRACE:
                continue  # an init between making its folder and recording itself: not a leftover yet
            record = {}
        owner = _alive(record.get("init"))
        if owner is not None and (owner.pid != os.getpid() or record.get("run") in _ACTIVE):
            raise InstallError("target", f"Another init (process {owner.pid}) is installing {root} right now "
                               f"(its staging folder is {staging}).",
                               "Wait for it to finish, or stop it, then run init again.")
        notes += _clear_run(staging, record, database)
    return notes


def _clear_run(staging: Path, record: dict[str, Any], database: Database | None) -> list[str]:
    done: list[str] = []
    child = _alive(record.get("child"), str(STEP_SCRIPT))
    if child is not None:
        try:
            child.kill()
            child.wait(10)
            done.append(f"its installer PHP process {child.pid} (ended)")
        except psutil.Error:
            pass
    scratch = record.get("scratch")
    if isinstance(scratch, str) and os.path.basename(scratch).startswith("mybb-install-"):
        try:
            info = os.lstat(scratch)
            if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid():
                shutil.rmtree(scratch)
                done.append(f"its scratch database folder {scratch}")
        except OSError:
            pass
    done += _drop_stage_tables(record.get("mysql"), database)
    shutil.rmtree(staging, ignore_errors=True)
    done.insert(0, f"its staging folder {staging}")
    return [f"An earlier init was stopped before it finished; removed what it left: {', '.join(done)}."]


def _drop_stage_tables(recorded: object, database: Database | None) -> list[str]:
    if not isinstance(recorded, dict) or not install_mysql.is_stage_prefix(recorded.get("prefix")):
        return []
    prefix = str(recorded["prefix"])
    where = (recorded.get("host"), recorded.get("name"), recorded.get("user"))
    if database is not None and database.engine == "mysqli" and where == (database.host, database.name, database.user):
        kept = _set_aside(recorded, database)
        try:
            count = install_mysql.drop_tables(database, prefix)
            return ([f"its {count} tables {prefix}* in database {database.name!r}"] if count else []) + kept
        except Exception as exc:  # noqa: BLE001 — the database's words, as a note: the new install goes on
            return [f"not its tables {prefix}* in database {recorded.get('name')!r} ({exc}): drop them", *kept]
    return [(f"not its tables {prefix}* in database {recorded.get('name')!r} at {recorded.get('host')} "
             "(another database than this init's): drop them there")]


def _set_aside(recorded: dict[str, Any], database: Database) -> list[str]:
    """The replaced forum's tables, when the run was killed between the swap and its end: kept, and said."""
    aside = recorded.get("aside")
    if not install_mysql.is_stage_prefix(aside):
        return []
    try:
        count = len(install_mysql.forum_tables(database, str(aside)))
    except Exception:  # noqa: BLE001 — unreachable now: nothing to say about them
        return []
    words = (f"(kept) the {count} tables of the forum it replaced, set aside as {aside}* in database "
             f"{database.name!r}: drop them when you no longer need them")
    return [words] if count else []
