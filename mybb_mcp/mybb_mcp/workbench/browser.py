"""A page in real headless Chromium as a role: script errors, failed requests and broken AJAX answers,
each sub-request joined to the PHP errors it raised.

The session is the tool's own (forum/requests.py logs in and keeps the role's cookie jar); its cookies
are handed to a fresh browser context (its own cookies, storage and cache) in Chromium (workbench/chromium.py;
started for the call, or kept warm by the MCP server: workbench/browser_pool.py) that loads the page, waits
for it to settle (the load event, then no request in flight for a moment, both bounded) and reports what
the page did:

- uncaught exceptions and console errors, with the script's URL:line; for inline code, the template
  MyBB's `<!-- start: NAME -->` comments put around that line, and the line inside it;
- every request to the forum that failed (status >= 400, a network error) and every AJAX answer that
  should be JSON and is not (workbench/json_answer.py, the one JSON check of the tool); the forum's
  own /favicon.ico 404 is Chromium's, not the page's, and is left out;
- requests to any other address, failed by us (and by the proxy Chromium is given) before they leave;
- a screenshot, written to a file beside the forum's state (never inlined);
- the selector counted with querySelectorAll in the live DOM, after scripts ran.

Client ports of the browser's requests are found from php -S's request lines (logs/request_lines.py), so
the errors of each are read exactly as a page request's own (logs/exchanges.py). With trace, queries or
profile, the workbench's headers are added to the page's own document request only (the Fetch domain).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..forum import pages
from ..forum.requests import Hop, PageResponse, is_admin_cp
from ..forum.sessions import GUEST
from ..logs import request_lines
from ..logs.cursors import take_cursor
from ..safe_files import ensure_private_dir
from . import browser_pool
from .browser_pool import ServerKey
from .chromium import BrowserProblem, Chromium
from .json_answer import expected_json, judge_json
from .php_json import JsonObject, answer_object, object_or_empty, objects, to_int

if TYPE_CHECKING:
    from ..config import Config
    from ..forum.requests import ForumClient, PageRequest
    from ..logs.cursors import Cursor
    from ..logs.digest import ErrorGroup
    from .json_answer import JsonVerdict

SHOTS_DIR = ".mybb-server-browser"
SHOTS_KEPT = 20
LOAD_TIMEOUT = 15.0  # the load event
SETTLE_QUIET = 0.1  # no request in flight this long after the load event: the page has settled
SETTLE_MAX = 3.0  # past the load event, whatever is still in flight
MAX_ITEMS = 50  # script errors, and requests, kept per page
MAX_TEXT = 500
MAX_BODY_CHARS = 2_000_000
_TEMPLATE_MARK = re.compile(r"<!-- (start|end): ([^\s<>]{1,120}) -->")


@dataclass
class ScriptError:
    kind: str  # "exception" or "console"
    message: str
    url: str | None
    line: int | None  # 1-based, in the script (for inline code: in the page)
    column: int | None
    template: str | None = None  # inline code: the MyBB template around the line
    template_line: int | None = None


@dataclass
class BrowserRequest:
    """One request the page made to the forum (not the page itself)."""

    method: str
    url: str
    target: str  # path + query, as php -S logs it
    kind: str  # Chromium's resource type: Script, XHR, Fetch, Image ...
    status: int | None = None
    content_type: str = ""
    failure: str | None = None  # Chromium's network error
    done: bool = False
    verdict: JsonVerdict | None = None  # an answer that should be JSON, judged
    cached: bool = False  # served from Chromium's memory cache: it never reached the server
    client_port: int | None = None
    errors: list[ErrorGroup] = field(default_factory=list)  # the PHP errors it raised
    errors_known: bool = True

    @property
    def problem(self) -> bool:
        broken_json = self.verdict is not None and not self.verdict.valid
        return bool(self.failure or (self.status or 0) >= 400 or broken_json or self.errors)


@dataclass
class BrowserReport:
    version: str
    seconds: float = 0.0
    screenshot: Path | None = None
    script_errors: list[ScriptError] = field(default_factory=list)
    requests: list[BrowserRequest] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # requests to other addresses, failed before leaving
    settled: bool = True
    selector_count: int | None = None
    notes: list[str] = field(default_factory=list)
    dropped: int = 0  # script errors past MAX_ITEMS
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase: start, setup, load, settle ...
    warm: bool = False  # a Chromium kept warm by the MCP server (workbench/browser_pool.py), not started for it
    kept: bool = False  # kept warm after this call (the MCP server)
    headed: list[str] = field(default_factory=list)  # the URLs that carried the workbench's headers

    @property
    def problems(self) -> bool:
        return bool(self.script_errors or any(r.problem for r in self.requests))


def _target(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def cut_text(text: object) -> str:
    return str(text)[:MAX_TEXT]


class _Page:
    """The events of one page load, as they come."""

    def __init__(self, origin: tuple[str, int], document_url: str, headers: dict[str, str] | None = None) -> None:
        self.origin = origin
        self.document_url = document_url
        self.browser: Chromium | None = None
        self.session = ""
        self.frame = ""  # the tab's target id: its main frame's id
        self.sessions: set[str] = set()  # the tab's and its workers': a warm browser's earlier events are not ours
        self.headers = headers or {}  # the workbench's, for the page's own document request only
        self.headed: list[str] = []  # the URLs that carried them
        self.loaded = False
        self.navigation_error: str | None = None
        self.document_id: str | None = None
        self.hops: list[Hop] = []
        self.document_status: tuple[int, str, str] | None = None  # status, reason, content type
        self.requests: dict[str, BrowserRequest] = {}
        self.order: list[str] = []
        self.in_flight: set[str] = set()
        self.last_activity = time.monotonic()
        self.errors: list[ScriptError] = []
        self.dropped = 0
        self.blocked: list[str] = []

    def ours(self, url: str) -> bool:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return True
        try:
            port = parts.port or 80
        except ValueError:
            return False
        return parts.scheme == "http" and (parts.hostname, port) == self.origin

    def __call__(self, message: JsonObject) -> None:  # Chromium's event, as chromium.py hands it on
        method = str(message.get("method", ""))
        params = answer_object(message.get("params"))
        session = _text_or_none(message.get("sessionId"))
        assert self.browser is not None
        if session not in self.sessions:
            return
        if method == "Fetch.requestPaused":  # every request of the page and its workers passes here first
            request = answer_object(params.get("request"))
            url = str(request.get("url", ""))
            if self.ours(url) and self._document(params, session):
                # The page's own document (and its redirect hops), before the load event: the workbench's
                # headers, sent to the forum and never seen by the page's scripts or its other requests.
                headers = {**answer_object(request.get("headers")), **self.headers}
                self.browser.send("Fetch.continueRequest", {"requestId": params["requestId"], "headers": [
                    {"name": k, "value": str(v)} for k, v in headers.items()]}, session)
                self.headed.append(cut_text(url))
            elif self.ours(url):
                self.browser.send("Fetch.continueRequest", {"requestId": params["requestId"]}, session)
            else:
                self.browser.send("Fetch.failRequest", {"requestId": params["requestId"],
                                                        "errorReason": "BlockedByClient"}, session)
                if len(self.blocked) < MAX_ITEMS:
                    self.blocked.append(cut_text(url))
            return
        if method == "Target.attachedToTarget":  # a worker or a frame of its own: the same rule applies
            child = params.get("sessionId")
            child_session = _text_or_none(child)
            self.sessions.add(str(child))
            self.browser.send("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, child_session)
            self.browser.send("Runtime.enable", None, child_session)
            self.browser.send("Runtime.runIfWaitingForDebugger", None, child_session)
            return
        if method == "Page.loadEventFired" and session == self.session:
            self.loaded = True
        elif method.startswith("Network."):
            self._network(method, params, session == self.session)
        elif method == "Runtime.exceptionThrown":
            self._exception(answer_object(params.get("exceptionDetails")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            frames = objects(answer_object(params.get("stackTrace")).get("callFrames")) or [{}]
            text = " ".join(_arg(a) for a in objects(params.get("args")))
            self._add(ScriptError("console", cut_text(text), _text_or_none(frames[0].get("url")),
                                  _line(frames[0].get("lineNumber")), _line(frames[0].get("columnNumber"))))
        elif method == "Log.entryAdded":
            entry = answer_object(params.get("entry"))
            if entry.get("level") == "error" and entry.get("source") != "network":  # network: as requests
                self._add(ScriptError("console", cut_text(entry.get("text", "")), _text_or_none(entry.get("url")),
                                      _line(entry.get("lineNumber")), None))

    def _document(self, params: JsonObject, session: str | None) -> bool:
        return bool(self.headers) and not self.loaded and session == self.session and params.get(
            "resourceType") == "Document" and params.get("frameId") == self.frame

    def _add(self, error: ScriptError) -> None:
        if len(self.errors) < MAX_ITEMS:
            self.errors.append(error)
        else:
            self.dropped += 1

    def _exception(self, details: JsonObject) -> None:
        exception = answer_object(details.get("exception"))
        message = str(exception.get("description") or details.get("text") or "").split("\n", 1)[0]
        said = details.get("text")
        if said and said != "Uncaught" and str(said) not in message:
            message = f"{said} {message}".strip()
        frames = objects(answer_object(details.get("stackTrace")).get("callFrames"))
        url = details.get("url") or (frames[0].get("url") if frames else None)
        line = details.get("lineNumber", frames[0].get("lineNumber") if frames else None)
        column = details.get("columnNumber", frames[0].get("columnNumber") if frames else None)
        self._add(ScriptError("exception", cut_text(message or "Uncaught exception"), _text_or_none(url), _line(line),
                              _line(column)))

    def _network(self, method: str, params: JsonObject, page: bool) -> None:
        ident = str(params.get("requestId", ""))
        self.last_activity = time.monotonic()
        if method == "Network.requestWillBeSent":
            request = answer_object(params.get("request"))
            url = str(request.get("url", ""))
            redirect = object_or_empty(params.get("redirectResponse"))
            if params.get("type") == "Document" and (self.document_id in (None, ident)) and page:
                self.document_id = ident
                if redirect and self.hops:
                    last = self.hops[-1]
                    self.hops[-1] = Hop(last.method, last.target, to_int(redirect.get("status", 0)),
                                        str(redirect.get("statusText", "")), 0, 0.0, url)
                self.hops.append(Hop(str(request.get("method", "GET")), _target(url), 0, "", 0, 0.0))
                self.document_url = url
                self.in_flight.add(ident)
                return
            if not self.ours(url) or url.startswith(("data:", "blob:")) or not page:
                return
            if redirect and ident in self.requests:  # a redirected sub-request: its first hop is reported
                self.requests[ident].status = to_int(redirect.get("status", 0))
                self.requests[ident].done = True
                ident = f"{ident}+{len(self.order)}"
            if len(self.order) < MAX_ITEMS * 4:
                self.requests[ident] = BrowserRequest(str(request.get("method", "GET")), cut_text(url), _target(url),
                                                      str(params.get("type", "Other")))
                self.order.append(ident)
                self.in_flight.add(ident)
        elif method == "Network.responseReceived":
            response = answer_object(params.get("response"))
            status = to_int(response.get("status", 0))
            mime = str(response.get("mimeType", ""))
            if ident == self.document_id:
                self.document_status = (status, str(response.get("statusText", "")), mime)
            elif ident in self.requests:
                self.requests[ident].status, self.requests[ident].content_type = status, mime
        elif method == "Network.requestServedFromCache" and ident in self.requests:
            self.requests[ident].cached = True
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            self.in_flight.discard(ident)
            record = self.requests.get(ident)
            if method == "Network.loadingFailed":
                if ident == self.document_id:
                    self.navigation_error = str(params.get("errorText", ""))
                elif record is not None and not params.get("canceled"):
                    blocked = params.get("blockedReason") or ""
                    record.failure = cut_text(params.get("errorText", "")) + (f" ({blocked})" if blocked else "")
            if record is not None:
                record.done = True


def _arg(value: JsonObject) -> str:
    if "value" in value:
        return str(value["value"])
    return str(value.get("description") or value.get("type", ""))


def _text_or_none(value: object) -> str | None:
    """A string of Chromium's message, None when it sent none."""
    return value if isinstance(value, str) else None


def _line(value: object) -> int | None:
    return value + 1 if isinstance(value, int) else None  # the protocol counts from 0


def template_at(html: str, line: int) -> tuple[str, int] | None:
    """The innermost MyBB template open at `line` (1-based) of the page, and the line inside it: MyBB
    writes `<!-- start: NAME -->` on a line of its own before the template's first line."""
    starts = [0] + [m.end() for m in re.finditer("\n", html)]
    if not 1 <= line <= len(starts):
        return None
    limit = starts[line - 1]
    stack: list[tuple[str, int]] = []
    for match in _TEMPLATE_MARK.finditer(html, 0, limit):
        if match[1] == "start":
            stack.append((match[2], html.count("\n", 0, match.start()) + 1))
        elif stack and stack[-1][0] == match[2]:
            stack.pop()
    if not stack:
        return None
    name, start_line = stack[-1]
    return name, line - start_line


def _cookies(client: ForumClient) -> list[dict[str, object]]:
    out = []
    for cookie in client.jar:
        item: dict[str, object] = {"name": cookie.name, "value": cookie.value or "", "url": client.base + "/",
                                "path": cookie.path or "/", "httpOnly": cookie.has_nonstandard_attr("HttpOnly")}
        if cookie.expires:
            item["expires"] = float(cookie.expires)
        out.append(item)
    return out


def _ensure_session(client: ForumClient, request: PageRequest) -> str:
    """The role's session in the jar, logging in once when there is none; the area ("front" or "acp")."""
    area = "acp" if is_admin_cp(request.path, client.admin_dir) else "front"
    if client.role != GUEST and not client.has_cookie("adminsid" if area == "acp" else "mybbuser"):
        client.login_acp() if area == "acp" else client.login_front()
    return area


def shots_dir(config: Config) -> Path:
    files = config.files
    return config.repo_root / (SHOTS_DIR if files.plain else f"{SHOTS_DIR}.{files.key}")


def page_target(request: PageRequest, admin_dir: str) -> str:
    """Path and query as the browser asks for them (MyBB's debug report asked for on front-end pages)."""
    parts = urllib.parse.urlsplit(request.path if request.path.startswith("/") else "/" + request.path)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(request.query)
    if request.debug and not is_admin_cp(request.path, admin_dir):
        pairs.append(("debug", "1"))
    encoded = urllib.parse.urlencode(pairs)
    return parts.path + (f"?{encoded}" if encoded else "")


@dataclass(frozen=True)
class Launch:
    """How the page is loaded: which Chromium, kept warm for which server (None: started for this call),
    and the workbench's headers for the page's own document request (trace, queries, profile)."""

    executable: str
    server: ServerKey | None = None
    headers: dict[str, str] = field(default_factory=dict)


def check_page(config: Config, launch: Launch, client: ForumClient, request: PageRequest, before: Cursor,
               ) -> tuple[PageResponse, BrowserReport]:
    """Load the page in Chromium as the client's role; the sub-requests' PHP errors joined. The page's own
    hops carry their client ports, for the caller to read their errors as for any page request."""
    area = _ensure_session(client, request)
    target = page_target(request, client.admin_dir)
    root = str(config.mybb_root)
    response, report, html, png = _load(launch, client, request, target, root)
    if client.role != GUEST and _refused(client, area, html):  # the stored session was turned down
        notes = ["MyBB did not accept the stored session; logged in again and loaded the page again"]
        client.login_acp() if area == "acp" else client.login_front()
        before = take_cursor(config.log_file)  # the first load's lines must not be taken for the second's
        response, report, html, png = _load(launch, client, request, target, root, notes)
    response.logins = list(client.logins)
    response.seconds = report.seconds
    if png:
        report.screenshot = _keep_shot(shots_dir(config), png, client.role)
        if report.screenshot is None:
            report.notes.append("the screenshot could not be written beside the forum's state")
    join_errors(config, report, response, before, set(client.login_ports))
    return response, report


def join_errors(config: Config, report: BrowserReport, response: PageResponse, before: Cursor,
                skip: set[int]) -> None:
    """Client ports from php -S's request lines: the page's hops, and each script the page called (static
    files raise no PHP errors); then the PHP errors of each script (logs/request_lines.py)."""
    scripts = [r for r in report.requests if r.status and not r.cached and _is_script(r.target)]
    wanted = [(h.method, h.target) for h in response.hops] + [(r.method, r.target) for r in scripts]
    ports, entries = request_lines.ports_of(before, config.log_file, config.log_backups, wanted, skip)
    for hop, port in zip(response.hops, ports):
        hop.client_port = port or 0
    known: dict[int, BrowserRequest] = {}
    for record, port in zip(scripts, ports[len(response.hops):]):
        record.client_port = port
        record.errors_known = port is not None
        if port is not None:
            known[port] = record
    for port, groups in request_lines.errors_by_port(entries, known, config.mybb_root).items():
        known[port].errors = groups
    missing = sum(1 for r in scripts if r.client_port is None)
    if missing:
        report.notes.append(f"{missing} of the page's script requests had no request line in the server log; "
                            "their PHP errors are not known")


def _is_script(target: str) -> bool:
    path = target.split("?", 1)[0]
    return path.endswith((".php", "/"))


def _refused(client: ForumClient, area: str, html: str) -> bool:
    if area == "acp":
        return pages.is_acp_login(html)
    return pages.is_front_page(html) and not pages.front_logged_in(html)


def browser_address(client: ForumClient) -> str:
    """The forum's address as Chromium reaches it ("127.0.0.1:8022", "[::1]:8022")."""
    host = client.host if client.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"[{host}]:{client.port}" if ":" in host else f"{host}:{client.port}"


def _load(launch: Launch, client: ForumClient, request: PageRequest, target: str, root: str,
          notes: list[str] | None = None) -> tuple[PageResponse, BrowserReport, str, bytes]:
    address = browser_address(client)
    base = f"http://{address}"
    page = _Page((address.rsplit(":", 1)[0].strip("[]"), client.port), base + target, launch.headers)
    started = time.perf_counter()
    server = launch.server if launch.server is None or launch.server.address == address else None
    with browser_pool.browser_for(launch.executable, address, server, next_tab) as (browser, warm, spare, used), \
            _tab(browser, spare, used) as tab:
        browser.on_event = page
        page.browser = browser
        report = BrowserReport(browser.version, warm=warm, kept=used is not None)
        marks = {"start": time.perf_counter()}
        session = tab.session
        page.session, page.frame = session, tab.target
        page.sessions.add(session)
        browser.call("Network.setCookies", {"cookies": _cookies(client)}, session)
        marks["setup"] = time.perf_counter()
        navigated = browser.call("Page.navigate", {"url": base + target}, session, timeout=LOAD_TIMEOUT)
        if navigated.get("errorText"):
            page.navigation_error = str(navigated["errorText"])
        deadline = time.monotonic() + LOAD_TIMEOUT
        while not page.loaded and page.navigation_error is None and time.monotonic() < deadline:
            browser.pump(deadline - time.monotonic())
        if page.navigation_error is not None or not page.loaded:
            why = page.navigation_error or f"no load event within {LOAD_TIMEOUT:.0f} s"
            raise BrowserProblem(f"Chromium could not load {base + target}: {why}.",
                                 "Check the server (mybb_server_status); a request without `browser` shows what "
                                 "the forum answers.")
        marks["load"] = time.perf_counter()
        report.settled = _settle(browser, page)
        marks["settle"] = time.perf_counter()
        html = _body(browser, session, page.document_id) or ""
        for ident, record in page.requests.items():  # the one JSON check: xmlhttp.php, ajax=1, a JSON type
            reason = expected_json(record.target, record.content_type)
            if reason is not None and record.done and record.failure is None:
                record.verdict = judge_json(_body(browser, session, ident) or "", record.content_type, None,
                                            reason, root)
        if request.selector:
            counted = browser.call("Runtime.evaluate", {
                "expression": f"document.querySelectorAll({json.dumps(request.selector)}).length",
                "returnByValue": True}, session)
            value = (counted.get("result") or {}).get("value")
            report.selector_count = value if isinstance(value, int) else None
        marks["collect"] = time.perf_counter()
        shot = browser.call("Page.captureScreenshot", {"format": "png", "optimizeForSpeed": True}, session)
        marks["screenshot"] = time.perf_counter()
        try:
            png = base64.b64decode(str(shot.get("data", "")))
        except ValueError:
            png = b""
    report.seconds = time.perf_counter() - started
    marks["close"] = time.perf_counter()
    report.headed = page.headed
    previous = started
    for name, moment in marks.items():  # where the time went, for bench/browser.py
        report.timings[name], previous = moment - previous, moment
    report.script_errors, report.dropped, report.blocked = page.errors, page.dropped, page.blocked
    for error in report.script_errors:
        if error.url and error.line and error.url.split("#", 1)[0] == page.document_url.split("#", 1)[0]:
            named = template_at(html, error.line)
            if named is not None:
                error.template, error.template_line = named
    report.requests = [r for r in (page.requests[k] for k in page.order)
                       if not (r.target.split("?", 1)[0] == "/favicon.ico" and (r.status == 404 or r.failure))]
    if not report.settled:
        report.notes.append(f"requests were still in flight {SETTLE_MAX:.0f} s after the load event; what they "
                            "did later is not in this answer")
    return _response(client, request, page, html, notes or []), report, html, png


@dataclass(frozen=True)
class Tab:
    """A tab in a browser context of its own (cookies, storage, cache), its domains on, at about:blank."""

    context: str
    target: str
    session: str


def open_tab(browser: Chromium) -> Tab:
    """A fresh context and tab. The context is given the browser's proxy again (a new context would otherwise
    not block other hosts at the network level). A warm browser makes the next call's tab in advance."""
    proxy = browser.proxy
    made = browser.call("Target.createBrowserContext", {"disposeOnDetach": False, **({
        "proxyServer": proxy, "proxyBypassList": f"<-loopback>;{browser.forum_address}"} if proxy else {})})
    context = str(made.get("browserContextId", ""))
    try:
        target = str(browser.call("Target.createTarget", {"url": "about:blank", "browserContextId": context})
                     ["targetId"])
        session = str(browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"])
        browser.call_all([
            ("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session),
            ("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True}, session),
            *((domain, None, session) for domain in ("Page.enable", "Runtime.enable", "Network.enable", "Log.enable"))])
    except BaseException:
        _dispose(browser, context)
        raise
    return Tab(context, target, session)


def _dispose(browser: Chromium, context: str) -> None:
    if browser.pid is not None:
        browser.call("Target.disposeBrowserContext", {"browserContextId": context})


def next_tab(browser: Chromium, used: list[str]) -> Tab:
    """After a warm call, in the background: the used contexts disposed, the next call's tab made."""
    while used:
        _dispose(browser, used.pop())
    return open_tab(browser)


@contextlib.contextmanager
def _tab(browser: Chromium, spare: Tab | None, used: list[str] | None) -> Iterator[Tab]:
    """The tab of this call (the one made in advance, or a new one). Its context is never used again: a warm
    browser disposes of it after the answer (`used`), a cold one is closed whole."""
    tab = spare or open_tab(browser)
    try:
        yield tab
    finally:
        if used is not None:
            used.append(tab.context)


def _settle(browser: Chromium, page: _Page) -> bool:
    """After the load event: no request in flight for SETTLE_QUIET seconds (bounded by SETTLE_MAX)."""
    deadline = time.monotonic() + SETTLE_MAX
    while time.monotonic() < deadline:
        quiet_for = time.monotonic() - page.last_activity
        if not page.in_flight and quiet_for >= SETTLE_QUIET:
            return True
        browser.pump(min(0.05, max(0.0, SETTLE_QUIET - quiet_for)) if not page.in_flight else 0.05)
    return not page.in_flight


def _body(browser: Chromium, session: str, ident: str | None) -> str | None:
    if ident is None:
        return None
    try:
        got = browser.call("Network.getResponseBody", {"requestId": ident.split("+", 1)[0]}, session)
    except BrowserProblem:
        return None
    body = str(got.get("body", ""))
    if got.get("base64Encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return body[:MAX_BODY_CHARS]


def _response(client: ForumClient, request: PageRequest, page: _Page, html: str, notes: list[str]) -> PageResponse:
    status, reason, content_type = page.document_status or (0, "", "text/html")
    if page.hops:
        last = page.hops[-1]
        page.hops[-1] = Hop(last.method, last.target, status, reason, 0, 0.0)
    target = page.hops[-1].target if page.hops else _target(page.document_url)
    admin_cp = is_admin_cp(target, client.admin_dir)
    page_error = None
    if content_type == "text/html":
        page_error = pages.detect_error(html, admin_cp=admin_cp) or pages.detect_stop(html, status)
    return PageResponse(request, page.document_url, status, reason, 0.0, list(page.hops), html, content_type,
                        page_error, [], list(notes))


def _keep_shot(folder: Path, png: bytes, role: str) -> Path | None:
    """The screenshot written (0600, never through a link) into the forum's browser folder, which keeps
    the newest SHOTS_KEPT."""
    try:
        ensure_private_dir(folder, 0o700)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        safe_role = re.sub(r"[^A-Za-z0-9_-]", "_", role)[:40]
        path = folder / f"shot-{stamp}-{safe_role}-{os.urandom(3).hex()}.png"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(png)
        shots = sorted(folder.glob("shot-*.png"), key=lambda p: p.stat().st_mtime)
        for old in shots[:-SHOTS_KEPT]:
            old.unlink(missing_ok=True)
        return path.resolve()
    except OSError:  # UnsafeFile too: a link or another user's folder where the screenshots go
        return None
