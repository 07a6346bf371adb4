"""php -S log text -> LogEntry.

An *entry* is one timestamped line plus the lines below it that carry no
timestamp (stack traces, `thrown in ...`, chained `Next ...` exceptions, raw
stderr writes, MyBB's XML error blocks). `reader` cuts a file into entries
(bytes); this module turns one entry's text into a `LogEntry`.

Formats (real samples in the corpus, see ARCHITECTURE.md §4.3):

    [Tue Nov 24 05:51:38 2026] PHP 8.2.36 Development Server (http://127.0.0.1:18500) started
    [Tue Nov 24 05:51:39 2026] 127.0.0.1:44264 [200]: GET /
    [14431] [Tue Nov  4 05:52:48 2026] PHP Warning:  Undefined variable $x in /f.php on line 3

Timestamps are the server's local time without a zone: pass `tz` to get aware
datetimes (reader.read_log_zone says which zone), else they stay naive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path

from ..forum import plugin_files, release  # MyBB's own files and the plugins': whose code a stack frame is
from .frames import INCLUDE, explained_sql, frames, is_tool_frame, tool_frames_named
from .signed import SIGNED

# Event types
REQUEST, ERROR, CONNECTION, STARTUP, INFO = "request", "error", "connection", "startup", "info"

# Error levels, most severe first (the order summaries use).
LEVELS = ("fatal", "parse", "exception", "sql", "error", "warning", "notice", "deprecated", "http_5xx", "http_4xx")

# Where an entry came from.
SOURCE_SERVER = "server"  # the php -S log
SOURCE_MYBB = "mybb"  # MyBB's own error log (<error> blocks), wherever it was written

# The orchestrator's own readiness probe: the router answers the first path with an empty 204; plain
# php -S (no router) answers the second, a missing file, with a 404 itself. Queries hide exactly these
# requests (method, path and status all as the probe gets them) and nothing else: a visitor can send
# the same request, but it runs no forum code, while anything else under the prefix stays visible
# (and the router refuses it).
READY_PROBE_PATH = "/__mybb_mcp_ready"
READY_PROBE_PATH_PLAIN = "/__mybb_mcp_ready.txt"
_PROBE_REQUESTS = {("GET", READY_PROBE_PATH, 204), ("GET", READY_PROBE_PATH_PLAIN, 404)}
# Lines the orchestrator writes itself (e.g. the zone header) start with this.
ORCHESTRATOR_TAG = "mybb-mcp: "


@dataclass
class LogEntry:
    """One log entry: a timestamped line plus the continuation lines below it."""

    timestamp: datetime | None
    event_type: str
    message: str
    client_ip: str | None = None
    client_port: int | None = None
    status_code: int | None = None
    method: str | None = None
    path: str | None = None
    is_static: bool = False
    is_error: bool = False
    level: str | None = None
    source_file: str | None = None
    source_line: int | None = None
    continuation: list[str] = field(default_factory=list)
    worker_pid: int | None = None
    source: str = SOURCE_SERVER
    location: str | None = None  # file the entry was read from (for MyBB logs: which error.log)
    offset: int | None = None  # byte offset of the entry in that file
    internal: bool = False  # the orchestrator's own traffic (readiness probe): queries hide it
    # Its stamp is earlier than one written before it: PHP logs request data verbatim, so a visitor's
    # newlines can forge whole lines. Shown marked, never hidden; set by queries (reader).
    out_of_order: bool = False
    # It begins inside request data PHP wrote verbatim (log_forgery): possibly forged whatever its stamp.
    # Shown marked, never hidden, never counted; set by queries.
    inside_request_data: bool = False

    @property
    def doubtful(self) -> bool:
        """Possibly forged by request data: not counted, no level heading believed."""
        return self.out_of_order or self.inside_request_data
    # Bytes and lines cut from the middle of a huge entry (bounds): the continuation shows its
    # head and tail, the cut falling after continuation line `cut_after` (-1: inside the first line).
    cut_bytes: int = 0
    cut_lines: int = 0
    cut_after: int = -1
    length: int | None = field(default=None, compare=False)  # bytes of the entry in its file (set by queries)
    # Filled by query for errors: where it came from, the request that raised it, what was folded in.
    origin: str | None = None  # "plugin NAME", "theme/template", "MyBB core" or "other" (see origin_of)
    user_frame: tuple[str, int | None] | None = None  # first place in the user's code (file, line)
    place: str | None = None  # file:line to name in a headline (forum-relative): the user's frame, else its own
    core_noise: bool = False  # raised by MyBB itself, not caused by the user's code (see is_core_noise)
    request: RequestRef | None = None
    request_note: str | None = None  # why there is no request, when there is none
    folded: list[str] = field(default_factory=list)  # one line per entry folded into this one


@dataclass(frozen=True)
class RequestRef:
    """The request an error belongs to, from the php -S request line logged after it."""

    method: str
    path: str
    status: int
    worker_pid: int | None = None
    client: str | None = None  # ip:port
    timestamp: datetime | None = None
    by_time: bool = False  # matched by time only (an entry of a separate MyBB error log file)
    location: str | None = None  # the log file holding the request line
    offset: int | None = None  # the request line's offset in it

    @classmethod
    def of(cls, entry: LogEntry, by_time: bool = False) -> RequestRef:
        client = f"{entry.client_ip}:{entry.client_port}" if entry.client_ip else None
        return cls(entry.method or "?", entry.path or "", entry.status_code or 0, entry.worker_pid, client,
                   entry.timestamp, by_time, entry.location, entry.offset)


# --- patterns -----------------------------------------------------------------------------------

_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name: number for number, name in enumerate(_MONTHS, 1)}

# A line that starts an entry: optional worker pid, then php's ctime-like stamp (day space-padded).
# Used with .match() at a line start; reader derives a "\n"-prefixed search form from it.
# Xdebug's develop mode logs an error's stack below it, each line stamped as if it were an entry:
#   [Sun Nov 29 02:39:24 2026] PHP Stack trace:
#   [Sun Nov 29 02:39:24 2026] PHP   1. {main}() /srv/forum/index.php:0
# Those lines continue the error above them; they never start an entry.
_XDEBUG_STACK = rb" PHP (?:Stack trace:| +\d+\. )"
ENTRY_START = re.compile(
    rb"(?:\[\d{1,10}\] )?\[(?:" + _DAYS.encode() + rb") (?:" + "|".join(_MONTHS).encode()
    + rb") [ \d]\d \d\d:\d\d:\d\d \d{4}\](?!" + _XDEBUG_STACK + rb")"
)

# The same on str, with groups: pid, month, day, hh, mm, ss, year. Ends after the stamp's space.
_HEAD = re.compile(
    r"(?:\[(\d{1,10})\] )?\[(?:" + _DAYS + r") (" + "|".join(_MONTHS)
    + r") ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})\] ?"
)

# Matched against the request URI's path part only (`[^?#]*`): `/x.php?f=a.png` is no asset.
STATIC_PATTERNS: list[re.Pattern[str]] = [
    re.compile(r"^[^?#]*/images/"),
    re.compile(r"^[^?#]*/jscripts/"),
    re.compile(r"^[^?#]*/cache/themes/"),
    re.compile(r"^[^?#]*\.(?:png|gif|jpe?g|svg|webp|ico|css|js|map|woff2?|ttf|eot)(?:[?#].*)?$", re.IGNORECASE),
]

# PHP's error line prefixes and uncaught throwables; each pattern's level is in _ERROR_LEVELS.
ERROR_PATTERNS: list[re.Pattern[str]] = [
    re.compile(r"^PHP Fatal error:\s+Uncaught "),
    re.compile(r"^PHP Fatal error:"),
    re.compile(r"^PHP Recoverable fatal error:"),
    re.compile(r"^PHP Parse error:"),
    re.compile(r"^PHP Warning:"),
    re.compile(r"^PHP Notice:"),
    re.compile(r"^PHP Strict Standards:"),
    re.compile(r"^PHP Deprecated:"),
    re.compile(r"^PHP Unknown error:"),
    re.compile(r"^Uncaught [\w\\]+"),  # a request line's ` - Uncaught X: ...` suffix
]
_ERROR_LEVELS = (
    "exception", "fatal", "fatal", "parse", "warning", "notice", "notice", "deprecated", "error", "exception",
)

# Every error entry's raw bytes contain at least one of these (a superset filter for fast scans:
# query skips entries lacking all of them without parsing). Keep in step with parse_entry.
ERROR_HINTS: tuple[bytes, ...] = (
    b"PHP ", b" [4", b" [5", b" - ", b"<error>", b"Failed to listen", b"does not exist", b"Invalid address",
)

_PHP_ERROR = re.compile(r"PHP ([A-Z][A-Za-z ]*?):\s+(.*)", re.DOTALL)
_BANNER = re.compile(r"PHP \S+ Development Server \((\S+)\) started")
# Client address: IPv4, or IPv6 in brackets as php prints it (`[::1]:54321`).
_CLIENT = re.compile(r"(\[[0-9A-Fa-f:.%\w]*\]|\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5}) (.*)", re.DOTALL)
_REQUEST = re.compile(r"\[(\d{3})\]: (\S+) (\S*)(?: - (.*))?", re.DOTALL)
# "... in FILE on line N" (errors) or "... in FILE:N" (uncaught throwables); the last " in " wins.
_LOCATION = re.compile(r".* in (\S.*?)(?: on line |:)(\d+)\s*$")
_ORPHAN_FAILURE = re.compile(r"Directory .* does not exist\.|Invalid address: |Failed to listen on ")
_NO_SUCH_FILE = "No such file or directory"
_CONNECTION_WORDS = ("Accepted", "Closing")
_CLOSED_UNUSED = "Closed without sending a request"
_INVALID_REQUEST = "Invalid request"


# --- timestamps ---------------------------------------------------------------------------------

_last_stamp: tuple[str, tzinfo | None, datetime] | None = None


def _stamp(match: re.Match[str], tz: tzinfo | None) -> datetime:
    """The datetime of a matched head; consecutive lines usually share a second, so cache one."""
    global _last_stamp
    key = match.group(0)
    cached = _last_stamp
    if cached is not None and cached[0] == key and cached[1] is tz:
        return cached[2]
    _, month, day, hh, mm, ss, year = match.groups()
    value = datetime(int(year), _MONTH_NUMBER[month], int(day), int(hh), int(mm), int(ss), tzinfo=tz)
    _last_stamp = (key, tz, value)
    return value


def head_timestamp(line: str, tz: tzinfo | None = None) -> datetime | None:
    """The timestamp of an entry's first line (worker prefix allowed), None if it has none."""
    head = _HEAD.match(line)
    return _stamp(head, tz) if head else None


def format_php_timestamp(moment: datetime) -> str:
    """`Wed Nov 25 07:27:02 2026` as php -S writes it (English names, space-padded day)."""
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[moment.weekday()]
    return f"{day} {_MONTHS[moment.month - 1]} {moment.day:2d} {moment:%H:%M:%S} {moment.year:04d}"


# --- classification helpers -----------------------------------------------------------------------

def _error_level(text: str) -> str | None:
    """The level of a PHP error line (`PHP Warning:  ...`) or request suffix, None if it is none."""
    for pattern, level in zip(ERROR_PATTERNS, _ERROR_LEVELS):
        if pattern.match(text):
            return level
    return None


# Uncaught engine errors are PHP's fatal errors (`Call to undefined function`, type errors ...), not
# exceptions the code threw; ParseError is a parse error (an include of a broken file).
# A plain `Error` is the engine's when its message is one of the engine's (code may throw Error too).
_UNCAUGHT_ERROR = re.compile(
    r"(?:PHP Fatal error:\s+)?Uncaught \\?(?:(TypeError|ValueError|ArgumentCountError|ArithmeticError|"
    r"DivisionByZeroError|UnhandledMatchError|CompileError|ParseError)\b|Error: (?:Call to |Class \"|Cannot |"
    r"Undefined constant |Object of class |Interface \"|Trait \"|Non-static method |Access to undeclared |"
    r"Unsupported operand ))"
)


def _uncaught_level(message: str) -> str:
    match = _UNCAUGHT_ERROR.match(message)
    if match is None:
        return "exception"
    return "parse" if match.group(1) == "ParseError" else "fatal"


def _suffix_level(message: str) -> str:
    """A request line's ` - message` is PHP's last fatal error (display off or on)."""
    if message.startswith("Uncaught "):
        return _uncaught_level(message)
    if message.startswith("syntax error"):
        return "parse"
    return "fatal"


def _location(text: str) -> tuple[str | None, int | None]:
    match = _LOCATION.match(text)
    if not match:
        return None, None
    return match.group(1), int(match.group(2))


def _http_level(status: int) -> str | None:
    if status >= 500:
        return "http_5xx"
    if status >= 400:
        return "http_4xx"
    return None


def is_static_request(entry: LogEntry) -> bool:
    """A request for an asset (image, script, stylesheet, font): noise when debugging PHP."""
    path = entry.path
    return path is not None and path != "" and any(pattern.search(path) for pattern in STATIC_PATTERNS)


def is_error_line(entry: LogEntry) -> bool:
    """Errors: PHP errors, uncaught throwables, MyBB errors, failed listens, and statuses >= 400."""
    if entry.status_code is not None and entry.status_code >= 400:
        return True
    return entry.level is not None or entry.event_type == ERROR


# --- one line -------------------------------------------------------------------------------------

def _classify(entry: LogEntry, body: str) -> None:
    """Fill event type and details from the text after the timestamp."""
    if body.startswith(ORCHESTRATOR_TAG):
        entry.event_type = STARTUP
        return
    if body.startswith("PHP "):
        level = _error_level(body)
        if level is not None:
            php = _PHP_ERROR.match(body)
            if level == "exception":
                level = _uncaught_level(body)
            entry.event_type, entry.level = ERROR, level
            entry.message = php.group(2) if php else body
            entry.source_file, entry.source_line = _location(entry.message)
            return
        if _BANNER.match(body):
            entry.event_type = STARTUP
            return
    client = _CLIENT.match(body)
    if client:
        _classify_client(entry, client)
        return
    if body.startswith("Failed to listen on "):
        entry.event_type, entry.level = ERROR, "error"


def _classify_client(entry: LogEntry, client: re.Match[str]) -> None:
    address, port, rest = client.groups()
    entry.client_ip = address[1:-1] if address.startswith("[") else address
    entry.client_port = int(port)
    request = _REQUEST.match(rest)
    if request:
        status, method, path, suffix = request.groups()
        entry.event_type = REQUEST
        entry.status_code, entry.method, entry.path = int(status), method, path
        entry.message = suffix or ""
        entry.is_static = is_static_request(entry)
        entry.internal = (method, path, entry.status_code) in _PROBE_REQUESTS
        if suffix and is_php_error_suffix(suffix, entry.status_code):
            entry.level = _suffix_level(suffix)
            entry.source_file, entry.source_line = _location(suffix)
        else:
            entry.level = _http_level(entry.status_code)
        return
    entry.message = rest
    if rest in _CONNECTION_WORDS or rest.startswith(_CLOSED_UNUSED):
        entry.event_type = CONNECTION
    # else: 'Invalid request (...)' and anything unknown stay info


def is_php_error_suffix(suffix: str, status: int | None) -> bool:
    """Whether a request line's ` - ...` suffix is PHP's error message rather than php -S's own words.

    On a 4xx php -S appends strerror(errno) for the missing file: usually "No such file or
    directory", but "Success" when a router left errno at 0. PHP's own messages name a place
    ("in FILE on line N", "FILE:N") or an uncaught throwable.
    """
    if suffix.startswith(_NO_SUCH_FILE):
        return False
    if status is not None and 400 <= status < 500:
        return suffix.startswith("Uncaught") or _LOCATION.match(suffix.split("\n", 1)[0]) is not None
    return True


def parse_log_line(line: str, tz: tzinfo | None = None) -> LogEntry | None:
    """One line -> LogEntry; None when the line has no `[timestamp]` prefix (a continuation line)."""
    line = line.rstrip("\r\n")
    head = _HEAD.match(line)
    if head is None:
        return None
    body = line[head.end():]
    entry = LogEntry(timestamp=_stamp(head, tz), event_type=INFO, message=body)
    if head.group(1):
        entry.worker_pid = int(head.group(1))
    _classify(entry, body)
    entry.is_error = is_error_line(entry)
    return entry


# --- whole entries ---------------------------------------------------------------------------------

def _trim_trailing_blanks(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def parse_entry(text: str, *, tz: tzinfo | None = None, offset: int | None = None) -> LogEntry:
    """A head line plus its continuation lines -> one LogEntry (never None).

    Text with no timestamped head (what a process printed before its first log line, e.g.
    `Directory ... does not exist.`) becomes an `info` entry without a timestamp; known
    start-up failures among those are errors.
    """
    lines = _trim_trailing_blanks(text.replace("\r\n", "\n").split("\n"))
    if not lines:
        lines = [""]
    head = _HEAD.match(lines[0])
    if head is None:
        return _orphan(lines, offset)
    body = lines[0][head.end():]
    signed = _signed_entry(lines[0][:head.end()], body, tz) if body.startswith("mybb-mcp-") else None
    if signed is not None:
        entry = signed
        entry.offset = offset
    elif body.startswith("<error>"):
        block = "\n".join([body, *lines[1:]])
        # MyBB wrote it to stderr (its errorloglocation was empty): a MyBB error, found in the server log.
        entry = parse_mybb_error(block, tz=tz, offset=offset)
    else:
        plain = parse_log_line(lines[0], tz)
        assert plain is not None
        entry = plain
        entry.continuation = [_unstamped(line) for line in lines[1:]]
        entry.offset = offset
    if head.group(1):
        entry.worker_pid = int(head.group(1))
    return entry


def _signed_entry(head: str, body: str, tz: tzinfo | None) -> LogEntry | None:
    """A line of the tool's error channel (logs/signed.py): a receipt or a request's frame, never shown
    (queries hide internal entries); forgery.py reads them to judge the lines around them."""
    match = SIGNED.match(body)
    if match is None:
        return None
    entry = parse_log_line(head + "mybb-mcp: request " + match.group(1), tz)
    assert entry is not None
    entry.event_type, entry.internal = CONNECTION, True
    return entry


def _unstamped(line: str) -> str:
    """A continuation line without the stamp and `PHP ` Xdebug's stack lines carry."""
    head = _HEAD.match(line)
    if head is None:
        return line
    body = line[head.end():]
    return body[4:] if body.startswith("PHP ") else body


def _orphan(lines: list[str], offset: int | None) -> LogEntry:
    entry = LogEntry(timestamp=None, event_type=INFO, message=lines[0], continuation=lines[1:], offset=offset)
    if any(_ORPHAN_FAILURE.match(line) for line in lines):
        entry.event_type, entry.level, entry.is_error = ERROR, "error", True
    return entry


# --- MyBB's own error log ---------------------------------------------------------------------------

_MYBB_TAG = re.compile(r"<(dateline|script|line|type|friendly_type|message|back_trace)>(.*?)</\1>", re.DOTALL)
_MYBB_LEVELS = (  # first match wins: "User Deprecated Warning" is a deprecation
    ("sql", "sql"), ("deprecated", "deprecated"), ("notice", "notice"), ("warning", "warning"),
    ("pars", "parse"),
)


def _mybb_level(friendly_type: str) -> str:
    """MyBB's friendly_type -> level: PHP kinds keep their severity, MyBB's own errors are 'error'."""
    kind = friendly_type.lower()
    for word, level in _MYBB_LEVELS:
        if word in kind:
            return level
    if kind.startswith("mybb"):
        return "error"
    if "error" in kind or "fatal" in kind:
        return "fatal"
    return "error"


def parse_mybb_error(
    block: str, *, tz: tzinfo | None = None, location: str | None = None, offset: int | None = None
) -> LogEntry:
    """One MyBB `<error>...</error>` block -> LogEntry (source mybb).

    The timestamp comes from `<dateline>` (epoch seconds): aware, in `tz` or else UTC.
    The message's lines are joined with spaces; the back trace is the continuation.
    """
    tags = {name: value for name, value in _MYBB_TAG.findall(block)}
    dateline = tags.get("dateline", "").strip()
    timestamp = (
        datetime.fromtimestamp(int(dateline), tz or timezone.utc) if dateline.isdigit() else None
    )
    line = tags.get("line", "").strip()
    message_lines = [part.strip() for part in tags.get("message", "").splitlines() if part.strip()]
    trace = _trim_trailing_blanks(tags.get("back_trace", "").strip("\n").split("\n"))
    return LogEntry(
        timestamp=timestamp,
        event_type=ERROR,
        message=" ".join(message_lines) or block.strip()[:200],
        level=_mybb_level(tags.get("friendly_type", "")),
        source_file=tags.get("script", "").strip() or None,
        source_line=int(line) if line.isdigit() and int(line) > 0 else None,
        continuation=[part for part in trace if part],
        source=SOURCE_MYBB,
        is_error=True,
        location=location,
        offset=offset,
    )


# --- where an error comes from ----------------------------------------------------------------------

ORIGIN_CORE, ORIGIN_TEMPLATE, ORIGIN_OTHER = "MyBB core", "theme/template", "other"
ORIGIN_EDITED = "edited MyBB file"  # a file of the release whose content differs: the user's code
ORIGIN_YOURS = "your code (not MyBB's)"  # a forum file that is not MyBB's and no plugin can be tied to
ORIGIN_PLUGIN_PREFIX = "plugin "
ORIGIN_TOOL = "mybb-mcp's own code, not the forum's"  # raised in the tool's router or request wrapper
# MyBB 1.8's own Admin CP modules: any other admin/modules/NAME/ is a plugin's.
_CORE_ADMIN_MODULES = frozenset({"config", "forum", "home", "style", "tools", "user"})

# What a MyBB 1.8 release ships at the forum root: its folders, and its scripts.
_CORE_DIRS = frozenset({"inc", "admin", "install", "archive", "jscripts", "cache", "images", "uploads"})
_CORE_SCRIPTS = frozenset({
    "announcements.php", "attachment.php", "calendar.php", "captcha.php", "contact.php", "css.php",
    "editpost.php", "forumdisplay.php", "global.php", "index.php", "managegroup.php", "member.php",
    "memberlist.php", "misc.php", "modcp.php", "moderation.php", "newreply.php", "newthread.php", "online.php",
    "polls.php", "portal.php", "printthread.php", "private.php", "ratethread.php", "report.php",
    "reputation.php", "rss.php", "search.php", "sendthread.php", "showteam.php", "showthread.php", "stats.php",
    "syndication.php", "task.php", "usercp.php", "warnings.php", "xmlhttp.php",
})
# MyBB's error handler: what it raises while reporting another error is not the user's doing.
_MYBB_ERROR_HANDLER = "inc/class_error.php"
_EVAL = "eval()'d code"



def forum_relative(path: str, root: str | None, relative: bool = False) -> str | None:
    """`path` relative to the forum root ('inc/plugins/x.php'), None if it lies outside.

    `relative`: the path is already relative to the root (MyBB's error log writes `inc/x.php` and
    `/inc/x.php`). Without a root, the part from the last `/inc/` on, or a MyBB script's name.
    """
    if _EVAL in path:
        path = path.split("(", 1)[0] if "(" in path else path
    if relative or not path.startswith("/"):
        return path.lstrip("/") or None
    if root:
        base = root.rstrip("/") + "/"
        return path[len(base):] if path.startswith(base) else None
    at = path.rfind("/inc/")
    if at >= 0:
        return path[at + 1:]
    name = path.rsplit("/", 1)[-1]
    return name if name in _CORE_SCRIPTS else None


def plugin_named_by(rel: str) -> str | None:
    """The plugin a forum-relative path names: inc/plugins/NAME[.php|/...], admin/modules/NAME/...,
    inc/languages/LANG/[admin/]NAME.lang.php, inc/tasks/NAME.php (for files that are not MyBB's)."""
    parts = rel.split("/")
    if len(parts) >= 3 and parts[0] == "inc" and parts[1] == "plugins":
        name = parts[2]
        return name[:-4] if name.endswith(".php") else name
    if len(parts) >= 4 and parts[0] == "admin" and parts[1] == "modules":
        return parts[2]
    if len(parts) in (4, 5) and parts[:2] == ["inc", "languages"] and parts[-1].endswith(".lang.php"):
        return parts[-1][: -len(".lang.php")]
    if len(parts) == 3 and parts[:2] == ["inc", "tasks"] and parts[2].endswith(".php"):
        return parts[2][:-4]
    return None


def path_origin(path: str, root: str | None, relative: bool = False) -> str:
    """plugin NAME, theme/template (eval'd template code), MyBB core, edited MyBB file, or other.

    With the release's manifest of the forum (forum/release.py), a file is MyBB core only if it is the
    release's and unchanged; otherwise the path alone decides (plugin folders, MyBB's own folders)."""
    if _EVAL in path:
        return ORIGIN_TEMPLATE
    rel = forum_relative(path, root, relative)
    if rel is None:
        return ORIGIN_OTHER
    found = release.release_for(root) if root else None
    if found is not None:
        verdict = found.verdict(root or "", rel)
        if verdict != release.NOT_MYBB:
            return ORIGIN_CORE if verdict == release.CORE else ORIGIN_EDITED
        return _owned(rel, root)
    parts = rel.split("/")  # by path only: MyBB's language files and tasks cannot be told from a plugin's
    name = plugin_named_by(rel)
    if name is not None and (parts[:2] == ["inc", "plugins"]
                             or (parts[:2] == ["admin", "modules"] and name not in _CORE_ADMIN_MODULES)):
        return _owned(rel, root)
    if parts[:2] == ["admin", "modules"] and len(parts) == 4 and root:  # config/NAME.php beside NAME's main file
        owner = plugin_files.owner(root, rel)
        if owner is not None and owner == parts[3][:-4]:
            return ORIGIN_PLUGIN_PREFIX + owner
    if (len(parts) > 1 and parts[0] in _CORE_DIRS) or (len(parts) == 1 and parts[0] in _CORE_SCRIPTS):
        return ORIGIN_CORE
    return _owned(rel, root)


def _owned(rel: str, root: str | None) -> str:
    """A forum file that is not MyBB's: the plugin it can be tied to (forum/plugin_files), else "your code".
    Without the forum's plugin folder at hand, a plugin folder's name is the best guess there is."""
    owner = plugin_files.owner(root, rel) if root else None
    if owner is not None:
        return ORIGIN_PLUGIN_PREFIX + owner
    guess = plugin_named_by(rel)
    if guess is not None and guess not in _CORE_ADMIN_MODULES and (not root or plugin_files.main_files(root) is None):
        return ORIGIN_PLUGIN_PREFIX + guess  # the forum's plugins cannot be read: the folder's name is the guess
    return ORIGIN_YOURS



def locations(entry: LogEntry) -> list[tuple[str, int | None]]:
    """Where the error happened, then each call site outwards (innermost first)."""
    return [(path, line) for path, line, _call in frames(entry.source_file, entry.source_line, entry.continuation)]


def classify_origin(entry: LogEntry, root: str | None) -> None:
    """Set entry.origin, user_frame and core_noise from its location and stack (errors only).

    The origin is that of the first place in the user's code (a plugin, a template, the user's own
    scripts): an SQL error raised in MyBB's database class for a plugin's `$db->query()` is the
    plugin's, at its line. With no user code on the stack it is MyBB core's.
    """
    if not entry.is_error:
        return
    relative = entry.source == SOURCE_MYBB
    every = frames(entry.source_file, entry.source_line, entry.continuation)
    places = [(path, line, call) for path, line, call in every if not is_tool_frame(path)]
    entry.continuation = tool_frames_named(entry.continuation)
    if every and every[0][2] == "" and is_tool_frame(every[0][0]):
        # Raised in the tool's own PHP: never the forum's (nor MyBB's noise), whoever called it.
        entry.origin = ORIGIN_TOOL
        entry.place = tool_frames_named([every[0][0]])[0] + (f":{every[0][1]}" if every[0][1] else "")
        return
    if not places:
        entry.origin = ORIGIN_OTHER if entry.event_type == ERROR else None
        return
    chosen = places[0][:2]
    for index, (path, line, call) in enumerate(places):
        origin = path_origin(path, root, relative)
        if origin == ORIGIN_EDITED and index > 0:
            continue  # only hashes are known, not which lines were edited: as a mere caller it is MyBB's
        if index > 0 and origin != ORIGIN_CORE and INCLUDE.match(call):
            # A script of the user's that only included MyBB (global.php ...): what MyBB's own code raised
            # while it loaded is MyBB's, as on MyBB's own scripts.
            entry.origin = ORIGIN_CORE
            break
        if origin != ORIGIN_CORE:
            entry.origin, entry.user_frame, chosen = origin, (path, line), (path, line)
            break
    else:
        entry.origin = ORIGIN_CORE
    path, line = chosen
    shown = path if _EVAL in path else (forum_relative(path, root, relative) if root or relative else None) or path
    entry.place = f"{shown}:{line}" if line else shown
    entry.core_noise = is_core_noise(entry, root)
    if entry.level == "sql" and entry.message.startswith("SQL Error: "):
        rel = forum_relative(path, root, relative) if _EVAL not in path else None
        source = Path(root) / rel if root and rel else None
        entry.message = explained_sql(entry.message, source, line, entry.place) or entry.message


def is_core_noise(entry: LogEntry, root: str | None) -> bool:
    """MyBB's own noise: deprecations and notices with no user code on the stack (MyBB 1.8 under PHP 8.2
    deprecates `Creation of dynamic property DB_SQLite::$error_number` on every request), and whatever
    MyBB's error handler raises while reporting another error (with every SQLite SQL error)."""
    if raised_by_error_handler(entry, root):
        return True
    return entry.origin == ORIGIN_CORE and entry.level in ("deprecated", "notice")


def raised_by_error_handler(entry: LogEntry, root: str | None) -> bool:
    """Raised inside MyBB's error handler (inc/class_error.php), i.e. while it reported another error."""
    if not entry.source_file:
        return False
    return forum_relative(entry.source_file, root, entry.source == SOURCE_MYBB) == _MYBB_ERROR_HANDLER


def is_user_origin(origin: str | None) -> bool:
    """Caused by the user's code: a plugin, a template, or a script that is not MyBB's."""
    return origin is not None and origin not in (ORIGIN_CORE, ORIGIN_TOOL)
