"""utils.agents.tools: the safe calculator (equal to Python's arithmetic, refusing everything else), the WordNet
dictionary, and tools that check their arguments."""

from __future__ import annotations

import pytest

from utils.agents.tools import (
    Tool,
    ToolError,
    WordNetDictionary,
    calculate,
    calculator_tool,
    dictionary_tool,
    format_number,
)

ROWS = [
    {"input": "lamp (noun)", "kind": "definition", "output": "A source of light.", "instruction": "Define the word."},
    {"input": "lamp (noun)", "kind": "synonyms", "output": "light, lantern", "instruction": "Give synonyms."},
    {"input": "back (verb)", "kind": "example", "output": "I backed him.", "instruction": "Use the word."},
    {"input": "back (noun)", "kind": "definition", "output": "The rear part.", "instruction": "Define the word."},
]


@pytest.mark.parametrize(
    "expression",
    ["347 * 29", "1 + 2 * 3", "(18 - 5) * 12", "7 / 2", "7 // 2", "-7 % 3", "2 ** 10", "-(3 + 4)", "1.5e3"],
)
def test_calculate_equals_python(expression: str) -> None:
    assert calculate(expression) == eval(expression)  # the reference, on trusted test strings only


def test_calculate_reads_common_spellings() -> None:
    assert calculate("2^10") == 1024 and calculate("6 × 7") == 42 and calculate("9 ÷ 2") == 4.5
    assert calculate("1,000 + 1") == 1001 and calculate("12,345,678 * 2") == 24691356  # thousands separators
    assert calculate("1,000.5 + 1") == 1001.5


@pytest.mark.parametrize(
    ("expression", "match"),
    [
        ("__import__('os').system('true')", "allowed"),
        ("x + 1", "allowed"),
        ("abs(-1)", "allowed"),
        ("True + 1", "allowed"),
        ("'a' * 3", "allowed"),
        ("1 << 100000", "LShift"),  # no shifts: they would build huge integers too
        ("1 < 2", "Compare"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("5 // 0.0", "division by zero"),
        ("0.0 ** -1", "division by zero"),
        ("2 ** 1000", "too large"),
        ("9 ** 9 ** 9", "too large"),  # refused before 9 ** 387420489 is computed
        ("9 ** 9 ** 9 ** 9", "too large"),
        ("10 ** 100000", "too large"),
        ("1e10 ** 40", "too large"),  # a float power past the float range (was an OverflowError)
        ("2.0 ** 1000 * 2.0 ** 1000", "too large"),
        ("1e300 * 1e300", "too large"),
        ("1e18 / 1e-300", "too large"),
        ("(10 ** 18) ** 64", "too large"),
        ("99999999999 * 99999999999", "too large"),
        ("1" + "0" * 30, "too large"),  # a number written out beyond MAX_MAGNITUDE
        ("1e999", "not a finite number"),
        ("1,5 + 1", "decimals with a dot"),  # was read as 15 + 1 = 16
        ("1,0000", "not a thousands separator"),
        ("0.1,000", "not a thousands separator"),
        ("(1, 5)", "not a thousands separator"),
        ("1 +", "not an arithmetic expression"),
        ("1\x00", "not an arithmetic expression"),
        ("", "empty"),
        ("1" * 300, "longer"),
    ],
)
@pytest.mark.timeout(10)
def test_calculate_refuses_everything_else(expression: str, match: str) -> None:
    with pytest.raises(ToolError, match=match):
        calculate(expression)


def test_format_number() -> None:
    assert [format_number(v) for v in (6, 6.0, 1 / 3, -2.5, 10**12)] == ["6", "6", "0.333333", "-2.5", "1000000000000"]


def test_dictionary_lookup() -> None:
    words = WordNetDictionary(ROWS)
    assert len(words) == 2 and "Lamp" in words and "lantern" not in words
    assert words.lookup(" Lamp. ") == "lamp (noun): A source of light. Synonyms: light, lantern."
    assert words.lookup("back").splitlines() == ["back (noun): The rear part.", 'back (verb): Example: "I backed him."']
    with pytest.raises(ToolError, match="not in the dictionary"):
        words.lookup("zebra")


def test_real_dictionary_has_the_test_words() -> None:
    words = WordNetDictionary()
    assert len(words) > 5000
    assert words.lookup("memorandum").startswith("memorandum (noun): A written proposal or reminder.")


def test_tools_check_their_arguments() -> None:
    calculator, dictionary = calculator_tool(), dictionary_tool(WordNetDictionary(ROWS))
    assert isinstance(calculator, Tool) and calculator.run({"expression": "6 * 7"}) == "42"
    assert dictionary.run({"word": "lamp"}).startswith("lamp (noun)")
    with pytest.raises(ToolError, match="required field 'expression'"):
        calculator.run({"expr": "1"})
    with pytest.raises(ToolError, match="must be of type string"):
        dictionary.run({"word": 3})
    with pytest.raises(ToolError, match="too large"):  # a ToolError, which the agent loop reports to the model
        calculator.run({"expression": "1e10 ** 40"})
