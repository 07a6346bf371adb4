"""The checked reading of the JSON our PHP answers: what it writes comes through unchanged, an empty answer
reads as empty, and any other shape raises as using the raw value did (the tool's unexpected failure, never a
wrong answer)."""

from __future__ import annotations

import pytest

from mybb_mcp.workbench.php_json import (
    answer_object,
    int_at,
    items,
    iterate,
    list_or_empty,
    object_or_empty,
    objects,
    str_at,
    text,
    to_int,
)


def test_what_php_writes_comes_through_unchanged() -> None:
    row = {"sid": -2, "set": "master", "template": "<b>{$x}</b>"}
    assert answer_object(row) is row
    assert objects([row, row]) == [row, row]
    assert int_at(row, "sid") == -2 and str_at(row, "set") == "master"
    assert items([1, "a"]) == [1, "a"] and text("out") == "out"


@pytest.mark.parametrize("empty", [None, [], {}, "", 0, False])
def test_an_empty_answer_reads_as_empty(empty: object) -> None:
    assert answer_object(empty) == {}
    assert items(empty) == [] and objects(empty) == []
    assert text(empty) == ""


@pytest.mark.parametrize("value", ["text", 3, [1], True])
def test_another_shape_where_an_object_is_read_raises(value: object) -> None:
    with pytest.raises(TypeError, match="where a JSON object was expected"):
        answer_object(value)
    with pytest.raises(TypeError, match="where a JSON object was expected"):
        objects([{"sid": 1}, value])


def test_a_missing_key_or_a_value_of_another_type_raises() -> None:
    with pytest.raises(KeyError):
        int_at({}, "sid")
    with pytest.raises(TypeError, match="'sid' where an integer was expected"):
        int_at({"sid": "1"}, "sid")
    with pytest.raises(TypeError, match="'sid' where an integer was expected"):
        int_at({"sid": True}, "sid")
    with pytest.raises(TypeError, match="where text was expected"):
        str_at({"set": 1}, "set")
    with pytest.raises(TypeError, match="where a JSON array was expected"):
        items({"a": 1})
    with pytest.raises(TypeError, match="where text was expected"):
        text(["a"])


def test_to_int_reads_a_json_value_as_int_does() -> None:
    for value in (7, "7", 7.9, True):
        assert to_int(value) == int(value)
    with pytest.raises(ValueError):
        to_int("seven")
    for value in (None, [], {}):
        with pytest.raises(TypeError):
            to_int(value)


def test_the_lenient_readers_drop_what_is_not_their_shape() -> None:
    assert object_or_empty(["a"]) == {} and object_or_empty({"a": 1}) == {"a": 1}
    assert list_or_empty({"a": 1}) == [] and list_or_empty(["a"]) == ["a"]
    assert list(iterate({"a": 1})) == ["a"] and list(iterate("ab")) == ["a", "b"]
    with pytest.raises(TypeError, match="not iterable"):
        iterate(5)
