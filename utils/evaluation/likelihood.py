"""Evaluating a language model by the probabilities it gives to text: perplexity, multiple-choice benchmarks
scored by log-likelihood, and a confidence interval for an accuracy. Taught in notebook 11.

Every function takes a causal LM that follows the course's protocol (`model(input_ids=..., attention_mask=...)`
returns `.logits`: the course's `GPT` and `LlamaDecoder`, or a transformers model such as SmolLM2) and its
tokenizer: a transformers tokenizer or the course's `BPETokenizer` (anything with `encode(text) -> list[int]`).
Texts are tokenized one by one and padded on the right here, so no pad token is needed.

* `perplexity`: exp of the mean negative log-likelihood per predicted token, pooled over all texts (a long text
  weighs more than a short one). The first token of a text is never predicted (nothing comes before it), so a
  text of n tokens contributes n - 1. For one text this equals `exp(model(ids, labels=ids).loss)` in transformers.
* `continuation_log_likelihood`: log P(continuation | context), the continuation's tokens only.
* `multiple_choice_accuracy`: for each question, the log-likelihood of every choice given the question; the
  highest (summed, or divided by its length in tokens or characters) is the model's answer. No generation and
  no answer parsing, which is how MMLU-style benchmarks are usually run on base models.
* `wilson_interval`: a confidence interval for an accuracy measured on n questions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from torch import nn

from ..course.arguments import require_choice, require_range
from ..course.device import device_of
from ..generation.scoring import sequence_log_probs
from ..transformer.tokenizer import BPETokenizer

NORMALIZATIONS = ("sum", "token", "char")


# --------------------------------------------------------------------------------------------------------------------
# Shared plumbing


def encode(tokenizer: Any, text: str, *, special_tokens: bool = True) -> list[int]:
    """Token ids of `text` with either kind of tokenizer. `special_tokens=False` keeps a transformers tokenizer
    from adding its BOS/EOS (for a continuation glued after a context); the course's BPE adds none anyway."""
    if isinstance(tokenizer, BPETokenizer):
        return list(tokenizer.encode(text))
    return list(tokenizer.encode(text, add_special_tokens=special_tokens))


def model_max_length(model: nn.Module) -> int | None:
    """The longest input a model takes, read from its config (`context_length` for the course's GPT,
    `max_position_embeddings` for transformers models), or None when it says nothing."""
    config = getattr(model, "config", None)
    for name in ("context_length", "max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode (no dropout) and no gradients inside the block; the model's own mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _scored_batch(
    rows: Sequence[tuple[list[int], int]], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (input_ids, attention_mask, completion_mask) for rows of (ids, n_context): the tokens from
    position max(n_context, 1) on are scored."""
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.zeros(len(rows), width, dtype=torch.long)
    attention = torch.zeros(len(rows), width, dtype=torch.long)
    scored = torch.zeros(len(rows), width, dtype=torch.long)
    for i, (ids, n_context) in enumerate(rows):
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        scored[i, max(n_context, 1) : len(ids)] = 1
    return input_ids.to(device), attention.to(device), scored.to(device)


def _score_rows(model: nn.Module, rows: Sequence[tuple[list[int], int]], batch_size: int) -> np.ndarray:
    """Summed log-probability of the scored tokens of every row, in batches (float64 array)."""
    device = device_of(model)
    totals = []
    with _evaluating(model):
        for start in range(0, len(rows), batch_size):
            input_ids, attention, scored = _scored_batch(rows[start : start + batch_size], device)
            mask = None if bool(attention.all()) else attention
            totals.append(sequence_log_probs(model, input_ids, mask, scored).total.double().cpu())
    return torch.cat(totals).numpy()


# --------------------------------------------------------------------------------------------------------------------
# Perplexity


@dataclass(frozen=True)
class TextLikelihood:
    """`log_probs[i]`: summed log-probability of text i's predicted tokens; `n_tokens[i]`: how many there were."""

    log_probs: np.ndarray
    n_tokens: np.ndarray

    @property
    def mean_nll(self) -> float:
        """Negative log-likelihood per predicted token, pooled over the texts (nats)."""
        return float(-self.log_probs.sum() / self.n_tokens.sum())

    @property
    def perplexity(self) -> float:
        """exp(mean_nll): how many equally likely tokens the model hesitates between, on average."""
        return math.exp(self.mean_nll)


def text_log_likelihood(
    model: nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    max_length: int | None = None,
) -> TextLikelihood:
    """Log-likelihood of every text under the model, each token scored given the tokens before it.

    Texts longer than `max_length` tokens (default: the model's context length, from its config) are cut to
    their first `max_length` tokens."""
    if isinstance(texts, str):
        raise TypeError("`texts` must be a list of strings, got one str; wrap it: [text] (or call perplexity).")
    limit = max_length or model_max_length(model)
    rows = [(ids[:limit] if limit else ids, 1) for ids in (encode(tokenizer, text) for text in texts)]
    n_tokens = np.array([max(len(ids) - 1, 0) for ids, _ in rows])
    if n_tokens.sum() == 0:
        raise ValueError("`texts` has no text of 2 or more tokens: there is nothing to predict.")
    keep = [i for i, n in enumerate(n_tokens) if n > 0]  # a one-token text predicts nothing: log-probability 0
    log_probs = np.zeros(len(rows))
    log_probs[keep] = _score_rows(model, [rows[i] for i in keep], batch_size)
    return TextLikelihood(log_probs=log_probs, n_tokens=n_tokens)


def perplexity(
    model: nn.Module,
    tokenizer: Any,
    texts: str | Sequence[str],
    *,
    batch_size: int = 8,
    max_length: int | None = None,
) -> float:
    """Token-weighted perplexity of `texts` (one string or a list): exp(-sum of log-probs / number of predicted
    tokens), pooled over all texts. See `text_log_likelihood` for `max_length`."""
    if isinstance(texts, str):
        texts = [texts]
    return text_log_likelihood(model, tokenizer, texts, batch_size=batch_size, max_length=max_length).perplexity


# --------------------------------------------------------------------------------------------------------------------
# Continuations


def _continuation_rows(
    tokenizer: Any, context: str, continuation: str, separator: str, limit: int | None
) -> tuple[list[int], int, int]:
    """(ids, n_context, n_continuation) for `context` + `separator + continuation`, tokenized apart and joined; a
    context too long for `limit` loses its beginning."""
    head = encode(tokenizer, context)
    tail = encode(tokenizer, separator + continuation, special_tokens=False)
    if not tail:
        raise ValueError(f"continuation {continuation!r} has no tokens.")
    if limit and len(tail) >= limit:
        raise ValueError(f"continuation {continuation!r} has {len(tail)} tokens, too long for {limit}.")
    if limit and len(head) + len(tail) > limit:
        head = head[len(head) + len(tail) - limit :]
    return head + tail, len(head), len(tail)


def continuation_log_likelihood(
    model: nn.Module,
    tokenizer: Any,
    contexts: Sequence[str],
    continuations: Sequence[str],
    *,
    separator: str = " ",
    batch_size: int = 16,
    max_length: int | None = None,
) -> np.ndarray:
    """log P(separator + continuations[i] | contexts[i]) for each i: the summed log-probability of the
    continuation's tokens only (float64 array). The building block of `multiple_choice_accuracy`, and of bias
    probes that compare one continuation after two contexts."""
    if isinstance(contexts, str) or not contexts or len(contexts) != len(continuations):
        raise ValueError("`contexts` and `continuations` must be non-empty lists of strings that pair up.")
    limit = max_length or model_max_length(model)
    rows = []
    for context, continuation in zip(contexts, continuations, strict=True):
        ids, n_context, _ = _continuation_rows(tokenizer, context, continuation, separator, limit)
        rows.append((ids, n_context))
    return _score_rows(model, rows, batch_size)


# --------------------------------------------------------------------------------------------------------------------
# Multiple choice


@dataclass(frozen=True)
class MultipleChoiceResult:
    """Per item: `predictions[i]` (the chosen index), `answers[i]`, `correct[i]` (bool) and `scores[i]` (one score
    per choice, after normalisation); `accuracy` is the mean of `correct`. The raw material stays too:
    `log_likelihoods[i][k]` (summed log-probability of choice k), `n_tokens[i][k]` and `n_chars[i][k]` (its
    length), so `renormalized(...)` can rescore with another normalisation without running the model again."""

    predictions: np.ndarray
    answers: np.ndarray
    correct: np.ndarray
    scores: list[np.ndarray]
    normalize: str
    log_likelihoods: list[np.ndarray]
    n_tokens: list[np.ndarray]
    n_chars: list[np.ndarray]

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    @property
    def n(self) -> int:
        return len(self.correct)

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson confidence interval of the accuracy (see `wilson_interval`)."""
        return wilson_interval(int(self.correct.sum()), self.n, confidence)

    def renormalized(self, normalize: str) -> MultipleChoiceResult:
        """The same log-likelihoods scored with another normalisation ("sum", "token" or "char")."""
        require_choice("normalize", normalize, NORMALIZATIONS)
        if normalize == "sum":
            scores = [ll.copy() for ll in self.log_likelihoods]
        else:
            lengths = self.n_tokens if normalize == "token" else self.n_chars
            scores = [ll / length for ll, length in zip(self.log_likelihoods, lengths, strict=True)]
        predictions = np.array([int(np.argmax(s)) for s in scores])  # ties go to the first choice
        return MultipleChoiceResult(
            predictions,
            self.answers,
            predictions == self.answers,
            scores,
            normalize,
            self.log_likelihoods,
            self.n_tokens,
            self.n_chars,
        )


def multiple_choice_accuracy(
    model: nn.Module,
    tokenizer: Any,
    items: Sequence[Mapping[str, Any]],
    *,
    normalize: str = "token",
    separator: str = " ",
    batch_size: int = 16,
    max_length: int | None = None,
) -> MultipleChoiceResult:
    """Score each item's choices by their log-likelihood after the question and pick the best.

    items: dicts with `question` (str), `choices` (list of str) and `answer` (index of the right choice).
    The model reads `question` then `separator + choice`; only the choice's tokens are scored (the question and
    the choice are tokenized separately and joined, so the boundary is the same for every choice).
    normalize: "sum" (total log-probability: favours short choices), "token" (mean per token) or "char" (total
    divided by the choice's length in characters: comparable across tokenizers). A question too long for
    `max_length` (default: the model's context length) loses its beginning."""
    require_choice("normalize", normalize, NORMALIZATIONS)
    parsed = [(item["question"], list(item["choices"]), int(item["answer"])) for item in items]
    if not parsed:
        raise ValueError("`items` must hold at least one question, got none.")
    for i, (_, choices, answer) in enumerate(parsed):
        if len(choices) < 2 or not 0 <= answer < len(choices):
            raise ValueError(f"`items[{i}]` needs two or more 'choices' and an 'answer' index among them.")
    limit = max_length or model_max_length(model)
    rows, n_tokens, n_chars = [], [], []
    for question, choices, _ in parsed:
        for choice in choices:
            ids, n_context, n_continuation = _continuation_rows(tokenizer, question, choice, separator, limit)
            rows.append((ids, n_context))
            n_tokens.append(n_continuation)
            n_chars.append(len(separator + choice))
    totals = _score_rows(model, rows, batch_size)
    per_item: dict[str, list[np.ndarray]] = {"ll": [], "tokens": [], "chars": []}
    start = 0
    for _, choices, _ in parsed:
        stop = start + len(choices)
        per_item["ll"].append(totals[start:stop])
        per_item["tokens"].append(np.array(n_tokens[start:stop], dtype=float))
        per_item["chars"].append(np.array(n_chars[start:stop], dtype=float))
        start = stop
    answers = np.array([answer for _, _, answer in parsed])
    empty = np.zeros(len(parsed), dtype=int)
    raw = MultipleChoiceResult(
        empty, answers, empty == answers, per_item["ll"], "sum", per_item["ll"], per_item["tokens"], per_item["chars"]
    )
    return raw.renormalized(normalize)


# --------------------------------------------------------------------------------------------------------------------
# Confidence interval


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion: `successes` right out of `n`, at the given confidence level.

    With z the normal quantile (1.96 for 95%) and p = successes / n:
    centre = (p + z²/2n) / (1 + z²/n), half-width = z / (1 + z²/n) * sqrt(p(1 - p)/n + z²/4n²).
    Unlike p ± z·sqrt(p(1-p)/n) it stays inside [0, 1] and is not zero-width at p = 0 or 1, which matters for
    the small benchmarks of a notebook."""
    require_range("n", n, low=1)
    require_range("successes", successes, low=0, high=n)
    require_range("confidence", confidence, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return max(0.0, centre - half), min(1.0, centre + half)
