"""utils.evaluation.uncertainty: bootstrap intervals checked against scipy's bootstrap and against the normal
approximation they should approach."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from utils.evaluation.uncertainty import Interval, bootstrap_ci, paired_difference_ci


def test_bootstrap_ci_agrees_with_scipy_and_the_normal_approximation() -> None:
    values = np.random.default_rng(1).exponential(size=400)
    ours = bootstrap_ci(values, n_resamples=5000)
    theirs = stats.bootstrap((values,), np.mean, method="percentile", n_resamples=5000, random_state=7)
    assert ours.mean == pytest.approx(values.mean())
    assert ours.low == pytest.approx(theirs.confidence_interval.low, abs=0.02)
    assert ours.high == pytest.approx(theirs.confidence_interval.high, abs=0.02)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert (ours.high - ours.low) / 2 == pytest.approx(half, rel=0.1)
    assert ours.std == pytest.approx(values.std(ddof=1))
    assert bootstrap_ci(values) == bootstrap_ci(values)  # seeded: reproducible
    assert isinstance(ours, Interval) and str(ours).count("[") == 1


def test_paired_difference_is_tighter_than_separate_intervals() -> None:
    rng = np.random.default_rng(2)
    difficulty = rng.uniform(0, 1, size=200)  # shared between the two models: pairing cancels it
    before = difficulty + rng.normal(0, 0.05, size=200)
    after = before + 0.1 + rng.normal(0, 0.05, size=200)
    paired = paired_difference_ci(after, before)
    assert paired.low > 0.08 and paired.high < 0.12
    separate = bootstrap_ci(after)
    assert paired.high - paired.low < (separate.high - separate.low) / 3


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        (lambda: bootstrap_ci([1.0]), ValueError, "values"),
        (lambda: bootstrap_ci("0.5"), ValueError, "values"),
        (lambda: bootstrap_ci([1.0, float("nan")]), ValueError, "NaN"),
        (lambda: bootstrap_ci([1.0, 2.0], confidence=95), ValueError, "confidence"),
        (lambda: bootstrap_ci([1.0, 2.0], confidence=1.0), ValueError, "confidence"),
        (lambda: bootstrap_ci([1.0, 2.0], n_resamples=10), ValueError, "n_resamples"),
        (lambda: paired_difference_ci([1.0, 2.0], [1.0, 2.0, 3.0]), ValueError, "same examples"),
    ],
)
def test_bad_arguments_are_refused(call, error: type[Exception], names: str) -> None:
    with pytest.raises(error, match=names):
        call()
