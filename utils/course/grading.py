"""Grading exercises: compare a learner's answer with a reference and say right or wrong, and how; and the registry
of exercise checkers. (Checking the arguments of `utils` functions is `utils.course.arguments`.)

The checkers live in `utils.exercises`, one module per week (e.g. `utils.exercises.week5` for notebooks 15-17): each
computes the expected answer itself, so the notebook never shows it, and is registered with
`@exercise(wrong=[...], solution=..., context={...})`: tests/test_course_exercises.py calls every registered checker
as `checker(answer, **context)` with its wrong answers (each must be rejected) and its solution (it must be accepted).
`context` holds the other arguments a checker takes, e.g. the tensors the exercise is about.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any, TypeVar

import numpy as np
import torch

from .arguments import require_range, require_type


def _as_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        kind = type(value).__name__
        raise TypeError(f"`{name}` must be a tensor, array or nested list of numbers, got {kind}.") from err


def compare(name: str, got: Any, expected: Any, *, atol: float = 1e-5, verbose: bool = True) -> bool:
    """Compare two tensors/arrays: prints `exact`, `approx` (within `atol`) and the max difference.

    Returns True when they agree within `atol`. Shapes must match.
    """
    require_type("name", name, str)
    require_type("atol", atol, (float, int))
    require_range("atol", atol, low=0)
    a, b = _as_array("got", got), _as_array("expected", expected)
    if a.shape != b.shape:
        if verbose:
            print(f"{name:<24} | shape mismatch: got {a.shape}, expected {b.shape}")
        return False
    exact = bool(np.array_equal(a, b))
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    approx = diff <= atol
    if verbose:
        print(f"{name:<24} | exact: {exact!s:5} | approx: {approx!s:5} | max diff: {diff:.2e}")
    return approx


def is_correct(got: Any, expected: Any, *, atol: float = 1e-4) -> bool:
    """True when `got` equals `expected`: exactly for strings, bools, None and containers of those;
    within `atol` for numbers, arrays and tensors (shapes must match)."""
    if isinstance(expected, str | bool | dict | set | frozenset) or expected is None:
        return got == expected
    try:
        a, b = _as_array("got", got), _as_array("expected", expected)
    except TypeError:
        return got == expected
    return a.shape == b.shape and bool(np.allclose(a, b, atol=atol, rtol=0))


def check_answer(exercise: str, got: Any, expected: Any, *, atol: float = 1e-4) -> bool:
    """Print whether an exercise answer is right (see `is_correct` for how answers are compared); return it."""
    require_type("exercise", exercise, str)
    if is_correct(got, expected, atol=atol):
        print(f"✅ {exercise}: correct.")
        return True
    print(f"❌ {exercise}: not yet. Got {got!r}; look again at the hint above and try once more.")
    return False


def as_number(answer: Any) -> Any:
    """A one-element tensor as a float, so `loss` and `loss.item()` are both accepted; anything else unchanged."""
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        return answer.item()
    return answer


def within(answer: Any, expected: float, rel: float) -> Any:
    """`expected` when `answer` is a number within `rel` of it (relative), else `answer` unchanged, so that
    `check_answer` accepts a rounded answer and prints the learner's own value when it is wrong."""
    answer = as_number(answer)
    if isinstance(answer, Real) and not isinstance(answer, bool) and math.isclose(answer, expected, rel_tol=rel):
        return expected
    return answer


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor {list(value.shape)}"
    return repr(value) if isinstance(value, int | float | bool | str) else type(value).__name__


def check_function(
    exercise: str, fn: Any, reference: Callable[..., Any], cases: Sequence[Sequence[Any]], *, atol: float = 1e-5
) -> bool:
    """A code-writing exercise: run the learner's `fn` and `reference` on every argument tuple of `cases` (inputs the
    notebook never shows) and print whether they agree (see `is_correct`); return it. A case that differs or raises
    is named by its arguments' shapes and values, never by the expected result."""
    require_type("exercise", exercise, str)
    if not callable(fn):
        print(f"❌ {exercise}: pass your function itself (without calling it), got {type(fn).__name__}.")
        return False
    for number, args in enumerate(cases, start=1):
        expected = reference(*args)
        mine = [arg.clone() if isinstance(arg, torch.Tensor) else arg for arg in args]  # `fn` may change its inputs
        where = f"hidden case {number} of {len(cases)} ({', '.join(_describe(arg) for arg in args)})"
        try:
            got = fn(*mine)
        except Exception as err:  # the learner's code: any error is a wrong answer, shown with its message
            print(f"❌ {exercise}: your function raised {type(err).__name__} on {where}: {err}")
            return False
        if not is_correct(got, expected, atol=atol):
            print(f"❌ {exercise}: not yet; {where} gives a different result. Look again at the hint above.")
            return False
    print(f"✅ {exercise}: your function agrees with the course's on all {len(cases)} hidden cases.")
    return True


Checker = TypeVar("Checker", bound=Callable[..., bool])


@dataclass(frozen=True)
class RegisteredExercise:
    """A checker with answers it must reject (`wrong`) and one it must accept (`solution`), each given with the
    keyword arguments of `context`. `context` may be a function that builds them (a model, a batch: built only when
    a test asks); `solution` may be a function of those arguments, and `wrong` one returning the wrong answers."""

    checker: Callable[..., bool]
    wrong: tuple[Any, ...] | Callable[..., Sequence[Any]]
    solution: Any
    context: Mapping[str, Any] | Callable[[], Mapping[str, Any]]

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments the checker takes besides the answer."""
        return dict(self.context() if callable(self.context) else self.context)

    def wrong_answers(self, arguments: Mapping[str, Any]) -> tuple[Any, ...]:
        """The wrong answers for these arguments."""
        return tuple(self.wrong(**arguments) if callable(self.wrong) else self.wrong)

    def right_answer(self, arguments: Mapping[str, Any]) -> Any:
        """The solution for these arguments."""
        return self.solution(**arguments) if callable(self.solution) else self.solution


#: Every registered checker by its qualified name, e.g. "utils.exercises.week5.check_kv_cache_mib".
EXERCISES: dict[str, RegisteredExercise] = {}


def exercise(
    *,
    wrong: Sequence[Any] | Callable[..., Sequence[Any]],
    solution: Any,
    context: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
) -> Callable[[Checker], Checker]:
    """Register an exercise checker (`checker(answer, **context) -> bool`, printing right or wrong) with at least one
    wrong answer and a right one, so a test can prove that the checker can fail."""
    if not callable(wrong):
        require_type("wrong", wrong, (list, tuple))
    if not callable(wrong) and not wrong:
        raise ValueError("`wrong` must hold at least one answer the checker rejects.")
    if context is not None and not (callable(context) or isinstance(context, Mapping)):
        raise TypeError(
            f"`context` must be a dict of arguments or a function returning one, got {type(context).__name__}."
        )

    def register(checker: Checker) -> Checker:
        name = f"{checker.__module__}.{checker.__qualname__}"
        wrong_answers = wrong if callable(wrong) else tuple(wrong)
        EXERCISES[name] = RegisteredExercise(checker, wrong_answers, solution, context if context is not None else {})
        return checker

    return register
