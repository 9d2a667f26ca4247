"""Concept figures drawn with matplotlib (no screenshots): the LLM project lifecycle and the layered cake
(notebook 00), and the two drawing helpers every course diagram uses (`draw_box`, `draw_arrow`). The model
diagrams of notebooks 03-07 are in `architecture_diagrams.py`."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .plotting import COURSE_COLORS

#: The four stages of an LLM project, their steps, and the notebooks of this course that teach them.
LIFECYCLE_STAGES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Scope", ("Define the use case", "one task or many?"), "00"),
    ("Select", ("Choose an existing model", "or pre-train your own"), "01-04, 07"),
    ("Adapt & align", ("Prompt engineering", "Fine-tuning", "Align with human feedback", "Evaluate"), "05-06, 08-14"),
    ("Integrate", ("Optimize & deploy", "for inference", "Augment the model:", "build LLM apps"), "15-17"),
)

#: The layered cake, bottom to top: (layer, goal, example, notebooks).
CAKE_LAYERS: tuple[tuple[str, str, str, str], ...] = (
    ("Foundation", "general patterns from huge generic corpora", "GPT, BERT pre-training", "04, 07"),
    ("Task", "sentiment, Q&A, summarisation", "fine-tune on labelled task data", "08-11"),
    ("Preference", "behaviour people prefer", "reward models, RLHF, DPO", "12-14"),
)

#: What grows along the cake, and in which direction: ("up" or "down", what grows). Notebook 00's prose reads the
#: figure with these arrows: going up, value and quality per example grow; going down, data and compute grow.
CAKE_TRENDS: tuple[tuple[str, str], ...] = (
    ("up", "business value, data quality\nneeded per example"),
    ("down", "amount of data and\ncompute (data cost)"),
)


def draw_box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    color: str,
    alpha: float = 0.18,
    text: str | None = None,
    text_color: str = "black",
    **text_kwargs: object,
) -> None:
    """A rounded box at (x, y) of size w x h, tinted with `color`; `text` (optional) is written at its centre in
    `text_color` (extra keywords go to `ax.text`, e.g. fontsize)."""
    patch = FancyBboxPatch(
        (x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.04", linewidth=1.6,
        edgecolor=color, facecolor=color, alpha=alpha,
    )  # fmt: skip
    ax.add_patch(patch)
    ax.add_patch(
        FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.04", fill=False, edgecolor=color)
    )
    if text is not None:
        ax.text(
            x + w / 2, y + h / 2, text, ha="center", va="center", color=text_color, **{"fontsize": 9, **text_kwargs}
        )


def draw_arrow(
    ax: Axes, start: tuple[float, float], end: tuple[float, float], color: str = "#495057", **kwargs: object
) -> None:
    """An arrow from `start` to `end` in data coordinates (extra keywords go to FancyArrowPatch)."""
    options = {"arrowstyle": "-|>", "mutation_scale": 12, "linewidth": 1.2, "color": color, **kwargs}
    ax.add_patch(FancyArrowPatch(start, end, **options))


def draw_lifecycle(ax: Axes | None = None) -> Axes:
    """Draw the LLM project lifecycle (scope -> select -> adapt & align -> integrate) with course notebooks."""
    ax = ax or plt.subplots(figsize=(12, 4.2))[1]
    ax.set_xlim(0, 12)
    ax.set_ylim(0, 4.2)
    ax.axis("off")
    width, gap = 2.6, 0.4
    for i, (stage, steps, notebooks) in enumerate(LIFECYCLE_STAGES):
        x = 0.2 + i * (width + gap)
        color = COURSE_COLORS[i]
        draw_box(ax, x, 0.5, width, 3.0, color)
        ax.text(x + width / 2, 3.15, stage, ha="center", va="center", fontsize=12, weight="bold", color=color)
        for j, step in enumerate(steps):
            ax.text(x + width / 2, 2.55 - j * 0.5, step, ha="center", va="center", fontsize=9)
        ax.text(x + width / 2, 0.75, f"notebooks {notebooks}", ha="center", va="center", fontsize=8.5, style="italic")
        if i < len(LIFECYCLE_STAGES) - 1:
            arrow = FancyArrowPatch(
                (x + width + 0.03, 2.0), (x + width + gap - 0.03, 2.0), arrowstyle="-|>", mutation_scale=16
            )
            ax.add_patch(arrow)
    # Adapt & align is iterative: evaluate, then adapt again.
    x_adapt = 0.2 + 2 * (width + gap)
    loop = FancyArrowPatch(
        (x_adapt + width - 0.2, 0.62), (x_adapt + 0.2, 0.62), connectionstyle="arc3,rad=-0.35",
        arrowstyle="-|>", mutation_scale=12, color=COURSE_COLORS[2],
    )  # fmt: skip
    ax.add_patch(loop)
    ax.text(x_adapt + width / 2, 0.08, "iterate until the evaluation is good enough", ha="center", fontsize=8)
    ax.set_title("The LLM project lifecycle, and where this course teaches each stage", fontsize=12)
    return ax


def draw_layered_cake(ax: Axes | None = None) -> Axes:
    """Draw the 'layered cake' of model customisation: foundation, task and preference layers, with one arrow per
    entry of `CAKE_TRENDS` pointing the way that quantity grows."""
    ax = ax or plt.subplots(figsize=(11, 5))[1]
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 5)
    ax.axis("off")
    for i, (layer, goal, example, notebooks) in enumerate(CAKE_LAYERS):
        width = 7.4 - 1.6 * i
        x, y = 5.5 - width / 2, 0.5 + 1.35 * i
        color = COURSE_COLORS[i]
        draw_box(ax, x, y, width, 1.15, color, alpha=0.3)
        ax.text(5.5, y + 0.82, f"{layer} layer", ha="center", fontsize=12, weight="bold", color=color)
        ax.text(5.5, y + 0.48, goal, ha="center", fontsize=9)
        ax.text(5.5, y + 0.18, f"{example}  ·  notebooks {notebooks}", ha="center", fontsize=8.5, style="italic")
    for (direction, grows), x in zip(CAKE_TRENDS, (0.7, 10.3), strict=True):
        low_to_high = ((x, 0.5), (x, 4.4)) if direction == "up" else ((x, 4.4), (x, 0.5))
        arrow = FancyArrowPatch(*low_to_high, arrowstyle="-|>", mutation_scale=18, color="#495057")
        arrow.set_gid(f"cake-trend-{direction}")
        ax.add_patch(arrow)
        label = f"grows {'upward' if direction == 'up' else 'downward'}:\n{grows}"
        side = -0.3 if x < 5.5 else 0.3
        ax.text(x + side, 2.45, label, rotation=90 if x < 5.5 else 270, ha="center", va="center", fontsize=9)
    ax.set_title("The layered cake: each layer customises the one below it", fontsize=12)
    return ax
