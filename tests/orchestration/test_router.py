"""router.php under a real `php -S`, side by side with a plain `php -S` on the same document root:
the router must change only what it means to (QUERY_STRING, the readiness probe) and nothing else."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

import mybb_mcp
from tests.conftest import free_port
from tests.fixtures.docroot import PNG

ROUTER = Path(mybb_mcp.__file__).parent / "orchestration" / "router.php"
START_TIMEOUT = 10.0

# Echoes what a script sees of its request, as JSON.
INFO_PHP = r"""<?php
header('Content-Type: application/json');
$keys = ['QUERY_STRING', 'SCRIPT_NAME', 'PHP_SELF', 'SCRIPT_FILENAME', 'REQUEST_URI', 'PATH_INFO',
         'DOCUMENT_ROOT', 'REQUEST_METHOD', 'SERVER_NAME', 'SERVER_PORT', 'HTTP_HOST'];
$seen = [];
foreach ($keys as $key) {
    $seen[$key] = array_key_exists($key, $_SERVER) ? $_SERVER[$key] : null;
}
$seen['has_QUERY_STRING'] = array_key_exists('QUERY_STRING', $_SERVER);
$seen['cwd'] = getcwd();
$seen['globals'] = array_keys($GLOBALS);
$seen['user_functions'] = get_defined_functions()['user'];
$seen['get'] = $_GET;
$seen['post'] = $_POST;
echo json_encode($seen);
"""
# Writes a file by a relative path, as MyBB's error_log(..., 3, './error.log') does.
WRITE_PHP = "<?php\nfile_put_contents('./' . basename($_GET['name']) . '.txt', 'written');\necho 'ok';\n"

DOCROOT_FILES: dict[str, str | bytes] = {
    "info.php": INFO_PHP,
    "index.php": INFO_PHP,
    "sub/index.php": INFO_PHP,
    "admin/index.php": INFO_PHP,
    "admin/write.php": WRITE_PHP,
    "write.php": WRITE_PHP,
    "images/logo.png": PNG,
    "cache/themes/theme1/global.css": "body { color: #333; }\n",
    "jscripts/general.js": "console.log('mybb');\n",
    "noindex/readme.txt": "no index here\n",
}


@dataclass
class PhpServer:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def fetch(self, path: str, method: str = "GET", body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def info(self, path: str) -> dict[str, object]:
        status, headers, body = self.fetch(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"php -S exited ({proc.returncode}): {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)  # polling interval
    pytest.fail(f"php -S did not listen on port {port} within {START_TIMEOUT} s: {log.read_text(errors='replace')}")


def wait_for_log(log: Path, text: str, timeout: float = 5.0) -> bool:
    """Whether `text` appears in the log within `timeout` (php -S may log just after answering)."""
    deadline = time.monotonic() + timeout
    while True:
        if text in log.read_text(errors="replace"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)  # polling interval


@contextmanager
def php_server(php: str, root: Path, log: Path, router: bool, env: dict[str, str] | None = None) -> Iterator[PhpServer]:
    """`php -S 127.0.0.1:<free port> -t root [router.php]` in its own process group; stopped on exit."""
    port = free_port()
    argv = [php, "-S", f"127.0.0.1:{port}", "-t", str(root), *([str(ROUTER)] if router else [])]
    with log.open("ab") as handle:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, **(env or {})})
    try:
        _wait_listening(proc, port, log)
        yield PhpServer(proc, port, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture(scope="module")
def docroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("router") / "forum"
    for relative, content in DOCROOT_FILES.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


@pytest.fixture(scope="module")
def servers(php: str, docroot: Path) -> Iterator[tuple[PhpServer, PhpServer]]:
    """(plain, routed): two servers on the same document root."""
    logs = docroot.parent
    with php_server(php, docroot, logs / "plain.log", router=False) as plain:
        with php_server(php, docroot, logs / "routed.log", router=True) as routed:
            yield plain, routed


def test_router_file_ships_with_the_package() -> None:
    assert ROUTER.is_file()
    assert ROUTER.read_text().lstrip().startswith("<?php")


def test_readiness_probe_is_an_empty_204(servers: tuple[PhpServer, PhpServer]) -> None:
    plain, routed = servers
    status, _, body = routed.fetch("/__mybb_mcp_ready")
    assert (status, body) == (204, b"")
    # Only that exact request: anything else under the name is refused (and logged, unlike the probe).
    for path in ("/__mybb_mcp_ready?attempt=3", "/__mybb_mcp/../info.php", "/__mybb_mcp_ready/"):
        assert routed.fetch(path)[0] == 404
    assert routed.fetch("/__mybb_mcp_ready", method="POST", body=b"x=1")[0] == 404
    assert wait_for_log(routed.log, "[404]: POST /__mybb_mcp_ready - refused")
    # Without the router php -S hands the extensionless path to the root index.php: no 204.
    assert plain.fetch("/__mybb_mcp_ready")[0] == 200


def test_query_string_is_set_when_the_url_has_none(servers: tuple[PhpServer, PhpServer]) -> None:
    plain, routed = servers
    # The php -S quirk the router exists for (MyBB's Admin CP login warns about it).
    assert plain.info("/info.php")["has_QUERY_STRING"] is False
    seen = routed.info("/info.php")
    assert seen["has_QUERY_STRING"] is True and seen["QUERY_STRING"] == ""
    assert routed.info("/admin/")["QUERY_STRING"] == ""


@pytest.mark.parametrize("path", [
    "/info.php",
    "/info.php?a=1&b=two%20words",
    "/",
    "/admin/",
    "/admin/index.php?module=config",
    "/sub/",
    "/sub/index.php/thread-1.html",
    "/sub/index.php/extra/path?x=1",
    "/forum-1",  # php -S hands extensionless unknown paths to the root index.php; so must the router
    "/no/such/page?q=1",
])
def test_scripts_see_what_plain_php_s_gives_them(servers: tuple[PhpServer, PhpServer], path: str) -> None:
    plain, routed = servers
    expected, seen = plain.info(path), routed.info(path)
    for key in ("SERVER_PORT", "HTTP_HOST"):  # the two servers' own ports
        expected.pop(key), seen.pop(key)
    if not expected["has_QUERY_STRING"]:
        assert seen["QUERY_STRING"] == ""
        for side in (expected, seen):
            side.pop("QUERY_STRING"), side.pop("has_QUERY_STRING")
    assert seen == expected


def test_directory_index_runs_from_its_directory(servers: tuple[PhpServer, PhpServer], docroot: Path) -> None:
    _, routed = servers
    seen = routed.info("/admin/")
    assert seen["SCRIPT_FILENAME"] == str(docroot / "admin" / "index.php")
    assert seen["SCRIPT_NAME"] == "/admin/index.php"
    assert seen["cwd"] == str(docroot / "admin")


@pytest.mark.parametrize("path", ["/nope.php", "/nope.css", "/noindex/", "/admin/nope.php?x=1"])
def test_missing_files_are_404_like_plain(servers: tuple[PhpServer, PhpServer], path: str) -> None:
    plain, routed = servers
    assert plain.fetch(path)[0] == 404
    assert routed.fetch(path)[0] == 404
    # Not the " - No such file or directory" suffix: php -S words it from errno, which a router
    # returning false may leave at 0 ("- Success"); the status is what clients and queries rely on.
    assert wait_for_log(routed.log, f"[404]: GET {path} - ")


@pytest.mark.parametrize(("path", "content_type"), [
    ("/images/logo.png", "image/png"),
    ("/cache/themes/theme1/global.css", "text/css"),
    ("/jscripts/general.js", "javascript"),
    ("/noindex/readme.txt", "text/plain"),
])
def test_static_files_are_served_by_the_builtin_server(
    servers: tuple[PhpServer, PhpServer], docroot: Path, path: str, content_type: str
) -> None:
    plain, routed = servers
    status, headers, body = routed.fetch(path)
    assert status == 200
    assert content_type in headers["content-type"]
    assert body == (docroot / path.lstrip("/")).read_bytes()
    assert headers["content-type"] == plain.fetch(path)[1]["content-type"]
    assert "x-powered-by" not in headers  # no PHP ran for it: the built-in server sent the file


def test_relative_writes_under_admin_land_in_admin(servers: tuple[PhpServer, PhpServer], docroot: Path) -> None:
    plain, routed = servers
    for server, name in ((plain, "plain"), (routed, "routed")):
        assert server.fetch(f"/admin/write.php?name={name}")[0] == 200
        assert (docroot / "admin" / f"{name}.txt").read_text() == "written"
        assert not (docroot / f"{name}.txt").exists()
        assert server.fetch(f"/write.php?name={name}-front")[0] == 200
        assert (docroot / f"{name}-front.txt").exists()


def test_router_leaks_no_globals_or_functions(servers: tuple[PhpServer, PhpServer]) -> None:
    plain, routed = servers
    seen, expected = routed.info("/info.php"), plain.info("/info.php")
    assert seen["globals"] == expected["globals"]
    assert seen["user_functions"] == [] == expected["user_functions"]


def test_post_bodies_reach_the_script(servers: tuple[PhpServer, PhpServer]) -> None:
    _, routed = servers
    form = urlencode({"username": "admin", "password": "p@ss&word"}).encode()
    status, _, body = routed.fetch("/admin/index.php?action=login", "POST", form,
                                   {"Content-Type": "application/x-www-form-urlencoded"})
    seen = json.loads(body)
    assert status == 200
    assert seen["post"] == {"username": "admin", "password": "p@ss&word"}
    assert seen["get"] == {"action": "login"} and seen["QUERY_STRING"] == "action=login"


def test_requests_are_still_logged(servers: tuple[PhpServer, PhpServer]) -> None:
    _, routed = servers
    routed.fetch("/info.php?logged=1")
    routed.fetch("/images/logo.png")
    assert wait_for_log(routed.log, "[200]: GET /info.php?logged=1")
    assert wait_for_log(routed.log, "[200]: GET /images/logo.png")


def test_router_works_with_workers(php: str, docroot: Path, tmp_path: Path) -> None:
    with php_server(php, docroot, tmp_path / "workers.log", router=True, env={"PHP_CLI_SERVER_WORKERS": "2"}) as server:
        for _ in range(4):
            seen = server.info("/admin/")
            assert seen["has_QUERY_STRING"] is True and seen["QUERY_STRING"] == ""
        assert server.fetch("/__mybb_mcp_ready")[0] == 204
