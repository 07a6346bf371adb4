"""The MCP tools: one argument model per tool, which is both its JSON Schema and its validator.

The SDK 2.x low-level server does not validate arguments against the schema,
so handlers validate with these same models (strict: "80" is not a port,
1 is not a boolean, unknown arguments are refused).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import InvalidArgument, shown_value
from .forum.snapshot.model import MAX_NAME_LENGTH, NAME_PATTERN
from .logs.match import validate_path_pattern
from .logs.options import (
    DEFAULT_ANSWER_CHARS,
    MAX_ANSWER_CHARS,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_SINCE_MINUTES,
    MIN_ANSWER_CHARS,
)
from .workbench import php_eval
from .workbench.sql import DEFAULT_LIMIT as SQL_DEFAULT_LIMIT
from .workbench.sql import MAX_LIMIT as SQL_MAX_LIMIT
from .workbench.sql import MAX_SQL_CHARS


class ToolName(str, Enum):
    START = "mybb_server_start"
    STOP = "mybb_server_stop"
    STATUS = "mybb_server_status"
    LOGS = "mybb_server_logs"
    RESTART = "mybb_server_restart"
    SNAPSHOT = "mybb_forum_snapshot"
    REQUEST = "mybb_server_request"
    PLUGINS = "mybb_forum_plugins"
    MATRIX = "mybb_forum_matrix"
    INIT = "mybb_forum_init"
    SQL = "mybb_forum_sql"
    MEMBERS = "mybb_forum_members"
    TEMPLATES = "mybb_forum_templates"
    PHP = "mybb_forum_php"
    REFERENCE = "mybb_forum_reference"
    DOCTOR = "mybb_forum_doctor"


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StartArgs(_Args):
    port: int | None = Field(None, ge=1, le=65535, description="Port to listen on (default: MYBB_PORT or 8022).")
    force: bool = Field(False, description="If a server is already running, restart it instead of refusing.")
    workers: int | None = Field(
        None, ge=1, le=64, description="PHP worker processes (PHP_CLI_SERVER_WORKERS); default MYBB_WORKERS or 1."
    )
    mybb_error_logging: Literal["on", "off"] | None = Field(
        None,
        description=(
            "'on' sets MyBB's error logging (errorlogmedium=log) so warnings and SQL errors MyBB would swallow "
            "reach the server log; 'off' restores the previous settings. Rebuilds inc/settings.php as MyBB does."
        ),
    )


class StopArgs(_Args):
    force: bool = Field(False, description="SIGKILL whatever is still running 5 s after SIGTERM.")


class StatusArgs(_Args):
    all: bool = Field(
        False,
        description="Every server this user runs through mybb-mcp or mybb-server, any forum: forum, URL, PID, "
        "uptime, health (also the answer when no forum is configured).",
    )


class LogsArgs(_Args):
    errors_only: bool = Field(False, description="Only errors: PHP errors, MyBB errors, HTTP 4xx/5xx.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Entries to return (1-{MAX_LIMIT}).")
    tail: bool = Field(True, description="Most recent first (true) or oldest first from the start (false).")
    filter: str | None = Field(
        None, min_length=1, description="Keyword, case-insensitive and literal; matches any line of an entry, "
        "or an error's request (method, path and query, status)."
    )
    path: str | None = Field(
        None, min_length=1, max_length=2048,
        description="Only the errors and requests of this page: its path or the path's start, * for any text "
                    "(e.g. 'showthread.php', 'admin/index.php?module=config-*').",
    )
    exclude_static: bool = Field(True, description="Hide requests for images, scripts, stylesheets and fonts.")
    # The log engine's own bound (ten years: longer is everything), as `mybb-server logs --since` takes it.
    since_minutes: int | None = Field(None, ge=1, le=MAX_SINCE_MINUTES,
                                      description="Only entries from the last N minutes.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Skip this many matching entries (paging).")
    mybb_errors: bool = Field(True, description="Merge entries from MyBB's own error log files.")
    user_code_only: bool = Field(
        False, description="Only errors caused by your code (plugins, templates, your own scripts), not MyBB core's."
    )
    core_noise: bool = Field(
        False, description="Also show MyBB core's own noise (e.g. its PHP 8.2 deprecations on every request)."
    )
    full_traces: bool = Field(
        False, description="Whole stack traces (default: the frames around the first one in your code)."
    )
    max_chars: int = Field(
        DEFAULT_ANSWER_CHARS, ge=MIN_ANSWER_CHARS, le=MAX_ANSWER_CHARS,
        description=f"Answer size budget in characters (default {DEFAULT_ANSWER_CHARS}); the answer says what it "
        "left out and how to get it.",
    )
    cursor: str | None = Field(
        None, min_length=4, max_length=4096,
        description="A cursor from an earlier mybb_server_logs or mybb_server_request answer: only entries "
                    "written after it (oldest first; survives rotation and restarts). Every answer ends with one.",
    )
    digest: bool = Field(
        False,
        description="Group errors by kind + message + file:line (count, first/last seen, requests that raised "
                    "them). With a cursor: what changed first (resolved: the same page ran clean as the same "
                    "role; new), then still firing, then not re-checked (with the call that re-checks it).",
    )
    wait_seconds: int = Field(
        0, ge=0, le=300,
        description="Wait up to this many seconds for the first new matching entry (after cursor, else after "
                    "now), sending progress while waiting. For watching a cron task or another browser.",
    )

    @field_validator("filter")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must contain a non-space character")
        return value

    @field_validator("path")
    @classmethod
    def _a_page(cls, value: str | None) -> str | None:
        try:
            return validate_path_pattern(value)
        except InvalidArgument as exc:
            raise ValueError(f"{exc.message} {exc.hint}") from None


class RequestArgs(_Args):
    path: str = Field(..., min_length=1, max_length=2048,
                      description="Forum path, e.g. 'index.php', 'showthread.php?tid=1', 'admin/index.php'.")
    method: Literal["GET", "POST"] = Field("GET", description="GET or POST.")
    as_: str = Field(
        "guest", alias="as", min_length=1, max_length=120,
        description="Who loads the page: 'guest', 'admin', or a member's user name (password from "
                    "MYBB_MEMBER_<NAME>_PASSWORD). Logs in like a browser; my_post_key is filled in.",
    )
    query: dict[str, str] = Field(default_factory=dict, max_length=100,
                                  description="Query-string fields added to the path.")
    form: dict[str, str] = Field(default_factory=dict, max_length=100,
                                 description="Form fields (POST only); a front-end POST also sends the other "
                                             "fields of the page's own form, as a browser does (yours win).")
    follow_redirects: bool = Field(True, description="Follow redirects within the forum.")
    excerpt: int = Field(0, ge=0, le=20_000, description="Return this many characters of the page's text (0: none).")
    selector: str | None = Field(None, min_length=1, max_length=200,
                                 description="Say whether this simple CSS selector (tag, #id, .class) is on the page.")
    contains: str | None = Field(None, min_length=1, max_length=1000,
                                 description="Say whether this text is on the page.")
    debug: bool = Field(False, description="MyBB's debug report (query count and time, templates) for a "
                                           "front-end page loaded as admin; never re-checks an error.")
    trace: bool = Field(False, description="What the request ran: the hooks in order, the plugin functions each "
                                           "called (file:line), the templates used (set, cached or not).")
    plugins: Literal["none"] | list[str] | None = Field(
        None, description="Run this one request without plugins: \"none\" (MyBB's own NO_PLUGINS switch), or a "
                          "list of codenames left out of the load. Other requests are not affected; such a "
                          "load never re-checks an error, and warnings it causes are marked.")
    queries: bool = Field(False, description="Every SQL statement the request ran, grouped (literals folded): count, "
                                             "time, rows, the caller's file:line, hook and plugin; the total equals "
                                             "MyBB's own query count at the end of the request.")
    profile: bool = Field(False, description="Wall time and query count of each plugin function per hook, largest "
                                             "first (PHP's own timers, inside the request).")
    slow_query_ms: int = Field(50, ge=1, le=600_000, description="With queries: statements slower than this are "
                                                                 "marked slow.")
    browser: bool = Field(False, description="Load the page in real headless Chromium as this role: script errors "
                                             "(URL:line, the template of inline code), failed requests and AJAX "
                                             "answers that should be JSON and are not, each with the PHP errors it "
                                             "raised; a screenshot file; `selector` checked in the live DOM. GET only; "
                                             "trace, queries and profile are of the page's own request. Chromium "
                                             "stays warm per forum while this server runs.")

    @field_validator("plugins")
    @classmethod
    def _codenames(cls, value: Any) -> Any:
        if isinstance(value, list) and (not value or len(value) > 50 or not all(
                isinstance(v, str) and v and len(v) <= 100 and v.replace("_", "a").isalnum() and v.isascii()
                for v in value)):
            raise ValueError("a list of 1-50 plugin codenames (letters, digits, _)")
        return value

    @field_validator("query", "form")
    @classmethod
    def _bounded(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not key or len(key) > 200 or len(item) > 65_536:
                raise ValueError("field names are 1-200 characters and values at most 65536")
        return value


class RestartArgs(_Args):
    port: int | None = Field(None, ge=1, le=65535, description="Port to listen on (default: the port it ran on).")
    host: str | None = Field(
        None, min_length=1, max_length=253,
        description="Address to bind (default: the one it ran on); 127.0.0.1 takes a server bound to 0.0.0.0 "
                    "off the network.",
    )
    workers: int | None = Field(None, ge=1, le=64, description="PHP worker processes (default: as before).")


class SnapshotArgs(_Args):
    action: Literal["save", "restore", "list", "delete", "diff"] = Field(
        description=(
            "save: keep the database and the files MyBB writes under `name`; restore: put them back (what it "
            "replaces is kept as an automatic snapshot first); list: the snapshots; delete: remove one; diff: "
            "what changed since it, in MyBB's terms (tables, settings, templates, stylesheets, datacache)."
        ),
    )
    name: str | None = Field(
        None, min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN,
        description=f"The snapshot's name (every action but list): 1-{MAX_NAME_LENGTH} letters, digits, '.', '_' "
                    "or '-', starting with a letter or digit.",
    )

    @model_validator(mode="after")
    def _name_when_needed(self) -> SnapshotArgs:
        if self.action != "list" and self.name is None:
            raise ValueError(f"action {self.action!r} needs a `name`")
        if self.action == "list" and self.name is not None:
            raise ValueError("action 'list' takes no `name`")
        return self


class MatrixArgs(_Args):
    # A matrix installs PHP builds and MyBB releases on first use: it gets this long beyond the usual call.
    extra_call_seconds: ClassVar[float] = 510.0

    plugin: str = Field(min_length=1, max_length=500, description=(
        "A codename of a plugin whose files are in this forum (inc/plugins/NAME.php and the files tied to it), "
        "or a folder laid out like a forum root holding one plugin."))
    php: list[str] = Field(default_factory=list, max_length=6, description=(
        "PHP releases, e.g. [\"7.4\", \"8.2\", \"8.4\"] (7.4, 8.1-8.5; installed on first use); default: the "
        "forum's own PHP."))
    mybb: list[str] = Field(default_factory=list, max_length=4, description=(
        "MyBB releases, e.g. [\"1.8.30\", \"1.8.37\"] (pinned ones); default: the forum's own release."))
    pages: list[str] = Field(default_factory=list, max_length=12, description=(
        "Pages to load, as paths in the forum (index.php, showthread.php?tid=1); default: index, a forum, a "
        "thread, a profile, usercp and the Admin CP home."))


class PluginsArgs(_Args):
    action: Literal["list", "install", "activate", "deactivate", "uninstall", "check"] = Field(
        description=(
            "list: every plugin in inc/plugins/ (title, version, compatible, installed, active, lifecycle "
            "functions); install: _install then _activate; activate; deactivate; uninstall: _deactivate then "
            "_uninstall (each a click on the Admin CP's plugins page, confirmations answered Yes, with what it "
            "showed, the errors (file:line) and what changed); check: the hooks MyBB holds for it against every "
            "run_hooks site of the forum, compatibility, missing hook functions."
        ),
    )
    name: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_]+$",
                             description="The plugin's codename (inc/plugins/NAME.php); every action but list.")

    @model_validator(mode="after")
    def _name_when_needed(self) -> PluginsArgs:
        if self.action != "list" and self.name is None:
            raise ValueError(f"action {self.action!r} needs the plugin's codename in `name`")
        if self.action == "list" and self.name is not None:
            raise ValueError("action 'list' takes no `name`")
        return self


# --- the workbench: init, sql, members, templates, php ------------------------------------------------

class InitArgs(_Args):
    from_: str | None = Field(None, alias="from", min_length=1, max_length=4096,
                              description="A MyBB release archive (.zip/.tar.gz), a folder or a URL; default: the "
                                          "newest known MyBB 1.8 release, downloaded and checked.")
    db: str | None = Field(None, min_length=1, max_length=2048,
                           description="mysql://USER:PASSWORD@HOST[:PORT]/DATABASE[?prefix=mybb_]; default SQLite "
                                       "beside the forum.")
    mybb: str | None = Field(None, min_length=1, max_length=16, pattern=r"^[0-9.]+$",
                             description="A MyBB release to install (1.8.30 or 1.8.37): downloaded, or the archive "
                                         "`from` names, checked against the SHA-256 pinned for it.")
    php: str | None = Field(None, min_length=1, max_length=16, pattern=r"^[0-9.]+$",
                            description="Run the forum on this PHP release (7.4, 8.1, 8.2, 8.3, 8.4, 8.5): installed "
                                        "on first use, checked by SHA-256, remembered for the forum's next starts.")
    force: bool = Field(False, description="Replace a forum (and its tables) already there.")

    # How much longer than other calls it may take (a download and MyBB's installer on a slow machine).
    wait_seconds: ClassVar[int] = 510


class SqlArgs(_Args):
    sql: str | None = Field(None, min_length=1, max_length=MAX_SQL_CHARS,
                            description="One statement that reads (SELECT, WITH ... SELECT, SHOW, EXPLAIN, PRAGMA "
                                        "table_info). Table names carry the forum's prefix (mybb_users).")
    table: str | None = Field(None, min_length=1, max_length=64,
                              description="Describe this table instead: columns, types, defaults, indexes "
                                          "(prefix optional: users or mybb_users).")
    limit: int = Field(SQL_DEFAULT_LIMIT, ge=1, le=SQL_MAX_LIMIT,
                       description=f"Rows to show (1-{SQL_MAX_LIMIT}); the total is always counted.")

    @model_validator(mode="after")
    def _one_of(self) -> SqlArgs:
        if (self.sql is None) == (self.table is None):
            raise ValueError("pass exactly one of `sql` (a query) and `table` (a table to describe)")
        return self


class MembersArgs(_Args):
    action: Literal["add", "list"] = Field(description="add: a real user made by MyBB's user data handler; "
                                                       "list: the users and which ones the request tool can log in as.")
    name: str | None = Field(None, min_length=1, max_length=30, description="The new member's user name (add).")
    role: Literal["member", "moderator", "admin"] = Field(
        "member", description="member (Registered), moderator (Super Moderators: every forum) or admin.")
    password: str | None = Field(None, min_length=1, max_length=100,
                                 description="Default: a random one. Kept in the forum's credentials file (0600), "
                                             "never shown.")

    @model_validator(mode="after")
    def _name_when_adding(self) -> MembersArgs:
        if self.action == "add" and self.name is None:
            raise ValueError("action 'add' needs a `name`")
        if self.action == "list" and (self.name is not None or self.password is not None):
            raise ValueError("action 'list' takes no `name` or `password`")
        return self


class TemplatesArgs(_Args):
    action: Literal["get", "replace"] = Field(description="get: the master and every set's copy; replace: a dry run "
                                                          "of a find/replace (the diff per set) unless apply.")
    title: str = Field(..., min_length=1, max_length=120, description="Template title, e.g. postbit, header.")
    set: int | None = Field(None, ge=1, description="Only this template set (sid); default every set.")
    find: str | None = Field(None, min_length=1, max_length=10_000, description="Literal text to find (replace).")
    replace: str | None = Field(None, max_length=10_000, description="Literal text to put instead (replace).")
    apply: bool = Field(False, description="Make the change, with MyBB's find_replace_templatesets() (only with "
                                           "MYBB_ALLOW_PHP=1 in the server's environment).")

    @model_validator(mode="after")
    def _find_when_replacing(self) -> TemplatesArgs:
        if self.action == "replace" and (self.find is None or self.replace is None):
            raise ValueError("action 'replace' needs `find` and `replace`")
        if self.action == "get" and (self.find is not None or self.replace is not None or self.apply
                                     or self.set is not None):
            raise ValueError("action 'get' takes no `find`, `replace`, `apply` or `set` (it shows every set)")
        return self


class PhpArgs(_Args):
    code: str = Field(..., min_length=1, max_length=php_eval.MAX_CODE_CHARS,
                      description="PHP without <?php, run after MyBB's global.php; `return X;` to get X back "
                                  "(var_export). $mybb, $db, $cache, $templates, $lang are there.")
    timeout_seconds: int = Field(php_eval.DEFAULT_TIMEOUT, ge=1, le=php_eval.MAX_TIMEOUT,
                                 description=f"Time limit (1-{php_eval.MAX_TIMEOUT} s); memory is limited to "
                                             f"{php_eval.MEMORY_LIMIT}.")


# --- the forum's own reference, and its doctor ---------------------------------------------------------

REFERENCE_KINDS = ("hook", "function", "template", "setting", "cache", "lang")


class ReferenceArgs(_Args):
    kind: Literal["hook", "function", "template", "setting", "cache", "lang"] | None = Field(
        None, description="What `name` is: hook (where MyBB and plugins run it, arguments, by reference), function "
                          "(or Class::method: signature, file:line, doc), template (the sets it exists in, the code "
                          "rendering it), setting (group, type, value), cache (datacache key, what rebuilds it), "
                          "lang (language string: file, key). Without `name`: the size of that index.")
    name: str | None = Field(None, min_length=1, max_length=200,
                             description="The exact name to look up; without `kind`, every kind with that name.")
    search: str | None = Field(None, min_length=2, max_length=200,
                               description="Words to search for across every kind, ranked (instead of `name`).")

    @model_validator(mode="after")
    def _one_question(self) -> ReferenceArgs:
        if self.search is not None and (self.name is not None or self.kind is not None):
            raise ValueError("pass `search` alone, or `kind` and/or `name`")
        return self


class DoctorArgs(_Args):
    pass


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema, tidied for clients: optional fields without the `null` branch, no titles."""
    schema = model.model_json_schema()
    properties: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        prop.pop("title", None)
        branches = prop.pop("anyOf", None)
        if branches:
            non_null = [branch for branch in branches if branch.get("type") != "null"]
            if len(non_null) == 1:
                prop.update(non_null[0])
            else:
                prop["anyOf"] = non_null
            if prop.get("default", ...) is None:
                del prop["default"]
        properties[name] = prop
    tidy: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if schema.get("required"):
        tidy["required"] = list(schema["required"])
    return tidy


def describe_validation_error(tool: str, model: type[BaseModel], error: ValidationError) -> str:
    """One line per problem, naming the argument, what was wrong and what is accepted."""
    accepted = ", ".join(field.alias or name for name, field in model.model_fields.items()) or "no arguments"
    lines = []
    problems = error.errors()
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        name = _shown_name(".".join(str(part) for part in problem["loc"]) or "arguments")
        if problem["type"] == "extra_forbidden":
            lines.append(f"- `{name}` is not an argument of {tool} (it accepts: {accepted}).")
            continue
        field = model.model_fields.get(str(problem["loc"][0])) if problem["loc"] else None
        hint = f" Expected: {field.description}" if field is not None and field.description else ""
        lines.append(f"- `{name}`: {problem['msg']} (got {shown_value(problem.get('input'))}).{hint}")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"- ... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems.")
    return "\n".join(lines)


MAX_PROBLEMS_SHOWN = 10


def _shown_name(name: str, limit: int = 60) -> str:
    """An argument name as the answer quotes it (in backticks): cut, and without backticks of its own."""
    name = name.replace("`", "'")
    return name if len(name) <= limit else f"{name[:limit]}... ({len(name):,} characters)"
