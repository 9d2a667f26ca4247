"""The checkers of the exercises of week 2: notebooks 05 (decoding), 06 (prompting) and 07 (pretraining). Each
computes the expected answer itself with the course's own functions, so the notebook never shows it; it prints right
or wrong and returns it."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..course.architecture_diagrams import BEAM_EXAMPLE_TREE, beam_search_tree
from ..course.grading import as_number, check_answer, exercise, within
from ..evaluation.text_metrics import distinct_n
from ..generation.decoding import top_k_filter
from ..training.pretraining import TokenWindowDataset

__all__ = [
    "EXAMPLES_TEACH_CHOICES",
    "check_beam_candidates",
    "check_calibrated_accuracy",
    "check_distinct_2",
    "check_majority_baseline",
    "check_perplexity",
    "check_top_k_filter",
    "check_training_flops",
    "check_what_examples_teach",
    "check_window_count",
]


def _letter(answer: Any) -> Any:
    """A multiple-choice answer as a lower-case letter without spaces; anything else unchanged."""
    return answer.strip().lower() if isinstance(answer, str) else answer


# ----------------------------------------------------------------------------------------------- notebook 05


def _scored_at_step_two(num_beams: int) -> int:
    return len(beam_search_tree(BEAM_EXAMPLE_TREE, num_beams)[1])


@exercise(wrong=[7, 10, 3, 6], solution=lambda: _scored_at_step_two(3))  # 2 beams; every word expanded; beams
def check_beam_candidates(answer: Any) -> bool:
    """Notebook 05, exercise 1 (conceptual): how many two-word continuations beam search scores on the 'The cat is'
    tree with three beams."""
    return check_answer("continuations scored with 3 beams", answer, _scored_at_step_two(3), atol=0)


_TOY_LOGITS = {"logits": torch.tensor([1.0, 3.0, -0.5, 2.5, 0.2, 2.0, -1.0]), "k": 3}


def _top_k_wrong(logits: torch.Tensor, k: int) -> list[Any]:
    kept = torch.isfinite(top_k_filter(logits, k))
    smallest = -torch.topk(-logits, k).values[-1]
    return [
        top_k_filter(logits, k + 1),  # one token too many
        torch.where(kept, logits, torch.zeros_like(logits)),  # removed tokens set to 0, which keeps them sampleable
        torch.softmax(top_k_filter(logits, k), dim=-1),  # the renormalised probabilities, not the filtered logits
        logits.masked_fill(logits > smallest, float("-inf")),  # the k smallest kept
        None,
    ]


@exercise(wrong=_top_k_wrong, solution=top_k_filter, context=_TOY_LOGITS)
def check_top_k_filter(answer: Any, logits: torch.Tensor, k: int = 3) -> bool:
    """Notebook 05, exercise 2: `logits` with all but the `k` largest values set to -inf (same shape)."""
    if isinstance(answer, torch.Tensor):
        answer = answer.detach().to(logits.device)
    return check_answer(f"top-{k} filter", answer, top_k_filter(logits, k))


_TOY_TOKENS = {"tokens": ["I", "am", "a", "cat", "I", "am", "a", "dog"]}


def _distinct_wrong(tokens: Sequence[str]) -> list[Any]:
    pairs = list(itertools.pairwise(tokens))
    return [
        distinct_n(tokens, 1),  # single tokens, not pairs
        len(set(pairs)) / len(tokens),  # divided by the number of tokens, not of pairs
        1 - distinct_n(tokens, 2),  # the share of repeated pairs
        1.0,
        None,
    ]


@exercise(wrong=_distinct_wrong, solution=lambda tokens: distinct_n(tokens, 2), context=_TOY_TOKENS)
def check_distinct_2(answer: Any, tokens: Sequence[str]) -> bool:
    """Notebook 05, exercise 3: the distinct-2 of `tokens` (different pairs / all pairs)."""
    return check_answer("distinct-2", answer, distinct_n(tokens, 2))


# ----------------------------------------------------------------------------------------------- notebook 06


def _majority(labels: Any) -> float:
    share = float(np.mean(np.asarray(labels)))
    return max(share, 1 - share)


_TOY_LABELS = {"labels": np.array([1, 0, 1, 1, 0, 1, 0, 1])}


def _majority_wrong(labels: Any) -> list[Any]:
    labels = np.asarray(labels)
    return [1 - _majority(labels), 0.5, int(max(labels.sum(), len(labels) - labels.sum())), None]  # minority; count


@exercise(wrong=_majority_wrong, solution=_majority, context=_TOY_LABELS)
def check_majority_baseline(answer: Any, labels: Any) -> bool:
    """Notebook 06, exercise 1: the accuracy of always answering the most frequent of the 0/1 `labels`."""
    return check_answer("majority baseline", answer, _majority(labels))


def _calibrated_accuracy(scores: Any, labels: Any) -> float:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if scores.ndim != 2 or scores.shape[0] != len(labels):
        raise ValueError(f"`scores` must be [len(labels), n_labels], got {scores.shape} for {len(labels)} labels.")
    calibrated = scores - scores.mean(axis=0)
    return float((calibrated.argmax(axis=1) == labels).mean())


def _biased_scores() -> dict[str, Any]:
    """Seven snippets whose label scores lean towards " positive" (column 1): uncalibrated, most look positive."""
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    evidence = np.array([-0.6, -0.4, -0.2, 0.5, 0.2, 0.8, 0.0])  # how positive each snippet reads
    scores = np.stack([-1.5 - evidence, -0.5 + evidence], axis=1)  # log P(" negative"), log P(" positive")
    return {"scores": scores, "labels": labels}


def _calibrated_wrong(scores: Any, labels: Any) -> list[Any]:
    scores, labels = np.asarray(scores), np.asarray(labels)
    calibrated = scores - scores.mean(axis=0)
    return [
        float((scores.argmax(axis=1) == labels).mean()),  # not calibrated (or each row's mean removed: the same)
        float(calibrated.argmax(axis=1).mean()),  # the share predicted positive, not the accuracy
        1 - _calibrated_accuracy(scores, labels),  # the columns read the wrong way round
        None,
    ]


@exercise(wrong=_calibrated_wrong, solution=_calibrated_accuracy, context=_biased_scores)
def check_calibrated_accuracy(answer: Any, scores: Any, labels: Any) -> bool:
    """Notebook 06, exercise 2: the accuracy after subtracting each label column's mean from `scores` ([N, 2]
    label log-probabilities, one row per snippet) against the 0/1 `labels`."""
    return check_answer("calibrated accuracy", answer, _calibrated_accuracy(scores, labels))


#: Notebook 06, exercise 3: what the solved examples in a few-shot prompt mostly give a 135M model.
EXAMPLES_TEACH_CHOICES = {
    "a": "new knowledge of what makes a review positive: the model's weights learn from the examples",
    "b": "the format and the label space (answer with one label word after 'Sentiment:') and a balance of the two "
    "labels, which counters the label bias; the model's weights do not change",
    "c": "nothing measurable: the prompt with examples is just longer",
    "d": "the right answer for the test snippet, copied from the most similar example",
}


@exercise(wrong=["a", "c", "d", "B?", None], solution="b")
def check_what_examples_teach(answer: Any) -> bool:
    """Notebook 06, exercise 3 (conceptual): the letter of `EXAMPLES_TEACH_CHOICES` that the measurements of the
    notebook support (label bias and unparsed answers fall with examples; the weights never change)."""
    return check_answer("what the examples teach", _letter(answer), "b")


# ----------------------------------------------------------------------------------------------- notebook 07


@exercise(
    wrong=[3.2, 2**3.2, math.exp(-3.2), math.log(3.2), None],  # the loss; base 2; 1 / perplexity; log, not exp
    solution=math.exp(3.2),
    context={"loss": 3.2},
)
def check_perplexity(answer: Any, loss: float = 3.2) -> bool:
    """Notebook 07, exercise 1: the perplexity of a model whose validation loss is `loss` nats per token."""
    return check_answer(f"perplexity at a loss of {loss}", within(answer, math.exp(loss), 1e-3), math.exp(loss))


def _training_flops(n_params: float, tokens_per_param: float) -> float:
    return 6 * n_params * (tokens_per_param * n_params)


@exercise(
    # D taken as 20 tokens; the forward pass only (2ND); the 6 forgotten; D = N
    wrong=[6 * 1e9 * 20, 2 * 1e9 * 20e9, 1e9 * 20e9, 6 * 1e9 * 1e9, None],
    solution=_training_flops(1e9, 20),
    context={"n_params": 1e9, "tokens_per_param": 20},
)
def check_training_flops(answer: Any, n_params: float = 1e9, tokens_per_param: float = 20) -> bool:
    """Notebook 07, exercise 2: the training FLOPs, C = 6ND, of `n_params` parameters trained on `tokens_per_param`
    tokens per parameter."""
    expected = _training_flops(n_params, tokens_per_param)
    return check_answer("training FLOPs (6ND)", within(answer, expected, 1e-3), expected)


@exercise(
    # starts counted to the end; no +1; stride 1; non-overlapping windows of T + 1; windows of T tokens
    wrong=[5, 3, 7, 2, None],
    solution=4,
    context={"n_ids": 10, "context_length": 3, "stride": 2},
)
def check_window_count(answer: Any, n_ids: int = 10, context_length: int = 3, stride: int = 2) -> bool:
    """Notebook 07, exercise 3: how many windows `TokenWindowDataset` cuts from `n_ids` tokens."""
    expected = len(TokenWindowDataset(list(range(n_ids)), context_length, stride))
    return check_answer("number of windows", as_number(answer), expected, atol=0)
