"""Where a new forum's files come from: a local archive or folder, or a download checked by SHA-256.

The default is the newest MyBB 1.8 release whose archive we can pin by SHA-256 (the repository archive
of its tag on GitHub). Any other URL is downloaded as given; it is checked when the user passes
`--sha256` or when it is a release we know, and otherwise its SHA-256 is reported so it can be pinned.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .install_errors import InstallError


@dataclass(frozen=True)
class Release:
    version: str
    url: str
    sha256: str


# Newest first. The SHA-256 is that of the archive GitHub serves for the tag (MyBB's own repository).
# A release is added here only once its archive was hashed from a copy we hold.
KNOWN_RELEASES: tuple[Release, ...] = (
    Release("1.8.37", "https://github.com/mybb/mybb/archive/refs/tags/mybb_1837.tar.gz",
            "89e81885e3bb85cd9007cd76926888c934a0d3a587c0658910f6dd2b7a198c8e"),
    Release("1.8.30", "https://github.com/mybb/mybb/archive/refs/tags/mybb_1830.tar.gz",
            "0d2fba91170fe5b4a622696b0237af9413dcb7e951beba22c038549858677008"),
)
DEFAULT_RELEASE = KNOWN_RELEASES[0]
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024  # a MyBB release is ~5 MB: anything this big is not one
READ_TIMEOUT = 30.0
CHUNK = 256 * 1024
SHA256 = re.compile(r"[0-9a-f]{64}")

# (bytes so far, total bytes or None when the server does not say)
DownloadProgress = Callable[[int, "int | None"], None]


@dataclass(frozen=True)
class ResolvedSource:
    path: Path  # the archive or folder to install from
    origin: str  # what the user named (path or URL)
    sha256: str | None  # of the archive, when it is a file
    verified: bool  # checked against a pinned or given SHA-256
    downloaded: bool


def is_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme.lower() in ("http", "https")


def validate_sha256(text: str) -> str:
    value = text.strip().lower()
    if not SHA256.fullmatch(value):
        raise InstallError("source", f"--sha256 {text!r} is not a SHA-256 (64 hexadecimal digits).",
                           "Copy the checksum from the release page.")
    return value


def known_release(version: str) -> Release:
    """The pinned release named "1.8.30" (or "1830"), or a clear refusal naming those known."""
    text = version.strip()
    for release in KNOWN_RELEASES:
        if text in (release.version, release.version.replace(".", "")):
            return release
    known = ", ".join(release.version for release in KNOWN_RELEASES)
    raise InstallError("source", f"MyBB {version!r} is not a release whose archive mybb-mcp has pinned ({known}).",
                       f"Name one of {known}, or pass the archive with --from and its --sha256.")


def pinned_sha256(url: str) -> str | None:
    return next((release.sha256 for release in KNOWN_RELEASES if release.url == url), None)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_source(origin: str | None, sha256: str | None, scratch: Path,
                   progress: DownloadProgress | None = None, *, insecure: bool = False) -> ResolvedSource:
    """The archive or folder to install from: `origin` (a path or URL), or the default release.

    A download lands in `scratch` (the caller deletes it). A checksum mismatch is an error. A plain
    http:// source (or a redirect to one) needs a SHA-256 to check it against, or `insecure`.
    """
    expected = validate_sha256(sha256) if sha256 else None
    url = origin if origin and is_url(origin) else None
    if origin is None:
        url = DEFAULT_RELEASE.url
    if url is None:
        assert origin is not None
        path = Path(os.path.expanduser(origin))
        if not path.exists():
            raise InstallError("source", f"{path} does not exist.",
                               "Pass --from with a MyBB release archive, a folder holding MyBB, or a URL.")
        if path.is_dir():
            if expected:
                raise InstallError("source", "--sha256 checks an archive, and the source is a folder.",
                                   "Drop --sha256, or pass the archive.")
            return ResolvedSource(path=path, origin=origin, sha256=None, verified=False, downloaded=False)
        actual = file_sha256(path)
        _check(expected, actual, str(path))
        return ResolvedSource(path=path, origin=origin, sha256=actual, verified=bool(expected), downloaded=False)
    expected = expected or pinned_sha256(url)
    if not expected and not insecure and not _is_https(url):
        raise InstallError("source", f"{url} is plain HTTP: anyone on the way could swap the archive, and init "
                           "would run its PHP as you. Nothing was downloaded.", INSECURE_HINT)
    target = scratch / (Path(urllib.parse.urlsplit(url).path).name or "mybb-download")
    actual = download(url, target, progress, plain_http_ok=bool(expected) or insecure)
    try:
        _check(expected, actual, url)
    except InstallError:
        target.unlink(missing_ok=True)
        raise
    return ResolvedSource(path=target, origin=url, sha256=actual, verified=bool(expected), downloaded=True)


def _check(expected: str | None, actual: str, origin: str) -> None:
    if expected and expected != actual:
        raise InstallError("checksum", f"{origin} has SHA-256 {actual}, not the expected {expected}.",
                           "The file is not the release you asked for (or was damaged): nothing was installed. "
                           "Download it again, or check the --sha256 you passed.")


INSECURE_HINT = ("Pass --sha256 with the release's checksum, use an https:// URL, or pass --insecure to install it "
                 "unchecked.")


def _is_https(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme.lower() == "https"


def download(url: str, target: Path, progress: DownloadProgress | None = None, *, plain_http_ok: bool = True) -> str:
    """Fetch `url` into `target` (created, never followed if a link); its SHA-256. Without
    `plain_http_ok`, a redirect from https to plain http is refused before any byte is kept."""
    opener = urllib.request.build_opener()  # honours the user's proxy settings: they may need one
    request = urllib.request.Request(url, headers={"User-Agent": "mybb-mcp"})
    digest = hashlib.sha256()
    try:
        with opener.open(request, timeout=READ_TIMEOUT) as response:
            if not plain_http_ok and not _is_https(response.geturl()):
                raise InstallError("download", f"{url} redirected to plain HTTP ({response.geturl()}): anyone on the "
                                   "way could swap the archive. Nothing was installed.", INSECURE_HINT)
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                done = 0
                while block := response.read(CHUNK):
                    done += len(block)
                    if done > MAX_DOWNLOAD_BYTES:
                        raise InstallError("download", f"{url} is larger than {MAX_DOWNLOAD_BYTES >> 20} MB: "
                                           "not a MyBB release.", "Check the URL.")
                    digest.update(block)
                    out.write(block)
                    if progress:
                        progress(done, total)
    except InstallError:
        target.unlink(missing_ok=True)
        raise
    except (OSError, urllib.error.URLError, ValueError) as exc:
        target.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}"
        raise InstallError("download", f"Cannot download {url}: {reason}.",
                           "Check the network (or a proxy: https_proxy), or download the archive yourself "
                           "and pass it with --from PATH.") from exc
    return digest.hexdigest()
