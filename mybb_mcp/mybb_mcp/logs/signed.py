"""The signed channel: the lines orchestration/errors.php writes into the server log, and their keys.

errors.php (PHP's auto_prepend_file, set by `start`) writes `mybb-mcp-KIND:MAC JSON` lines, KIND
`begin`/`end` (a request's frame; `end` names what PHP logged that no handler sees and what php -S's
line about the request holds) or `error` (a receipt: the exact line PHP is about to log), MAC the first
32 hex digits of HMAC-SHA256(key, "KIND JSON"). They are hidden from answers; forgery.py reads them. The
key is new at every start, kept in `.mybb-mcp-error-keys` beside the log (ours, 0600; the last
KEEP_KEYS starts, so rotated logs still verify) and named to php -S by path (MYBB_MCP_ERROR_KEYS), never
by value: a page that prints its environment shows no key. A visitor cannot sign, and a local user who
reads the log cannot sign new text either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..safe_files import UnsafeFile, read_own_small

KEYS_FILE = ".mybb-mcp-error-keys"
ENV_NAME = "MYBB_MCP_ERROR_KEYS"
PREPEND = Path(__file__).resolve().parent.parent / "orchestration" / "errors.php"
KEEP_KEYS = 32  # a log spans every start until it is rotated
HEADER_MARK = "PHP's error lines are vouched for by signed receipts"
BEGIN, END, RECEIPT = "begin", "end", "error"
MAX_LINE = 64 * 1024  # errors.php cuts what a receipt names at 4,000 bytes; escaped it stays well below

SIGNED = re.compile(r"mybb-mcp-(begin|end|error):([0-9a-f]{32}) (\{.*\})\r?$", re.DOTALL)
SIGNED_BYTES = re.compile(rb"mybb-mcp-(begin|end|error):([0-9a-f]{32}) (\{.*\})\r?$", re.DOTALL)


@dataclass(frozen=True)
class SignedLine:
    kind: str
    request: str
    data: dict[str, object]  # the JSON PHP signed: read with isinstance where it is used


def keys_file(log_file: os.PathLike[str] | str) -> Path:
    return Path(log_file).parent / KEYS_FILE


def read_keys(log_file: os.PathLike[str] | str) -> list[bytes]:
    """The keys of this log's folder (newest last); [] when there is no file of ours."""
    try:
        data = read_own_small(keys_file(log_file), 4096)
    except (OSError, UnsafeFile):
        return []
    return [line.encode() for line in (data or b"").decode("ascii", "replace").split()
            if re.fullmatch(r"[0-9a-f]{64}", line)]


def new_key(log_file: os.PathLike[str] | str) -> dict[str, str]:
    """Before php -S starts: a new key appended (the last KEEP_KEYS kept); the environment naming the file."""
    path = keys_file(log_file)
    kept = [k.decode() for k in read_keys(log_file)][-(KEEP_KEYS - 1):]
    temporary = path.with_name(f"{KEYS_FILE}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, ("\n".join([*kept, secrets.token_hex(32)]) + "\n").encode())
    finally:
        os.close(fd)
    os.replace(temporary, path)  # a link planted at the name is replaced, never followed
    return {ENV_NAME: str(path)}


def verify(keys: list[bytes], text: str | bytes) -> SignedLine | None:
    """The signed line `text` (the body after the stamp) if one of `keys` signed it, else None."""
    if isinstance(text, bytes):
        raw = SIGNED_BYTES.match(text)
        parts = tuple(g.decode("ascii", "replace") for g in raw.groups()) if raw else None
    else:
        match = SIGNED.match(text)
        parts = match.groups() if match else None
    if parts is None or len(parts[2]) > MAX_LINE:
        return None
    kind, mac, payload = parts
    signed = f"{kind} {payload}".encode()
    if not any(hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).hexdigest()[:32], mac) for key in keys):
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("request"), str):
        return None
    return SignedLine(kind, data["request"], data)


def log_is_signed(head: bytes) -> bool:
    """Whether a log's first line (the header `start` wrote before PHP ran) says the channel is on."""
    return HEADER_MARK.encode() in head.split(b"\n", 1)[0]


def open_header_mark() -> str:
    return f"; {HEADER_MARK}"


__all__ = ["ENV_NAME", "HEADER_MARK", "KEYS_FILE", "PREPEND", "SIGNED", "SignedLine", "log_is_signed", "new_key",
           "read_keys", "verify"]
