"""Document text (PROTOCOL §3)."""
from __future__ import annotations

import pytest

from pocket_client.documents import InvalidDocument, json_equal, parse, strip_reserved


def test_text_without_reserved_keys_is_kept_byte_for_byte():
    text = '{"n": 9007199254740993, "f": 1.50, "t": "caf\\u00e9", "z": 1, "a": 2}'
    assert strip_reserved(text) is text


def test_reserved_keys_are_stripped_and_the_rest_kept():
    text = '{"_id": "x", "_rev": "1-a", "_deleted": false, "title": "Café ☕", "n": 9007199254740993}'
    assert strip_reserved(text) == '{"title":"Café ☕","n":9007199254740993}'


@pytest.mark.parametrize("text", ["[1]", '"s"', "null", "{", "", '{"x": NaN}', '{"x": Infinity}'])
def test_anything_but_a_json_object_is_refused(text):
    with pytest.raises(InvalidDocument):
        parse(text)


def test_json_equality_is_not_python_equality():
    assert not json_equal(True, 1)
    assert not json_equal(False, 0)
    assert not json_equal([True], [1])
    assert json_equal(1, 1.0)
    assert json_equal({"a": [1, {"b": None}], "c": "x"}, {"c": "x", "a": [1.0, {"b": None}]})
    assert not json_equal({"a": None}, {})
    assert not json_equal([1, 2], [2, 1])
    assert not json_equal("1", 1)
