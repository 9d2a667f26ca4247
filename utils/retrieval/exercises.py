"""The checkers of the retrieval exercises of notebook 16. Each computes the expected answer itself, so the notebook
never shows it; it prints right or wrong and returns it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..course.grading import check_answer, exercise

__all__ = ["check_recall_at_3"]


@exercise(
    wrong=[0.2, 0.6, 3, 1.0, None],  # recall@1; recall@5 (rank 4 counted); a count, not a share; all; nothing
    solution=0.4,
    context={"ranks": [1, 4, None, 3, 6]},
)
def check_recall_at_3(answer: Any, ranks: Sequence[int | None]) -> bool:
    """Notebook 16, exercise 1: recall@3 from the gold document's rank per question (None = not retrieved)."""
    expected = sum(rank is not None and rank <= 3 for rank in ranks) / len(ranks)
    return check_answer("recall@3", answer, expected)
