"""Finding errors by their page: a keyword or a path matched against an entry and the request that raised it.

An error's own lines rarely name its page; php -S names it on the request line it logs when the
request ends. So a keyword matches an error when it is in the error's text *or* in its request
(method, path with query, status), and a `path` selects the errors a page raised: a prefix of the
request's path (a leading `/` optional), in which `*` stands for any run of characters
(`admin/index.php?module=config-*`). `?` is literal: it is the query's own mark in a URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from ..errors import InvalidArgument
from .parser import REQUEST, LogEntry, RequestRef

MAX_PATH_PATTERN = 2048


def validate_path_pattern(value: object) -> str | None:
    """The pattern if usable (None: no path filter); else InvalidArgument naming the fix."""
    if value is None:
        return None
    fix = "Pass a page's path or its start, e.g. 'showthread.php' or 'admin/index.php?module=config-*'."
    if not isinstance(value, str):
        raise InvalidArgument(f"path must be text, not {value!r}.", fix)
    if not value.strip() or not value.strip("/*").strip():
        raise InvalidArgument("path is empty: it would select every page.", fix + " Or leave path out.")
    if any(c in value for c in "\r\n\x00") or any(c.isspace() for c in value):
        raise InvalidArgument("path contains spaces or control characters; a request's path has none.", fix)
    if len(value) > MAX_PATH_PATTERN:
        raise InvalidArgument(f"path is longer than {MAX_PATH_PATTERN} characters.", fix)
    return value


@dataclass(frozen=True)
class PathPattern:
    """A page's path or its start, with `*` for any run of characters."""

    text: str

    @property
    def _regex(self) -> re.Pattern[str]:
        parts = self.text.lstrip("/").split("*")
        return re.compile("/?" + ".*".join(re.escape(p) for p in parts), re.DOTALL)

    def matches(self, path: str | None) -> bool:
        return path is not None and self._regex.match(path) is not None

    def scan_bytes(self) -> bytes:
        """The longest literal part: every request line for a matching path holds it (a raw pre-filter)."""
        return max(self.text.strip("/").split("*"), key=len).encode("utf-8", "surrogateescape")


class Request(Protocol):
    """A request as the log names it (parser.RequestRef, cursors.RequestRef)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def status(self) -> int: ...


def request_text(request: Request | None) -> str:
    """What a keyword is matched against in a request, case-folded: method, path with query, status."""
    if request is None:
        return ""
    return f"{request.method} {request.path} {request.status}".casefold()


def own_request(entry: LogEntry) -> RequestRef | None:
    """The request an entry belongs to: its own (a request line), else the one attached to it."""
    if entry.event_type == REQUEST and entry.method is not None:
        return RequestRef.of(entry)
    return entry.request


@dataclass(frozen=True)
class RequestMatch:
    """A query's keyword and path, as matched against an entry's request."""

    keyword: str | None  # case-folded
    path: PathPattern | None

    @classmethod
    def of(cls, keyword: str | None, path: str | None) -> RequestMatch | None:
        if not keyword and not path:
            return None
        return cls(keyword.casefold() if keyword else None, PathPattern(path) if path else None)

    def describe(self) -> str:
        """In words, for answers: "containing 'x' in the error or its request, raised by requests to 'p'"."""
        parts = []
        if self.keyword is not None:
            parts.append(f"containing {self.keyword!r} in the error or its request (case-insensitive)")
        if self.path is not None:
            parts.append(f"raised by requests to {self.path.text!r}")
        return ", ".join(parts)

    def scan_bytes(self) -> bytes | None:
        """What a raw scan of the server log looks for: the path's literal part, else the keyword."""
        if self.path is not None:
            return self.path.scan_bytes() or None
        return self.keyword.encode("utf-8", "surrogateescape") if self.keyword else None

    def request_ok(self, request: Request | None) -> bool:
        """The path filter (the keyword may be in the error instead)."""
        return self.path is None or (request is not None and self.path.matches(request.path))

    def keyword_in_request(self, request: Request | None) -> bool:
        return self.keyword is None or self.keyword in request_text(request)

    def matches(self, entry: LogEntry, own_text: str | None, request: Request | None = None) -> bool:
        """`own_text`: the entry's case-folded text (None: already known to hold the keyword). `request`:
        the request it belongs to, if not the entry's own (a request line) or attached one."""
        request = request if request is not None else own_request(entry)
        if not self.request_ok(request):
            return False
        if self.keyword is None or own_text is None:
            return True
        return self.keyword in own_text or self.keyword_in_request(request)


def keyword_text(entry: LogEntry) -> str:
    """What a keyword is matched against in a parsed entry (the readers match raw lines), case-folded."""
    parts = [entry.message, entry.level or "", entry.source_file or "", entry.path or "", *entry.continuation]
    return "\n".join(parts).casefold()
