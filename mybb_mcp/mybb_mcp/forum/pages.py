"""What a MyBB page says: title, MyBB's error pages, my_post_key, login state, excerpt, selectors, debug report.

Pure functions on the page's HTML. Page text comes from forum visitors and plugins: it is data,
returned as plain text (tags stripped, entities decoded, control characters removed), never markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

MAX_MESSAGE_CHARS = 600

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")

# my_post_key: `var my_post_key = "…";` in every front-end page, a hidden input in forms and the Admin CP.
_POST_KEY = re.compile(
    r"""my_post_key\s*=\s*["']([0-9a-f]{32})["']|name=["']my_post_key["']\s+value=["']([0-9a-f]{32})["']"""
    r"""|my_post_key=([0-9a-f]{32})"""
)
# The front end's welcome block links to logout with the user's logoutkey; guests get a login link.
_LOGGED_IN = re.compile(r"action=logout&(?:amp;)?logoutkey=")
_ACP_LOGIN = re.compile(r"""<input[^>]+name=["']do["'][^>]+value=["']login["']""", re.IGNORECASE)
_ACP_LOGGED_IN = re.compile(r"""class=["']logged_in_as["']""")
_ACP_PIN = re.compile(r"""<input[^>]+name=["']pin["']""", re.IGNORECASE)

# MyBB's own error output (inc/class_error.php output_error): the "MyBB SQL Error" / "Internal Error" page.
_FATAL_PAGE = re.compile(r"<h2>(MyBB SQL Error|MyBB Internal Error)</h2>\s*<div id=\"error\">(.*?)<p id=\"footer\">",
                         re.DOTALL)
# Front-end templates, with template comments (MyBB's default) or by the default templates' shape.
_TEMPLATE_START = re.compile(r"<!-- start: (error_nopermission(?:_loggedin)?|error|redirect) -->")
_ERROR_TABLE = re.compile(
    r"<td class=\"thead\"><span class=\"smalltext\"><strong>(.*?)</strong></span></td>\s*</tr>\s*<tr>\s*"
    r"<td class=\"trow1\">(.*?)</td>\s*</tr>\s*</table>",
    re.DOTALL,
)
_INLINE_ERROR = re.compile(r"<div class=\"error\">\s*(.*?)</div>", re.DOTALL)
_ACP_FLASH = re.compile(r"<div id=\"flash_message\" class=\"(\w+)\">\s*(.*?)</div>", re.DOTALL)
_META_REFRESH = re.compile(r"""<meta http-equiv=["']refresh["'] content=["']\d+;\s*URL=([^"']+)["']""", re.I)
_NO_PERMISSION_WORDS = ("do not have permission", "not logged in or do not have permission")
_POST_KEY_WORDS = ("authorization code mismatch", "post verification key", "invalid post verification")


def plain_text(fragment: str) -> str:
    """HTML -> readable text: scripts, styles and comments dropped, tags removed, entities decoded,
    control characters (terminal escapes, bidi overrides) removed, whitespace collapsed."""
    text = _SCRIPT_STYLE.sub(" ", fragment)
    text = _COMMENT.sub(" ", text)
    text = re.sub(r"<br\s*/?>|</(?:p|div|tr|li|h\d|table|dt|dd)>", "\n", text, flags=re.IGNORECASE)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n", "\n".join(line for line in lines if line)).strip()


def _short(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def page_title(page: str) -> str | None:
    match = _TITLE.search(page[:200_000])
    return _short(plain_text(match.group(1)), 200) if match else None


def find_post_key(page: str) -> str | None:
    match = _POST_KEY.search(page)
    return next((g for g in match.groups() if g), None) if match else None


def front_logged_in(page: str) -> bool:
    return bool(_LOGGED_IN.search(page))


def is_front_page(page: str) -> bool:
    """A page rendered with MyBB's header (where the welcome block says who is logged in). Not the
    redirect page: it has `<!-- start: headerinclude -->` but no header, and says nothing of the session."""
    return 'id="panel"' in page or "<!-- start: header -->" in page or "<!-- start: header_welcomeblock" in page


def is_acp_login(page: str) -> bool:
    return bool(_ACP_LOGIN.search(page)) and not _ACP_LOGGED_IN.search(page)


@dataclass(frozen=True)
class PageError:
    """MyBB showed an error instead of the page."""

    kind: str  # sql | internal | error | no_permission | post_key | acp_login | acp_pin | acp_error | inline_error
    #           | language_stop | stopped | confirm
    message: str
    post_to: str | None = None  # confirm: where the form posts to go ahead
    fields: tuple[tuple[str, str], ...] = ()  # confirm: what it sends (my_post_key left to the tool)

    @property
    def title(self) -> str:
        return _KIND_TITLES.get(self.kind, self.kind)


_KIND_TITLES = {
    "sql": "MyBB SQL error page",
    "internal": "MyBB internal error page",
    "error": "MyBB error page",
    "no_permission": "MyBB no-permission page",
    "post_key": "MyBB refused the my_post_key",
    "acp_login": "Admin CP login page (the session was not accepted)",
    "acp_error": "Admin CP error message",
    "inline_error": "MyBB form errors",
    "language_stop": "a language file is missing (MyBB's language loader died there)",
    "stopped": "die() or exit mid-page (the page never finished)",
    "confirm": "MyBB's confirmation page (nothing was done yet: it asks first)",
    "acp_pin": "Admin CP login page asking for the secret PIN",
}

# inc/class_language.php load(): `die("$lfile does not exist")` when neither the language nor the fallback
# has the file: a 200 with one line, wherever the script was.
_LANGUAGE_STOP = re.compile(r"(\S+\.lang\.php) does not exist\s*$")
# admin/inc/class_page.php output_confirm_action(): the question in a form with Yes / No.
_CONFIRM = re.compile(r"<div class=\"confirm_action\">\s*<p>(.*?)</p>", re.DOTALL)
# The redirect template (inc/functions.php redirect()): a meta refresh and the message in the trow1 cell.
_REDIRECT_MESSAGE = re.compile(r"<td class=\"trow1\"[^>]*>\s*<p>(.*?)</p>\s*</td>", re.DOTALL)
_HTML_END = re.compile(r"</html\s*>", re.IGNORECASE)
_HTML_START = re.compile(r"<html[\s>]|<!doctype html", re.IGNORECASE)
MAX_STOP_TAIL = 400


def detect_stop(page: str, status: int) -> PageError | None:
    """How MyBB (or a plugin) stopped without an error page: a missing language file, or die()/exit
    text where the page should have been (an HTML response that never reached `</html>`). A 5xx is
    PHP's own failure and is told by its errors instead."""
    if status >= 500:
        return None
    tail = page[-4096:]
    language = _LANGUAGE_STOP.search(tail)
    if language:
        return PageError("language_stop", _short(plain_text(language.group(0))))
    if _HTML_END.search(page[-65_536:]) or not page.strip():
        return None
    # A page begun and never finished, or bare text where a page belongs; an HTML fragment (what Ajax
    # endpoints answer) is neither.
    if not (_HTML_START.search(page[:65_536]) or "<" not in page[:65_536]):
        return None
    text = plain_text(page[-16_384:])
    if not text:
        return None
    last = text[-MAX_STOP_TAIL:]
    return PageError("stopped", _short(("…" if len(text) > len(last) else "") + last))


def confirmation(page: str) -> str | None:
    """The question of an Admin CP "Are you sure?" page, if this is one."""
    match = _CONFIRM.search(page)
    return _short(plain_text(match.group(1))) or "Are you sure?" if match else None


@dataclass(frozen=True)
class RedirectPage:
    """MyBB's redirect ("thank you") page: what it said and where it points."""

    message: str
    url: str


def redirect_page(page: str) -> RedirectPage | None:
    """MyBB's redirect template (what redirect() shows when redirect pages are on): the meta refresh and
    the message. MyBB shows it when the action it reports has been done."""
    url = meta_refresh(page)
    if url is None or not ("<!-- start: redirect -->" in page or _REDIRECT_MESSAGE.search(page)):
        return None
    message = _REDIRECT_MESSAGE.search(page)
    return RedirectPage(_short(plain_text(message.group(1))) if message else "", url)


def detect_error(page: str, *, admin_cp: bool) -> PageError | None:
    """The MyBB error page or message this page is, if any (see the patterns above)."""
    fatal = _FATAL_PAGE.search(page)
    if fatal:
        kind = "sql" if "SQL" in fatal.group(1) else "internal"
        return PageError(kind, _short(plain_text(fatal.group(2))) or fatal.group(1))
    if admin_cp:
        if is_acp_login(page):
            message = _INLINE_ERROR.search(page)
            kind = "acp_pin" if _ACP_PIN.search(page) else "acp_login"
            return PageError(kind, _short(plain_text(message.group(1))) if message else "Please Login")
        question = confirmation(page)
        if question:
            return _confirm(page, question)
        flash = _ACP_FLASH.search(page)
        if flash and flash.group(1) == "error":
            return PageError("acp_error", _short(plain_text(flash.group(2))))
        inline = _INLINE_ERROR.search(page)
        if inline:
            text = _short(plain_text(inline.group(1)))
            kind = "post_key" if any(w in text.lower() for w in _POST_KEY_WORDS) else "acp_error"
            return PageError(kind, text)
        return None
    template = _TEMPLATE_START.search(page)
    table = _ERROR_TABLE.search(page)
    if template and template.group(1).startswith("error") or (table and not template):
        body = plain_text(table.group(2)) if table else ""
        lowered = body.lower()
        if template and template.group(1).startswith("error_nopermission") or any(
                w in lowered for w in _NO_PERMISSION_WORDS):
            first = body.split("\n", 1)[0]
            return PageError("no_permission", _short(first))
        if any(w in lowered for w in _POST_KEY_WORDS):
            return PageError("post_key", _short(body))
        if table:
            return PageError("error", _short(body))
    inline = _INLINE_ERROR.search(page)
    if inline and "<!-- start: error_inline" in page:
        return PageError("inline_error", _short(plain_text(inline.group(1))))
    return front_confirmation(page)


_ARE_YOU_SURE = re.compile(r"[^.!?\n]*\b(?:are you sure|do you really|confirm)\b[^.!?\n]*[.!?]?", re.IGNORECASE)
_NOTHING_TO_FILL = ("hidden", "submit")
# Cheap first look, so that an ordinary page is not parsed for its forms: a do_ action or the question.
# (The header's search form, on every page, posts do_search: not a question.)
_MAY_CONFIRM = re.compile(r"""name=["']action["'][^>]*value=["']do_(?!search)|value=["']do_(?!search)[^>]*"""
                          r"""name=["']action["']"""
                          r"|are you sure|do you really|\bconfirm\b", re.IGNORECASE)


def _confirm(page: str, question: str, form: PageForm | None = None) -> PageError:
    if form is None:
        forms = _forms(page)
        form = next((f for f in forms if f.method == "post" and any(n == "my_post_key" for n, _ in f.fields)), None)
    if form is None:
        return PageError("confirm", question)
    fields = tuple((n, v) for n, v in form.fields if n != "my_post_key")
    return PageError("confirm", question, html.unescape(form.action) or None, fields)


def front_confirmation(page: str) -> PageError | None:
    """A front-end "Are you sure?" page (MyBB's moderation.php delete pages, a plugin's): a POST form with
    nothing to fill in (hidden fields and a button) on a page that asks "are you sure", or with
    my_post_key and a `do_` action. Nothing was done: it asks first."""
    if "<form" not in page or not _MAY_CONFIRM.search(page):
        return None
    text: str | None = None
    for form in _forms(page):
        if form.method != "post" or form.files or any(kind not in _NOTHING_TO_FILL for kind in form.kinds):
            continue
        keyed = any(n == "my_post_key" for n, _ in form.fields)
        text = main_text(page) if text is None else text
        asked = _ARE_YOU_SURE.search(text)
        action = next((v for n, v in form.fields if n == "action"), "")
        if not asked and not (keyed and action.startswith("do_")):
            continue
        title = page_title(page) or ""
        question = _short(asked.group(0).strip()) if asked else (title.split(" - ")[-1] if title else "Are you sure?")
        return _confirm(page, question, form)
    return None


# MyBB's words for wrong credentials (datahandler_login.lang.php logindata_invalidpword*, the Admin CP's
# error_invalid_username_password): "invalid username/password combination" and the like.
_BAD_CREDENTIALS = re.compile(r"password combination|invalid username|invalid password", re.IGNORECASE)


def says_bad_credentials(message: str) -> bool:
    """Whether MyBB's login message is about the username and password (not a ban, a lockout, a plugin's
    error() ...)."""
    return bool(_BAD_CREDENTIALS.search(message))


def flash_message(page: str) -> str | None:
    """The Admin CP's success message after an action (e.g. "The plugin has been activated")."""
    flash = _ACP_FLASH.search(page)
    return _short(plain_text(flash.group(2))) if flash and flash.group(1) == "success" else None


def meta_refresh(page: str) -> str | None:
    """Where MyBB's friendly redirect page (a 200 with a meta refresh) sends the browser."""
    match = _META_REFRESH.search(page[:20_000])
    return html.unescape(match.group(1)) if match else None


def main_text(page: str) -> str:
    """The page's text without MyBB's header and footer when they can be told apart."""
    start = page.find("<!-- end: header -->")
    end = page.find("<!-- start: footer -->")
    if start >= 0 and end > start:
        page = page[start:end]
    else:
        body = re.search(r"<body[^>]*>(.*)</body>", page, re.IGNORECASE | re.DOTALL)
        page = body.group(1) if body else page
    return plain_text(page)


def excerpt(page: str, limit: int) -> tuple[str, bool]:
    """(text, cut): the main text, at most `limit` characters."""
    text = main_text(page)
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip() + "…", True


# --- selectors --------------------------------------------------------------------------------------

_SELECTOR = re.compile(r"^([a-zA-Z][a-zA-Z0-9-]*)?(?:#([\w-]+))?((?:\.[\w-]+)*)$")


def parse_selector(selector: str) -> tuple[str | None, str | None, tuple[str, ...]] | None:
    """`tag`, `#id`, `.class`, `tag.a.b`, `tag#id.class` -> (tag, id, classes); None if not that simple."""
    match = _SELECTOR.match(selector.strip())
    if not match or not any(match.groups()):
        return None
    tag, ident, classes = match.groups()
    return (tag.lower() if tag else None, ident, tuple(c for c in classes.split(".") if c))


class _Matcher(HTMLParser):
    def __init__(self, tag: str | None, ident: str | None, classes: tuple[str, ...]) -> None:
        super().__init__(convert_charrefs=True)
        self.want = (tag, ident, classes)
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        want_tag, want_id, want_classes = self.want
        if want_tag and tag != want_tag:
            return
        values = {name: value or "" for name, value in attrs}
        if want_id and values.get("id") != want_id:
            return
        if want_classes and not set(want_classes) <= set(values.get("class", "").split()):
            return
        self.count += 1


def count_selector(page: str, selector: str) -> int:
    parsed = parse_selector(selector)
    if parsed is None:
        raise ValueError(selector)
    matcher = _Matcher(*parsed)
    matcher.feed(page)
    matcher.close()
    return matcher.count


# --- a page's own forms ----------------------------------------------------------------------------

class _Forms(HTMLParser):
    """The forms of a page: action, method and the fields a browser would send (its first submit button
    as if clicked; checked boxes only; a select's selected option, else its first)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[PageForm] = []
        self._form: list[tuple[str, str]] | None = None
        self._submits: list[tuple[str, str]] = []
        self._textarea: tuple[str, list[str]] | None = None
        self._select: tuple[str, list[str], list[str]] | None = None  # name, selected, first

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form, self._submits = [], []
            multipart = values.get("enctype", "").lower() == "multipart/form-data"
            self.forms.append(PageForm(values.get("action", ""), values.get("method", "get").lower(), self._form,
                                       [], multipart))
            return
        if self._form is None or "disabled" in values:
            return
        name = values.get("name", "")
        if tag == "input" and values.get("type", "").lower() == "submit":
            self._submits.append((name, values.get("value", "")))  # named or not: the first is the one clicked
            return
        if name and tag in ("input", "textarea", "select"):
            self.forms[-1].kinds.append(values.get("type", "text").lower() if tag == "input" else tag)
        if tag == "input" and name:
            kind = values.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in values:
                    self._form.append((name, values.get("value", "on")))
            elif kind == "file":
                self.forms[-1].files.append(name)
            elif kind not in ("image", "button", "reset"):
                self._form.append((name, values.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea = (name, [])
        elif tag == "select" and name:
            self._select = (name, [], [])
        elif tag == "option" and self._select is not None:
            value = values.get("value", "")
            if "selected" in values:
                self._select[1].append(value)
            if not self._select[2]:
                self._select[2].append(value)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            # The button a user clicks to send it: MyBB's forms name it "submit"; else the first one (the
            # Admin CP's unnamed "Yes" before its "no"). An unnamed button sends nothing.
            clicked = next((b for b in self._submits if b[0] == "submit"), self._submits[0] if self._submits else None)
            if clicked is not None and clicked[0]:
                self._form.append(clicked)
                self.forms[-1].kinds.append("submit")
            self._form = None
        elif tag == "textarea" and self._textarea is not None:
            if self._form is not None:
                self._form.append((self._textarea[0], "".join(self._textarea[1])))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            if self._form is not None:
                name, chosen, first = self._select
                self._form += [(name, value) for value in (chosen[-1:] if not name.endswith("[]") else chosen)
                               or first]
            self._select = None


@dataclass
class PageForm:
    """A form of a page: where it posts, and what a browser sends with it (file inputs go empty)."""

    action: str
    method: str
    fields: list[tuple[str, str]]
    files: list[str]  # names of its file inputs (a browser sends each, empty when no file is chosen)
    multipart: bool
    kinds: list[str] = field(default_factory=list)  # the types of its named controls (text, hidden, select ...)


def _forms(page: str) -> list[PageForm]:
    parser = _Forms()
    try:
        parser.feed(page[:2_000_000])
        parser.close()
    except (AssertionError, ValueError):  # HTMLParser on broken markup: no form is known
        return []
    return parser.forms


def page_form(page: str, path: str, action: str | None = None) -> PageForm | None:
    """The page's POST form whose action is `path` (the form a browser would send there); with `action`,
    the one whose `action` field says so when several are. None: no such form."""
    forms = _forms(page)
    wanted = path.rstrip("/").rsplit("/", 1)[-1]
    candidates = []
    for form in forms:
        target_path = form.action.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if form.method == "post" and (target_path == wanted or form.action == ""):
            candidates.append(form)
    if action is not None:
        chosen = [f for f in candidates if ("action", action) in f.fields]
        candidates = chosen or candidates
    return candidates[0] if candidates else None


# --- MyBB's debug report ---------------------------------------------------------------------------

@dataclass
class DebugReport:
    """MyBB's `debug=1` page (inc/functions.php debug_page), for users who may see it."""

    generation_time: str | None = None
    query_count: int | None = None
    php_time: str | None = None
    db_time: str | None = None
    templates_used: str | None = None
    extra_templates: list[str] = field(default_factory=list)  # templates that needed extra queries
    slowest_queries: list[tuple[str, str]] = field(default_factory=list)  # (time, query)


def _debug_cell(page: str, label: str) -> str | None:
    match = re.search(re.escape(label) + r"</span></b></td>\s*<td[^>]*><span[^>]*>(.*?)</span>", page, re.DOTALL)
    return plain_text(match.group(1)) if match else None


_DEBUG_QUERY = re.compile(
    r"<td[^>]*>#\d+ - Select Query</td>.*?<td[^>]*>(.*?)</td>.*?Query Time: ([\d.]+)", re.DOTALL
)


def parse_debug(page: str) -> DebugReport | None:
    if "Page Generation Statistics" not in page:
        return None
    report = DebugReport()
    report.generation_time = _debug_cell(page, "Page Generation Time:")
    count = _debug_cell(page, "No. DB Queries:")
    report.query_count = int(count) if count and count.isdigit() else None
    report.php_time = _debug_cell(page, "PHP Processing Time:")
    report.db_time = _debug_cell(page, "DB Processing Time:")
    report.templates_used = _debug_cell(page, "No. Templates Used:")
    extra = re.search(r"Templates Requiring Additional Calls.*?</tr>\s*<tr>\s*<td[^>]*>(.*?)</td>", page, re.DOTALL)
    if extra:
        report.extra_templates = [t.strip() for t in plain_text(extra.group(1)).split(",") if t.strip()][:50]
    return report
