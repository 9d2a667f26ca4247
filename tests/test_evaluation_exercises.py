"""The counts behind notebook 08's F1 exercise (utils.exercises.week3): the filter they describe has those
counts, and impossible counts raise. (Wrong answers and solutions: tests/test_course_exercises.py.)"""

from __future__ import annotations

import pytest

from utils.exercises.week3 import _filter_metrics, check_f1_by_hand


def test_filter_metrics_reproduce_the_counts() -> None:
    metrics = _filter_metrics(flagged=40, correct=30, positives=50, total=200)
    assert metrics["precision"] == pytest.approx(30 / 40)
    assert metrics["recall"] == pytest.approx(30 / 50)
    assert metrics["accuracy"] == pytest.approx((30 + 200 - 50 - 10) / 200)


@pytest.mark.parametrize(
    "counts",
    [
        {"flagged": 20, "correct": 30, "positives": 50, "total": 200},  # more right than flagged
        {"flagged": 40, "correct": 30, "positives": 20, "total": 200},  # more right than positives
        {"flagged": 40, "correct": 30, "positives": 50, "total": 45},  # more positives than e-mails
    ],
)
def test_impossible_counts_raise(counts: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="correct"):
        check_f1_by_hand(0.5, **counts)
