"""utils.metrics against scikit-learn, on random labels and on the edge cases (a class never predicted)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from utils.evaluation.classification_metrics import classification_metrics, confusion_matrix


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_metrics_match_sklearn(seed: int, n_classes: int) -> None:
    rng = np.random.default_rng(seed)
    y_true, y_pred = rng.integers(0, n_classes, 50), rng.integers(0, n_classes, 50)
    assert np.array_equal(confusion_matrix(y_true, y_pred), sk.confusion_matrix(y_true, y_pred))
    ours = classification_metrics(y_true, y_pred, positive=1)
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))
    for name, fn in (("precision", sk.precision_score), ("recall", sk.recall_score), ("f1", sk.f1_score)):
        reference = fn(y_true, y_pred, labels=[1], average="macro", zero_division=0)
        assert ours[name] == pytest.approx(reference), name
    assert ours["macro_f1"] == pytest.approx(sk.f1_score(y_true, y_pred, average="macro", zero_division=0))


def test_never_predicting_the_positive_class_gives_zero_precision_not_nan() -> None:
    y_true, y_pred = [1, 0, 1, 0], [0, 0, 0, 0]
    ours = classification_metrics(y_true, y_pred)
    assert ours["precision"] == 0.0 and ours["recall"] == 0.0 and ours["f1"] == 0.0 and ours["accuracy"] == 0.5
    assert ours["macro_f1"] == pytest.approx(sk.f1_score(y_true, y_pred, average="macro", zero_division=0))


def test_accepts_tensors_and_fixed_class_count() -> None:
    matrix = confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), n_classes=3)
    assert matrix.tolist() == [[1, 0, 0], [1, 1, 0], [0, 0, 0]]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (([0, 1], [0]), ValueError, "equally long"),
        (([], []), ValueError, "non-empty"),
        (([0, 1], [0, -1]), ValueError, "-1"),
        (([0.5, 1.0], [0, 1]), ValueError, "integer class labels"),
        (("01", [0, 1]), ValueError, "`y_true`"),
        (([0, 2], [0, 1], 2), ValueError, "`n_classes`"),
    ],
)
def test_bad_labels_are_refused(args: tuple, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        confusion_matrix(*args)
