"""The named ways an operation can fail, each with what to do next.

The service returns a `Failure` inside a result; the MCP face and the CLI
each map it once (heading, exit code). Keep this catalogue small.
"""

from __future__ import annotations

from enum import Enum


class Failure(str, Enum):
    ALREADY_RUNNING = "already_running"
    PORT_IN_USE = "port_in_use"
    NOT_RUNNING = "not_running"
    NOT_OURS = "not_ours"
    BAD_FORUM_ROOT = "bad_forum_root"
    PHP_NOT_FOUND = "php_not_found"
    PHP_BUILD_UNAVAILABLE = "php_build_unavailable"
    LOG_UNWRITABLE = "log_unwritable"
    PHP_EXITED = "php_exited"
    START_TIMEOUT = "start_timeout"
    STOP_TIMEOUT = "stop_timeout"
    BUSY = "busy"
    FORUM_NOT_INSTALLED = "forum_not_installed"
    UNSUPPORTED_DATABASE = "unsupported_database"
    DUMP_TOOL_MISSING = "dump_tool_missing"
    SNAPSHOT_NOT_FOUND = "snapshot_not_found"
    SNAPSHOT_EXISTS = "snapshot_exists"
    DATABASE_MISMATCH = "database_mismatch"
    STORAGE_UNSAFE = "storage_unsafe"
    SNAPSHOT_FAILED = "snapshot_failed"
    UNSAFE_FILE = "unsafe_file"

    @property
    def title(self) -> str:
        return _TITLES[self]


_TITLES = {
    Failure.ALREADY_RUNNING: "Server Already Running",
    Failure.PORT_IN_USE: "Port In Use",
    Failure.NOT_RUNNING: "Server Not Running",
    Failure.NOT_OURS: "Not Our Server",
    Failure.BAD_FORUM_ROOT: "MyBB Root Not Usable",
    Failure.PHP_NOT_FOUND: "PHP Not Found",
    Failure.PHP_BUILD_UNAVAILABLE: "PHP Release Not Available",
    Failure.LOG_UNWRITABLE: "Log Directory Not Writable",
    Failure.PHP_EXITED: "PHP Exited During Start",
    Failure.START_TIMEOUT: "Server Did Not Answer",
    Failure.STOP_TIMEOUT: "Server Did Not Stop",
    Failure.BUSY: "Another Operation In Progress",
    Failure.FORUM_NOT_INSTALLED: "No Installed Forum",
    Failure.UNSUPPORTED_DATABASE: "Database Not Supported",
    Failure.DUMP_TOOL_MISSING: "Database Client Missing",
    Failure.SNAPSHOT_NOT_FOUND: "Snapshot Not Found",
    Failure.SNAPSHOT_EXISTS: "Snapshot Already Exists",
    Failure.DATABASE_MISMATCH: "Snapshot Of Another Database",
    Failure.STORAGE_UNSAFE: "Snapshot Storage Not Usable",
    Failure.SNAPSHOT_FAILED: "Snapshot Failed",
    Failure.UNSAFE_FILE: "File Not Safe To Use",
}
