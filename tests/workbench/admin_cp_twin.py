"""The twin forum: the same plugin action done by the real Admin CP pages, requested as the admin over HTTP
(a plain urllib client of the tests' own, nothing of the tool), and the two databases compared table by
table with what the Admin CP leaves apart anyway (sessions, its log, stats, timestamps) set aside."""

from __future__ import annotations

import html
import http.cookiejar
import re
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Tables whose rows differ between any two clicks: sessions, the admin's log, statistics, captcha.
VOLATILE_TABLES = {"sessions", "adminsessions", "adminlog", "stats", "captcha", "mailerrors", "maillogs",
                   "tasklog", "spamlog", "searchlog"}
# Columns holding the moment something happened.
VOLATILE_COLUMNS = {"dateline", "lastactive", "nextrun", "lastrun", "lastvisit", "lastpost", "regdate",
                    "lastupdate", "lastupdated", "updatedate", "time", "lastrebuild", "lastcheck", "timesearch",
                    "lastmodified"}
LINK_ACTION = {"install": "activate", "activate": "activate", "deactivate": "deactivate", "uninstall": "deactivate"}


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class AdminBrowser:
    """The admin in a browser: logs in on admin/index.php, follows the plugins page's links, says Yes."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url = url.rstrip("/") + "/admin/index.php"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())
        status, body = self.request(data={"do": "login", "username": user, "password": password})
        assert any(c.name == "adminsid" for c in self.jar), (status, body[:500])

    def request(self, query: str = "", data: dict[str, str] | None = None) -> tuple[int, str]:
        target = self.url + ("?" + query if query else "")
        payload = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(target, data=payload), timeout=60) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def click(self, action: str, name: str) -> list[tuple[int, str]]:
        """The plugin's link on the plugins page for `action`, then every confirmation answered Yes."""
        _, page = self.request("module=config-plugins")
        wanted = f"action={LINK_ACTION[action]}" + ("&uninstall=1" if action == "uninstall" else "") + \
            f"&plugin={name}&my_post_key="
        links = [html.unescape(h) for h in re.findall(r'href="index\.php\?([^"]+)"', page)]
        link = next((h for h in links if h.startswith("module=config-plugins&" + wanted)), None)
        assert link is not None, f"no {action} link for {name} on the plugins page"
        answers = [self.request(link)]
        for _ in range(2):
            status, body = answers[-1]
            form = re.search(r'<form action="([^"]+)" method="post"[^>]*>(.*?)</form>', body, re.DOTALL)
            if status != 200 or form is None or "button_yes" not in form.group(2):
                break
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
            target = html.unescape(form.group(1)).split("?", 1)[1]
            answers.append(self.request(target, data=fields))
        return answers


@contextmanager
def php_server(php: str, root: Path, port: int) -> Iterator[str]:
    """php -S on the twin, for its Admin CP pages (stopped after, by its own process)."""
    proc = subprocess.Popen([php, "-S", f"127.0.0.1:{port}", "-t", str(root)], cwd=str(root),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:  # a connection, not a page: a page of the forum changes its database (who was online)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "php -S did not answer"
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def sqlite_tables(db_file: Path, prefix: str = "mybb_") -> dict[str, Any]:
    """Every table of the forum: its columns and its rows (volatile ones left out), sorted."""
    found: dict[str, Any] = {}
    with sqlite3.connect(db_file) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        for name in names:
            if not name.startswith(prefix) or name[len(prefix):] in VOLATILE_TABLES:
                continue
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')]
            keep = [i for i, c in enumerate(columns) if c not in VOLATILE_COLUMNS]
            rows = sorted(repr(tuple(row[i] for i in keep)) for row in conn.execute(f'SELECT * FROM "{name}"'))
            found[name] = {"columns": columns, "rows": rows}
    conn.close()
    return found


def mysql_tables(connection: Any, prefix: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    with connection.cursor() as cur:
        cur.execute("SHOW TABLES")
        for (name,) in sorted(cur.fetchall()):
            if not name.startswith(prefix) or name[len(prefix):] in VOLATILE_TABLES:
                continue
            cur.execute(f"SHOW COLUMNS FROM `{name}`")
            columns = [(r[0], r[1]) for r in cur.fetchall()]
            keep = [i for i, c in enumerate(columns) if c[0] not in VOLATILE_COLUMNS]
            cur.execute(f"SELECT * FROM `{name}`")
            rows = sorted(repr(tuple(row[i] for i in keep)) for row in cur.fetchall())
            found[name] = {"columns": columns, "rows": rows}
    return found


def differences(tool: dict[str, Any], admin_cp: dict[str, Any]) -> dict[str, Any]:
    """Table by table, what the forum after the tool has that the forum after the Admin CP has not, and back."""
    out: dict[str, Any] = {}
    for name in sorted(set(tool) | set(admin_cp)):
        a, b = tool.get(name), admin_cp.get(name)
        if a is None or b is None:
            out[name] = "only after the tool" if b is None else "only after the Admin CP"
        elif a["columns"] != b["columns"]:
            out[name] = {"columns (tool)": a["columns"], "columns (Admin CP)": b["columns"]}
        elif a["rows"] != b["rows"]:
            only_a, only_b = set(a["rows"]) - set(b["rows"]), set(b["rows"]) - set(a["rows"])
            out[name] = {"rows only after the tool": sorted(only_a)[:5],
                         "rows only after the Admin CP": sorted(only_b)[:5]}
    return out


PLUGINS = Path(__file__).with_name("plugins")
LINKTOOLS = Path(__file__).resolve().parents[2].parent / "shared" / "plugins" / "linktools_b151037.tar.gz"


@dataclass
class Twins:
    """A forum for the tool and its twin for the Admin CP; `tables` dumps both (tool's, twin's)."""

    tool: Path
    twin: Path
    php: str
    browser: AdminBrowser
    tables: Callable[[], tuple[dict[str, Any], dict[str, Any]]]

    def add(self, name: str) -> None:
        for root in (self.tool, self.twin):
            shutil.copyfile(PLUGINS / f"{name}.php", root / "inc" / "plugins" / f"{name}.php")

    def add_linktools(self) -> None:
        for root in (self.tool, self.twin):
            with tarfile.open(LINKTOOLS) as archive:
                archive.extractall(root, filter="data")

    def step(self, action: str, name: str, **kwargs: Any) -> Any:
        """The action by the tool and by the Admin CP; the tool's result, once both forums are alike."""
        from mybb_mcp.answers.plugins import render_plugins
        from mybb_mcp.workbench import plugins as workbench

        result = workbench.run(self.tool, action, name, php=self.php, **kwargs)
        self.browser.click(action, name)
        found = differences(*self.tables())
        assert found == {}, f"{found}\n\n{render_plugins(result)}"
        return result
