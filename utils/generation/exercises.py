"""The checker of notebook 05's beam-search tree exercise: it computes the expected answer itself with the tree of
`utils.course.architecture_diagrams`, so the notebook never shows it; it prints right or wrong and returns it."""

from __future__ import annotations

from typing import Any

from ..course.architecture_diagrams import BEAM_EXAMPLE_TREE, beam_search_tree
from ..course.exercises import check_answer, exercise

__all__ = ["check_beam_candidates"]


def _scored_at_step_two(num_beams: int) -> int:
    return len(beam_search_tree(BEAM_EXAMPLE_TREE, num_beams)[1])


@exercise(wrong=[7, 10, 3, 6], solution=lambda: _scored_at_step_two(3))  # 2 beams; every word expanded; beams
def check_beam_candidates(answer: Any) -> bool:
    """Notebook 05, exercise 3: how many two-word continuations beam search scores on the 'The cat is' tree with
    three beams."""
    return check_answer("continuations scored with 3 beams", answer, _scored_at_step_two(3), atol=0)
