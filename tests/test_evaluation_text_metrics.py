"""utils.evaluation.text_metrics: distinct-n and the repeated n-gram rate, by hand on small token lists."""

from __future__ import annotations

import pytest

from utils.evaluation.text_metrics import distinct_n, ngrams, repeated_ngram_rate

TOY = ["the", "cat", "sat", "on", "the", "mat", "and", "the", "cat", "sat"]


def test_ngrams_in_order() -> None:
    assert ngrams([1, 2, 3], 2) == [(1, 2), (2, 3)]
    assert ngrams([1, 2], 3) == []


def test_distinct_n_by_hand() -> None:
    assert distinct_n(TOY, 1) == pytest.approx(6 / 10)  # the, cat, sat, on, mat, and
    assert distinct_n(TOY, 2) == pytest.approx(7 / 9)  # "the cat" and "cat sat" occur twice
    assert distinct_n([], 2) == 0.0


def test_repeated_ngram_rate_by_hand() -> None:
    assert repeated_ngram_rate(TOY, 2) == pytest.approx(2 / 9)
    assert repeated_ngram_rate(list(range(10)), 4) == 0.0
    assert repeated_ngram_rate(["a"] * 5, 1) == pytest.approx(4 / 5)
    with pytest.raises(ValueError, match="`n`"):
        repeated_ngram_rate(TOY, 0)
    with pytest.raises(ValueError, match="`n`"):
        distinct_n(TOY, 0)
