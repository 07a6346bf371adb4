"""The zone header each server log starts with: the zone PHP stamps its times in, so `since` is right
whatever TZ the server ran with.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone, tzinfo

from .parser import ORCHESTRATOR_TAG, format_php_timestamp
from .reader import open_log

try:  # Python >= 3.9 always has zoneinfo; tzdata may still be missing
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover
    ZoneInfo = None  # type: ignore[assignment,misc]


# --- the zone header ------------------------------------------------------------------------------------

ZONE_HEADER = re.compile(
    re.escape(ORCHESTRATOR_TAG)
    + r"log opened; timestamps are local time, zone (?:(?P<key>[^\s()]+) \((?P<o1>UTC[+-]\d\d:\d\d)\)"
    + r"|(?P<o2>UTC[+-]\d\d:\d\d))"
)


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_zone_header(now: datetime) -> str:
    """The first line of a fresh server log (no newline: the writer adds it), naming the stamps' zone.

    `now` is aware, in the zone the PHP server runs in (its TZ). Written in php's own stamp
    format so the readers treat it as an ordinary entry.
    """
    offset = now.utcoffset()
    if offset is None:
        raise ValueError("format_zone_header needs an aware datetime")
    key = getattr(now.tzinfo, "key", None)
    zone = f"{key} ({_format_offset(offset)})" if key else _format_offset(offset)
    return f"[{format_php_timestamp(now)}] {ORCHESTRATOR_TAG}log opened; timestamps are local time, zone {zone}"


def _parse_offset(text: str) -> timezone:
    sign = -1 if text[3] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[4:6]), minutes=int(text[7:9])))


def _zone(key: str) -> tzinfo | None:
    if ZoneInfo is None or not key:
        return None
    try:
        return ZoneInfo(key)
    except (ValueError, OSError, KeyError):  # unknown key, bad path, missing tzdata
        return None


def read_log_zone(path: str | os.PathLike[str]) -> tzinfo:
    """The zone the log's timestamps are in, from its header; else this process's zone (offset now)."""
    try:
        with open_log(path) as handle:
            head = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        head = ""
    return zone_of_head(head)


def zone_of_head(head: str) -> tzinfo:
    match = ZONE_HEADER.search(head)
    if match:
        key = match.group("key")
        zone = _zone(key) if key else None
        return zone or _parse_offset(match.group("o1") or match.group("o2"))
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local


def local_zone_key() -> str | None:
    """The IANA key of this process's zone: TZ (without a leading ':'), else /etc/localtime's target."""
    if "TZ" in os.environ:
        key = os.environ["TZ"].lstrip(":") or "UTC"  # an empty TZ means UTC to libc
        if key.startswith("/"):
            key = key.split("zoneinfo/", 1)[1] if "zoneinfo/" in key else ""
        return key if _zone(key) is not None else None
    target = os.path.realpath("/etc/localtime")
    if "zoneinfo/" not in target:
        return None
    key = target.split("zoneinfo/", 1)[1]
    return key if _zone(key) is not None else None
