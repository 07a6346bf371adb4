"""MyBB's installer driven page by page in the PHP CLI: no port, no socket, nothing another user can take.

Each page of `install/index.php` runs in a PHP process of its own (installer_step.php, ours), with the
page's form fields (the database and admin passwords among them) written to its stdin as a browser
would post them. An earlier design served the installer through a private `php -S` on a free loopback
port: another local user could bind that port between our probe and php -S's bind, and receive the
passwords. A pipe to our own child has no such window.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path

from .install_errors import InstallError

STEP_TIMEOUT = 120.0  # one installer page; `templates` is the slowest (~1 s on SQLite)
STEP_SCRIPT = Path(__file__).with_name("installer_step.php")
MAX_PAGE_BYTES = 16 * 2**20  # an installer page is ~10 KB; more is not MyBB's installer
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LOG_PHP_ERROR = re.compile(r"(?:PHP )?(?:Fatal error|Parse error):\s+(.*)")


class InstallerRunner:
    """Runs one installer page at a time as `php installer_step.php DOCROOT`, fields on stdin.

    `on_child` hears each step's PID as it starts (and None when it has ended), so a record of the run
    can name the process to end if this one is killed (install_leftovers.py)."""

    def __init__(self, php: str, docroot: Path, log_file: Path,
                 on_child: Callable[[int | None], None] | None = None) -> None:
        self.php = php
        self.docroot = docroot
        self.log_file = log_file  # PHP's own errors, for the failure's words
        self.on_child = on_child or (lambda _pid: None)

    def step(self, fields: Sequence[tuple[str, str]], timeout: float = STEP_TIMEOUT) -> str:
        """The page MyBB's installer prints for these POSTed fields."""
        data = urllib.parse.urlencode(list(fields)).encode()
        env = dict(os.environ)
        env.pop("PHP_CLI_SERVER_WORKERS", None)
        argv = [self.php, "-d", "display_errors=stderr", "-d", "log_errors=0", str(STEP_SCRIPT), str(self.docroot)]
        with open(self.log_file, "ab") as log:
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                        cwd=str(self.docroot), env=env, start_new_session=True)
            except OSError as exc:
                raise InstallError("installer", f"Cannot run PHP ({self.php}): {exc.strerror or exc}.",
                                   "Install PHP (apt-get install php-cli) or set MYBB_PHP.") from exc
            self.on_child(proc.pid)
            try:
                out, _ = proc.communicate(data, timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                raise InstallError("installer", f"A page of MyBB's installer did not finish within {timeout:g} s.",
                                   "Check the database server answers (--db), then run init again.") from None
            finally:
                self.on_child(None)
        return out[:MAX_PAGE_BYTES].decode("utf-8", "replace")

    def php_error(self) -> str:
        """PHP's last fatal error in the installer's log, paths relative to the forum root."""
        errors = _LOG_PHP_ERROR.findall(self._log_text())
        return CONTROL.sub("", errors[-1].replace(str(self.docroot) + "/", "")).strip() if errors else ""

    def log_tail(self, lines: int = 5) -> str:
        text = CONTROL.sub("", self._log_text())
        return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())

    def _log_text(self) -> str:
        try:
            with open(self.log_file, "rb") as log:
                log.seek(max(0, os.fstat(log.fileno()).st_size - 65536))
                return log.read().decode("utf-8", "replace")
        except OSError:
            return ""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # our own child's group (start_new_session)
    except ProcessLookupError:
        pass
    proc.communicate()
