"""Reading the JSON our PHP answers (a snippet's `$result`, a trace file) and Chromium's events: untyped, so
each value is checked where it is read, once, and typed from there on.

A shape other than the one our PHP (or Chromium's protocol) writes raises as the raw value would have when
used (TypeError for a value of another type, KeyError for a key that is missing, ValueError for text that is
not a number): the tool then fails as it did before, never with a wrong answer.
"""

from __future__ import annotations

from collections.abc import Iterable

JsonObject = dict[str, object]  # JSON's keys are always text


def answer_object(value: object) -> JsonObject:
    """An answer that should be a JSON object: {} for an empty one (null, [], PHP's `array()`)."""
    if not value:
        return {}
    if isinstance(value, dict):
        return value
    raise TypeError(f"got a {type(value).__name__} where a JSON object was expected")


def object_or_empty(value: object) -> JsonObject:
    """A JSON object, or {} for anything else (where a missing or odd part is simply not there)."""
    return value if isinstance(value, dict) else {}


def items(value: object) -> list[object]:
    """A JSON array: [] for an empty value (null, a missing key)."""
    if not value:
        return []
    if isinstance(value, list):
        return value
    raise TypeError(f"got a {type(value).__name__} where a JSON array was expected")


def objects(value: object) -> list[JsonObject]:
    """A JSON array of objects ([] for an empty value)."""
    out: list[JsonObject] = []
    for item in items(value):
        if not isinstance(item, dict):
            raise TypeError(f"got a {type(item).__name__} where a JSON object was expected")
        out.append(item)
    return out


def list_or_empty(value: object) -> list[object]:
    """A JSON array, or [] for anything else."""
    return value if isinstance(value, list) else []


def iterate(value: object) -> Iterable[object]:
    """A JSON value to loop over as Python would (an array's items, an object's keys, text's characters)."""
    if isinstance(value, (list, dict, str)):
        return value
    raise TypeError(f"'{type(value).__name__}' object is not iterable")


def text(value: object) -> str:
    """A JSON string: "" for an empty value (null, a missing key)."""
    if not value:
        return ""
    if isinstance(value, str):
        return value
    raise TypeError(f"got a {type(value).__name__} where text was expected")


def to_int(value: object) -> int:
    """int(value), for a JSON value: what int() takes of it, and its error for the rest."""
    if isinstance(value, (int, float, str)):
        return int(value)
    raise TypeError(f"int() argument must be a string or a real number, not '{type(value).__name__}'")


def int_at(data: JsonObject, key: str) -> int:
    """data[key], which our PHP writes as an integer."""
    value = data[key]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"got a {type(value).__name__} for {key!r} where an integer was expected")


def str_at(data: JsonObject, key: str) -> str:
    """data[key], which our PHP writes as text."""
    value = data[key]
    if isinstance(value, str):
        return value
    raise TypeError(f"got a {type(value).__name__} for {key!r} where text was expected")
