"""Arguments of the service's calls, checked (an InvalidArgument names the problem and the fix), and
the host and URL they make.
"""

from __future__ import annotations

import ipaddress
import socket

from ..errors import InvalidArgument, shown_value


def server_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def is_loopback_host(host: str) -> bool:
    """Whether binding `host` keeps the forum on this machine, in every spelling PHP accepts for it
    (`127.1` and `2130706433` are 127.0.0.1 to inet_aton; `::ffff:127.0.0.1` is it mapped into IPv6)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        try:
            return socket.inet_aton(name)[0] == 127
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def validate_port(port: object, name: str = "port") -> int | None:
    if port is None:
        return None
    if not isinstance(port, int) or isinstance(port, bool):
        raise InvalidArgument(f"{name} must be a whole number, got {shown_value(port)}.",
                              "Pass a port from 1 to 65535.")
    if not 1 <= port <= 65535:
        raise InvalidArgument(f"{name} {port} is out of range.", "Pass a port from 1 to 65535.")
    return port


def validate_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name} must be true or false, got {shown_value(value)}.", f"Pass {name} as a boolean.")
    return value


def validate_workers(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 64:
        raise InvalidArgument(
            f"workers must be a whole number from 1 to 64, got {shown_value(value)}.",
            "Pass 1 for a single PHP process, or 2-64 for a pool (PHP_CLI_SERVER_WORKERS).",
        )
    return value


def validate_host(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value) or "/" in value:
        raise InvalidArgument(
            f"host must be a host name or IP address, got {shown_value(value)}.",
            "Pass 127.0.0.1 (the default) unless the forum must be reachable from other machines.",
        )
    return value.strip()
