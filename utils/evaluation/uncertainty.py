"""How sure is a mean? Bootstrap confidence intervals for a score averaged over examples, and for the paired
difference of two models scored on the same examples. Taught in notebook 09; notebooks 10 and 11 use it.

The bootstrap resamples the examples with replacement many times and reads the interval off the spread of the
resampled means (the percentile method): no formula, no normality assumption, and it works for any score. When the
examples come in groups that are not independent (several pairs of one movie), the cluster bootstrap resamples whole
groups instead (`clusters=`). Notebooks 12-14 use it with one cluster per movie.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
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


def _cluster_codes(clusters: Sequence[Hashable], n_values: int) -> np.ndarray:
    if isinstance(clusters, str) or len(clusters) != n_values:
        raise ValueError(f"`clusters` must hold one label per value ({n_values}), got {len(clusters)}.")
    codes: dict[Hashable, int] = {}
    array = np.array([codes.setdefault(label, len(codes)) for label in clusters])
    if len(codes) < 2:
        raise ValueError("`clusters` must name at least 2 different clusters to resample them.")
    return array


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    clusters: Sequence[Hashable] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """The mean of `values` with a percentile-bootstrap interval at `confidence` (e.g. 0.95), from `n_resamples`
    resamples drawn with a generator seeded by `seed` (so the interval is reproducible).

    With `clusters` (one label per value, e.g. the prompt or movie a pair belongs to) it is a cluster bootstrap:
    each resample draws whole clusters with replacement, as many as there are, and takes the mean over all the
    values of the drawn clusters. Use it when values of one cluster are not independent (pairs of one movie): the
    interval then reflects how many clusters were seen, and is wider than resampling single values pretends."""
    scores = _as_scores("values", values)
    require_range("confidence", confidence, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    require_range("n_resamples", n_resamples, low=100)
    rng = np.random.default_rng(seed)
    if clusters is None:
        picks = rng.integers(0, len(scores), size=(n_resamples, len(scores)))
        means = scores[picks].mean(axis=1)
    else:
        codes = _cluster_codes(clusters, len(scores))
        n_clusters = codes.max() + 1
        sums = np.bincount(codes, weights=scores, minlength=n_clusters)
        counts = np.bincount(codes, minlength=n_clusters)
        picks = rng.integers(0, n_clusters, size=(n_resamples, n_clusters))
        means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Interval(float(scores.mean()), float(low), float(high), float(scores.std(ddof=1)))


def paired_difference_ci(
    after: Sequence[float] | np.ndarray,
    before: Sequence[float] | np.ndarray,
    *,
    clusters: Sequence[Hashable] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """`after - before` example by example (two models scored on the SAME examples), its mean and bootstrap
    interval (a cluster bootstrap with `clusters`, one label per example, as in `bootstrap_ci`). Pairing removes the
    variation between easy and hard examples, so it is far tighter than comparing two separate intervals."""
    a, b = _as_scores("after", after), _as_scores("before", before)
    if a.shape != b.shape:
        raise ValueError(f"`after` and `before` must score the same examples, got {len(a)} and {len(b)} scores.")
    return bootstrap_ci(a - b, clusters=clusters, confidence=confidence, n_resamples=n_resamples, seed=seed)
