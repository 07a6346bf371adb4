"""A forum page as a guest, a member or the admin, like a browser would load it, and the errors it raised.

- Logs in the way a browser does: the front end through `member.php?action=do_login`, the Admin CP
  through its own login form (`admin/index.php`, `do=login`): two logins, two sessions.
- One cookie jar per role and forum, in `.mybb-server-sessions/` beside the state file (directory
  0700, files 0600, written without following symlinks; a jar not owned by us is ignored).
- A request with side effects (every POST, and Admin CP GETs that carry an `action`) is sent once:
  just before it, a page MyBB renders for the session proves the session (else a fresh login) and
  gives the `my_post_key` MyBB will check. Nothing is ever re-sent; MyBB's redirect page after it is
  its success, followed (as a GET) like a Location header.
- A plain GET is loaded again once after a fresh login when MyBB did not accept the session (the Admin
  CP login page came back, or a front-end page shows a logged-in role as a guest).
- Credentials come from configuration (see `credentials_for`) and are never echoed.

The errors of exactly this request are tied by its own client ports (each hop of a redirect chain
is a connection of its own): php -S logs `PORT Accepted`, the errors the script raised, then
`PORT [status]: METHOD PATH` (see logs/digest.py).
"""

from __future__ import annotations

import dataclasses
import http.client
import http.cookiejar
import re
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING, Protocol

from ..errors import InvalidArgument
from . import pages
from .php import PLUGIN_NAME
from .sessions import GUEST, LoginProblem, cookie_from_dict, cookie_to_dict

if TYPE_CHECKING:
    from .sessions import Credentials, SessionStore


USER_AGENT = "mybb-mcp (page request)"
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_REDIRECTS = 10
TIMEOUT = 60.0
MAX_FIELDS = 100
MAX_FIELD_CHARS = 65_536
MAX_PATH_CHARS = 2048
MAX_ROLE_CHARS = 120
POST_KEY_FIELD = "my_post_key"
_VOLATILE_COOKIES = ("mybb[lastvisit]", "mybb[lastactive]")


# --- what to request --------------------------------------------------------------------------------

@dataclass(frozen=True)
class PageRequest:
    """A page to load. `role`: guest, admin, or a member's username."""

    path: str
    method: str = "GET"
    role: str = GUEST
    query: tuple[tuple[str, str], ...] = ()
    form: tuple[tuple[str, str], ...] = ()
    follow_redirects: bool = True
    excerpt: int = 0  # characters of page text to return (0: none)
    selector: str | None = None
    contains: str | None = None
    debug: bool = False
    trace: bool = False  # the hooks, plugin functions and templates it ran (workbench/request_trace.py)
    plugins: str | tuple[str, ...] | None = None  # "none", or codenames left out for this request only
    queries: bool = False  # its SQL statements, callers, hooks, plugins (workbench/request_costs.py)
    profile: bool = False  # the wall time of each plugin function per hook
    slow_query_ms: int = 50  # a statement slower than this is marked slow
    browser: bool = False  # load it in headless Chromium (workbench/browser.py)

    def validated(self) -> PageRequest:
        return validate_request(self)


def _fields(name: str, items: object) -> tuple[tuple[str, str], ...]:
    if isinstance(items, Mapping):
        items = list(items.items())
    if not isinstance(items, (list, tuple)):
        raise InvalidArgument(f"{name} must be a list of name=value fields.",
                              f"Pass {name} as {{\"name\": \"value\"}}.")
    if len(items) > MAX_FIELDS:
        raise InvalidArgument(f"{name} has {len(items)} fields; at most {MAX_FIELDS} are sent.",
                              "Send only the fields the page needs.")
    out = []
    for item in items:
        if not isinstance(item, (list, tuple)) or len(item) != 2 or not all(isinstance(x, str) for x in item):
            raise InvalidArgument(f"{name} holds {item!r}, which is not a name and a text value.",
                                  "Give every field a name and a text value.")
        key, value = item
        if not key or len(key) > 200 or len(value) > MAX_FIELD_CHARS:
            raise InvalidArgument(f"{name} field {key[:40]!r} has an empty or too long name or value.",
                                  f"Names up to 200 characters, values up to {MAX_FIELD_CHARS}.")
        out.append((key, value))
    return tuple(out)


def validate_request(request: PageRequest) -> PageRequest:
    path = request.path
    if not isinstance(path, str) or not path.strip():
        raise InvalidArgument("path is empty.", "Pass a forum path such as `index.php` or `admin/index.php`.")
    if len(path) > MAX_PATH_CHARS or any(ord(c) < 32 or c in " \x7f" for c in path):
        raise InvalidArgument("path holds spaces, control characters or is too long.",
                              "Pass the path as it appears in a URL (percent-encoded), query fields in `query`.")
    parts = urllib.parse.urlsplit(path)
    if parts.scheme or parts.netloc or path.startswith("//"):
        raise InvalidArgument(f"path {path[:80]!r} names a site; only this forum's paths are requested.",
                              "Pass the path without scheme and host, e.g. `showthread.php?tid=1`.")
    if ".." in parts.path.split("/"):
        raise InvalidArgument("path climbs out of the forum with '..'.", "Pass a path inside the forum.")
    if request.method not in ("GET", "POST"):
        raise InvalidArgument(f"method must be GET or POST, not {request.method!r}.", "Use GET or POST.")
    role = request.role
    if not isinstance(role, str) or not role.strip() or len(role) > MAX_ROLE_CHARS or any(
            ord(c) < 32 for c in role):
        raise InvalidArgument("role is empty or not a user name.", "Pass guest, admin, or a member's user name.")
    query = _fields("query", request.query)
    form = _fields("form", request.form)
    if form and request.method != "POST":
        raise InvalidArgument("form fields are sent with POST only.", "Pass method POST, or put the fields in query.")
    if not isinstance(request.excerpt, int) or isinstance(request.excerpt, bool) or not 0 <= request.excerpt <= 20_000:
        raise InvalidArgument("excerpt must be a number of characters from 0 to 20000.", "e.g. excerpt 2000.")
    if request.selector is not None and pages.parse_selector(request.selector) is None:
        raise InvalidArgument(f"selector {request.selector[:80]!r} is not a simple selector.",
                              "Use tag, #id, .class or tag#id.class (no spaces or combinators).")
    if request.contains is not None and (not request.contains or len(request.contains) > 1000):
        raise InvalidArgument("contains must be 1 to 1000 characters of text.", "Pass the text to look for.")
    slow = request.slow_query_ms
    if not isinstance(slow, int) or isinstance(slow, bool) or not 1 <= slow <= 600_000:
        raise InvalidArgument("slow_query_ms must be a whole number of milliseconds from 1 to 600000.",
                              "e.g. slow_query_ms 50 (the default).")
    browser = request.browser is True
    if browser and (request.method != "GET" or request.plugins is not None):
        # trace, queries and profile ride on the page's own document request (workbench/browser.py); plugins
        # left out would hold for that request only, not for the scripts and AJAX calls the page makes.
        raise InvalidArgument("browser loads a page with GET, with every plugin on (no `plugins`).",
                              "Ask for the browser check with GET (trace, queries and profile combine with it), "
                              "and for a POST or plugins left out in a request without `browser`.")
    return PageRequest(path.strip(), request.method, role.strip(), query, form, bool(request.follow_redirects),
                       request.excerpt, request.selector, request.contains, bool(request.debug),
                       request.trace is True, validate_plugins_off(request.plugins), request.queries is True,
                       request.profile is True, slow, browser=browser)


def is_admin_cp(path: str, admin_dir: str = "admin") -> bool:
    first = urllib.parse.urlsplit(path).path.lstrip("/").split("/", 1)[0]
    return first == admin_dir


# --- HTTP ------------------------------------------------------------------------------------------------

@dataclass
class Hop:
    """One HTTP exchange of the request (a redirect chain has several)."""

    method: str
    target: str  # path + query as sent
    status: int
    reason: str
    client_port: int
    seconds: float
    location: str | None = None


@dataclass
class _Response:
    status: int
    reason: str
    headers: Message
    body: bytes
    client_port: int
    seconds: float

    def text(self) -> str:
        charset = self.headers.get_content_charset() or "utf-8"
        try:
            return self.body.decode(charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")


class ForumClient:
    """HTTP to one forum as one role, with its jar."""

    def __init__(self, host: str, port: int, role: str, store: SessionStore, *, admin_dir: str = "admin",
                 credentials: Callable[[], Credentials] | None = None, timeout: float = TIMEOUT,
                 secret_pin: str = "") -> None:
        self.host, self.port, self.role, self.store = host, port, role, store
        self.admin_dir = admin_dir
        self.secret_pin = secret_pin  # $config['secret_pin'] of the forum: sent with the Admin CP login
        self._credentials = credentials  # callable -> Credentials, asked only when a login is needed
        self.timeout = timeout
        self.jar = http.cookiejar.CookieJar()
        self.post_keys: dict[str, str] = {}  # "front" / "acp" -> the key MyBB gave this session
        self.user: str | None = None
        self.logins: list[str] = []  # what logins this request needed, for the answer
        self.login_ports: list[int] = []
        self.login_hops: list[Hop] = []  # the exchanges of the logins, to find their errors in the log
        self.extra_headers: dict[str, str] = {}  # the workbench's, for mybb_server_request (trace, plugins off)
        self.files: list[str] | None = None  # the next POST goes as multipart/form-data, these file inputs empty
        self._saved_state = self._session_state() if self._load() else None

    # -- jar persistence
    def _load(self) -> bool:
        """Fill the jar from the role's file; whether there was one."""
        data = self.store.load(self.role)
        user, cookies = data.get("user"), data.get("cookies", [])
        self.user = user if isinstance(user, str) else None
        for item in cookies if isinstance(cookies, list) else []:
            cookie = cookie_from_dict(item) if isinstance(item, dict) else None
            if cookie is not None and not cookie.is_expired():
                self.jar.set_cookie(cookie)
        keys = data.get("post_keys")
        if isinstance(keys, dict):
            self.post_keys = {k: v for k, v in keys.items() if isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32}", v)}
        return bool(data)

    def _session_state(self) -> tuple[object, ...]:
        """What a saved jar must keep: MyBB's session cookies and keys (not `mybb[lastvisit]`-style
        timestamps MyBB refreshes on every page)."""
        cookies = sorted((c.name, c.value, c.path) for c in self.jar if c.name not in _VOLATILE_COOKIES)
        return self.user, tuple(cookies), tuple(sorted(self.post_keys.items()))

    def save(self) -> None:
        """Write the jar when the session changed (a write per page would cost more than the page's
        own log reading)."""
        state = self._session_state()
        if state == self._saved_state:
            return
        data = {"user": self.user, "cookies": [cookie_to_dict(c) for c in self.jar],
                "post_keys": self.post_keys, "saved": time.time()}
        self.store.save(self.role, data)
        self._saved_state = state

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def has_cookie(self, name: str) -> bool:
        return any(c.name == name and not c.is_expired() for c in self.jar)

    def drop_cookies(self, *names: str) -> None:
        for cookie in list(self.jar):
            if cookie.name in names:
                self.jar.clear(cookie.domain, cookie.path, cookie.name)

    # -- one exchange
    def send(self, method: str, target: str, form: Sequence[tuple[str, str]] | None = None) -> _Response:
        url = self.base + target
        request = urllib.request.Request(url, method=method)
        self.jar.add_cookie_header(request)
        headers = {"User-Agent": USER_AGENT, "Accept": "text/html,*/*", "Connection": "close"}
        cookie = request.get_header("Cookie") or request.unredirected_hdrs.get("Cookie")
        if cookie:
            headers["Cookie"] = cookie
        headers.update(self.extra_headers)
        body = None
        if method == "POST" and self.files is not None:
            body, headers["Content-Type"] = _multipart(list(form or []), self.files)
            headers["Origin"] = self.base
            self.files = None  # once: MyBB's redirect after it is a GET
        elif method == "POST":
            body = urllib.parse.urlencode(list(form or [])).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.base
        started = time.perf_counter()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.connect()
            client_port = connection.sock.getsockname()[1]
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_BODY_BYTES + 1)[:MAX_BODY_BYTES]
            result = _Response(response.status, response.reason, response.msg, data, client_port,
                               time.perf_counter() - started)
        finally:
            connection.close()
        self.jar.extract_cookies(response, request)  # it reads only response.info(): the headers kept above
        return result

    # -- logins
    def _creds(self) -> Credentials:
        if self._credentials is None:
            raise LoginProblem(f"No credentials for {self.role!r}.", "Configure them (see the docs).")
        return self._credentials()

    def _login_exchange(self, method: str, target: str, form: Sequence[tuple[str, str]] | None = None) -> _Response:
        answer = self.send(method, target, form)
        self.login_ports.append(answer.client_port)
        self.login_hops.append(Hop(method, target, answer.status, answer.reason, answer.client_port, answer.seconds))
        return answer

    def login_front(self) -> None:
        """member.php?action=login for a session and its key, then do_login as a browser posts it. No key is
        kept from do_login's page: it was rendered for the guest (the next request fetches the member's)."""
        creds = self._creds()
        page = self._login_exchange("GET", "/member.php?action=login")
        key = pages.find_post_key(page.text()) or ""
        form = [("action", "do_login"), ("url", ""), ("username", creds.username), ("password", creds.password),
                ("remember", "yes"), (POST_KEY_FIELD, key)]
        done = self._login_exchange("POST", "/member.php", form)
        self.post_keys.pop("front", None)
        if not self.has_cookie("mybbuser"):
            text = done.text()
            said = pages.detect_error(text, admin_cp=False)
            if said is not None and said.kind in ("error", "inline_error") and done.status < 500:
                raise LoginProblem(f"MyBB refused the front-end login of {creds.username!r} ({creds.origin}): "
                                   f"MyBB said {said.message!r}.", _refusal_hint(said.message))
            raise _broken_login("front-end", creds, done, said or pages.detect_stop(text, done.status))
        self.user = creds.username
        self.logins.append(f"front end as {creds.username}")

    def login_acp(self) -> None:
        """The Admin CP login form: do=login, username, password, and the forum's secret PIN if it has one."""
        creds = self._creds()
        self.drop_cookies("adminsid")
        form = [("do", "login"), ("username", creds.username), ("password", creds.password)]
        if self.secret_pin:
            form.append(("pin", self.secret_pin))
        done = self._login_exchange("POST", f"/{self.admin_dir}/index.php", form)
        text = done.text()
        if not self.has_cookie("adminsid") or pages.is_acp_login(text):
            error = pages.detect_error(text, admin_cp=True)
            if error is not None and error.kind in ("acp_login", "acp_pin") and done.status < 500:
                pin = (" The forum's inc/config.php sets a secret PIN, which was sent." if self.secret_pin else
                       " The login form asks for a secret PIN, but inc/config.php sets none."
                       if error.kind == "acp_pin" else "")
                raise LoginProblem(f"MyBB refused the Admin CP login of {creds.username!r} ({creds.origin}): "
                                   f"MyBB said {error.message!r}.{pin}",
                                   _refusal_hint(error.message, "MYBB_ADMIN_USER / MYBB_ADMIN_PASSWORD"
                                                 + (" and $config['secret_pin'] in inc/config.php"
                                                    if error.kind == "acp_pin" or self.secret_pin else "")))
            raise _broken_login("Admin CP", creds, done, error or pages.detect_stop(text, done.status))
        self.user = creds.username
        self.post_keys["acp"] = pages.find_post_key(text) or self.post_keys.get("acp", "")
        self.logins.append(f"Admin CP as {creds.username}")

    def key_page(self, area: str, target: str | None = None) -> str:
        """The page a session's my_post_key is read from, as MyBB renders it for this session now."""
        target = target or (f"/{self.admin_dir}/index.php" if area == "acp" else "/index.php")
        page = self.send("GET", target)
        self.login_ports.append(page.client_port)
        text = page.text()
        key = pages.find_post_key(text)
        if key:
            self.post_keys[area] = key
        return text


def _multipart(fields: Sequence[tuple[str, str]], files: Sequence[str]) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser sends a form with file inputs and no file chosen."""
    boundary = "----mybb-mcp-" + secrets.token_hex(12)

    def quoted(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")

    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{quoted(name)}"\r\n\r\n{value}\r\n'
             for name, value in fields]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{quoted(name)}"; filename=""\r\n'
              "Content-Type: application/octet-stream\r\n\r\n\r\n" for name in files]
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"


def _refusal_hint(said: str, settings: str = "the username and password configured for this role") -> str:
    if pages.says_bad_credentials(said) or said == "Please Login":
        return f"Check {settings}."
    return "Act on MyBB's message above (it is not about the password: a ban, a lockout, a plugin's error ...)."


def _broken_login(where: str, creds: Credentials, done: _Response, said: pages.PageError | None) -> LoginProblem:
    """The login request failed as a page: MyBB never said whether the credentials are right."""
    shown = f" MyBB showed {said.title}: {said.message!r}." if said else ""
    return LoginProblem(
        f"The {where} login page broke: the login request answered {done.status} {done.reason} without a "
        f"session and without MyBB's word on the credentials of {creds.username!r}.{shown} Its errors are below",
        "Fix what the login request raised (often a plugin's login hook), then request the page again; the "
        "credentials were not judged.", broke=True)


# --- the flow ------------------------------------------------------------------------------------------

@dataclass
class PageResponse:
    """What the browser ended with, before the log is read."""

    request: PageRequest
    url: str
    status: int
    reason: str
    seconds: float  # the request's own exchanges (logins and key fetches not counted)
    hops: list[Hop]
    body: str
    content_type: str
    page_error: pages.PageError | None
    logins: list[str]
    notes: list[str]
    redirect_not_followed: str | None = None
    redirect_page: pages.RedirectPage | None = None  # MyBB's redirect ("thank you") page on the way
    after_post: bool = False
    # `debug` with selector/contains/excerpt on a GET: MyBB's debug report replaces the page for users who
    # may see it, so the page is loaded plainly (what those are checked against) and the report once more
    debug_body: str | None = None
    debug_ports: list[int] | None = None
    form_added: list[str] | None = None  # fields of the page's own form sent with a POST (the caller's win)
    form_page: str | None = None  # the page those fields were read from


def _target(path: str, query: Sequence[tuple[str, str]]) -> str:
    parts = urllib.parse.urlsplit(path if path.startswith("/") else "/" + path)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(query)
    encoded = urllib.parse.urlencode(pairs)
    return parts.path + (f"?{encoded}" if encoded else "")


def _needs_key(request: PageRequest, admin_cp: bool, fields: Sequence[tuple[str, str]]) -> bool:
    # The query may come as arguments or written into the path (`admin/index.php?...&action=activate`).
    in_path = urllib.parse.parse_qsl(urllib.parse.urlsplit(request.path).query, keep_blank_values=True)
    if any(name == POST_KEY_FIELD for name, _ in [*fields, *in_path]):
        return False
    if request.method == "POST":
        return True
    # Admin CP actions by link (activate a plugin, delete ...) check the key on GET too.
    return admin_cp and any(name == "action" for name, _ in [*request.query, *in_path])


def _same_site(client: ForumClient, current: str, location: str) -> str | None:
    """A redirect's target (relative to the page that sent it) as a path on this forum, or None when it
    leaves it."""
    absolute = urllib.parse.urljoin(client.base + current, location)
    parts = urllib.parse.urlsplit(absolute)
    if parts.scheme != "http" or parts.hostname not in (client.host, "localhost", "127.0.0.1") or (
            parts.port or 80) != client.port:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _login_needed(client: ForumClient, area: str) -> bool:
    if client.role == GUEST:
        return False
    if area == "acp":
        return not client.has_cookie("adminsid")
    return not client.has_cookie("mybbuser")


def _session_refused(client: ForumClient, area: str, text: str) -> bool:
    if client.role == GUEST:
        return False
    if area == "acp":
        return pages.is_acp_login(text)
    return pages.is_front_page(text) and not pages.front_logged_in(text)


def _prepare_session(client: ForumClient, area: str, notes: list[str],
                     form_page: str | None = None) -> tuple[str | None, str | None]:
    """A page MyBB renders for this session now: proves it (else a fresh login), gives the key to send.
    Before a front-end POST, that page is the one a browser would have posted from (`form_page`: the
    same path and query, as a GET), whose form's own fields are sent too; (key, that page's HTML if it
    was loaded and rendered for the session)."""
    if form_page is not None:
        text = client.key_page(area, form_page)
        if not pages.find_post_key(text) or _session_refused(client, area, text):
            form_page = None  # not a page MyBB rendered for this session: the usual key page decides
    if form_page is None:
        text = client.key_page(area)
    if client.role != GUEST and _session_refused(client, area, text):
        notes.append("MyBB did not accept the stored session; logged in again before sending the request")
        client.login_acp() if area == "acp" else client.login_front()
        text = client.key_page(area)
        form_page = None
    return pages.find_post_key(text), text if form_page is not None else None


def _query_of(target: str) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(urllib.parse.urlsplit(target).query, keep_blank_values=True)


def _with_page_form(page: str, target: str, fields: list[tuple[str, str]]) -> tuple[
        list[tuple[str, str]], list[str], pages.PageForm | None]:
    """The caller's fields over those of the page's own form posting to `target`'s path (what a browser
    sends with it), the names added, and the form. The caller's `action` picks the form when several post
    there."""
    path = urllib.parse.urlsplit(target).path
    action = next((value for name, value in fields if name == "action"), None)
    form = pages.page_form(page, path, action)
    if form is None:
        return fields, [], None
    given = {name for name, _ in fields}
    added = [(name, value) for name, value in form.fields if name not in given and name != POST_KEY_FIELD]
    key = [(name, value) for name, value in form.fields if name == POST_KEY_FIELD and name not in given]
    names = [name for name, _ in added] + [f"{name} (no file)" for name in form.files if name not in given]
    return added + fields + key, list(dict.fromkeys(names)), form


def load_page(client: ForumClient, request: PageRequest) -> PageResponse:
    """Log in if needed, send the request (with my_post_key where MyBB wants it), follow redirects. A
    request with side effects is sent exactly once (see the module's notes); a plain GET is loaded again
    once after a fresh login when MyBB turned the stored session down."""
    admin_cp = is_admin_cp(request.path, client.admin_dir)
    area = "acp" if admin_cp else "front"
    query = list(request.query)
    notes: list[str] = []
    separate_debug = False
    if request.debug:
        if admin_cp:
            notes.append("MyBB has no debug report for Admin CP pages; debug applies to front-end pages.")
        elif request.method == "GET" and (request.selector or request.contains or request.excerpt):
            separate_debug = True  # MyBB's debug report replaces the page the selector is asked of
        else:
            query.append(("debug", "1"))
            if request.selector or request.contains or request.excerpt:
                notes.append("with debug, MyBB shows its debug report instead of the page to users who may see "
                             "it: selector, contains and excerpt were checked against what came back (a POST is "
                             "sent once, so the page was not loaded a second time without debug)")
    if _login_needed(client, area):
        client.login_acp() if area == "acp" else client.login_front()
    fields = list(request.form)
    needs_key = _needs_key(request, admin_cp, fields + query)
    once = request.method == "POST" or needs_key
    added: list[str] | None = None
    form_page: str | None = None
    if once and (needs_key or client.role != GUEST):
        form_page = _target(request.path, query) if request.method == "POST" and not admin_cp else None
        if form_page is not None and any(n == "action" and v.startswith("do_") for n, v in _query_of(form_page)):
            form_page = None  # a `do_` action in the URL itself: never sent as a GET, not even to read a form
        key, page = _prepare_session(client, area, notes, form_page)
        if page is None:
            form_page = None
        else:
            fields, added, form = _with_page_form(page, form_page or "", fields)
            if form is not None and form.multipart:
                client.files = [name for name in form.files if name not in {n for n, _ in request.form}]
            if not added:
                form_page = None
        if needs_key and not any(name == POST_KEY_FIELD for name, _ in fields):
            if key is None:
                notes.append(f"no my_post_key on the {area} page MyBB served this session; sent without one")
            (fields if request.method == "POST" else query).append((POST_KEY_FIELD, key or ""))
    response = _exchange(client, request, _target(request.path, query), fields)
    if added:
        response.form_added, response.form_page = added, form_page
    if once:
        refused = response.page_error is not None and response.page_error.kind in ("post_key", "acp_login")
        if refused or (client.role != GUEST and _session_refused(client, area, response.body)):
            notes.append("MyBB turned this request down (session or my_post_key); it was not sent again, as a "
                         "request with side effects is sent once: send it again to retry")
    elif client.role != GUEST and _session_refused(client, area, response.body):
        notes.append("MyBB did not accept the stored session; logged in again and loaded the page again")
        client.login_acp() if area == "acp" else client.login_front()
        response = _exchange(client, request, _target(request.path, query), fields)
    if separate_debug:
        report = client.send("GET", _target(request.path, [*query, ("debug", "1")]))
        response.debug_body, response.debug_ports = report.text(), [report.client_port]
        response.notes.append("with debug, MyBB replaces the page with its debug report for users who may see it: "
                              "the page was loaded plainly (selector, contains and excerpt are of it) and the "
                              "report with a second GET (its errors are not this answer's)")
    key = pages.find_post_key(response.body)
    if key and not response.after_post:  # a page rendered after a POST may predate a session change
        final = urllib.parse.urlsplit(response.url).path
        client.post_keys["acp" if is_admin_cp(final, client.admin_dir) else "front"] = key
    response.logins = list(client.logins)
    response.notes = notes + response.notes
    return response


def _exchange(client: ForumClient, request: PageRequest, target: str, form: list[tuple[str, str]]) -> PageResponse:
    """One request and the redirects it leads to (Location, or MyBB's redirect page), as GETs."""
    method, hops, seconds = request.method, [], 0.0
    not_followed = None
    redirect: pages.RedirectPage | None = None
    while True:
        answer = client.send(method, target, form if method == "POST" else None)
        seconds += answer.seconds
        location = answer.headers.get("Location")
        hops.append(Hop(method, target, answer.status, answer.reason, answer.client_port, answer.seconds, location))
        if not (300 <= answer.status < 400 and location):
            page = pages.redirect_page(answer.text()) if answer.status == 200 else None
            if page is None:
                break
            redirect, location = redirect or page, page.url
        following = _same_site(client, target, location)
        if not request.follow_redirects or following is None or len(hops) > MAX_REDIRECTS:
            not_followed = location
            break
        if answer.status in (200, 301, 302, 303):
            method, form = "GET", []
        target = following
    text = answer.text()
    admin_cp = is_admin_cp(target, client.admin_dir)
    content_type = answer.headers.get_content_type()
    page_error = None
    if content_type == "text/html":
        page_error = pages.detect_error(text, admin_cp=admin_cp) or (
            None if target.split("?", 1)[0].endswith("/xmlhttp.php") else pages.detect_stop(text, answer.status))
    if page_error is not None and page_error.post_to:  # the form's action, as a path from the forum's root
        on_site = _same_site(client, target, page_error.post_to)  # a form posting off-site names no path here
        page_error = dataclasses.replace(page_error, post_to=on_site.lstrip("/") if on_site else None)
    return PageResponse(request, client.base + target, answer.status, answer.reason, seconds, hops, text,
                        content_type, page_error, [], [], not_followed, redirect,
                        after_post=request.method == "POST")


# --- what the page holds, as asked -------------------------------------------------------------------

class InspectedPage(Protocol):
    """The parts of a PageResult (results.py) inspect_page fills."""

    request: PageRequest
    excerpt: str | None
    excerpt_cut: bool
    selector_count: int | None
    contains_found: str | None
    debug: pages.DebugReport | None
    flash: str | None
    refresh_to: str | None


def inspect_page(result: InspectedPage, response: PageResponse) -> None:
    """Fill the on-demand parts of a PageResult: excerpt, selector, contains, debug report, MyBB's message."""
    request, text = result.request, response.body
    is_html = response.content_type in ("text/html", "application/xhtml+xml")
    if request.excerpt:
        if is_html:
            result.excerpt, result.excerpt_cut = pages.excerpt(text, request.excerpt)
        else:
            plain = pages.plain_text(text[: request.excerpt * 2])
            result.excerpt, result.excerpt_cut = plain[: request.excerpt], len(plain) > request.excerpt
    if request.selector:
        result.selector_count = pages.count_selector(text, request.selector) if is_html else 0
    if request.contains:
        needle = request.contains.lower()
        if needle in pages.plain_text(text).lower():
            result.contains_found = "text"
        elif needle in text.lower():
            result.contains_found = "html"
        else:
            result.contains_found = ""
    if request.debug:
        result.debug = pages.parse_debug(response.debug_body if response.debug_body is not None else text)
    if is_html:
        result.flash = pages.flash_message(text)
        result.refresh_to = pages.meta_refresh(text) if response.redirect_page is None else None


MAX_PLUGINS_OFF = 50


def validate_plugins_off(value: object) -> str | tuple[str, ...] | None:
    """`plugins` of a request: None, "none" (all off), or codenames to leave out."""
    if value is None or value == "none":
        return value
    if isinstance(value, (list, tuple)) and value and len(value) <= MAX_PLUGINS_OFF and all(
            isinstance(name, str) and PLUGIN_NAME.fullmatch(name) for name in value):
        return tuple(dict.fromkeys(value))
    raise InvalidArgument("plugins must be \"none\" or a list of 1-50 plugin codenames.",
                          "e.g. plugins \"none\", or [\"myplugin\"] (see mybb_forum_plugins action list).")
