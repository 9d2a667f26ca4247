"""utils.agents.schema: the hand-written validator gives the same verdict as the jsonschema library."""

from __future__ import annotations

import pytest

from utils.agents.schema import is_valid, schema_errors

jsonschema = pytest.importorskip("jsonschema")

CALL = {
    "type": "object",
    "properties": {
        "tool": {"type": "string", "enum": ["calculator", "dictionary"]},
        "arguments": {"type": "object"},
    },
    "required": ["tool", "arguments"],
    "additionalProperties": False,
}
ARGUMENTS = {
    "type": "object",
    "properties": {
        "word": {"type": "string", "minLength": 1, "maxLength": 20},
        "count": {"type": "integer", "minimum": 1, "maximum": 5},
        "scale": {"type": ["number", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "strict": {"type": "boolean"},
    },
    "required": ["word"],
    "additionalProperties": False,
}
CASES = [
    (CALL, {"tool": "calculator", "arguments": {"expression": "1 + 1"}}),
    (CALL, {"tool": "calculator"}),
    (CALL, {"tool": "search", "arguments": {}}),
    (CALL, {"tool": "dictionary", "arguments": [], "extra": 1}),
    (CALL, ["tool", "calculator"]),
    (CALL, "calculator"),
    (ARGUMENTS, {"word": "lamp"}),
    (ARGUMENTS, {"word": ""}),
    (ARGUMENTS, {"word": "x" * 21}),
    (ARGUMENTS, {"word": "lamp", "count": 3}),
    (ARGUMENTS, {"word": "lamp", "count": 3.0}),  # an integral float is an integer
    (ARGUMENTS, {"word": "lamp", "count": 3.5}),
    (ARGUMENTS, {"word": "lamp", "count": True}),  # a boolean is not a number
    (ARGUMENTS, {"word": "lamp", "count": 0}),
    (ARGUMENTS, {"word": "lamp", "count": 6}),
    (ARGUMENTS, {"word": "lamp", "scale": None}),
    (ARGUMENTS, {"word": "lamp", "scale": 0.5}),
    (ARGUMENTS, {"word": "lamp", "scale": "big"}),
    (ARGUMENTS, {"word": "lamp", "tags": ["a", "b"]}),
    (ARGUMENTS, {"word": "lamp", "tags": ["a", 2]}),
    (ARGUMENTS, {"word": "lamp", "strict": False}),
    (ARGUMENTS, {"word": "lamp", "strict": 0}),
    (ARGUMENTS, {"word": 7}),
    (ARGUMENTS, {"words": "lamp"}),
    ({"type": "object", "additionalProperties": {"type": "number"}}, {"a": 1, "b": 2.5}),
    ({"type": "object", "additionalProperties": {"type": "number"}}, {"a": "1"}),
    ({"enum": [1, "a", None]}, None),
    ({"enum": [1, "a", None]}, 2),
]


@pytest.mark.parametrize(("schema", "instance"), CASES)
def test_same_verdict_as_jsonschema(schema: dict, instance: object) -> None:
    expected = jsonschema.Draft202012Validator(schema).is_valid(instance)
    assert is_valid(instance, schema) == expected
    assert (schema_errors(instance, schema) == []) == expected


def test_errors_name_the_place() -> None:
    errors = schema_errors({"tool": "search", "arguments": {}, "x": 1}, CALL)
    assert any(e.startswith("$.tool must be one of") for e in errors)
    assert any("unexpected field 'x'" in e for e in errors)
    assert schema_errors({"word": "a", "tags": [1]}, ARGUMENTS) == ["$.tags[0] must be of type string, got 1"]


def test_unsupported_keywords_are_refused() -> None:
    with pytest.raises(ValueError, match="pattern"):
        schema_errors("x", {"type": "string", "pattern": "^x$"})
