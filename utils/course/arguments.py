"""Argument checks for the public entry points of `utils`: bad input gets a `TypeError` / `ValueError` that names
the argument and what it may be. (Grading a learner's exercise answers is `utils.course.grading`.)"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def require_type(name: str, value: Any, expected: type | tuple[type, ...]) -> None:
    """Raise TypeError naming `name` unless `value` is an instance of `expected` (bools are not ints)."""
    types = expected if isinstance(expected, tuple) else (expected,)
    ok = False if isinstance(value, bool) and bool not in types else isinstance(value, types)
    if not ok:
        names = " or ".join(t.__name__ for t in types)
        raise TypeError(f"`{name}` must be {names}, got {type(value).__name__} ({value!r}).")


def require_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise ValueError naming `name` and listing the allowed values unless `value` is one of them."""
    allowed = list(allowed)
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {allowed}, got {value!r}.")


def require_range(
    name: str,
    value: float,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> None:
    """Raise ValueError naming `name` unless `low <= value <= high` (bounds optional, inclusivity adjustable)."""
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if too_low or too_high:
        left = "[" if low_inclusive else "("
        right = "]" if high_inclusive else ")"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"`{name}` must be in {left}{lo}, {hi}{right}, got {value!r}.")
