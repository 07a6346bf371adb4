"""A second local user for the security tests: created with `useradd` when the suite runs as root,
removed afterwards; tests that need one skip with the reason otherwise.

The other user cannot reach pytest's per-user temporary directory (0700), so tests that run
something as that user work in `shared_dir`, a directory under /tmp the other user can enter.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TIMEOUT = 60.0


@dataclass(frozen=True)
class LocalUser:
    name: str
    uid: int
    gid: int

    def run(self, argv: list[str], *, env: dict[str, str], cwd: Path,
            timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run `argv` as this user (no shell, no preexec function)."""
        return subprocess.run(argv, env=env, cwd=cwd, user=self.uid, group=self.gid, extra_groups=[],
                              capture_output=True, text=True, timeout=timeout)

    def cli(self, args: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
        python, extra = python_for(self)
        return self.run([python, "-m", "mybb_mcp.cli", *args], env={**env, **extra}, cwd=cwd)


def python_for(user: LocalUser) -> tuple[str, dict[str, str]]:
    """An interpreter the other user may run, with this package and its dependencies importable.

    The test interpreter may live where only root can reach it (pyenv under /root): then the system's
    python of the same version runs with this environment's site-packages on PYTHONPATH.
    """
    import mybb_mcp

    source = str(Path(mybb_mcp.__file__).resolve().parents[1])
    site = next(p for p in sys.path if p.endswith("site-packages"))
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python, extra in ((sys.executable, {}), (f"/usr/bin/{version}", {"PYTHONPATH": f"{source}:{site}"})):
        try:
            probe = user.run([python, "-c", "import mybb_mcp.cli"], env={**os.environ, **extra}, cwd=Path("/"))
        except OSError:
            continue
        if probe.returncode == 0:
            return python, extra
    pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} the second user may run "
                "with this package importable")


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the test creates a second local user (useradd) to act as another user")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("needs useradd/userdel to create a second local user")


@pytest.fixture
def other_user() -> Iterator[LocalUser]:
    """A throwaway local user (not root), deleted at teardown."""
    require_root()
    name = f"mybbt{os.getpid() % 100000}{os.urandom(2).hex()}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                    "--user-group", name], check=True, capture_output=True, timeout=TIMEOUT)
    try:
        entry = pwd.getpwnam(name)
        yield LocalUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=TIMEOUT)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory under /tmp that other users may enter (0755), removed at teardown."""
    path = Path(tempfile.mkdtemp(prefix="mybb-sec-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def chown_tree(path: Path, user: LocalUser) -> None:
    for root, dirs, files in os.walk(path):
        os.chown(root, user.uid, user.gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), user.uid, user.gid, follow_symlinks=False)
