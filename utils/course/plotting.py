"""Plot helpers with one consistent style, used by every notebook. `use_course_style()` applies the style;
importing `utils` leaves matplotlib's settings alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .arguments import require_type

COURSE_COLORS = ("#1f6feb", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#495057")


def use_course_style() -> None:
    """Apply the course's matplotlib style to every later figure (notebooks call it once, after their imports)."""
    plt.rcParams.update(
        {
            "figure.figsize": (7.0, 4.0),
            "figure.dpi": 100,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": plt.cycler(color=COURSE_COLORS),
            "font.size": 10,
            "axes.titlesize": 11,
            "legend.frameon": False,
        }
    )


def plot_loss_curves(
    curves: Mapping[str, Sequence[float] | Sequence[tuple[float, float]]],
    *,
    xlabel: str = "step",
    ylabel: str = "loss",
    title: str | None = None,
    logy: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Draw one line per named curve. A curve is a list of y values or of (x, y) pairs.

    Example: `plot_loss_curves({"train": train_losses, "validation": [(100, 3.2), (200, 2.9)]})`.
    """
    require_type("curves", curves, Mapping)
    if not curves:
        raise ValueError("`curves` must contain at least one named curve, got an empty mapping.")
    ax = ax or plt.subplots()[1]
    for label, values in curves.items():
        points = list(values)
        if not points:
            raise ValueError(f"curve {label!r} in `curves` is empty; pass at least one value.")
        if isinstance(points[0], tuple | list):
            xs, ys = zip(*points, strict=True)
        else:
            xs, ys = range(len(points)), points
        ax.plot(xs, ys, label=str(label), marker="o" if len(points) < 30 else None, markersize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_heatmap(
    matrix: Any,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    cmap: str = "viridis",
    annotate: bool | None = None,
    colorbar: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of a 2-D matrix with token labels on the axes (attention maps, similarity tables).

    `annotate=None` writes the values into the cells when the matrix is at most 12 x 12 (integers as integers,
    e.g. a confusion matrix; other values with two decimals).
    """
    data = matrix.detach().float().cpu().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix)
    if data.ndim != 2:
        raise ValueError(f"`matrix` must be 2-D (rows x columns), got shape {tuple(data.shape)}.")
    n_rows, n_cols = data.shape
    if row_labels is not None and len(row_labels) != n_rows:
        raise ValueError(f"`row_labels` must have {n_rows} labels (one per row), got {len(row_labels)}.")
    if col_labels is not None and len(col_labels) != n_cols:
        raise ValueError(f"`col_labels` must have {n_cols} labels (one per column), got {len(col_labels)}.")
    if ax is None:
        side = max(3.0, min(10.0, 0.5 * max(n_rows, n_cols) + 1.5))
        ax = plt.subplots(figsize=(side + (1.0 if colorbar else 0.0), side))[1]
    image = ax.imshow(data, cmap=cmap, aspect="auto")
    ax.grid(False)
    if row_labels is not None:
        ax.set_yticks(range(n_rows), labels=list(row_labels))
    if col_labels is not None:
        ax.set_xticks(range(n_cols), labels=list(col_labels), rotation=45, ha="right")
    if annotate is None:
        annotate = n_rows <= 12 and n_cols <= 12
    if annotate:
        middle = (np.nanmax(data) + np.nanmin(data)) / 2
        number = "{:d}" if np.issubdtype(data.dtype, np.integer) else "{:.2f}"  # counts stay counts
        for i in range(n_rows):
            for j in range(n_cols):
                ax.text(
                    j,
                    i,
                    number.format(data[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if data[i, j] < middle else "black",
                )
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title)
    return ax


def new_figure(n_cols: int = 1, n_rows: int = 1, *, width: float = 7.0, height: float = 4.0) -> tuple[Figure, Any]:
    """A figure with a grid of axes in the course style, sized per panel."""
    require_type("n_cols", n_cols, int)
    require_type("n_rows", n_rows, int)
    if n_cols < 1 or n_rows < 1:
        raise ValueError(f"`n_cols` and `n_rows` must be >= 1, got {n_cols} and {n_rows}.")
    return plt.subplots(n_rows, n_cols, figsize=(width * n_cols, height * n_rows), squeeze=False)
