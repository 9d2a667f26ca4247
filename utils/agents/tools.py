"""The tools a model may call: a calculator and a dictionary. Taught in notebook 16.

A `Tool` is a name, a one-line description (what the model reads), a JSON Schema of its arguments (what the code
checks before running it) and a Python function that returns text (what the model reads back as the observation).

* `calculate` evaluates arithmetic by walking Python's syntax tree and allowing only numbers, `+ - * / // % **`,
  signs and brackets: never `eval`, so "__import__('os')" is an error, not a disaster. Every failure is a
  `ToolError` (never an OverflowError or a hang): results beyond `MAX_MAGNITUDE` and exponents beyond
  `MAX_EXPONENT` are refused before a huge number is built, division by zero is refused, and a comma is read only
  as a thousands separator between groups of three digits ("1,000"); any other comma ("1,5") is refused, since it
  could be a decimal comma.
* `WordNetDictionary` looks words up in the course's WordNet rows (`load_wordnet_instructions`: definitions,
  synonyms, example sentences), all offline.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..assets.datasets import load_wordnet_instructions
from ..course.arguments import require_type
from .schema import schema_errors

MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 64
MAX_MAGNITUDE = 1e18  # results beyond this are refused (and so are the huge powers that would produce them)

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_SPELLINGS = {"×": "*", "÷": "/", "−": "-", "^": "**"}  # what people (and models) write for the Python operators
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,])")  # 1,000 and 12,345,678, not 1,5 or 1,0000


class ToolError(ValueError):
    """A tool could not do what it was asked (bad arguments, an unknown word, division by zero); its message is
    shown to the model as the observation."""


def _evaluate(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > MAX_EXPONENT or abs(left) > MAX_MAGNITUDE):
            raise ToolError(f"the power {left} ** {right} is too large (exponents up to {MAX_EXPONENT}).")
        try:
            value = _BINARY[type(node.op)](left, right)
        except ZeroDivisionError as err:
            raise ToolError("division by zero.") from err
        except OverflowError as err:  # a float power beyond the float range, e.g. 1e10 ** 40
            raise ToolError(f"the result is too large (more than {MAX_MAGNITUDE:.0e}).") from err
        if isinstance(value, complex):
            raise ToolError("the result is not a real number.")
        if abs(value) > MAX_MAGNITUDE:
            raise ToolError(f"the result is too large (more than {MAX_MAGNITUDE:.0e}).")
        return value
    found = type(getattr(node, "op", node)).__name__  # the operator (e.g. LShift) or the kind of expression
    raise ToolError(f"only numbers, + - * / // % ** and brackets are allowed, found {found}.")


def calculate(expression: str) -> int | float:
    """The value of an arithmetic expression such as "12 * (3 + 4) / 2": numbers, `+ - * / // % **` (also `^`,
    `×`, `÷` for power, times, divide), signs and brackets. Anything else raises `ToolError`."""
    require_type("expression", expression, str)
    text = _THOUSANDS.sub(lambda match: match.group().replace(",", ""), expression.strip())
    if "," in text:
        raise ToolError(
            f"{expression!r} has a comma that is not a thousands separator: write decimals with a dot (1.5) and "
            "thousands as 1000 or 1,000."
        )
    for spelling, python in _SPELLINGS.items():
        text = text.replace(spelling, python)
    if not text:
        raise ToolError("the expression is empty.")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters.")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as err:  # ValueError: a null byte, on some Python versions
        raise ToolError(f"{expression!r} is not an arithmetic expression.") from err
    value = _evaluate(tree)
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolError("the result is not a finite number.")
    if abs(value) > MAX_MAGNITUDE:  # a number written out that large, with no operation to refuse it
        raise ToolError(f"the result is too large (more than {MAX_MAGNITUDE:.0e}).")
    return value


def format_number(value: int | float) -> str:
    """A number as an answer reads: integers without a decimal point (also 6.0 -> "6"), others to 6 decimals
    with trailing zeros dropped (1/3 -> "0.333333")."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.6f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class WordEntry:
    """What the dictionary knows about one word in one part of speech (any field may be empty)."""

    word: str
    part_of_speech: str
    definition: str = ""
    synonyms: str = ""
    example: str = ""

    def describe(self) -> str:
        parts = [f"{self.word} ({self.part_of_speech}):"]
        parts += [self.definition] if self.definition else []
        parts += [f"Synonyms: {self.synonyms}."] if self.synonyms else []
        parts += [f'Example: "{self.example}"'] if self.example else []
        return " ".join(parts)


class WordNetDictionary:
    """Words of the course's WordNet rows (definitions, synonyms, example sentences of every split), looked up by
    their lower-cased spelling."""

    def __init__(self, rows: list[dict[str, str]] | None = None) -> None:
        if rows is None:
            data = load_wordnet_instructions()
            rows = [dict(row) for split in ("train", "test") for row in data[split]]
        fields: dict[tuple[str, str], dict[str, str]] = {}
        for row in rows:
            word, _, pos = row["input"].rpartition(" (")
            key = (word.lower(), pos.rstrip(")"))
            kind = {"definition": "definition", "synonyms": "synonyms", "example": "example"}[row["kind"]]
            fields.setdefault(key, {})[kind] = row["output"].rstrip(".") if kind == "synonyms" else row["output"]
        self.entries: dict[str, list[WordEntry]] = {}
        for (word, pos), values in sorted(fields.items()):
            self.entries.setdefault(word, []).append(WordEntry(word, pos, **values))

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.strip().lower() in self.entries

    def lookup(self, word: str) -> str:
        """Everything known about `word`, one line per part of speech; `ToolError` for a word not in the data."""
        key = word.strip().strip("\"'.,!?").lower()
        if key not in self.entries:
            raise ToolError(f"the word {word!r} is not in the dictionary.")
        return "\n".join(entry.describe() for entry in self.entries[key])


@dataclass(frozen=True)
class Tool:
    """A function the model may call: `name`, `description` (for the model), `parameters` (a JSON Schema of the
    arguments object) and `function` (called with the arguments as keywords, returns the observation text)."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., str] = field(repr=False)

    def run(self, arguments: dict[str, Any]) -> str:
        """Check `arguments` against the schema, then call the function: the observation text, or `ToolError`."""
        errors = schema_errors(arguments, self.parameters, "$.arguments")
        if errors:
            raise ToolError("; ".join(errors))
        return self.function(**arguments)


def one_string_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of a tool taking one argument: `{name: "<non-empty string>"}` and nothing else."""
    return {
        "type": "object",
        "properties": {name: {"type": "string", "minLength": 1}},
        "required": [name],
        "additionalProperties": False,
    }


def calculator_tool() -> Tool:
    """The calculator as a tool: arguments {"expression": "<arithmetic>"}, observation the value."""
    schema = one_string_schema("expression")
    description = 'Evaluates an arithmetic expression. Arguments: {"expression": "<arithmetic, e.g. 12 * (3 + 4)>"}'
    return Tool("calculator", description, schema, lambda expression: format_number(calculate(expression)))


def dictionary_tool(dictionary: WordNetDictionary | None = None) -> Tool:
    """The WordNet dictionary as a tool: arguments {"word": "<one word>"}, observation its entry."""
    words = dictionary if dictionary is not None else WordNetDictionary()
    schema = one_string_schema("word")
    description = 'Looks up an English word: definition, synonyms, example. Arguments: {"word": "<one word>"}'
    return Tool("dictionary", description, schema, words.lookup)
