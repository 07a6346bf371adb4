"""The catalogue of named failures, for every tool: each a name, a title and the next step.

The service returns a `Failure` inside a result (or raises an error the face names with one); each face
maps it once: the MCP edge to its heading and isError, the CLI to its heading and exit code. A next step
is worded for the face that shows it: `{field}`s are filled from the face's `answers.commands.Commands`
(its tool calls or its commands). Where the facts of one result make a better next step (who holds the
port, what PHP said), the answer gives that one instead; this is the step when nothing more is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class Failure(str, Enum):
    # the server's lifecycle
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
    UNSAFE_FILE = "unsafe_file"
    # snapshots
    FORUM_NOT_INSTALLED = "forum_not_installed"
    UNSUPPORTED_DATABASE = "unsupported_database"
    DUMP_TOOL_MISSING = "dump_tool_missing"
    SNAPSHOT_NOT_FOUND = "snapshot_not_found"
    SNAPSHOT_EXISTS = "snapshot_exists"
    DATABASE_MISMATCH = "database_mismatch"
    STORAGE_UNSAFE = "storage_unsafe"
    SNAPSHOT_FAILED = "snapshot_failed"
    # page requests, init, the workbench, the reference
    REQUEST_FAILED = "request_failed"
    LOGIN_REFUSED = "login_refused"
    BROWSER_PROBLEM = "browser_problem"
    TRACE_UNAVAILABLE = "trace_unavailable"
    FORUM_NOT_ANSWERING = "forum_not_answering"
    INSTALL_FAILED = "install_failed"
    SQL_REFUSED = "sql_refused"
    NO_SUCH_TABLE = "no_such_table"
    MEMBER_NOT_ADDED = "member_not_added"
    MEMBERS_UNREADABLE = "members_unreadable"
    TEMPLATE_REFUSED = "template_refused"
    TEMPLATE_FAILED = "template_failed"
    NO_SUCH_TEMPLATE = "no_such_template"
    PHP_NOT_RUN = "php_not_run"
    AGENT_SETUP_INCOMPLETE = "agent_setup_incomplete"
    REFERENCE_FAILED = "reference_failed"
    MATRIX_NOT_RUN = "matrix_not_run"
    # any tool: the call itself
    INVALID_ARGUMENTS = "invalid_arguments"
    CONFIGURATION = "configuration"
    TIMED_OUT = "timed_out"
    INTERNAL_ERROR = "internal_error"
    FILE_PROBLEM = "file_problem"

    @property
    def title(self) -> str:  # type: ignore[override]  # the failure's title, not str.title(): one name, kept
        return CATALOGUE[self][0]

    def next_step(self, words: Mapping[str, str]) -> str:
        """The next step, in the words of one face (its `Commands`, as a mapping of field -> wording)."""
        return CATALOGUE[self][1].format_map(words)


# name -> (title, next step). A step names other calls only through `{fields}` of the face's Commands.
CATALOGUE: dict[Failure, tuple[str, str]] = {
    Failure.ALREADY_RUNNING: ("Server Already Running",
                              "Nothing to do if this is the server you want. To pick up changed settings use "
                              "{restart}; to stop it use {stop}."),
    Failure.PORT_IN_USE: ("Port In Use",
                          "Stop the program holding the port (this tool never stops a process it did not start)."),
    Failure.NOT_RUNNING: ("Server Not Running", "Start it with {start}."),
    Failure.NOT_OURS: ("Not Our Server",
                       "That program was started some other way: stop it there if it should not run."),
    Failure.BAD_FORUM_ROOT: ("MyBB Root Not Usable",
                             "Point MYBB_ROOT at the directory holding MyBB's index.php (environment or .env), "
                             "then start again."),
    Failure.PHP_NOT_FOUND: ("PHP Not Found",
                            "Install the PHP CLI (Debian/Ubuntu: `apt-get install php-cli php-sqlite3 php-mysql`) "
                            "or set MYBB_PHP to the php binary's full path."),
    Failure.PHP_BUILD_UNAVAILABLE: ("PHP Release Not Available",
                                    "Do what the note above says, or unset MYBB_PHP_VERSION to run the forum on "
                                    "the machine's own PHP; nothing was started."),
    Failure.LOG_UNWRITABLE: ("Log Directory Not Writable",
                             "Make the logs/ directory next to the forum writable (or free disk space), then "
                             "start again."),
    Failure.PHP_EXITED: ("PHP Exited During Start",
                         "Fix what PHP reported above, then start again. Full output: {logs_errors}."),
    Failure.START_TIMEOUT: ("Server Did Not Answer",
                            "Check the log with {logs_errors}; the forum's router or index.php may hang."),
    Failure.STOP_TIMEOUT: ("Server Did Not Stop", "Use {stop_force} to kill it."),
    Failure.BUSY: ("Another Operation In Progress", "Wait for the other operation, then check {status}."),
    Failure.UNSAFE_FILE: ("File Not Safe To Use",
                          "Fix that file as the note says, then try again. This tool never writes through a link, "
                          "into another user's file, or into anything but a regular file."),
    Failure.FORUM_NOT_INSTALLED: ("No Installed Forum",
                                  "Point MYBB_ROOT at an installed forum (its inc/config.php names the database), "
                                  "then try again."),
    Failure.UNSUPPORTED_DATABASE: ("Database Not Supported",
                                   "Back this database up with its own tools; snapshots cover SQLite and "
                                   "MySQL/MariaDB."),
    Failure.DUMP_TOOL_MISSING: ("Database Client Missing",
                                "Install the database client tools (Debian/Ubuntu: `apt-get install "
                                "mariadb-client`, or `default-mysql-client`), then try again. Nothing was changed."),
    Failure.SNAPSHOT_NOT_FOUND: ("Snapshot Not Found", "See the snapshots there are with {snapshot_list}."),
    Failure.SNAPSHOT_EXISTS: ("Snapshot Already Exists",
                              "Choose another name, or delete the old one first with {snapshot_delete}."),
    Failure.DATABASE_MISMATCH: ("Snapshot Of Another Database",
                                "Point inc/config.php back at the snapshot's database, or save a new snapshot of "
                                "this one."),
    Failure.STORAGE_UNSAFE: ("Snapshot Storage Not Usable",
                             "Move `{storage}` aside (it must be a directory you own), then try again."),
    Failure.SNAPSHOT_FAILED: ("Snapshot Failed", "Fix the problem above and try again; nothing was changed."),
    Failure.REQUEST_FAILED: ("Request Failed", "{fix_again}"),
    Failure.LOGIN_REFUSED: ("Login Refused", "{fix_again}"),
    Failure.BROWSER_PROBLEM: ("Browser Not Usable", "{fix_again}"),
    Failure.TRACE_UNAVAILABLE: ("Request Workbench Not Running", "Restart it with {restart}, then ask again."),
    Failure.FORUM_NOT_ANSWERING: ("Forum Not Answering", "Check the server with {status}."),
    Failure.INSTALL_FAILED: ("Install Failed", "{fix_again}"),
    Failure.SQL_REFUSED: ("SQL Refused", "{fix_again}"),
    Failure.NO_SUCH_TABLE: ("No Such Table", "{fix_again}"),
    Failure.MEMBER_NOT_ADDED: ("Member Not Added", "{fix_again}"),
    Failure.MEMBERS_UNREADABLE: ("Members", "{fix_again}"),
    Failure.TEMPLATE_REFUSED: ("Template Refused", "{fix_again}"),
    Failure.TEMPLATE_FAILED: ("Template", "{fix_again}"),
    Failure.NO_SUCH_TEMPLATE: ("No Such Template", "{fix_again}"),
    Failure.PHP_NOT_RUN: ("PHP Not Run", "{fix_again}"),
    Failure.AGENT_SETUP_INCOMPLETE: ("Agent Setup Incomplete", "{fix_again}"),
    Failure.MATRIX_NOT_RUN: ("Matrix Not Run", "{fix_again}"),
    Failure.REFERENCE_FAILED: ("Reference", "{fix_again}"),
    Failure.INVALID_ARGUMENTS: ("Invalid Arguments", "{fix_arguments}"),
    Failure.CONFIGURATION: ("Configuration", "{fix_setting}"),
    Failure.TIMED_OUT: ("Timed Out",
                        "Check the server with {status}. If a file beside the forum is a FIFO or on a hung disk, "
                        "or another mybb-server holds the forum's lock, fix that first."),
    Failure.INTERNAL_ERROR: ("Internal Error",
                             "Check the server's state with {status}; if this repeats, report it with this message."),
    Failure.FILE_PROBLEM: ("File Problem",
                           "Fix that file's ownership or permissions (or remove it), then run the command again."),
}
