"""How good is a retriever? Questions whose right source is known, scored by where that source lands in the
ranking. Taught in notebook 16.

* recall@k: the fraction of questions whose gold document is among the top k hits (with one gold document per
  question, this is also called hit rate@k);
* MRR (mean reciprocal rank): the mean of 1 / (rank of the gold document), 0 when it is not retrieved at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..course.arguments import require_range
from .index import Hit


def gold_ranks(results: Sequence[Sequence[Hit]], gold_ids: Sequence[str]) -> list[int | None]:
    """The rank (1 = best) of each question's gold document in its hits, None when it was not retrieved."""
    if not results or len(results) != len(gold_ids):
        raise ValueError(f"`results` and `gold_ids` need one entry per question: {len(results)}, {len(gold_ids)}.")
    ranks: list[int | None] = []
    for hits, gold in zip(results, gold_ids, strict=True):
        ranks.append(next((hit.rank for hit in hits if hit.document.doc_id == gold), None))
    return ranks


def recall_at_k(results: Sequence[Sequence[Hit]], gold_ids: Sequence[str], k: int) -> float:
    """The fraction of questions whose gold document (`gold_ids[i]`, a `doc_id`) is among their first `k` hits."""
    require_range("k", k, low=1)
    ranks = gold_ranks(results, gold_ids)
    return sum(rank is not None and rank <= k for rank in ranks) / len(ranks)


def mean_reciprocal_rank(results: Sequence[Sequence[Hit]], gold_ids: Sequence[str]) -> float:
    """The mean over questions of 1 / rank of the gold document (0 when it is not among the hits)."""
    ranks = gold_ranks(results, gold_ids)
    return sum(1.0 / rank for rank in ranks if rank is not None) / len(ranks)
