"""Documents on the wire are JSON text whose top-level value is an object
(PROTOCOL §3)."""
from __future__ import annotations

import json
from typing import Any, Union

JsonValue = Union[None, bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"]]
JsonObject = dict[str, JsonValue]

# The client's local metadata, never sent inside a document (§3.3).
RESERVED_KEYS = frozenset({"_id", "_rev", "_deleted"})


class InvalidDocument(ValueError):
    """The text is not a JSON object."""


def _refuse_constant(name: str) -> Any:
    raise InvalidDocument(f"{name} is not JSON")


def parse(text: str) -> JsonObject:
    """Parses document text; NaN and Infinity are refused, as in JSON."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InvalidDocument(f"a document must be JSON: {error}") from error
    if not isinstance(value, dict):
        raise InvalidDocument("a document must be a JSON object")
    return value


def dumps(document: JsonObject) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def strip_reserved(text: str) -> str:
    """Removes the reserved top-level keys, keeping the text byte for byte
    when there are none (so numbers and key order travel untouched)."""
    document = parse(text)
    if RESERVED_KEYS.isdisjoint(document):
        return text
    return dumps({k: v for k, v in document.items() if k not in RESERVED_KEYS})


def json_equal(a: JsonValue, b: JsonValue) -> bool:
    """Structural equality of JSON values. Unlike ==, true is not 1; as in
    JSON, 1 and 1.0 are the same number and key order does not matter."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    return type(a) is type(b) and a == b
