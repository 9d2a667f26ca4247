"""The checkers of the tool-use exercises of notebook 16. Each computes or holds the expected answer itself, so the
notebook never shows it; it prints right or wrong and returns it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..course.grading import check_answer, exercise
from .loop import MalformedCall, parse_action
from .schema import schema_errors
from .tools import calculator_tool

__all__ = ["check_guided_failure", "check_malformed_count", "check_temperature_schema"]

#: Arguments a `convert_temperature` tool must accept (True) or refuse (False): one required number "celsius".
_TEMPERATURE_CASES: tuple[tuple[Any, bool], ...] = (
    ({"celsius": 21.5}, True),
    ({"celsius": -40}, True),
    ({"celsius": "21.5"}, False),
    ({}, False),
    ({"celsius": 20, "unit": "F"}, False),
    ({"fahrenheit": 70}, False),
    ([21.5], False),
    ({"celsius": True}, False),
)
_SOLUTION_SCHEMA = {
    "type": "object",
    "properties": {"celsius": {"type": "number"}},
    "required": ["celsius"],
    "additionalProperties": False,
}


@exercise(
    wrong=[
        {"type": "object"},  # accepts anything shaped like an object
        {"type": "object", "properties": {"celsius": {"type": "number"}}},  # "celsius" not required, extras allowed
        {**_SOLUTION_SCHEMA, "properties": {"celsius": {"type": "string"}}},  # the wrong type
        "celsius: number",
        None,
    ],
    solution=_SOLUTION_SCHEMA,
)
def check_temperature_schema(answer: Any) -> bool:
    """Notebook 16, exercise 2: a JSON Schema for the arguments of a `convert_temperature` tool, one required number
    `celsius` and nothing else. Checked by the verdicts it gives on a set of argument objects."""
    if not isinstance(answer, dict):
        return check_answer("temperature schema", answer, "a dict (a JSON Schema)")
    try:
        verdicts = [not schema_errors(arguments, answer) for arguments, _ in _TEMPERATURE_CASES]
    except (ValueError, TypeError, KeyError) as err:
        print(f"❌ temperature schema: the validator could not use it ({err}).")
        return False
    expected = [ok for _, ok in _TEMPERATURE_CASES]
    wrong = [
        arguments for (arguments, _), got, ok in zip(_TEMPERATURE_CASES, verdicts, expected, strict=True) if got != ok
    ]
    if wrong:
        print(f"❌ temperature schema: not yet. It gives the wrong verdict on {wrong!r}.")
        return False
    print("✅ temperature schema: correct.")
    return True


@exercise(
    wrong=[0, 5, 2, None],
    solution=3,
    context={
        "outputs": [
            '{"tool": "calculator", "arguments": {"expression": "3 * 4"}}',
            "The answer is 12.",
            '{"tool": "calculator", "arguments": {"expr": "3 * 4"}}',
            '{"answer": "12"}',
            "{'answer': '12'}",
        ]
    },
)
def check_malformed_count(answer: Any, outputs: Sequence[str]) -> bool:
    """Notebook 16, exercise 3: how many of `outputs` the loop counts as malformed (with the calculator as the only
    tool)."""
    tools = [calculator_tool()]
    expected = 0
    for output in outputs:
        try:
            parse_action(output, tools)
        except MalformedCall:
            expected += 1
    return check_answer("malformed turns", answer, expected)


@exercise(wrong=["a", "b", "d", "A and C", None], solution="c")
def check_guided_failure(answer: Any) -> bool:
    """Notebook 16, exercise 4 (conceptual): in guided mode, which failure is still possible?"""
    given = answer.strip().lower().strip("() .") if isinstance(answer, str) else answer
    return check_answer("what guided decoding leaves to the model", given, "c")
