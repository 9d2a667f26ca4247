"""How sure is a mean? Bootstrap confidence intervals for a score averaged over examples, and for the paired
difference of two models scored on the same examples. Taught in notebook 09; notebooks 10 and 11 use it.

The bootstrap resamples the examples with replacement many times and reads the interval off the spread of the
resampled means (the percentile method): no formula, no normality assumption, and it works for any score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..course.arguments import require_range


class Interval(NamedTuple):
    """A mean over examples with its bootstrap confidence interval [low, high] and the examples' standard
    deviation (the spread of single scores, not of the mean)."""

    mean: float
    low: float
    high: float
    std: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _as_scores(name: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) < 2:
        raise ValueError(f"`{name}` must be a flat sequence of at least 2 numbers, got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"`{name}` holds NaN or infinite values.")
    return array


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> Interval:
    """The mean of `values` with a percentile-bootstrap interval at `confidence` (e.g. 0.95), from `n_resamples`
    resamples drawn with a generator seeded by `seed` (so the interval is reproducible)."""
    scores = _as_scores("values", values)
    require_range("confidence", confidence, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    require_range("n_resamples", n_resamples, low=100)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(scores), size=(n_resamples, len(scores)))
    means = scores[picks].mean(axis=1)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(scores.mean()), float(low), float(high), float(scores.std(ddof=1)))


def paired_difference_ci(
    after: Sequence[float] | np.ndarray,
    before: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """`after - before` example by example (two models scored on the SAME examples), its mean and bootstrap
    interval. Pairing removes the variation between easy and hard examples, so it is far tighter than comparing
    two separate intervals."""
    a, b = _as_scores("after", after), _as_scores("before", before)
    if a.shape != b.shape:
        raise ValueError(f"`after` and `before` must score the same examples, got {len(a)} and {len(b)} scores.")
    return bootstrap_ci(a - b, confidence=confidence, n_resamples=n_resamples, seed=seed)
