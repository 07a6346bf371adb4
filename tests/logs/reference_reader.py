"""A deliberately simple oracle for the fast log readers and queries, and a seeded log generator.

The reference reads the whole file, groups lines into entries one line at a time,
parses every entry and filters and pages a plain list. It is slow and obviously
right; the block readers and `run_query` must give the same answers.
"""

from __future__ import annotations

import copy
import fnmatch
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from mybb_mcp.logs.options import LogQueryOptions
from mybb_mcp.logs.parser import (
    CONNECTION,
    ENTRY_START,
    ERROR,
    REQUEST,
    STARTUP,
    LogEntry,
    format_php_timestamp,
    parse_entry,
)

# --- the oracle ---------------------------------------------------------------------------------


def reference_entries(path: Path, end: int | None = None) -> list[tuple[int, bytes]]:
    """(offset, raw) oldest first: every line matching ENTRY_START begins an entry.

    Like the fast readers, it stops at `end` (default: the file's size) cut back to the
    last newline, and text before the first entry start is an entry of its own.
    """
    data = path.read_bytes()
    if end is not None:
        data = data[:end]
    data = data[: data.rfind(b"\n") + 1]
    entries: list[tuple[int, bytes]] = []
    current: list[bytes] = []
    current_at, offset = 0, 0
    for line in data.split(b"\n")[:-1]:
        line += b"\n"
        if ENTRY_START.match(line) and current:
            entries.append((current_at, b"".join(current)))
            current, current_at = [], offset
        current.append(line)
        offset += len(line)
    if current:
        entries.append((current_at, b"".join(current)))
    return entries


def reference_request(entries: list[tuple[bytes, LogEntry]], index: int) -> LogEntry | None:
    """An error's request: the next request line its worker logged (None for other entries)."""
    entry = entries[index][1]
    if entry.event_type == REQUEST:
        return entry if entry.method is not None else None
    if entry.event_type != ERROR or not entry.is_error:
        return None
    for _raw, later in entries[index + 1:]:
        if later.worker_pid != entry.worker_pid:
            continue
        if later.event_type == REQUEST and later.method is not None:
            return later
        if later.event_type in (REQUEST, STARTUP):
            return None
    return None


def reference_page_match(entry: LogEntry, raw: bytes, request: LogEntry | None, options: LogQueryOptions) -> bool:
    """Keyword: in the entry, or in its request's method, path and status. Path: its request's, a prefix
    with `*` for any text (fnmatch with `?` and `[` taken literally)."""
    if options.path is not None:
        if request is None or request.internal or (entry.event_type != REQUEST and not entry.is_error):
            return False
        pattern = options.path.lstrip("/").replace("[", "[[]").replace("?", "[?]") + "*"
        if not fnmatch.fnmatchcase((request.path or "").lstrip("/"), pattern):
            return False
        own = entry.message + (entry.source_file or "") + (entry.path or "") + "".join(entry.continuation)
        raw = own.encode() if entry.event_type != REQUEST else raw
    if not options.filter_keyword:
        return True
    keyword = options.filter_keyword.lower()
    if keyword.encode() in raw.lower():
        return True
    return (request is not None and entry is not request
            and keyword in f"{request.method} {request.path} {request.status_code}".lower())


def reference_wanted(raw: bytes, entry: LogEntry, options: LogQueryOptions, cutoff: datetime | None,
                     request: LogEntry | None = None) -> bool:
    if entry.internal:
        return False
    if entry.event_type == CONNECTION and not options.include_connections:
        return False
    if options.errors_only and not entry.is_error:
        return False
    if options.exclude_static and entry.is_static and not entry.is_error:
        return False
    if cutoff is not None and (entry.timestamp is None or entry.timestamp < cutoff):
        return False
    return reference_page_match(entry, raw, request, options)


_cache: dict[tuple[Path, int, int, tzinfo], list[tuple[bytes, LogEntry]]] = {}


def _parsed(path: Path, zone: tzinfo) -> list[tuple[bytes, LogEntry]]:
    """Every entry parsed, cached per file version (many queries run against one generated file)."""
    info = path.stat()
    key = (path, info.st_mtime_ns, info.st_size, zone)
    if key not in _cache:
        _cache.clear()
        _cache[key] = [
            (raw, parse_entry(raw.decode("utf-8", "replace"), tz=zone, offset=offset))
            for offset, raw in reference_entries(path)
        ]
    return _cache[key]


@dataclass
class ReferenceAnswer:
    page: list[LogEntry]
    total: int  # every matching entry in the file


def reference_query(
    path: Path, options: LogQueryOptions, *, zone: tzinfo, now: datetime | None = None
) -> ReferenceAnswer:
    cutoff = now - timedelta(minutes=options.since_minutes) if options.since_minutes and now else None
    parsed = _parsed(path, zone)
    matching = [
        copy.deepcopy(entry) for index, (raw, entry) in enumerate(parsed)
        if reference_wanted(raw, entry, options, cutoff, reference_request(parsed, index))
    ]
    if options.tail:
        matching.reverse()
    return ReferenceAnswer(matching[options.offset : options.offset + options.limit], len(matching))


# --- the generator ------------------------------------------------------------------------------------

PAGES = ("/index.php", "/showthread.php?tid={n}", "/forumdisplay.php?fid={n}", "/member.php?action=profile&uid={n}",
         "/search.php?keywords=caf%C3%A9&page={n}", "/admin/index.php?module=config-plugins")
STATIC = ("/images/on.png", "/jscripts/general.js?ver=1837", "/cache/themes/theme1/global.css",
          "/images/smilies/smile.gif", "/favicon.ico", "/fonts/awesome.woff2?v=4")
TRACE = ("Stack trace:", "#0 /srv/forum/inc/class_core.php({n}): Repo->query()",
         "#1 /srv/forum/global.php(12): Plugin->run()", "#2 {{main}}")


@dataclass
class LogGenerator:
    """Realistic php -S output, seeded: requests, assets, 404s, warnings, fatals with traces,
    chained exceptions, raw stderr, MyBB error blocks, probes, worker interleaving."""

    seed: int = 1
    start: datetime = datetime(2026, 11, 24, 5, 0, 0)
    workers: bool = False
    marker_every: int = 0  # put a mixed-case MARKER word in every n-th error's trace (0: never)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.now = self.start
        self.errors = 0

    def _stamp(self) -> str:
        return "\x00"  # stamped in output order by text(), as php stamps lines when it writes them

    def _stamped(self, line: str, pid: int) -> str:
        self.now += timedelta(seconds=self.rng.choice((0, 0, 0, 1, 1, 2, 7)))
        head = f"[{format_php_timestamp(self.now)}] "
        return line.replace("\x00", f"[{pid}] {head}" if self.workers else head, 1)

    def _client(self) -> str:
        return f"127.0.0.1:{self.rng.randint(30000, 60999)}"

    def _trace(self) -> list[str]:
        self.errors += 1
        lines = [line.format(n=self.rng.randint(1, 999)) for line in TRACE]
        if self.marker_every and self.errors % self.marker_every == 0:
            lines.insert(2, f"#1 /srv/forum/inc/plugins/x.php(3): MaRkEr_{self.errors}()")
        return lines

    def chunk(self) -> list[str]:
        """One connection's lines, their stamps still to be put in ("\\x00")."""
        rng, client = self.rng, self._client()
        kind = rng.random()
        lines = [f"{self._stamp()}{client} Accepted"]
        path = rng.choice(PAGES).format(n=rng.randint(1, 9999))
        if kind < 0.35:
            lines.append(f"{self._stamp()}{client} [{rng.choice((200, 200, 200, 302, 304))}]: GET {path}")
        elif kind < 0.6:
            lines.append(f"{self._stamp()}{client} [200]: GET {rng.choice(STATIC)}")
        elif kind < 0.68:
            lines.append(f"{self._stamp()}{client} [404]: GET {rng.choice((path, *STATIC))}"
                         " - No such file or directory")
        elif kind < 0.78:
            for _ in range(rng.randint(1, 3)):
                lines.append(f"{self._stamp()}PHP Warning:  Undefined variable $v{rng.randint(1, 99)} in "
                             f"/srv/forum/inc/plugins/p.php on line {rng.randint(1, 500)}")
            lines.append(f"{self._stamp()}{client} [200]: POST {path}")
        elif kind < 0.84:
            trace = self._trace()
            message = (f"Uncaught RuntimeException: gone {rng.randint(1, 99)}"
                       f" in /srv/forum/inc/x.php:{rng.randint(1, 99)}")
            tail = [*trace, "  thrown in /srv/forum/inc/x.php on line 5"]
            if rng.random() < 0.3:
                tail = [*trace, "", "Next LogicException: wrapped in /srv/forum/inc/y.php:6", *trace[:2],
                        "  thrown in /srv/forum/inc/y.php on line 6"]
            lines.append(f"{self._stamp()}PHP Fatal error:  {message}\n" + "\n".join(tail))
            lines.append(f"{self._stamp()}{client} [500]: GET {path} - {message}\n" + "\n".join(tail))
        elif kind < 0.87:
            lines.append(f"{self._stamp()}PHP Deprecated:  strlen(): Passing null is deprecated"
                         " in /srv/forum/a.php on line 3")
            lines.append(f"{self._stamp()}PHP Notice:  Only variables should be passed by reference"
                         " in /srv/forum/b.php on line 4")
            lines.append(f"{self._stamp()}{client} [503]: GET {path}")
        elif kind < 0.9:
            lines.append(f"{self._stamp()}multi-line message line1\nline2\nraw write to php://stderr (no prefix)")
            lines.append(f"{self._stamp()}{client} [200]: GET {path}")
        elif kind < 0.92:
            dateline = 1795500000 + self.errors
            lines.append(
                f"{self._stamp()}<error>\n\t<dateline>{dateline}</dateline>\n\t<script>inc/plugins/p.php</script>\n"
                f"\t<line>31</line>\n\t<type>2</type>\n\t<friendly_type>Warning</friendly_type>\n"
                f"\t<message>Undefined array key \"k{rng.randint(1, 9)}\"</message>\n"
                f"\t<back_trace>#0  errorHandler->error() called at [/inc/class_error.php:153]\n"
                f"</back_trace>\n</error>\n\n"
            )
            lines.append(f"{self._stamp()}{client} [200]: GET {path}")
        elif kind < 0.95:
            lines.append(f"{self._stamp()}{client} [404]: GET /__mybb_mcp_ready.txt - No such file or directory")
        elif kind < 0.97:
            lines.append(f"{self._stamp()}{client} [200]: GET {path} - Uncaught Error: Call to undefined function "
                         f"f{rng.randint(1, 9)}() in /srv/forum/c.php:4\n" + "\n".join(self._trace()))
        else:
            lines.append(f"{self._stamp()}{client} Invalid request (Unexpected EOF)")
        lines.append(f"{self._stamp()}{client} Closing")
        return lines

    def text(self, chunks: int) -> str:
        """`chunks` connections' worth of log; workers interleave neighbouring connections."""
        out: list[str] = []
        pending: list[tuple[int, list[str]]] = []
        for _ in range(chunks):
            pending.append((self.rng.randint(1000, 99999), self.chunk()))
            if not self.workers or len(pending) >= 3 or self.rng.random() < 0.5:
                out.extend(self._stamped(line, pid) for pid, line in _interleave(pending, self.rng))
                pending = []
        out.extend(self._stamped(line, pid) for pid, line in _interleave(pending, self.rng))
        return "\n".join(out) + "\n"


def _interleave(chunks: list[tuple[int, list[str]]], rng: random.Random) -> list[tuple[int, str]]:
    """Merge connections' lines keeping each connection's order (as concurrent workers do)."""
    queues = [(pid, list(lines)) for pid, lines in chunks]
    out = []
    while any(lines for _, lines in queues):
        pid, lines = rng.choice([q for q in queues if q[1]])
        out.append((pid, lines.pop(0)))
    return out


def write_log(path: Path, chunks: int, *, seed: int = 1, header: str | None = None, **kwargs: object) -> Path:
    generator = LogGenerator(seed=seed, **kwargs)  # type: ignore[arg-type]
    text = generator.text(chunks)
    path.write_text((header + "\n" if header else "") + text, encoding="utf-8")
    return path
