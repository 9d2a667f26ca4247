"""Measures of generated text that need no reference: distinct-n and the repeated n-gram rate. Taught in
notebook 05 (how repetitive is each decoding method?); notebook 11 adds reference-based metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..course.arguments import require_range


def ngrams(tokens: Sequence[Any], n: int) -> list[tuple[Any, ...]]:
    """Every run of `n` consecutive tokens, in order."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(tokens: Sequence[Any], n: int) -> float:
    """Share of the n-grams that are different from each other (1.0: no n-gram repeats; 0 for no n-grams)."""
    require_range("n", n, low=1)
    grams = ngrams(tokens, n)
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_ngram_rate(tokens: Sequence[Any], n: int = 4) -> float:
    """Share of the n-grams that already occurred earlier in the text (0.0: nothing repeats)."""
    require_range("n", n, low=1)
    grams = ngrams(tokens, n)
    seen: set[tuple[Any, ...]] = set()
    repeats = 0
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams) if grams else 0.0
