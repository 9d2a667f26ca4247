"""utils.evaluation.uncertainty: bootstrap intervals checked against scipy's bootstrap and against the normal
approximation they should approach; the cluster bootstrap against a resampling by hand."""

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


def test_cluster_bootstrap_resamples_whole_clusters() -> None:
    rng = np.random.default_rng(3)
    n_clusters, size = 40, 10
    clusters = np.repeat([f"movie {i}" for i in range(n_clusters)], size)
    values = np.repeat(rng.normal(size=n_clusters), size)  # perfectly correlated within a cluster
    by_value = bootstrap_ci(values)
    by_cluster = bootstrap_ci(values, clusters=clusters)
    assert by_cluster.mean == by_value.mean == pytest.approx(values.mean())
    # 400 values hold only 40 independent ones: the honest interval is about sqrt(10) = 3.2 times wider
    ratio = (by_cluster.high - by_cluster.low) / (by_value.high - by_value.low)
    assert 2.5 < ratio < 4.0
    # the same draw of cluster indices, resampled by hand: mean over all values of the picked clusters
    picks = np.random.default_rng(0).integers(0, n_clusters, size=(2000, n_clusters))
    cluster_values = [values[clusters == f"movie {i}"] for i in range(n_clusters)]
    means = [np.concatenate([cluster_values[j] for j in row]).mean() for row in picks]
    assert (by_cluster.low, by_cluster.high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))


def test_clusters_of_one_value_are_the_plain_bootstrap() -> None:
    values = np.random.default_rng(4).exponential(size=100)
    plain = bootstrap_ci(values, seed=2)
    assert bootstrap_ci(values, clusters=list(range(100)), seed=2) == pytest.approx(plain)
    assert paired_difference_ci(values, values / 2, clusters=list(range(100)), seed=2) == pytest.approx(
        paired_difference_ci(values, values / 2, seed=2)
    )


def test_unequal_clusters_weigh_values_not_clusters() -> None:
    values = np.array([1.0] * 9 + [0.0])
    interval = bootstrap_ci(values, clusters=["big"] * 9 + ["small"])
    assert interval.mean == pytest.approx(0.9)  # the mean over values, not the mean of cluster means (0.5)
    assert interval.low == 0.0 and interval.high == 1.0  # a resample can hold only the small or only the big one


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
        (lambda: bootstrap_ci([1.0, 2.0], clusters=["a"]), ValueError, "clusters"),
        (lambda: bootstrap_ci([1.0, 2.0], clusters="ab"), ValueError, "clusters"),
        (lambda: bootstrap_ci([1.0, 2.0], clusters=["a", "a"]), ValueError, "at least 2"),
        (lambda: paired_difference_ci([1.0, 2.0], [0.0, 1.0], clusters=[1, 2, 3]), ValueError, "clusters"),
    ],
)
def test_bad_arguments_are_refused(call, error: type[Exception], names: str) -> None:
    with pytest.raises(error, match=names):
        call()
