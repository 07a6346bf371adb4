"""The installer's private `php -S`: MyBB's installer driven page by page, reachable by this run only.

Anyone on the machine can connect to a loopback port, and MyBB's installer gives the forum to whoever
finishes it first. Every request passes a router that demands this run's secret before any page runs.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .install_errors import InstallError

STEP_TIMEOUT = 120.0  # one installer page; `templates` is the slowest (~1 s on SQLite)
SERVER_START_TIMEOUT = 10.0
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class InstallerServer:
    """A private `php -S` on a free loopback port serving the staged forum, for the installer only.

    Anyone on the machine can connect to a loopback port, and MyBB's installer gives the forum to
    whoever finishes it first. So every request passes a router that demands this run's secret (a
    header; the secret reaches PHP through its environment, which other users cannot read) before
    any installer page runs: a prober gets 403 and changes nothing.
    """

    SECRET_HEADER = "X-Mybb-Install-Secret"

    def __init__(self, php: str, docroot: Path, log_file: Path) -> None:
        self.php = php
        self.docroot = docroot
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.secret = secrets.token_hex(32)
        self.router = log_file.parent / "installer-router.php"  # beside the docroot, never served
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy

    def __enter__(self) -> InstallerServer:
        _write_new(self.router, _INSTALLER_ROUTER)
        for _attempt in range(3):  # another process may take the free port between probe and bind
            self.port = _free_port()
            if self._start():
                return self
        raise InstallError("installer server", f"php -S did not start: {self.log_tail() or 'no output'}",
                           "Check that PHP runs (php -v).")

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own child's group (start_new_session)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def _start(self) -> bool:
        env = {**os.environ, "MYBB_INSTALL_SECRET": self.secret}
        env.pop("PHP_CLI_SERVER_WORKERS", None)  # one process: the installer's pages run in order
        with open(self.log_file, "ab") as log:
            try:
                self.proc = subprocess.Popen(
                    [self.php, "-S", f"127.0.0.1:{self.port}", "-t", str(self.docroot), str(self.router)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(self.docroot),
                    start_new_session=True, env=env,
                )
            except OSError as exc:
                raise InstallError("installer server", f"Cannot run PHP ({self.php}): {exc.strerror or exc}.",
                                   "Install PHP (apt-get install php-cli) or set MYBB_PHP.") from exc
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        self.__exit__()
        return False

    def php_error(self) -> str:
        """PHP's last fatal error in the installer's log, paths relative to the forum root."""
        try:
            text = self.log_file.read_text("utf-8", "replace")
        except OSError:
            return ""
        errors = _LOG_PHP_ERROR.findall(text)
        return _CONTROL.sub("", errors[-1].replace(str(self.docroot) + "/", "")).strip() if errors else ""

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_file.read_text("utf-8", "replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())

    def post(self, path: str, fields: Sequence[tuple[str, str]]) -> str:
        data = urllib.parse.urlencode(list(fields)).encode()
        url = f"http://127.0.0.1:{self.port}/{path}"
        request = urllib.request.Request(url, data=data, method="POST", headers={self.SECRET_HEADER: self.secret})
        try:
            with self._opener.open(request, timeout=STEP_TIMEOUT) as response:
                return response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.read().decode("utf-8", "replace")


# The installer server's router: nothing runs, not even a static file is served, without the secret.
_INSTALLER_ROUTER = """<?php
$secret = getenv('MYBB_INSTALL_SECRET');
$given = $_SERVER['HTTP_X_MYBB_INSTALL_SECRET'] ?? '';
if (!is_string($secret) || strlen($secret) < 32 || !is_string($given) || !hash_equals($secret, $given)) {
    http_response_code(403);
    header('Content-Type: text/plain');
    echo "This is a private installer server.\\n";
    return true;
}
return false;
"""


def _write_new(path: Path, text: str) -> None:
    """A file of ours that must not exist yet (never written through a link planted there)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


_LOG_PHP_ERROR = re.compile(r"PHP (?:Fatal error|Parse error):\s+(.*)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
