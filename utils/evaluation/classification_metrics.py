"""Classification metrics from their definitions: confusion matrix, accuracy, precision, recall and F1.
Taught in notebook 08; checked against scikit-learn in the tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..course.arguments import require_range

ArrayLike = Sequence[int] | np.ndarray | torch.Tensor


def _as_labels(name: str, values: ArrayLike) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.size == 0:
        return array.astype(np.int64).reshape(-1)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`{name}` must be a flat sequence of integer class labels, got {array.dtype} {array.shape}.")
    return array


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None) -> np.ndarray:
    """Counts `[n_classes, n_classes]`: row = true class, column = predicted class (sklearn's layout)."""
    true, pred = _as_labels("y_true", y_true), _as_labels("y_pred", y_pred)
    if len(true) != len(pred) or len(true) == 0:
        raise ValueError(f"`y_true` and `y_pred` must be non-empty and equally long, got {len(true)} and {len(pred)}.")
    if min(true.min(), pred.min()) < 0:
        raise ValueError("class labels must be >= 0 (an unparsed answer is -1: map it to a class first).")
    if n_classes is None:
        n_classes = int(max(true.max(), pred.max())) + 1
    require_range("n_classes", n_classes, low=int(max(true.max(), pred.max())) + 1)
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (true, pred), 1)
    return matrix


def classification_metrics(y_true: ArrayLike, y_pred: ArrayLike, positive: int = 1) -> dict[str, float]:
    """Accuracy; precision, recall and F1 of the class `positive`; and macro F1 (the mean F1 over classes).

    precision = TP / (TP + FP): of the snippets called positive, how many are;
    recall = TP / (TP + FN): of the positive snippets, how many were found;
    F1 = 2 P R / (P + R), their harmonic mean. A ratio with a zero denominator is reported as 0."""
    matrix = confusion_matrix(y_true, y_pred)
    if positive >= len(matrix):
        matrix = np.pad(matrix, (0, positive + 1 - len(matrix)))

    def f1_of(cls: int) -> tuple[float, float, float]:
        tp = matrix[cls, cls]
        predicted, actual = matrix[:, cls].sum(), matrix[cls, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return float(precision), float(recall), float(f1)

    precision, recall, f1 = f1_of(positive)
    present = [c for c in range(len(matrix)) if matrix[c, :].sum() or matrix[:, c].sum()]
    return {
        "accuracy": float(np.trace(matrix) / matrix.sum()),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "macro_f1": float(np.mean([f1_of(c)[2] for c in present])),
    }
