"""Seeded generator of realistic `php -S` (PHP 8.2) logs for the benchmarks.

The lines are shaped exactly like the real ones in shared/corpus (08a, 08b, 10, 11): a
`[Www Mmm dd hh:mm:ss yyyy]` local-time stamp with a space-padded day, then per connection
`IP:PORT Accepted`, the PHP error lines the script raised, `IP:PORT [STATUS]: METHOD URI[ - msg]`
and `IP:PORT Closing`. Uncaught throwables are multi-line (`Stack trace:`, `#N ...`,
`  thrown in ...`, chained `Next ...`) and are repeated as the ` - ...` suffix of the `[500]` line,
continuation lines carrying no stamp. Worker mode (`workers=N`) prefixes every stamped line with
`[pid] `.

Traffic model (a developer and a few testers clicking around a MyBB 1.8 forum with a plugin in
progress): page views arrive with exponential gaps (mean `MEAN_GAP_S`); each is one PHP request
followed by 0-9 static asset requests and sometimes an AJAX call. Per PHP request: warnings,
notices, deprecations, uncaught exceptions with stack traces, parse errors, memory fatals, bare
503s (MyBB SQL errors) and 404s at the rates in `RATES`; 1% of static requests are 404s. The
traffic density is the same for every file size: a bigger file just spans more days, so the last
five minutes hold the same amount of traffic (~200 page views, ~1000 requests) in 10 MB and 1 GB.

A generated file is two parts:

* the **body** (cached, deterministic for size + seed): starts with the orchestrator's zone header
  (when `logs.zone.format_zone_header` exists) and the startup banner, holds one marker line
  (`MARKER`) within the first 1% of the file and ends some time before the file was generated;
* the **tail** (`TAIL_SECONDS` of traffic, same content on every run) whose last line is stamped
  "now": `refresh_tail()` cuts the file back to the body and appends a fresh tail, so that
  `since_minutes=5` always selects a real window of entries however old the cache is.

`python bench/loggen.py --size-mb 10 --out /tmp/x.log` writes a standalone file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

GENERATOR_VERSION = 5  # bump when the output changes: cached files of other versions are regenerated
MARKER = "MARKER-7f3a9c"
MEAN_GAP_S = 1.5  # mean seconds between page views
TAIL_SECONDS = 15 * 60  # the fresh tail covers the last 15 minutes before "now"
MB = 1024 * 1024
FORUM = "/srv/forum"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Probabilities per PHP page request (cumulative ranges are built below).
RATES = {
    "warning": 0.030,
    "notice": 0.008,
    "deprecated": 0.008,
    "exception": 0.004,
    "undefined_function": 0.0015,
    "parse": 0.0008,
    "memory": 0.0004,
    "http_503": 0.003,
    "http_404": 0.005,
    "error_log": 0.002,
}
STATIC_404_RATE = 0.01
_STATIC_COUNTS = (0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)  # assets fetched after a page (most are cached)
ODD_CONNECTION_RATE = 0.004  # preconnections without a request, `Invalid request (Unexpected EOF)`

# --------------------------------------------------------------------------------- vocabulary

PAGES = [  # (weight, method, uri template); {n} is replaced by a number
    (14, "GET", "/index.php"),
    (3, "GET", "/"),
    (12, "GET", "/forumdisplay.php?fid={f}"),
    (22, "GET", "/showthread.php?tid={n}"),
    (6, "GET", "/showthread.php?tid={n}&pid={p}#pid{p}"),
    (3, "GET", "/showthread.php?tid={n}&action=lastpost"),
    (5, "GET", "/member.php?action=profile&uid={u}"),
    (2, "GET", "/member.php?action=login"),
    (2, "POST", "/member.php"),
    (3, "GET", "/usercp.php"),
    (1, "GET", "/usercp.php?action=options"),
    (2, "GET", "/private.php"),
    (2, "GET", "/search.php?action=getnew"),
    (2, "GET", "/search.php?action=do_search&keywords=plugin%20hook&forums=all"),
    (2, "GET", "/newreply.php?tid={n}"),
    (2, "POST", "/newreply.php?tid={n}&processed=1"),
    (1, "GET", "/newthread.php?fid={f}"),
    (1, "POST", "/newthread.php?fid={f}&processed=1"),
    (2, "GET", "/portal.php"),
    (1, "GET", "/memberlist.php?page={f}"),
    (1, "GET", "/online.php"),
    (1, "GET", "/stats.php"),
    (1, "GET", "/calendar.php"),
    (1, "GET", "/modcp.php"),
    (1, "GET", "/misc.php?action=markread&fid={f}"),
    (3, "GET", "/admin/index.php"),
    (2, "GET", "/admin/index.php?module=config-plugins"),
    (1, "GET", "/admin/index.php?module=config-settings&action=change&gid={f}"),
    (1, "POST", "/admin/index.php?module=config-settings&action=change"),
    (1, "GET", "/admin/index.php?module=tools-system_health"),
    (1, "GET", "/admin/index.php?module=style-themes&action=edit_stylesheet&tid=1&file=global.css"),
    (2, "GET", "/index.php?myplugin_action=list&page={f}"),
    (1, "POST", "/xmlhttp.php?action=myplugin_save"),
]
AJAX = [
    "/xmlhttp.php?action=get_users&query=adm",
    "/xmlhttp.php?action=get_multiquoted&load_all=1",
    "/xmlhttp.php?action=edit_post&do=get_post&pid={p}",
    "/xmlhttp.php?action=username_availability",
]
STATIC = [
    "/jscripts/jquery.js?ver=1823",
    "/jscripts/jquery.plugins.min.js?ver=1821",
    "/jscripts/general.js?ver=1827",
    "/jscripts/thread.js?ver=1838",
    "/jscripts/popup_menu.js?ver=1808",
    "/jscripts/select2/select2.css?ver=1807",
    "/jscripts/select2/select2.min.js?ver=1806",
    "/cache/themes/theme1/global.css?t=1764000000",
    "/cache/themes/theme1/css3.css?t=1764000000",
    "/cache/themes/theme1/star_ratings.css?t=1764000000",
    "/cache/themes/theme1/thread_status.css?t=1764000000",
    "/cache/themes/theme1/showthread.css?t=1764000000",
    "/cache/themes/theme1/usercp.css?t=1764000000",
    "/images/logo.png",
    "/images/on.png",
    "/images/off.png",
    "/images/offlock.png",
    "/images/collapse.png",
    "/images/collapse_collapsed.png",
    "/images/buddy_online.png",
    "/images/buddy_offline.png",
    "/images/default_avatar.png",
    "/images/buttons_sprite.png",
    "/images/folders_sprite.png",
    "/images/forum_icon_sprite.png",
    "/images/icons/lightbulb.png",
    "/images/smilies/smile.png",
    "/images/spinner.gif",
    "/images/tcat.png",
    "/images/thead.png",
    "/uploads/avatars/avatar_{u}.png?dateline=1763990000",
    "/inc/plugins/myplugin/assets/myplugin.css?v=0.3.1",
    "/inc/plugins/myplugin/assets/myplugin.js?v=0.3.1",
    "/admin/styles/default/main.css",
    "/admin/styles/default/images/logo.png",
    "/admin/jscripts/admin.js?ver=1821",
]
MISSING_STATIC = [
    "/favicon.ico",
    "/apple-touch-icon.png",
    "/apple-touch-icon-precomposed.png",
    "/images/rating.png",
    "/inc/plugins/myplugin/assets/myplugin.min.js.map",
    "/uploads/avatars/avatar_0.png",
]
MISSING_PAGES = [
    "/myplugin.php",
    "/wp-login.php",
    "/admin/index.php.bak",
    "/archive/index.php/thread-{n}.html",
    "/showthread.php/thread-{n}.html",
]

WARNINGS = [
    ("Warning", 'Undefined variable $thread in {F}/inc/plugins/myplugin.php on line 88'),
    ("Warning", 'Undefined array key "uid" in {F}/inc/plugins/myplugin.php on line 142'),
    ("Warning", 'Undefined array key "myplugin_enabled" in {F}/inc/plugins/myplugin/settings.php on line 19'),
    ("Warning", "Trying to access array offset on value of type null in {F}/inc/plugins/myplugin.php on line 57"),
    ("Warning", "foreach() argument must be of type array|object, null given in {F}/inc/plugins/myplugin/hooks.php on "
                "line 23"),
    ("Warning", 'Attempt to read property "username" on null in {F}/inc/plugins/myplugin.php on line 201'),
    ("Warning", "file_get_contents({F}/cache/myplugin.json): Failed to open stream: No such file or directory in "
                "{F}/inc/plugins/myplugin/cache.php on line 30"),
    ("Warning", 'Undefined array key "QUERY_STRING" in {F}/admin/inc/class_page.php on line 425'),
    ("Warning", "Cannot modify header information - headers already sent by (output started at "
                "{F}/inc/plugins/myplugin.php:12) in {F}/inc/functions.php on line 1917"),
]
NOTICES = [
    ("Notice", "Only variables should be passed by reference in {F}/inc/plugins/myplugin/hooks.php on line 64"),
    ("Notice", "myplugin: cache miss for key thread_{n} in {F}/inc/plugins/myplugin/cache.php on line 41"),
]
DEPRECATIONS = [
    ("Deprecated", "strlen(): Passing null to parameter #1 ($string) of type string is deprecated in "
                   "{F}/inc/plugins/myplugin.php on line 73"),
    ("Deprecated", "Creation of dynamic property MyPluginHelper::$cache is deprecated in "
                   "{F}/inc/plugins/myplugin/helper.php on line 15"),
    ("Deprecated", "htmlspecialchars(): Passing null to parameter #1 ($string) of type string is deprecated in "
                   "{F}/inc/plugins/myplugin/templates.php on line 52"),
]
EXCEPTIONS = [
    (
        "Uncaught RuntimeException: Thread {n} not found in {F}/inc/plugins/myplugin.php:{l}",
        ["Stack trace:",
         "#0 {F}/inc/plugins/myplugin.php(120): myplugin_load_thread({n})",
         "#1 {F}/inc/class_plugins.php(142): myplugin_showthread_start()",
         "#2 {F}/showthread.php(28): pluginSystem->run_hooks('showthread_star...')",
         "#3 {main}",
         "  thrown in {F}/inc/plugins/myplugin.php on line {l}"],
    ),
    (
        "Uncaught PDOException: SQLSTATE[HY000]: General error: 1 no such table: mybb_myplugin_items in "
        "{F}/inc/db_pdo.php:143",
        ["Stack trace:",
         "#0 {F}/inc/db_pdo.php(143): PDO->query('SELECT * FROM m...')",
         "#1 {F}/inc/db_sqlite.php(214): dbpdoEngine->query('SELECT * FROM m...')",
         "#2 {F}/inc/plugins/myplugin/repository.php(31): DB_SQLite->query('SELECT * FROM m...')",
         "#3 {F}/inc/plugins/myplugin.php(95): MyPluginRepository->all()",
         "#4 {F}/inc/class_plugins.php(142): myplugin_index_start('')",
         "#5 {F}/index.php(18): pluginSystem->run_hooks('index_start')",
         "#6 {main}",
         "  thrown in {F}/inc/db_pdo.php on line 143"],
    ),
    (
        "Uncaught TypeError: myplugin_format_date(): Argument #1 ($dateline) must be of type int, string given, "
        "called in {F}/inc/plugins/myplugin.php on line 188 and defined in {F}/inc/plugins/myplugin/format.php:9",
        ["Stack trace:",
         "#0 {F}/inc/plugins/myplugin.php(188): myplugin_format_date('1763990000')",
         "#1 {F}/inc/class_plugins.php(142): myplugin_postbit(Array)",
         "#2 {F}/inc/functions_post.php(862): pluginSystem->run_hooks('postbit', Array)",
         "#3 {F}/showthread.php(1099): build_postbit(Array)",
         "#4 {main}",
         "  thrown in {F}/inc/plugins/myplugin/format.php on line 9"],
    ),
    (
        "Uncaught InvalidArgumentException: unknown action 'purge' in {F}/inc/plugins/myplugin/admin.php:{l}",
        ["Stack trace:",
         "#0 {F}/inc/plugins/myplugin/admin.php(60): myplugin_admin_dispatch('purge')",
         "#1 {F}/admin/index.php(830): myplugin_admin_load()",
         "#2 {main}",
         "",
         "Next LogicException: admin page failed in {F}/inc/plugins/myplugin/admin.php:62",
         "Stack trace:",
         "#0 {F}/admin/index.php(830): myplugin_admin_load()",
         "#1 {main}",
         "  thrown in {F}/inc/plugins/myplugin/admin.php on line 62"],
    ),
]
UNDEFINED_FUNCTION = (
    "Uncaught Error: Call to undefined function myplugin_render_widget() in {F}/inc/plugins/myplugin.php:{l}",
    ["Stack trace:",
     "#0 {F}/inc/class_plugins.php(142): myplugin_index_end('')",
     "#1 {F}/index.php(391): pluginSystem->run_hooks('index_end')",
     "#2 {main}",
     "  thrown in {F}/inc/plugins/myplugin.php on line {l}"],
)
PARSE_ERRORS = [
    'syntax error, unexpected token "}", expecting ";" in {F}/inc/plugins/myplugin.php on line {l}',
    'syntax error, unexpected identifier "echo", expecting ")" in {F}/inc/plugins/myplugin/hooks.php on line {l}',
]
MEMORY = ("Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes) in "
          "{F}/inc/plugins/myplugin/export.php on line {l}")
ERROR_LOG_MESSAGES = [
    "myplugin: rebuilding cache (3 entries)",
    "myplugin: webhook timed out after 5s",
    "MyPlugin debug: uid={u} tid={n}",
]


_PLACEHOLDERS = (("{n}", 1, 4800), ("{p}", 1, 62000), ("{u}", 1, 340), ("{f}", 2, 14), ("{l}", 12, 480))


def _fill(template: str, rng: random.Random) -> str:
    """Replace the placeholders of a template with seeded numbers (and {F} with the forum path)."""
    if "{" not in template:
        return template
    r = rng.random
    text = template.replace("{F}", FORUM)
    for key, low, high in _PLACEHOLDERS:
        if key in text:
            text = text.replace(key, str(low + int(r() * (high - low + 1))))
    return text


def _pick(seq, r):
    """seq[random index]: `random.choice` without its per-call overhead (this is the hot loop)."""
    return seq[int(r() * len(seq))]


def worker_pids(seed: int, workers: int) -> list[int]:
    """PIDs of a worker-mode server (the parent and its `workers` children); [] for a single process."""
    if not workers:
        return []
    base = random.Random(seed ^ 0x91D).randint(20000, 90000)
    return [base + i for i in range(workers + 1)]


@dataclass
class Counts:
    requests: int = 0
    static: int = 0
    page_views: int = 0
    error_lines: int = 0  # PHP error lines (warning, notice, deprecated, fatal, parse)
    fatal_traces: int = 0
    http_4xx: int = 0
    http_5xx: int = 0
    lines: int = 0


class Generator:
    """Writes php -S traffic from `start` (epoch seconds) onward, deterministically from `seed`."""

    def __init__(self, seed: int, start: float, *, workers: int = 0, port: int = 8022,
                 pids: list[int] | None = None) -> None:
        self.rng = random.Random(seed)
        self.t = float(start)
        self.workers = workers
        self.server_port = port
        self.counts = Counts()
        self._stamp_second = -1
        self._stamp = ""
        self._client_port = 32768 + self.rng.randint(0, 20000)
        self._pids = list(pids or worker_pids(seed, workers))
        self._pid_prefix = ""
        pages = [(w, m, u) for w, m, u in PAGES]
        self._page_choices = [(m, u) for w, m, u in pages for _ in range(w)]
        self._error_cuts = []
        acc = 0.0
        for kind, rate in RATES.items():
            acc += rate
            self._error_cuts.append((acc, kind))

    # -------------------------------------------------------------------------- primitives

    def stamp(self, t: float | None = None) -> str:
        """`[pid] [Www Mmm dd hh:mm:ss yyyy] ` for second `t` (local time), cached per second."""
        second = int(self.t if t is None else t)
        if second != self._stamp_second:
            tm = time.localtime(second)
            self._stamp = (f"[{_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
                           f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}] ")
            self._stamp_second = second
        return self._pid_prefix + self._stamp

    def _next_client(self) -> str:
        r = self.rng.random
        port = self._client_port + 2 + int(r() * 23)
        if port > 60999:
            port = 32768 + (port - 61000)
        self._client_port = port
        if self._pids:
            self._pid_prefix = f"[{_pick(self._pids, r)}] "
        return f"127.0.0.1:{port}"

    def banner(self, out: list[str]) -> None:
        pids = self._pids or [None]
        for pid in pids:
            self._pid_prefix = f"[{pid}] " if pid else ""
            out.append(f"{self.stamp()}PHP 8.2.36 Development Server (http://127.0.0.1:{self.server_port}) started\n")
        self.counts.lines += len(pids)

    def _connection(self, out: list[str], method: str, uri: str, status: int, *, client: str | None = None,
                    before: list[str] = (), suffix: str = "", suffix_lines: list[str] = ()) -> None:
        client = client or self._next_client()
        ts = self.stamp()
        counts = self.counts
        counts.requests += 1
        if not before and not suffix:
            out.append(f"{ts}{client} Accepted\n{ts}{client} [{status}]: {method} {uri}\n{ts}{client} Closing\n")
            counts.lines += 3
        else:
            out.append(f"{ts}{client} Accepted\n")
            out.extend(before)
            tail = "\n".join(suffix_lines)
            line = f"{ts}{client} [{status}]: {method} {uri}"
            if suffix:
                line += f" - {suffix}"
            if suffix_lines:
                line += "\n" + tail
            out.append(line + f"\n{ts}{client} Closing\n")
            counts.lines += 3 + len(suffix_lines) + sum(b.count("\n") for b in before)
        if status >= 500:
            counts.http_5xx += 1
        elif status >= 400:
            counts.http_4xx += 1

    def _php_error_line(self, level: str, message: str) -> str:
        self.counts.error_lines += 1
        return f"{self.stamp()}PHP {level}:  {message}\n"

    # -------------------------------------------------------------------------- traffic

    def page_view(self, out: list[str], *, marker: str | None = None) -> None:
        rng = self.rng
        r = rng.random
        counts = self.counts
        counts.page_views += 1
        method, uri = _pick(self._page_choices, r)
        uri = _fill(uri, rng)
        if marker:
            uri = f"/showthread.php?tid=17&highlight={marker}"
            method = "GET"
        roll = r()
        kind = None
        if roll < self._error_cuts[-1][0]:
            for cut, name in self._error_cuts:
                if roll < cut:
                    kind = name
                    break
        if marker:
            kind = None
        if r() < ODD_CONNECTION_RATE:
            client = self._next_client()
            ts = self.stamp()
            if r() < 0.5:
                out.append(f"{ts}{client} Accepted\n{ts}{client} Closed without sending a request; "
                           f"it was probably just an unused speculative preconnection\n{ts}{client} Closing\n")
            else:
                out.append(f"{ts}{client} Accepted\n{ts}{client} Invalid request (Unexpected EOF)\n"
                           f"{ts}{client} Closing\n")
            counts.lines += 3
        self._php_request(out, method, uri, kind)
        # The browser then fetches the page's assets (most are cached after the first visits).
        n_static = _STATIC_COUNTS[int(r() * 12)]
        if n_static:
            if r() < 0.5:
                self.t += 1
            ts = self.stamp()
            append = out.append
            ok = n_static
            for _ in range(n_static):
                if r() < STATIC_404_RATE:
                    self._connection(out, "GET", _pick(MISSING_STATIC, r), 404, suffix="No such file or directory")
                    ts = self.stamp()
                    ok -= 1
                    continue
                uri = _pick(STATIC, r)
                if "{" in uri:
                    uri = _fill(uri, rng)
                client = self._next_client()
                if self._pids:
                    ts = self.stamp()
                append(f"{ts}{client} Accepted\n{ts}{client} [200]: GET {uri}\n{ts}{client} Closing\n")
            counts.static += n_static
            counts.requests += ok
            counts.lines += 3 * ok
        if r() < 0.08:
            self._connection(out, "POST", _fill(_pick(AJAX, r), rng), 200)
        self.t += -math.log(1.0 - r()) * MEAN_GAP_S

    def _php_request(self, out: list[str], method: str, uri: str, kind: str | None) -> None:
        rng = self.rng
        if kind is None:
            self._connection(out, method, uri, 200 if method != "POST" or rng.random() < 0.5 else 302)
            return
        client = self._next_client()  # first: in worker mode it picks the pid the error lines carry
        if kind in ("warning", "notice", "deprecated"):
            pool = {"warning": WARNINGS, "notice": NOTICES, "deprecated": DEPRECATIONS}[kind]
            before = [self._php_error_line(level, _fill(msg, rng))
                      for level, msg in (rng.choice(pool) for _ in range(rng.choice((1, 1, 1, 2, 3))))]
            self._connection(out, method, uri, 200, client=client, before=before)
        elif kind in ("exception", "undefined_function"):
            head, trace = rng.choice(EXCEPTIONS) if kind == "exception" else UNDEFINED_FUNCTION
            n, line = str(rng.randint(1, 4800)), str(rng.randint(12, 480))
            head = head.replace("{F}", FORUM).replace("{n}", n).replace("{l}", line)
            trace = [t.replace("{F}", FORUM).replace("{n}", n).replace("{l}", line) for t in trace]
            block = self._php_error_line("Fatal error", head) + "\n".join(trace) + "\n"
            self.counts.fatal_traces += 1
            self._connection(out, method, uri, 500, client=client, before=[block], suffix=head,
                             suffix_lines=trace)
        elif kind == "parse":
            msg = _fill(rng.choice(PARSE_ERRORS), rng)
            self._connection(out, method, uri, 500, client=client,
                             before=[self._php_error_line("Parse error", msg)], suffix=msg)
        elif kind == "memory":
            msg = _fill(MEMORY, rng)
            self._connection(out, method, uri, 500, client=client,
                             before=[self._php_error_line("Fatal error", msg)], suffix=msg)
        elif kind == "http_503":
            self._connection(out, method, uri, 503, client=client)
        elif kind == "http_404":
            self._connection(out, "GET", _fill(rng.choice(MISSING_PAGES), rng), 404, client=client,
                             suffix="No such file or directory")
        elif kind == "error_log":
            before = [f"{self.stamp()}{_fill(rng.choice(ERROR_LOG_MESSAGES), rng)}\n"]
            self._connection(out, method, uri, 200, client=client, before=before)

    def write(self, handle, *, max_bytes: int | None = None, until: float | None = None,
              marker_at: int | None = None, marker: str = MARKER, block_bytes: int = 4 * MB) -> dict:
        """Append traffic until `max_bytes` written or the clock passes `until`; returns facts."""
        written = 0
        out: list[str] = []
        pending = 0
        marker_offset = None
        last_t = self.t
        while True:
            if until is not None and self.t >= until:
                break
            if max_bytes is not None and written + pending >= max_bytes:
                break
            put_marker = marker_at is not None and marker_offset is None and written + pending >= marker_at
            if put_marker:
                chunk = "".join(out).encode()
                out.clear()
                handle.write(chunk)
                written += len(chunk)
                pending = 0
                marker_offset = handle.tell()
            before = len(out)
            last_t = self.t
            self.page_view(out, marker=marker if put_marker else None)
            pending += sum(len(s) for s in out[before:])  # ASCII only: characters == bytes
            if pending >= block_bytes:
                chunk = "".join(out).encode()
                out.clear()
                handle.write(chunk)
                written += len(chunk)
                pending = 0
        if out:
            chunk = "".join(out).encode()
            handle.write(chunk)
            written += len(chunk)
        return {"bytes": written, "marker_offset": marker_offset, "last_time": last_t}


# ------------------------------------------------------------------------------- files


@dataclass
class LogFile:
    path: Path
    size_mb: int
    seed: int
    body_bytes: int
    body_start: float
    body_end: float
    marker: str
    marker_offset: int
    header: bool
    generator_version: int
    gen_seconds: float
    counts: dict
    workers: int = 0
    tail_bytes: int = 0
    tail_end: float = 0.0
    last_5_min: dict | None = None  # counts of the traffic in the tail's last 5 minutes

    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")


def zone_header(moment: float) -> str | None:
    """The orchestrator's first log line (its local zone), when the installed package writes one."""
    try:
        from datetime import datetime

        from mybb_mcp.logs.zone import format_zone_header  # type: ignore[attr-defined]
    except Exception:
        return None
    return format_zone_header(datetime.fromtimestamp(moment).astimezone())


def _calibrate_rate(seed: int) -> float:
    """Bytes per second of simulated time for this traffic model (from a 4 MB sample)."""
    import io

    g = Generator(seed ^ 0x5EED, 1_700_000_000.0)
    facts = g.write(io.BytesIO(), max_bytes=4 * MB)
    return facts["bytes"] / max(1.0, g.t - 1_700_000_000.0)


def _segment(task: tuple) -> tuple[bytes, dict, float, int | None]:
    """One time slice of the body (runs in a pool worker): (data, counts, last time, marker offset)."""
    import io

    seed, index, start, until, workers, marker_at, marker = task
    # Start 1 s into the slice: the previous slice's last page view may fetch its assets a second later.
    gen = Generator(seed * 100_003 + index, start + 1.0, workers=workers, pids=worker_pids(seed, workers))
    buffer = io.BytesIO()
    facts = gen.write(buffer, until=until, marker_at=marker_at, marker=marker)
    return buffer.getvalue(), asdict(gen.counts), facts["last_time"], facts["marker_offset"]


def generate_body(path: Path, size_mb: int, seed: int, *, anchor: float | None = None, workers: int = 0,
                  marker: str = MARKER, processes: int | None = None) -> LogFile:
    """Write the cached body: ~`size_mb` MiB minus the tail, ending well before `anchor` (default now).

    The body is a sequence of equal time slices, each generated from its own seed (so the content
    does not depend on how many processes made it) in a process pool, and written in order until
    the size is reached.
    """
    import collections
    import multiprocessing

    began = time.perf_counter()
    anchor = time.time() if anchor is None else anchor
    target = size_mb * MB
    rate = _calibrate_rate(seed)
    body_target = max(MB // 2, target - int(rate * TAIL_SECONDS))
    segment_bytes = min(4 * MB, max(256 * 1024, body_target // 128))
    segment_seconds = segment_bytes / rate
    # End about an hour before the tail starts (3% + 1 h margin for the rate estimate's error).
    start = anchor - TAIL_SECONDS - 3600 - (body_target / rate) * 1.03
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    header = zone_header(start)
    counts = asdict(Counts())
    last_time = start
    marker_offset = None
    processes = processes or min(os.cpu_count() or 1, 4)
    pool = multiprocessing.get_context("fork").Pool(processes) if processes > 1 and body_target > 32 * MB else None
    try:
        with open(tmp, "wb") as handle:
            if header:
                handle.write((header + "\n").encode())
            banner: list[str] = []
            Generator(seed, start, workers=workers, pids=worker_pids(seed, workers)).banner(banner)
            handle.write("".join(banner).encode())
            counts["lines"] += len(banner)
            body_start = handle.tell()
            # Inside the first 1% of the file, and inside the first time slice (which holds ~segment_bytes).
            marker_at = min(int(body_target * 0.004), segment_bytes // 2)

            def task(index: int) -> tuple:
                return (seed, index, start + index * segment_seconds, start + (index + 1) * segment_seconds,
                        workers, marker_at if index == 0 else None, marker)

            pending: collections.deque = collections.deque()
            submitted = 0
            while True:
                while pool is not None and len(pending) < 2 * processes:
                    pending.append(pool.apply_async(_segment, (task(submitted),)))
                    submitted += 1
                if pool is None:
                    data, part, last, offset = _segment(task(submitted))
                    submitted += 1
                else:
                    data, part, last, offset = pending.popleft().get()
                if offset is not None:
                    marker_offset = body_start + offset
                handle.write(data)
                for key, value in part.items():
                    counts[key] += value
                last_time = max(last_time, last)
                if handle.tell() >= body_target:
                    break
            body_bytes = handle.tell()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    if marker_offset is None:
        raise RuntimeError(f"generator bug: the marker was not written into {tmp}")
    os.replace(tmp, path)
    info = LogFile(path, size_mb, seed, body_bytes, start, last_time, marker, marker_offset,
                   bool(header), GENERATOR_VERSION, time.perf_counter() - began, counts, workers)
    _save_meta(info)
    return info


def refresh_tail(info: LogFile, *, now: float | None = None) -> LogFile:
    """Cut the file back to its body and append `TAIL_SECONDS` of traffic whose last line is at `now`."""
    import io

    now = time.time() if now is None else now
    # Same tail content every run: generate on a relative clock, then render it ending at `now`.
    start = max(now - TAIL_SECONDS, info.body_end + 1)
    gen = Generator(info.seed + 1_000_003, start, workers=info.workers, pids=worker_pids(info.seed, info.workers))
    buffer = io.BytesIO()
    gen.write(buffer, until=now - 300)
    before = asdict(gen.counts)
    gen.write(buffer, until=now)
    data = buffer.getvalue()
    info.last_5_min = {key: value - before[key] for key, value in asdict(gen.counts).items()}
    with open(info.path, "r+b") as handle:
        handle.truncate(info.body_bytes)
        handle.seek(info.body_bytes)
        handle.write(data)
    info.tail_bytes = len(data)
    info.tail_end = now
    return info


def _save_meta(info: LogFile) -> None:
    data = asdict(info)
    data["path"] = str(info.path)
    info.meta_path().write_text(json.dumps(data, indent=1))


def load_cached(path: Path, size_mb: int, seed: int) -> LogFile | None:
    meta = path.with_suffix(".json")
    try:
        data = json.loads(meta.read_text())
        info = LogFile(**{**data, "path": Path(data["path"])})
    except (OSError, ValueError, TypeError):
        return None
    if (info.generator_version != GENERATOR_VERSION or info.size_mb != size_mb or info.seed != seed
            or info.path != path or not path.exists() or path.stat().st_size < info.body_bytes
            or info.header != (zone_header(time.time()) is not None)):
        return None
    return info


def ensure_log(directory: Path, size_mb: int, seed: int, *, log=print) -> tuple[LogFile, bool]:
    """The cached log for size + seed under `directory` (generated if missing); (info, was_generated)."""
    path = directory / f"server-{size_mb}mb-seed{seed}-v{GENERATOR_VERSION}.log"
    info = load_cached(path, size_mb, seed)
    if info is not None:
        return info, False
    for stale in directory.glob(f"server-{size_mb}mb-seed{seed}-v*.*"):  # other generator versions
        if stale.name.split("-v")[-1].split(".")[0] != str(GENERATOR_VERSION):
            stale.unlink()
    log(f"generating a {size_mb} MB php -S log (seed {seed}) -> {path} ...")
    info = generate_body(path, size_mb, seed)
    log(f"  {info.body_bytes / MB:.0f} MiB in {info.gen_seconds:.1f} s "
        f"({info.counts['requests']} requests, {info.counts['lines']} lines)")
    return info, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0, help="worker-mode log ([pid] prefixes) with N workers")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    info = generate_body(args.out, args.size_mb, args.seed, workers=args.workers)
    refresh_tail(info)
    _save_meta(info)
    print(json.dumps({**asdict(info), "path": str(info.path)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
