"""Every exercise checker of the course can fail: it rejects the wrong answers it was registered with and accepts
its solution. Checkers live in `utils/exercises/week<N>.py` modules and register with `@exercise(...)`."""

from __future__ import annotations

import importlib
import inspect

import pytest

from utils.course.grading import EXERCISES, exercise
from utils.exercises import import_checker_modules

EXERCISE_MODULES = import_checker_modules()


@pytest.mark.parametrize("module_name", EXERCISE_MODULES)
def test_every_checker_is_registered(module_name: str) -> None:
    module = importlib.import_module(module_name)
    checkers = [name for name, f in inspect.getmembers(module, inspect.isfunction) if name.startswith("check_")]
    checkers = [name for name in checkers if getattr(module, name).__module__ == module_name]
    assert checkers, f"{module_name} holds no check_* function"
    for name in checkers:
        assert f"{module_name}.{name}" in EXERCISES, (
            f"{module_name}.{name} is not registered: decorate it with @exercise(wrong=[...], solution=...)"
        )


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_checker_rejects_wrong_answers_and_accepts_its_solution(name: str, capsys: pytest.CaptureFixture) -> None:
    registered = EXERCISES[name]
    arguments = registered.arguments()
    wrong_answers = registered.wrong_answers(arguments)
    assert wrong_answers, f"{name} has no wrong answers to reject"
    for wrong in wrong_answers:
        assert registered.checker(wrong, **arguments) is False, f"{name} accepted the wrong answer {wrong!r}"
    assert "❌" in capsys.readouterr().out, f"{name} should tell the learner the answer is wrong"
    solution = registered.right_answer(arguments)
    assert registered.checker(solution, **arguments) is True, f"{name} rejected its solution {solution!r}"
    assert "✅" in capsys.readouterr().out


def test_registration_needs_a_wrong_answer() -> None:
    with pytest.raises(ValueError, match="wrong"):
        exercise(wrong=[], solution=1)
    with pytest.raises(TypeError, match="wrong"):
        exercise(wrong="not a list", solution=1)
    with pytest.raises(TypeError, match="context"):
        exercise(wrong=[0], solution=1, context=[1, 2])
