"""The small rule language that checks what a notebook recorded with `record(name, value)`.

Two tables use it: tests/notebook_expectations.py (smoke mode, checked by tests/test_notebooks.py) and
scripts/notebook_claims.py (full mode, checked by scripts/run_notebooks.py after each notebook, so `make run`
fails when a claim of the prose stops holding). An expectation is one of:

* `(low, high)`: a number with low <= value <= high (`None` = open side);
* a callable `check(value)` or `check(value, records)` returning True when the value is acceptable; `records` is
  everything the notebook recorded, so one value can be compared with another. Readable ones are built by
  `between(low, high)`, `greater_than("other", margin)`, `less_than("other", margin)`, `equals(x)`, `one_of(...)`,
  `all_of(...)`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[..., bool]
Expectation = tuple[float | None, float | None] | Check


def describe(expectation: Expectation) -> str:
    """The expectation as text, for failure messages: `in [0, 1]`, `> other + 0.1`, ..."""
    if isinstance(expectation, tuple):
        low, high = expectation
        return f"in [{'-inf' if low is None else low}, {'inf' if high is None else high}]"
    return getattr(expectation, "description", None) or getattr(expectation, "__name__", repr(expectation))


def holds(expectation: Expectation, value: Any, records: Mapping[str, Any]) -> bool:
    """Whether `value` (recorded among `records`) meets `expectation`."""
    if isinstance(expectation, tuple):
        if len(expectation) != 2:
            raise ValueError(f"a bound must be a (low, high) pair, got {expectation!r}.")
        low, high = expectation
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            return False
        return (low is None or value >= low) and (high is None or value <= high)
    if not callable(expectation):
        raise TypeError(f"an expectation must be a (low, high) pair or a callable, got {type(expectation).__name__}.")
    try:
        n_params = len(inspect.signature(expectation).parameters)
    except (TypeError, ValueError):
        n_params = 2
    return bool(expectation(value, records) if n_params >= 2 else expectation(value))


class Rule:
    """A named check: `Rule("> 0", lambda value, records: value > 0)`; its text shows up in failure messages."""

    def __init__(self, description: str, check: Callable[[Any, Mapping[str, Any]], bool]) -> None:
        self.description = description
        self.check = check

    def __call__(self, value: Any, records: Mapping[str, Any]) -> bool:
        return self.check(value, records)

    def __repr__(self) -> str:
        return self.description


def between(low: float | None, high: float | None) -> Rule:
    """The value is a number in [low, high] (`None` = open side); the same as writing `(low, high)`."""
    return Rule(describe((low, high)), lambda value, records: holds((low, high), value, records))


def greater_than(other: str, margin: float = 0.0) -> Rule:
    """The value exceeds the recorded value `other` by more than `margin`."""
    return Rule(f"> {other} + {margin}", lambda value, records: value > records[other] + margin)


def less_than(other: str, margin: float = 0.0) -> Rule:
    """The value is below the recorded value `other` by more than `margin`."""
    return Rule(f"< {other} - {margin}", lambda value, records: value < records[other] - margin)


def equals(expected: Any) -> Rule:
    """The value equals `expected` exactly (for flags, counts, strings)."""
    return Rule(f"== {expected!r}", lambda value, records: value == expected)


def one_of(*allowed: Any) -> Rule:
    """The value is one of `allowed`."""
    return Rule(f"in {allowed!r}", lambda value, records: value in allowed)


def all_of(*checks: Expectation) -> Rule:
    """Every one of `checks` (bounds or callables) holds."""
    return Rule(
        " and ".join(describe(c) for c in checks),
        lambda value, records: all(holds(c, value, records) for c in checks),
    )


def check_table(
    table: Mapping[str, Mapping[str, Expectation]], stem: str, records: Mapping[str, Any], *, where: str
) -> list[str]:
    """Problems with what notebook `stem` recorded against `table[stem]` (`where` names the table's file in the
    messages); an empty list means every expectation holds."""
    if stem not in table:
        names = ", ".join(sorted(records)) or "nothing"
        return [f"no entry for notebook {stem!r}: add `{stem!r}: {{...}}` to {where} (it recorded: {names})."]
    problems = []
    for name, expectation in table[stem].items():
        if name not in records:
            problems.append(
                f"{stem}: expected a recorded value {name!r} but the notebook did not record it "
                f"(call record({name!r}, ...), or update {where}); recorded: {', '.join(sorted(records)) or 'nothing'}."
            )
            continue
        value = records[name]
        try:
            ok = holds(expectation, value, records)
        except Exception as err:  # a broken check is reported, not raised, so every problem shows at once
            problems.append(f"{stem}: {name} = {value!r}: its check {describe(expectation)} raised {err!r}.")
            continue
        if not ok:
            problems.append(f"{stem}: {name} = {value!r}, expected {describe(expectation)}.")
    return problems
