"""Text nobody vouches for - log lines, forum files, other processes' command lines - made inert.

A forum visitor writes into the server log (PHP logs request data verbatim), other local users
choose their programs' command lines, and both end up in answers. Such text must never become
markdown structure (a heading, a link, the end of a code span), instructions, or terminal control.
Renderers put it only through these functions:

- `code_span(text)`: one line of inline code whose backtick fence is longer than any run inside;
- `code_block(lines)`: a fenced block whose fence is longer than any backtick run inside;
- `one_line(text)`: text for a table cell, heading or list item: no newline, no cell separator;

and every one of them shows control characters as visible escapes (`\\x1b`, `\\u202e`). The CLI
passes everything it prints through `terminal_safe` as well, so nothing reaches a terminal as an
escape sequence whatever path it took.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, and the bidirectional formatting characters
# (embeddings, overrides, isolates, marks) that make a terminal or editor show text in another order.
CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
_NEWLINES = re.compile(r"\r\n|[\r\n]")
_BACKTICKS = re.compile(r"`+")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, json: bool = False) -> str:
    """`text` with every control character except newline and tab shown as an escape (`\\x1b[2J`
    prints as those characters, not as a cleared screen). For JSON text (`json`), as `\\uXXXX`
    escapes, which JSON reads back as the same characters (they only occur inside its strings)."""
    return CONTROL.sub(_json_escape if json else _escape, text)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def one_line(text: str, *, cell: bool = False) -> str:
    """`text` as one line: newlines shown as `⏎`, controls escaped; for a table `cell`, `|` escaped."""
    flat = terminal_safe(_NEWLINES.sub(" ⏎ ", text)).replace("\t", " ")
    return flat.replace("|", "\\|") if cell else flat


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code_span(text: str) -> str:
    """`text` as inline code that nothing inside can end (CommonMark: a longer fence, padded with a
    space when the text starts or ends with a backtick)."""
    body = terminal_safe(_NEWLINES.sub(" ⏎ ", text)).replace("\t", " ")
    fence = "`" * (_longest_backtick_run(body) + 1)
    if not body.strip():
        body = body or " "
    elif body.startswith("`") or body.endswith("`"):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def code_block(lines: list[str], indent: str = "") -> list[str]:
    """`lines` fenced as a code block (each line one line: embedded newlines are split off)."""
    shown = [terminal_safe(part) for line in lines for part in _NEWLINES.split(line)]
    fence = "`" * max(3, max((_longest_backtick_run(line) for line in shown), default=0) + 1)
    return [f"{indent}{fence}", *(f"{indent}{line}" for line in shown), f"{indent}{fence}"]


__all__ = ["code_block", "code_span", "one_line", "terminal_safe"]
