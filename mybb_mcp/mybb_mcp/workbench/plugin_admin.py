"""The plugin lifecycle as a click on the Admin CP's plugins page: MyBB's own admin/index.php for
module=config-plugins, run by plugins_admin.php in a PHP CLI process as the forum's admin, with a
valid my_post_key; a confirmation page is answered "Yes" by posting its form, as the admin would.

Not over HTTP: the tool works on a stopped forum too, and one process per click costs ~50 ms. What the
run changed is the snapshot diff (forum/snapshot/) between the database before and after it.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..forum.php import PhpRun, PhpRunError, PhpTimeout, run_mybb_php, run_php_script

SCRIPT = Path(__file__).with_name("plugins_admin.php")
SESSION_END = Path(__file__).with_name("plugins_session_end.php")
TIME_LIMIT = 30  # seconds: PHP's own max_execution_time for a web request, as the Admin CP page has
MAX_CONFIRMATIONS = 2  # MyBB's question, then at most one of the plugin's own per click
_WARNING_DIV = re.compile(r'<div class="php_warning">.*?</div>', re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL | re.IGNORECASE)
# MyBB's own error page (errorHandler::output_error): what it names when an error stopped the page before
# anything of ours could note it (e.g. while inc/init.php boots).
_ERROR_PAGE = re.compile(r"<dt>Error Type:</dt>\s*<dd>(.*?)</dd>\s*<dt>Error Message:</dt>\s*<dd>(.*?)</dd>",
                         re.DOTALL)


@dataclass(frozen=True)
class AdminProblem:
    """An error, warning or notice of the run, where it was raised (relative to the forum root), and the
    plugin's own line and lifecycle function when the plugin was on the way."""

    kind: str
    message: str
    file: str
    line: int
    plugin_at: str | None = None
    function: str | None = None
    stage: str = "plugins page"

    @property
    def place(self) -> str:
        return f"{self.file}:{self.line}" if self.file else "(no file)"


@dataclass
class AdminRun:
    """One request to the Admin CP's plugins page and what it answered."""

    method: str
    query: dict[str, str]
    booted: bool = False
    reached: bool = False  # the plugins page got to the plugin's step
    committed: bool = False  # ... and past it: the plugins cache updated
    refused: str | None = None
    confirm: dict[str, str] | None = None  # a confirmation page: url, message, title
    flash: dict[str, str] | None = None  # message, type
    redirect: str | None = None
    redirect_known: bool = False
    page_title: str | None = None
    output: str = ""
    problems: list[AdminProblem] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # the plugin's lifecycle functions this click calls
    called: list[str] | None = None  # those it did call (known with Xdebug's function monitor)
    stopped_in: dict[str, Any] | None = None  # the time limit: function, at, limit
    timed_out: bool = False
    admin: str | None = None
    result: Any = None  # list and check: what they read
    active_before: list[str] | None = None
    active_after: list[str] | None = None
    installed_before: bool | None = None
    installed_after: bool | None = None


def plugins_page_query(action: str, name: str) -> dict[str, str]:
    """The link the plugins page shows for `action` (install is its "Install & Activate")."""
    query = {"module": "config-plugins", "action": "activate" if action in ("install", "activate") else "deactivate"}
    if action == "uninstall":
        query["uninstall"] = "1"
    query.update({"plugin": name, "my_post_key": ""})
    return query


def run_admin(root: Path, data: dict[str, Any], php: str = "php", php_settings: tuple[str, ...] = (),
              limit: float = TIME_LIMIT) -> AdminRun:
    """One request to admin/index.php (`data`: mode, name, step, query, form)."""
    payload = {"limit": int(max(1, limit)), "session": secrets.token_hex(16), **data}
    outer = limit + max(2.0, min(15.0, limit / 2))  # time for PHP's own limit to end the page and answer
    try:
        run: PhpRun = run_php_script(root, SCRIPT, payload, php=php, timeout=outer, php_settings=php_settings)
    except PhpTimeout:
        _end_session(root, payload["session"], php, php_settings)
        # PHP's own limit (an alarm inside the page) did not stop it: a wait outside PHP code (a sleep in an
        # extension, a query that never returns), or PHP without pcntl. Killed from outside, it names nothing.
        raise PhpRunError(
            f"The click on the Admin CP's plugins page ({data.get('step') or data.get('mode')}) did not end within "
            f"{outer:g} s and was stopped from outside (PHP's own {int(limit)} s limit did not stop it), so "
            "which plugin function was running is not known.",
            "Look for a wait that never ends in the plugin's lifecycle functions (a lock, a remote call, a "
            "query on a busy database); what changed may hold part of its work.") from None
    return _admin_run(data, run.result if isinstance(run.result, dict) else {}, run.output)


def _end_session(root: Path, session: str, php: str, php_settings: tuple[str, ...]) -> None:
    """The killed click's Admin CP session, removed (the Admin CP would expire it after two hours)."""
    try:
        run_mybb_php(root, SESSION_END.read_text("utf-8").removeprefix("<?php"), {"session": session}, php=php,
                     timeout=15, php_settings=php_settings)
    except PhpRunError:
        pass  # the answer already says the click was killed; a stale session row is MyBB's to expire


def click(root: Path, action: str, name: str, php: str = "php", php_settings: tuple[str, ...] = (),
          limit: float = TIME_LIMIT) -> list[AdminRun]:
    """The plugins page's link for `action`, then each confirmation page answered "Yes"."""
    query: dict[str, str] = plugins_page_query(action, name)
    form: dict[str, str] | None = None
    runs: list[AdminRun] = []
    for _ in range(MAX_CONFIRMATIONS + 1):
        run = run_admin(root, {"mode": "request", "name": name, "step": action, "query": query, "form": form},
                        php, php_settings, limit)
        runs.append(run)
        if run.refused or run.committed or run.confirm is None or run.timed_out:
            break
        # "Yes": the confirmation's form posts my_post_key to its url (the "No" button adds `no`).
        target = urlsplit(html.unescape(run.confirm.get("url", "")))
        query = {k: v for k, v in parse_qsl(target.query, keep_blank_values=True)}
        form = {"my_post_key": ""}
    return runs


def _admin_run(data: dict[str, Any], answer: dict[str, Any], printed: str) -> AdminRun:
    output = str(answer.get("output") or "") + printed
    title = _TITLE.search(output)
    found = problems(answer.get("problems"))
    shown = _ERROR_PAGE.search(output)
    if shown and not found:
        kind, message = (" ".join(html.unescape(_TAG.sub("", part)).split()) for part in shown.groups())
        found.append(AdminProblem(kind or "MyBB error", message, "", 0, stage="MyBB's error page"))
    flash = answer.get("flash") if isinstance(answer.get("flash"), dict) else None
    confirm = answer.get("confirm") if isinstance(answer.get("confirm"), dict) else None
    run = AdminRun(
        method="POST" if data.get("form") is not None else "GET", query=dict(data.get("query") or {}),
        booted=bool(answer.get("booted")), reached=bool(answer.get("reached")),
        committed=bool(answer.get("committed")), refused=_text(answer.get("refused")),
        confirm={k: str(v) for k, v in confirm.items()} if confirm else None,
        flash={k: str(v) for k, v in flash.items()} if flash else None,
        redirect=_text(answer.get("redirect")), redirect_known=bool(answer.get("redirect_known")),
        page_title=" ".join(html.unescape(_TAG.sub("", title.group(1))).split()) if title else None,
        output=_plain(output), problems=found,
        runs=[str(s) for s in answer.get("runs") or [] if isinstance(s, str)],
        called=[str(s) for s in answer["called"]] if isinstance(answer.get("called"), list) else None,
        stopped_in=answer.get("stopped_in") if isinstance(answer.get("stopped_in"), dict) else None,
        timed_out=bool(answer.get("timed_out")), admin=_text(answer.get("admin")), result=answer.get("result"),
        active_before=_names(answer.get("active_before")), active_after=_names(answer.get("active_after")),
        installed_before=_flag(answer.get("installed_before")), installed_after=_flag(answer.get("installed_after")),
    )
    return run


def problems(items: Any) -> list[AdminProblem]:
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            file, line = str(item.get("file") or ""), int(item.get("line") or 0)
            plugin_at = _text(item.get("plugin_at"))
            if not file and plugin_at and ":" in plugin_at:  # a SQL error: MyBB gives no place; the plugin's line
                file, _, number = plugin_at.rpartition(":")
                line = int(number) if number.isdigit() else 0
            found.append(AdminProblem(str(item.get("kind") or "error"), str(item.get("message") or ""), file, line,
                                      plugin_at, _text(item.get("function")), str(item.get("stage") or "plugins page")))
    return found


def _plain(output: str) -> str:
    """What the page printed, as text: MyBB's warning boxes left out (they are the run's problems)."""
    text = _WARNING_DIV.sub("", output)
    if "<html" in text.lower():
        return ""  # a whole Admin CP page (a confirmation, an error page): its title and problems say it
    return " ".join(html.unescape(_TAG.sub(" ", text)).split())


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _names(value: Any) -> list[str] | None:
    return [str(v) for v in value] if isinstance(value, list) else None
