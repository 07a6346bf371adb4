"""A log query's options (`LogQueryOptions`), checked: bad input is an InvalidArgument naming the
problem and the fix, before anything is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidArgument
from .match import validate_path_pattern

MAX_LIMIT = 1000  # a page an agent can still read; page further with offset
MAX_OFFSET = 1_000_000
MAX_SINCE_MINUTES = 10 * 366 * 24 * 60  # ten years: anything longer is "everything"
MAX_KEYWORD_LENGTH = 500
# The answer's size budget: an agent reads every character it is given. A page renders entries until
# the budget is spent, then says what it left out and how to ask for it (offset, max_chars).
DEFAULT_ANSWER_CHARS = 8_000
MIN_ANSWER_CHARS = 1_000
MAX_ANSWER_CHARS = 200_000
# Stack frames shown around the first one in the user's code, unless full_traces.
TRACE_CONTEXT_FRAMES = 2
TRACE_LINES_SHOWN = 8
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


@dataclass(frozen=True)
class LogQueryOptions:
    """What to show of the server log.

    errors_only: only errors (PHP errors, uncaught exceptions, MyBB errors, status >= 400).
    exclude_static: hide requests for images, scripts, stylesheets and fonts that succeeded
        (a failing asset request is still shown: a broken theme link is worth seeing).
    filter_keyword: only entries containing this text on any line (literal, case-insensitive with
        full Unicode case folding: `ärger` matches `Ärger`, `strasse` matches `Straße`), or whose
        request holds it (method, path with query, status: log_match).
    path: only entries of requests to this page: a prefix of the request's path, `*` for any run of
        characters (log_match.PathPattern).
    since_minutes: only entries from the last N minutes.
    limit / offset: page size (1..MAX_LIMIT) and how many matching entries to skip first.
    tail: newest first (True) or oldest first from the start of the log (False).
    include_connections: also show `Accepted`/`Closing` connection bookkeeping.
    include_mybb: merge in MyBB's own error logs (the extra sources given to run_query).
    user_code_only: only errors whose origin is the user's code (a plugin, a template, the user's own
        scripts), not MyBB core's.
    include_core_noise: also show MyBB core's own noise (parser.is_core_noise), hidden by default.
    include_rotated: also search the rotated logs (server.log.1 ...), newest first after the current log.
    full_traces: show whole stack traces (default: the frames around the first one in the user's code).
    max_chars: the answer's size budget in characters (DEFAULT_ANSWER_CHARS): entries past it are left
        out, and the answer says how to see them.
    raw: every entry as logged: nothing folded into another entry, MyBB's core noise not hidden.
    """

    errors_only: bool = False
    exclude_static: bool = True
    filter_keyword: str | None = None
    since_minutes: int | None = None
    limit: int = 50
    offset: int = 0
    tail: bool = True
    include_connections: bool = False
    include_mybb: bool = True
    user_code_only: bool = False
    include_core_noise: bool = False
    include_rotated: bool = True
    full_traces: bool = False
    max_chars: int = DEFAULT_ANSWER_CHARS
    raw: bool = False
    path: str | None = None

    def validated(self) -> LogQueryOptions:
        """These options if every field is usable; else InvalidArgument naming the field and the fix."""
        return validate_options(self)


_BOOL_FIELDS = (
    "errors_only", "exclude_static", "tail", "include_connections", "include_mybb", "user_code_only",
    "include_core_noise", "include_rotated", "full_traces", "raw",
)


def _int_field(name: str, value: object, low: int, high: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be a whole number, not {value!r}.", fix)
    if not low <= value <= high:
        raise InvalidArgument(f"{name} must be between {low} and {high}, not {value}.", fix)


def validate_options(options: LogQueryOptions) -> LogQueryOptions:
    """Check every field; return the options (unchanged) or raise InvalidArgument."""
    for name in _BOOL_FIELDS:
        value = getattr(options, name)
        if not isinstance(value, bool):
            raise InvalidArgument(f"{name} must be true or false, not {value!r}.", f"Pass {name}=true or {name}=false.")
    _int_field("limit", options.limit, 1, MAX_LIMIT,
               f"Ask for at most {MAX_LIMIT} entries per page and use offset to see more.")
    _int_field("offset", options.offset, 0, MAX_OFFSET,
               "offset counts matching entries to skip: 0 for the first page, then limit, 2*limit ...")
    _int_field("max_chars", options.max_chars, MIN_ANSWER_CHARS, MAX_ANSWER_CHARS,
               f"Pass a size budget between {MIN_ANSWER_CHARS} and {MAX_ANSWER_CHARS} characters "
               f"(default {DEFAULT_ANSWER_CHARS}).")
    if options.since_minutes is not None:
        _int_field("since_minutes", options.since_minutes, 1, MAX_SINCE_MINUTES,
                   "Pass a number of minutes of at least 1, or leave since_minutes out for the whole log.")
    keyword = options.filter_keyword
    if keyword is not None:
        if not isinstance(keyword, str):
            raise InvalidArgument(f"filter_keyword must be text, not {keyword!r}.",
                                  "Pass a word or phrase to look for.")
        if not keyword.strip():
            raise InvalidArgument("filter_keyword is empty.",
                                  "Pass a word or phrase to look for, or leave the filter out.")
        if "\n" in keyword or "\r" in keyword:
            raise InvalidArgument("filter_keyword spans lines.",
                                  "Search for one line's text; the whole entry is returned.")
        if "\x00" in keyword:  # the readers mark their cuts with NUL bytes (bounds.CUT_MARK)
            raise InvalidArgument("filter_keyword contains a NUL character.", "Search for printable text.")
        if len(keyword) > MAX_KEYWORD_LENGTH:
            raise InvalidArgument(f"filter_keyword is longer than {MAX_KEYWORD_LENGTH} characters.",
                                  "Search for a distinctive part of it.")
    validate_path_pattern(options.path)
    return options
