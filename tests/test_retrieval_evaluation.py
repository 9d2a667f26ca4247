"""utils.retrieval.evaluation: recall@k and MRR on hand-made rankings."""

from __future__ import annotations

import pytest

from utils.retrieval.documents import Document
from utils.retrieval.evaluation import gold_ranks, mean_reciprocal_rank, recall_at_k
from utils.retrieval.index import Hit


def _hits(*ids: str) -> list[Hit]:
    return [Hit(Document(i, i, i, "test"), 1.0 / rank, rank) for rank, i in enumerate(ids, start=1)]


RESULTS = [_hits("a", "b", "c"), _hits("b", "a", "c"), _hits("c", "b", "d")]
GOLD = ["a", "a", "a"]


def test_recall_and_mrr() -> None:
    assert gold_ranks(RESULTS, GOLD) == [1, 2, None]
    assert recall_at_k(RESULTS, GOLD, 1) == pytest.approx(1 / 3)
    assert recall_at_k(RESULTS, GOLD, 2) == pytest.approx(2 / 3)
    assert recall_at_k(RESULTS, GOLD, 10) == pytest.approx(2 / 3)
    assert mean_reciprocal_rank(RESULTS, GOLD) == pytest.approx((1 + 0.5 + 0) / 3)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="one entry per question"):
        recall_at_k(RESULTS, GOLD[:2], 1)
    with pytest.raises(ValueError, match="`k`"):
        recall_at_k(RESULTS, GOLD, 0)
    with pytest.raises(ValueError, match="one entry per question"):
        mean_reciprocal_rank([], [])
