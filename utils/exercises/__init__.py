"""The exercise checkers, one module per week, named for the notebooks they serve: `week0` (notebook 00 and the
notebook template's example), `week1` (01-04), `week2` (05-07), `week3` (08-11), `week4` (12-14), `week5` (15-17).

A checker takes the learner's answer, computes the expected one itself with the course's own code (so the notebook
never shows it), prints right or wrong and returns it. Each is registered with `utils.course.grading.exercise`
together with answers it must reject and one it must accept, and tests/test_course_exercises.py calls every
registered checker with them: the registry proves that every checker can fail.

This package is the top floor of `utils`: it may import any other subpackage, and nothing else in `utils` imports it.
"""

from __future__ import annotations

import importlib
import pkgutil


def import_checker_modules() -> list[str]:
    """Import every module of this package (registering its checkers in `utils.course.grading.EXERCISES`); their
    names. The tests call it to find every registered checker."""
    names = [m.name for m in pkgutil.iter_modules(__path__, prefix=f"{__name__}.")]
    for name in names:
        importlib.import_module(name)
    return names
