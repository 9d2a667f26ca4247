"""The checkers of the metric exercises of notebooks 08 (F1) and 11 (ROUGE, BLEU's brevity penalty, benchmark size).
Each computes the expected answer itself with the course's own metrics, so the notebook never shows it; it prints
right or wrong and returns it."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..course.grading import check_answer, exercise
from .classification_metrics import classification_metrics
from .likelihood import wilson_interval
from .overlap_metrics import bleu_breakdown, rouge_n

__all__ = ["check_benchmark_size", "check_brevity_penalty", "check_f1_by_hand", "check_rouge2"]


# ----------------------------------------------------------------------------------------------- notebook 08


def _filter_metrics(flagged: int, correct: int, positives: int, total: int) -> dict[str, float]:
    """The metrics of a filter that flags `flagged` of `total` items, `correct` of them among the `positives`."""
    if not 0 <= correct <= min(flagged, positives) or max(flagged, positives) > total:
        raise ValueError(
            f"need 0 <= correct <= flagged, positives <= total; got correct={correct}, flagged={flagged}, "
            f"positives={positives}, total={total}."
        )
    y_true = np.zeros(total, dtype=int)
    y_pred = np.zeros(total, dtype=int)
    y_true[:positives] = 1  # the first `correct` positives are flagged, and `flagged - correct` negatives after them
    y_pred[:correct] = 1
    y_pred[positives : positives + flagged - correct] = 1
    return classification_metrics(y_true, y_pred)


_SPAM = {"flagged": 40, "correct": 30, "positives": 50, "total": 200}


def _f1_wrong(flagged: int, correct: int, positives: int, total: int) -> list[float | None]:
    metrics = _filter_metrics(flagged, correct, positives, total)
    return [
        metrics["precision"],
        metrics["recall"],
        (metrics["precision"] + metrics["recall"]) / 2,  # the arithmetic mean, not the harmonic one
        correct / (flagged + positives - correct),  # TP / (TP + FP + FN): the Jaccard index
        None,
    ]


@exercise(wrong=_f1_wrong, solution=lambda **counts: _filter_metrics(**counts)["f1"], context=_SPAM)
def check_f1_by_hand(answer: Any, flagged: int = 40, correct: int = 30, positives: int = 50, total: int = 200) -> bool:
    """Notebook 08, exercise 1: the F1 of the class *spam* for a filter that flags `flagged` e-mails, `correct` of
    them spam, when `positives` of the `total` e-mails are spam."""
    return check_answer("F1 of the spam filter", answer, _filter_metrics(flagged, correct, positives, total)["f1"])


# ----------------------------------------------------------------------------------------------- notebook 11


@exercise(wrong=[4 / 5, 3 / 6, 1.0, 0.0], solution=3 / 5)  # unigrams; wrong count of bigrams; identical; none
def check_rouge2(answer: Any) -> bool:
    """Notebook 11, exercise 1: ROUGE-2 F of "the cat sat on the mat" against "the cat lay on the mat"."""
    return check_answer("ROUGE-2 F by hand", answer, rouge_n("the cat sat on the mat", "the cat lay on the mat", 2))


@exercise(wrong=[0.9, 1.0, 0.8948 + 0.01, 1.1052], solution=0.8948)  # the length ratio; none; off; exp(0.1)
def check_brevity_penalty(answer: Any) -> bool:
    """Notebook 11, exercise 2: BLEU's brevity penalty for 90 hypothesis tokens against 100 reference tokens."""
    expected = bleu_breakdown(["x " * 90], ["x " * 100]).brevity_penalty
    return check_answer("brevity penalty, 90 vs 100 tokens", answer, expected, atol=1e-3)


def _smallest_benchmark(width: float) -> int:
    """The fewest questions whose 95% Wilson interval at half right is at most `width` wide."""
    n = 1
    while True:
        low, high = wilson_interval(n // 2, n)
        if high - low <= width:
            return n
        n += 1


@exercise(wrong=[100, 400, 1000, 385], solution=lambda: _smallest_benchmark(0.1))
def check_benchmark_size(answer: Any) -> bool:
    """Notebook 11, exercise 3: the smallest number of questions for a 95% Wilson interval at most 0.1 wide when
    about half the answers are right."""
    return check_answer("questions for a ±0.05 interval", answer, _smallest_benchmark(0.1), atol=0)
