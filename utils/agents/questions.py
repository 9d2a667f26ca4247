"""Small question sets with known answers for measuring tool use, and how answers are scored. Taught in notebook 16.

* `arithmetic_questions`: "What is 347 * 29?" with two- and three-digit numbers, drawn from a seeded generator;
  an answer is right when the last number it states equals the value (`last_number`).
* `definition_questions`: "What does the word "memorandum" mean?" for words of the WordNet test split; an answer
  is scored by ROUGE-L against the WordNet definition.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ..assets.datasets import load_wordnet_instructions
from ..course.arguments import require_range
from .tools import calculate, format_number

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FORMS = ("{a} * {b}", "{a} + {b} * {c}", "({a} - {b}) * {c}", "{a} * {b} - {c}")


@dataclass(frozen=True)
class ToolQuestion:
    """A question, its reference answer, and the kind of tool that can answer it ("calculator" or "dictionary")."""

    question: str
    answer: str
    kind: str


def arithmetic_questions(n: int, *, seed: int = 0) -> list[ToolQuestion]:
    """`n` arithmetic questions (products and mixed expressions of 2-3 digit numbers), the same for the same seed;
    the answer is the exact value as text."""
    require_range("n", n, low=1)
    rng = random.Random(seed)
    questions = []
    for i in range(n):
        form = _FORMS[i % len(_FORMS)]
        expression = form.format(a=rng.randint(12, 999), b=rng.randint(12, 99), c=rng.randint(2, 99))
        questions.append(ToolQuestion(f"What is {expression}?", format_number(calculate(expression)), "calculator"))
    return questions


def definition_questions(n: int) -> list[ToolQuestion]:
    """`n` questions "What does the word "<word>" mean?" for the first `n` definition rows of the WordNet test split
    (words never seen in its training split); the answer is WordNet's definition."""
    require_range("n", n, low=1)
    rows = [row for row in load_wordnet_instructions()["test"] if row["kind"] == "definition"][:n]
    return [
        ToolQuestion(f'What does the word "{row["input"].rpartition(" (")[0]}" mean?', row["output"], "dictionary")
        for row in rows
    ]


def last_number(text: str | None) -> str | None:
    """The last number written in `text` (thousands commas removed, "6.0" read as "6"), or None."""
    if text is None:
        return None
    found = _NUMBER.findall(text.replace(",", ""))
    return format_number(float(found[-1])) if found else None


def number_is_right(answer: str | None, expected: str) -> bool:
    """True when the last number in `answer` equals `expected` (both as `format_number` writes them)."""
    return last_number(answer) == last_number(expected)
