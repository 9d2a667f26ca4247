"""The checkers of the exercises on contextual vectors (notebook 02) and on the RNN's memory (notebook 03). Each
computes or holds the expected answer itself, so the notebook never shows it; it prints right or wrong and returns
it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..course.arguments import require_type
from ..course.exercises import check_answer, exercise

__all__ = ["RNN_FORGETTING_CHOICES", "check_closest_use", "check_rnn_forgetting_reason"]

#: Notebook 03, exercise 3: why the RNN falls to guessing at long distances while one attention layer does not.
RNN_FORGETTING_CHOICES = {
    "a": "the RNN has far fewer parameters than the attention model",
    "b": "the symbol's signal, and the gradient that should teach the RNN to keep it, must pass through one tanh "
    "update per token and fades, while attention reads position 0 in one step",
    "c": "a hidden state of 48 numbers cannot tell 8 symbols apart",
    "d": "the distractor tokens are drawn from the same ids as the symbols, so the RNN confuses them",
}


@exercise(wrong=["a", "c", "d", "B?", 2], solution="b")
def check_rnn_forgetting_reason(answer: Any) -> bool:
    """Notebook 03, exercise 3 (conceptual): the letter of `RNN_FORGETTING_CHOICES` that explains the recall curve."""
    got = answer.strip().lower() if isinstance(answer, str) else answer
    return check_answer("why the RNN forgets", got, "b")


def _toy_uses() -> dict[str, Any]:
    labels = ["bank (river 1)", "bank (river 2)", "bank (money 1)", "bank (money 2)"]
    similarity = torch.tensor(
        [[1.0, 0.8, 0.7, 0.75], [0.8, 1.0, 0.6, 0.6], [0.7, 0.6, 1.0, 0.85], [0.75, 0.6, 0.85, 1.0]]
    )
    return {"labels": labels, "similarity": similarity, "query": "bank (money 1)"}


def _closest_use(labels: Sequence[str], similarity: torch.Tensor, query: str) -> str:
    """The label, other than `query` itself, whose row of `similarity` is highest in the query's row."""
    require_type("labels", labels, (list, tuple))
    require_type("similarity", similarity, torch.Tensor)
    if query not in labels:
        raise ValueError(f"`query` must be one of `labels`, got {query!r}.")
    if similarity.shape != (len(labels), len(labels)):
        raise ValueError(f"`similarity` must be {len(labels)} x {len(labels)}, got {tuple(similarity.shape)}.")
    row = labels.index(query)
    others = [j for j in range(len(labels)) if j != row]
    return labels[max(others, key=lambda j: similarity[row, j].item())]


def _other_uses(labels: Sequence[str], similarity: torch.Tensor, query: str) -> list[str]:
    """Every wrong answer: the query itself and each label that is not the closest use."""
    return [label for label in labels if label != _closest_use(labels, similarity, query)]


@exercise(wrong=_other_uses, solution=_closest_use, context=_toy_uses)
def check_closest_use(answer: Any, labels: Sequence[str], similarity: torch.Tensor, query: str) -> bool:
    """Notebook 02, exercise 3: which other use of the word has the contextual vector closest to `query`'s."""
    return check_answer(f"the use closest to {query!r}", answer, _closest_use(labels, similarity, query))
