"""The MCP tools, one row each: from this table come tools/list, each tool's schema and the dispatch.

A row names the tool (`ToolName`), its argument model (`tools_registry.py`: the schema and the
validator), its title and description, its hints, and its work function (`orchestration.py`,
`forum.py`, `workbench.py`, `reference.py` beside this file). `edge.call_tool` runs any row.
The order of the rows is the order of tools/list.
"""

from __future__ import annotations

from typing import Any

from mcp import types

from ..tools_registry import (
    DoctorArgs,
    InitArgs,
    LogsArgs,
    MatrixArgs,
    MembersArgs,
    PhpArgs,
    PluginsArgs,
    ReferenceArgs,
    RequestArgs,
    RestartArgs,
    SnapshotArgs,
    SqlArgs,
    StartArgs,
    StatusArgs,
    StopArgs,
    TemplatesArgs,
    ToolName,
)
from . import forum, orchestration, reference, workbench
from .edge import CHANGES, DESTROYS, READS, REPEATS, UNDOES, ProgressReporter, ToolRow, ToolText, call_tool

TOOLS: tuple[ToolRow[Any], ...] = (
    ToolRow(
        ToolName.START, StartArgs, "Start the MyBB dev server",
        "Start PHP's built-in web server for the MyBB forum (MYBB_ROOT) and return once it answers HTTP. "
        "Refuses if it is already running (use force to restart) or if another program holds the port "
        "(names it). Rotates the previous log (or, when already running, a log past MYBB_LOG_MAX_MB, in place). "
        "Binds 127.0.0.1 unless MYBB_HOST says otherwise.",
        CHANGES, orchestration.start,
    ),
    ToolRow(
        ToolName.STOP, StopArgs, "Stop the MyBB dev server",
        "Stop the server this tool started, workers included (SIGTERM to its process group, up to 5 s; "
        "force kills what is left). Never touches a process it did not start. Keeps the log.",
        UNDOES, orchestration.stop,
    ),
    ToolRow(
        ToolName.STATUS, StatusArgs, "MyBB dev server status",
        "Whether the server runs (port, PID, uptime, URL, workers, log), whether it died unexpectedly (with its "
        "last errors), database health from inc/config.php, MyBB error logging and bburl checks. With all: "
        "every server this user runs through the tool, whatever the forum.",
        READS, orchestration.status,
    ),
    ToolRow(
        ToolName.LOGS, LogsArgs, "Query the MyBB dev server log",
        "Entries from the server log (rotated logs included) merged with MyBB's own error log: most recent "
        "first by default, filtered by errors_only, keyword, static assets and time window. Each error once, "
        "with the request that raised it, its origin (plugin NAME, theme/template, MyBB core, your code) and the "
        "line in your code; MyBB core noise hidden; answers keep to max_chars. Fast on multi-GB logs. Every "
        "answer ends with a cursor: pass it back to get only what is new (digest: errors grouped, with which "
        "are new, still firing, resolved or not re-checked); wait_seconds waits for the next matching entry.",
        READS, orchestration.logs,
    ),
    ToolRow(
        ToolName.RESTART, RestartArgs, "Restart the MyBB dev server",
        "Stop the server (if running) and start it again, on the port and address it ran on unless others "
        "are given (host 127.0.0.1 takes an exposed server off the network).",
        CHANGES, orchestration.restart,
    ),
    ToolRow(
        ToolName.REQUEST, RequestArgs, "Load a forum page and see what it broke",
        "GET or POST a forum page (front end or Admin CP) as guest, admin or a member, logging in like a browser "
        "and filling my_post_key; a POST is sent once, never re-sent. Answers the final URL, status, time, title, "
        "MyBB's redirect page (success, where it points), whether MyBB showed an error page or stopped instead "
        "(SQL error, error/no-permission page, die(), missing language file, \"Are you sure?\" page with the "
        "fields to POST to confirm, Admin CP login "
        "or PIN form, MyBB's message quoted) and the errors of exactly this request "
        "from the server log and MyBB's error log (deduplicated, file:line) or 'no errors'; on demand a text "
        "excerpt, a selector/text check, MyBB's debug report; queries (every SQL statement grouped, with caller, "
        "hook and plugin) and profile (time per plugin function and hook). An answer that should be JSON "
        "(xmlhttp.php, ajax, a JSON Content-Type) is called valid JSON or not, naming the warning or stray output "
        "that broke it (file:line). Ends with a cursor for mybb_server_logs.",
        CHANGES, orchestration.request,
    ),
    ToolRow(
        ToolName.SNAPSHOT, SnapshotArgs, "Snapshots of the MyBB forum",
        "Save, restore, list, delete or diff snapshots of the forum's database (SQLite, or MySQL/MariaDB through "
        "mariadb-dump) and the files MyBB writes (inc/config.php, inc/settings.php, cache/, uploads/), while the "
        "server runs. Plugin sources (inc/plugins/) are never rolled back. restore replaces the current state "
        "without asking, after keeping it as an automatic snapshot; diff after a plugin's install and uninstall "
        "shows what it left behind.",
        DESTROYS, forum.snapshot,
    ),
    ToolRow(
        ToolName.PLUGINS, PluginsArgs, "MyBB plugins: lifecycle and checks",
        "List the forum's plugins (compatible, installed, active, read in the Admin CP), install/activate/deactivate/"
        "uninstall one by clicking the Admin CP's plugins page as the forum's admin (MyBB's own admin/index.php; "
        "answers its flash message and redirect, the errors of that run with file:line, whether it completed, and "
        "what it changed: tables, columns, settings, templates, tasks), or check one: the hooks MyBB holds for it "
        "against every run_hooks site of the forum (with the closest real name for a misspelt one), "
        "compatibility, missing hook functions.",
        DESTROYS, forum.plugins,
    ),
    ToolRow(
        ToolName.MATRIX, MatrixArgs, "A plugin on several PHP and MyBB releases",
        "For each PHP x MyBB cell, a throwaway copy of a fresh MyBB (SQLite) served on 127.0.0.1 on that PHP: the "
        "plugin installed and activated through the Admin CP, the pages loaded as guest, member and admin, then "
        "deactivated and uninstalled. One table: a verdict per cell with its first error (file:line, page, role) "
        "and what the uninstall left behind; then the errors new or gone between versions. MyBB's own errors on "
        "that PHP (raised without the plugin too) are counted apart. Cells run side by side; every server is "
        "stopped after. Sends progress per cell. Leaves the forum itself untouched (PHP builds and MyBB releases "
        "are installed into the user's cache on first use).",
        REPEATS, forum.matrix,
    ),
    ToolRow(
        ToolName.INIT, InitArgs, "Make a MyBB forum",
        "What `mybb-server init` does: install MyBB into MYBB_ROOT with MyBB's own installer (SQLite by default, "
        "or MySQL/MariaDB with db), then start the server. Sends progress while it runs. The answer says where the "
        "admin password is kept (never the password).",
        CHANGES, workbench.init,
    ),
    ToolRow(
        ToolName.SQL, SqlArgs, "Read the forum's database",
        "Run one read-only statement on the forum's database (SQLite or MySQL/MariaDB, the forum's own prefix), "
        "or describe a table (columns, types, defaults, indexes). Read-only is enforced by the database itself "
        "(on MySQL/MariaDB through a login that may only SELECT; a more privileged one is refused with the "
        "GRANT statements that make a reader): writes, ATTACH, VACUUM INTO, pragma writes, several statements "
        "are refused and change nothing. A query is killed at 10 s. Rows capped (the total is stated), long "
        "values cut; values are shown as data.",
        READS, workbench.sql,
    ),
    ToolRow(
        ToolName.MEMBERS, MembersArgs, "Add or list forum members",
        "add: a real user (member, moderator or admin) made by MyBB's own user data handler; its password is kept "
        "(0600) so mybb_server_request with `as: NAME` logs in at once. list: the users and their groups.",
        CHANGES, workbench.members,
    ),
    ToolRow(
        ToolName.TEMPLATES, TemplatesArgs, "Read and change MyBB templates",
        "get: a template's master and every set's copy (customised or not). replace: a dry run showing which "
        "sets' templates would change, with the diff; with apply, the change made by MyBB's own "
        "find_replace_templatesets(). find and replace are literal text. MyBB evaluates templates as PHP: a change "
        "MyBB's check_template() refuses is never made, and apply runs only when the MCP server's environment has "
        "MYBB_ALLOW_PHP=1 (the dry run always works).",
        CHANGES, workbench.templates,
    ),
    ToolRow(
        ToolName.PHP, PhpArgs, "Run PHP inside the forum",
        "Run a PHP snippet inside the booted forum (global.php loaded) in a child PHP with a time and memory "
        "limit; answers its return value, output and errors, each bounded. Only when the MCP server's "
        "environment has MYBB_ALLOW_PHP=1 (otherwise the answer says how to enable it).",
        DESTROYS, workbench.php,
    ),
    ToolRow(
        ToolName.REFERENCE, ReferenceArgs, "MyBB's own reference, from this forum",
        "Look up what this forum's own files and database say, naming the MyBB version: a hook (every "
        "run_hooks call site in MyBB and every plugin, arguments, by reference, names built at run time), a "
        "function or method (signature, file:line, doc comment), a template (the sets it exists in, the code "
        "rendering it), a setting (group, type, current value), a datacache key (the function rebuilding it), "
        "a language string (file, key); or `search` across all of them, ranked. Offline, exact for this forum.",
        READS, reference.reference,
    ),
    ToolRow(
        ToolName.DOCTOR, DoctorArgs, "Health checks of the forum",
        "Named checks, each with a status and a one-line fix: install/ without its lock (every page 503), the "
        "database, active plugins whose files are gone, inc/settings.php out of step with the settings table, "
        "theme stylesheets missing from cache/themes, bburl and cookie settings against the server, templates "
        "active plugins use that exist in no set, datacache entries MyBB would rebuild differently, PHP "
        "extensions, folder modes, board closed. Reads only; runs in about a second.",
        READS, reference.doctor,
    ),
)

ROWS: dict[str, ToolRow[Any]] = {row.name.value: row for row in TOOLS}
ALL_TOOLS: list[types.Tool] = [row.tool() for row in TOOLS]


class UnknownTool(LookupError):
    """No tool has that name."""


def row_of(name: ToolName) -> ToolRow[Any]:
    return ROWS[name.value]


async def dispatch_tool(name: str, args: Any, report: ProgressReporter | None = None) -> ToolText:
    """The call of the tool named `name` (UnknownTool when there is none)."""
    row = ROWS.get(name)
    if row is None:
        raise UnknownTool(name)
    return await call_tool(row, args, None, report)
