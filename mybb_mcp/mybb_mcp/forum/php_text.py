"""Reading PHP source as text, where a regular expression is not enough: the end of a call."""

from __future__ import annotations


def call_end(text: str, open_at: int, limit: int | None = None) -> int | None:
    """The index just after the ')' closing the '(' at `open_at`, strings and nested parentheses respected;
    None when it is not closed before `limit` (default: the end of the text)."""
    depth, quote = 0, ""
    end = len(text) if limit is None else min(len(text), limit)
    index = open_at
    while index < end:
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return None
