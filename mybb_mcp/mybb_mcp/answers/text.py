"""Text from pages and logs made safe for an answer: secrets redacted, control characters dropped,
one line in a code span.
"""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

_SECRETS = re.compile(r"((?:my_post_key|logoutkey|adminsid|sid)=)[0-9a-f]{8,}")


def redact(text: str) -> str:
    """Session secrets (my_post_key, logoutkey, session ids) in URLs, shown as `…`."""
    return _SECRETS.sub(r"\1…", text)


def code(text: str, limit: int = 600) -> str:
    """Text from a page or a log as an inline code span (control characters dropped, secrets redacted, cut to
    `limit`)."""
    text = " ".join(redact(CONTROL.sub("", text)).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if not text:
        return "(empty)"
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def format_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
