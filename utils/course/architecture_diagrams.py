"""The model diagrams of the notes, drawn with matplotlib in the course style (`diagrams.draw_box` / `draw_arrow`):
the RNN types and an unrolled RNN beside one attention step (notebook 03), the transformer with its encoder and
decoder stacks, the three model families, BERT vs GPT and the GPT block (04), a beam-search tree (05) and the three
stages of building an LLM (07). Every function returns the matplotlib Figure it drew."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .arguments import require_range, require_type
from .diagrams import draw_arrow, draw_box
from .plotting import COURSE_COLORS

BLUE, ORANGE, GREEN, PURPLE, PINK, GRAY = COURSE_COLORS

#: The RNN types of the notes: (name, number of inputs, number of outputs, outputs wait for the whole input, example).
RNN_TYPES: tuple[tuple[str, int, int, bool, str], ...] = (
    ("one-to-one", 1, 1, False, "image classification"),
    ("one-to-many", 1, 3, False, "image captioning"),
    ("many-to-one", 3, 1, True, "sentiment analysis"),
    ("many-to-many", 3, 3, True, "machine translation"),
    ("many-to-many (aligned)", 3, 3, False, "a tag for every word"),
)

#: The notes' "The cat is" example: the first step's probabilities are the notes' own; the second step's are ours,
#: chosen so that the best two-word continuation does not start with the best first word.
BEAM_EXAMPLE_PROMPT = "The cat is"
BEAM_EXAMPLE_TREE: dict[str, dict[str, float]] = {
    "": {"sleeping": 0.4, "purring": 0.3, "running": 0.2, "barking": 0.1},
    "sleeping": {"soundly": 0.3, "now": 0.25, "again": 0.25, "outside": 0.2},
    "purring": {"softly": 0.7, "loudly": 0.2, "again": 0.1},
    "running": {"away": 0.6, "fast": 0.4},
    "barking": {"oddly": 1.0},
}

#: The three stages of building an LLM, as the notes list them, with the course notebooks that teach each step.
LLM_BUILD_STAGES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Stage 1: build",
        (("data preparation and sampling", "01, 07"), ("the attention mechanism", "03"), ("the architecture", "04")),
    ),
    (
        "Stage 2: pretrain",
        (("the training loop", "07"), ("evaluation", "07, 11"), ("loading pretrained weights", "04, 07")),
    ),
    ("Stage 3: fine-tune", (("a classifier", "08"), ("an instruction follower", "09, 10"), ("alignment", "12-14"))),
)


def _canvas(width: float, height: float, xlim: float, ylim: float, title: str | None = None) -> tuple[Figure, object]:
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, xlim)
    ax.set_ylim(0, ylim)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=12)
    return fig, ax


def _chain(ax: object, x: float, boxes: list[tuple[str, str]], y0: float, w: float, h: float, gap: float) -> list:
    """Boxes stacked bottom-up at x, joined by arrows; returns the (y, height) of each box."""
    spots = []
    y = y0
    for i, (label, color) in enumerate(boxes):
        draw_box(ax, x, y, w, h, color, alpha=0.22, text=label)
        spots.append(y)
        if i < len(boxes) - 1:
            draw_arrow(ax, (x + w / 2, y + h), (x + w / 2, y + h + gap))
        y += h + gap
    return spots


def _stack(
    ax: object,
    x: float,
    tokens: str,
    layers: list[tuple[str, str]],
    frame: str,
    w: float,
    h: float,
    gap: float,
    *,
    repeat_on_left: bool,
) -> list:
    """One transformer stack at x: the tokens, their embedding, the block's layers (`_chain`) in a frame with its
    "N x" repeat mark on the left or right; returns the y of each layer's box."""
    draw_box(ax, x, 0.1, w, 0.5, GRAY, alpha=0.1, text=tokens)
    draw_box(ax, x, 0.95, w, h, BLUE, alpha=0.22, text="token embedding + positional encoding")
    draw_arrow(ax, (x + w / 2, 0.62), (x + w / 2, 0.93))
    draw_arrow(ax, (x + w / 2, 0.95 + h), (x + w / 2, 1.9))
    spots = _chain(ax, x, layers, 1.9, w, h, gap)
    draw_box(ax, x - 0.2, 1.75, w + 0.4, spots[-1] + h - 1.6, frame, alpha=0.05)
    middle = (1.75 + spots[-1] + h) / 2
    if repeat_on_left:
        ax.text(x - 0.35, middle, "N x", ha="right", va="center", fontsize=11, weight="bold")
    else:
        ax.text(x + w + 0.35, middle, "x N", ha="left", va="center", fontsize=11, weight="bold")
    return spots


def draw_rnn_types() -> Figure:
    """The RNN types of the notes (one-to-one, one-to-many, many-to-one, many-to-many), each unrolled in time."""
    fig, axes = plt.subplots(1, len(RNN_TYPES), figsize=(15, 3.8))
    for ax, (name, n_in, n_out, waits, example) in zip(axes, RNN_TYPES, strict=True):
        steps = n_in + n_out - 1 if waits else max(n_in, n_out)
        ax.set_xlim(-0.2, max(steps, 3) * 1.1)
        ax.set_ylim(-0.4, 3.9)
        ax.axis("off")
        first_out = steps - n_out
        for t in range(steps):
            x = 0.1 + t * 1.1
            draw_box(ax, x, 1.3, 0.8, 0.8, GREEN, alpha=0.25, text="h", fontsize=10)
            if t < n_in:
                draw_box(ax, x, 0.0, 0.8, 0.7, BLUE, alpha=0.22, text=f"x{t + 1}")
                draw_arrow(ax, (x + 0.4, 0.72), (x + 0.4, 1.28))
            if t >= first_out:
                draw_box(ax, x, 2.7, 0.8, 0.7, ORANGE, alpha=0.22, text=f"y{t - first_out + 1}")
                draw_arrow(ax, (x + 0.4, 2.12), (x + 0.4, 2.68))
            if t < steps - 1:
                draw_arrow(ax, (x + 0.82, 1.7), (x + 1.08, 1.7), color=GREEN)
        ax.set_title(name, fontsize=11, weight="bold")
        ax.text(0.5, -0.02, f"e.g. {example}", transform=ax.transAxes, ha="center", va="top", style="italic")
    fig.suptitle("RNN types: inputs x (blue), hidden states h passed forward in time (green), outputs y (orange)")
    fig.tight_layout()
    return fig


def draw_rnn_vs_attention(n_tokens: int = 5) -> Figure:
    """An unrolled RNN beside one attention step: how many steps lie between the first token and the last output."""
    require_type("n_tokens", n_tokens, int)
    require_range("n_tokens", n_tokens, low=2, high=12)
    fig, (ax_rnn, ax_att) = plt.subplots(1, 2, figsize=(13, 4.2))
    span = n_tokens * 1.2
    for ax in (ax_rnn, ax_att):
        ax.set_xlim(-0.3, span)
        ax.set_ylim(-0.9, 3.6)
        ax.axis("off")
    for t in range(n_tokens):
        x = t * 1.2
        for ax in (ax_rnn, ax_att):
            draw_box(ax, x, 0.0, 0.8, 0.6, BLUE, alpha=0.22, text=f"x{t + 1}")
        color = PINK if t == n_tokens - 1 else GREEN
        draw_box(ax_rnn, x, 1.3, 0.8, 0.8, color, alpha=0.25, text=f"h{t + 1}")
        draw_arrow(ax_rnn, (x + 0.4, 0.62), (x + 0.4, 1.28))
        if t < n_tokens - 1:
            draw_arrow(ax_rnn, (x + 0.82, 1.7), (x + 1.18, 1.7), color=PINK, linewidth=2)
            ax_rnn.text(x + 1.0, 1.95, str(t + 1), ha="center", fontsize=8, color=PINK)
        draw_box(ax_att, x, 2.3, 0.8, 0.8, PINK if t == n_tokens - 1 else GREEN, alpha=0.25, text=f"z{t + 1}")
    last = (n_tokens - 1) * 1.2 + 0.4
    for t in range(n_tokens):
        draw_arrow(ax_att, (t * 1.2 + 0.4, 0.62), (last, 2.28), color=PINK, linewidth=1.5, alpha=0.8)
    ax_rnn.set_title("RNN: one step per token, in order", fontsize=11, weight="bold")
    ax_rnn.text(
        span / 2 - 0.3, -0.6, f"x1 reaches h{n_tokens} through {n_tokens - 1} updates; step t waits for step t-1",
        ha="center", fontsize=9,
    )  # fmt: skip
    ax_att.set_title("Attention: every token in one step", fontsize=11, weight="bold")
    ax_att.text(
        span / 2 - 0.3, -0.6, f"z{n_tokens} reads x1 ... x{n_tokens} directly (1 step); all z's computed at once",
        ha="center", fontsize=9,
    )  # fmt: skip
    fig.suptitle("How far is the first token from the last output?")
    fig.tight_layout()
    return fig


def draw_transformer() -> Figure:
    """The original transformer: an encoder stack and a decoder stack joined by cross-attention."""
    fig, ax = _canvas(11, 8.2, 11, 9.4, "The transformer: encoder stack (left), decoder stack (right)")
    w, h, gap = 3.2, 0.55, 0.3
    enc_x, dec_x = 0.9, 6.6
    enc = [
        ("multi-head self-attention\n(every token sees every token)", PURPLE),
        ("add & norm", GRAY),
        ("feed-forward", GREEN),
        ("add & norm", GRAY),
    ]
    spots = _stack(ax, enc_x, "input tokens: 'the cat sleeps'", enc, BLUE, w, h, gap, repeat_on_left=True)
    enc_top = spots[-1] + h
    dec = [
        ("masked multi-head self-attention\n(only earlier tokens)", PURPLE),
        ("add & norm", GRAY),
        ("cross-attention\n(queries: decoder; keys, values: encoder)", PINK),
        ("add & norm", GRAY),
        ("feed-forward", GREEN),
        ("add & norm", GRAY),
    ]
    dspots = _stack(
        ax, dec_x, "output so far (shifted right): '<s> le chat'", dec, ORANGE, w, h, gap, repeat_on_left=False
    )
    top = dspots[-1] + h
    draw_arrow(ax, (dec_x + w / 2, top), (dec_x + w / 2, top + 0.35))
    draw_box(ax, dec_x, top + 0.35, w, h, ORANGE, alpha=0.22, text="linear + softmax over the vocabulary")
    ax.text(dec_x + w / 2, top + 0.35 + h + 0.2, "next-token probabilities: 'dort' ...", ha="center", fontsize=9)
    # The encoder's output feeds every decoder block's cross-attention.
    cross_y = dspots[2] + h / 2
    ax.text(enc_x + w / 2, enc_top + 0.3, "encoder output: one vector per input token", ha="center", fontsize=9)
    draw_arrow(
        ax, (enc_x + w / 2, enc_top + 0.02), (dec_x - 0.02, cross_y), color=PINK, linewidth=2,
        connectionstyle="arc3,rad=-0.25",
    )  # fmt: skip
    ax.text(5.3, cross_y + 0.9, "keys & values", color=PINK, ha="center", fontsize=10, weight="bold")
    return fig


def draw_model_families() -> Figure:
    """Encoder-only vs decoder-only vs encoder-decoder: what each reads, what it is trained to predict, examples."""
    families = (
        ("Encoder-only", "BERT, MiniLM", BLUE, ("encoder",), "sees the whole input (both directions)",
         "masked language modelling:\nfill in [MASK] from both sides", "classification, embeddings,\nsearch"),
        ("Decoder-only", "GPT, SmolLM2, Llama", ORANGE, ("decoder",), "sees only the tokens before it (causal)",
         "causal language modelling:\npredict the next token", "text generation, chat,\nfew-shot prompting"),
        ("Encoder-decoder", "T5, BART", GREEN, ("encoder", "decoder"),
         "encoder: both ways; decoder: causal\n+ cross-attention to the encoder",
         "span corruption: rewrite\nthe masked spans", "translation,\nsummarisation"),
    )  # fmt: skip
    fig, axes = plt.subplots(1, 3, figsize=(14, 5))
    for ax, (name, examples, color, stacks, sees, objective, tasks) in zip(axes, families, strict=True):
        ax.set_xlim(0, 4)
        ax.set_ylim(0, 6)
        ax.axis("off")
        ax.set_title(name, fontsize=12, weight="bold", color=color)
        width = 2.6 / len(stacks) - (0.15 if len(stacks) > 1 else 0)
        for i, stack in enumerate(stacks):
            x = 0.7 + i * (width + 0.3)
            draw_box(ax, x, 3.4, width, 1.8, BLUE if stack == "encoder" else ORANGE, alpha=0.22, text=f"{stack}\nstack")
        if len(stacks) == 2:
            draw_arrow(ax, (0.7 + width, 4.3), (0.7 + width + 0.3, 4.3), color=PINK, linewidth=2)
        ax.text(2.0, 5.45, examples, ha="center", fontsize=10, style="italic")
        ax.text(2.0, 2.95, sees, ha="center", va="top", fontsize=9)
        ax.text(2.0, 2.05, objective, ha="center", va="top", fontsize=9, weight="bold")
        ax.text(2.0, 0.95, tasks, ha="center", va="top", fontsize=9, color=GRAY)
    fig.suptitle("Three transformer families: what each reads, what it learns to predict, what it is used for")
    fig.tight_layout()
    return fig


def draw_bert_vs_gpt(tokens: tuple[str, ...] = ("the", "cat", "sat", "on", "the", "mat")) -> Figure:
    """BERT (masked, bidirectional) vs GPT (causal): the task each is pretrained on and which tokens a token sees."""
    require_type("tokens", tokens, tuple)
    if not 3 <= len(tokens) <= 10:
        raise ValueError(f"`tokens` must hold 3 to 10 words, got {len(tokens)}.")
    n = len(tokens)
    masked = n // 2 - 1 if n > 3 else 1
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6))
    panels = (
        ("BERT: masked word, context on both sides", False, BLUE),
        ("GPT: next word, context on the left only", True, ORANGE),
    )
    for ax, (title, causal, color) in zip(axes, panels, strict=True):
        ax.set_xlim(-2.2, n + 0.5)
        ax.set_ylim(-3.2, n + 0.6)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(title, fontsize=11, weight="bold", color=color, pad=28)
        shown = ["[MASK]" if (i == masked and not causal) else t for i, t in enumerate(tokens)]
        for i in range(n):  # row i = the token that looks; column j = the token it may see
            ax.text(-0.15, n - i - 0.5, shown[i], ha="right", va="center", fontsize=9)
            ax.text(i + 0.5, n + 0.15, shown[i], ha="center", va="bottom", fontsize=9, rotation=45)
            for j in range(n):
                visible = j <= i or not causal
                ax.add_patch(
                    plt.Rectangle(
                        (j, n - i - 1), 1, 1, facecolor=color if visible else "white", alpha=0.35 if visible else 1,
                        edgecolor="white" if visible else "#dee2e6",
                    )
                )  # fmt: skip
        if causal:
            task = f"input: {' '.join(tokens[:-1])}\ntarget: '{tokens[-1]}' (and every earlier next word)"
        else:
            task = f"input: {' '.join(shown)}\ntarget: '{tokens[masked]}'"
        ax.text(n / 2, -0.5, "shaded: row token may attend to column token", ha="center", va="top", fontsize=8)
        ax.text(n / 2, -1.3, task, ha="center", va="top", fontsize=9, family="monospace")
    fig.suptitle("BERT vs GPT: the same attention, a different mask and a different pretraining task")
    fig.tight_layout()
    return fig


def draw_gpt_block(n_layers: int | str = "N") -> Figure:
    """The GPT architecture as the course's `GPT` builds it: embeddings, N pre-norm decoder blocks, the LM head."""
    fig, ax = _canvas(7.5, 7.6, 8, 8.6, "The GPT model (utils.transformer.gpt.GPT)")
    x, w, h, gap = 2.0, 4.0, 0.5, 0.28
    draw_box(ax, x, 0.1, w, 0.45, GRAY, alpha=0.1, text="token ids: 'It is a truth'")
    draw_arrow(ax, (x + w / 2, 0.57), (x + w / 2, 0.8))
    draw_box(ax, x, 0.8, w, h, BLUE, alpha=0.22, text="token embedding + position embedding")
    draw_arrow(ax, (x + w / 2, 0.8 + h), (x + w / 2, 1.75))
    block = [
        ("LayerNorm", GRAY),
        ("masked multi-head attention", PURPLE),
        ("dropout, + residual", GRAY),
        ("LayerNorm", GRAY),
        ("feed-forward: linear, GELU, linear", GREEN),
        ("+ residual", GRAY),
    ]
    spots = _chain(ax, x, block, 1.75, w, h, gap)
    block_top = spots[-1] + h
    draw_box(ax, x - 0.3, 1.55, w + 0.6, block_top - 1.35, ORANGE, alpha=0.06)
    ax.text(x + w + 0.45, (1.55 + block_top + 0.2) / 2, f"x {n_layers}\ndecoder\nblocks", va="center", fontsize=11)
    for start, end in ((0, 2), (3, 5)):  # the residual paths skip the norm and the sublayer
        y0, y1 = spots[start] - gap / 2, spots[end] + h / 2
        ax.plot([x - 0.15, x - 0.15], [y0, y1], color=GRAY, linewidth=1.2)
        draw_arrow(ax, (x - 0.15, y1), (x, y1))
    top = _chain(ax, x, [("final LayerNorm", GRAY), ("linear head -> one logit per token", ORANGE)], block_top + 0.4,
                 w, h, gap)  # fmt: skip
    draw_arrow(ax, (x + w / 2, block_top), (x + w / 2, block_top + 0.4))
    y_soft = top[-1] + h
    draw_arrow(ax, (x + w / 2, y_soft), (x + w / 2, y_soft + 0.3))
    ax.text(x + w / 2, y_soft + 0.45, "softmax: P(next token), e.g. ' universally'", ha="center", fontsize=9)
    return fig


def beam_search_tree(
    tree: Mapping[str, Mapping[str, float]] = BEAM_EXAMPLE_TREE, num_beams: int = 2
) -> list[list[tuple[tuple[str, ...], float, bool]]]:
    """Run beam search on a hand-written two-level tree of next-word probabilities.

    `tree[""]` holds the first word's probabilities, `tree[word]` the second word's after `word`. Returns, per step,
    every candidate as (words, probability of the whole continuation, kept among the `num_beams` best).
    """
    require_type("tree", tree, Mapping)
    require_type("num_beams", num_beams, int)
    require_range("num_beams", num_beams, low=1)
    if "" not in tree:
        raise ValueError("`tree` must hold the first step's probabilities under the key '' (empty string).")
    steps = []
    beams: list[tuple[tuple[str, ...], float]] = [((), 1.0)]
    for _ in range(2):
        candidates = [
            ((*words, word), prob * p)
            for words, prob in beams
            for word, p in tree.get(words[-1] if words else "", {}).items()
        ]
        ranked = sorted(candidates, key=lambda c: (-c[1], c[0]))
        kept = set(ranked[:num_beams])
        steps.append([(words, prob, (words, prob) in kept) for words, prob in candidates])
        beams = ranked[:num_beams]
    return steps


def draw_beam_search(
    tree: Mapping[str, Mapping[str, float]] = BEAM_EXAMPLE_TREE, num_beams: int = 2, prompt: str = BEAM_EXAMPLE_PROMPT
) -> Figure:
    """The beam-search tree: kept beams in colour, pruned ones grey, each with its probability so far."""
    first, second = beam_search_tree(tree, num_beams)
    greedy_word = max(first, key=lambda c: c[1])[0][0]
    greedy = max((c for c in second if c[0][0] == greedy_word), key=lambda c: c[1], default=None)
    best = max((c for c in second if c[2]), key=lambda c: c[1])
    # One row per second-step candidate; a first-step candidate that was pruned gets a row of its own.
    rows: dict[tuple[str, ...], float] = {}
    for words, _, _ in first:
        children = [c[0] for c in second if c[0][0] == words[0]]
        for key in children or [words]:
            rows[key] = -len(rows)
    n_rows = len(rows)
    fig, ax = _canvas(12, 0.45 * n_rows + 1.6, 12, n_rows + 1.2)
    ax.set_title(f"Beam search with num_beams = {num_beams} on '{prompt} ...'", fontsize=12)
    for key in rows:
        rows[key] += n_rows
    root_y = (max(rows.values()) + min(rows.values())) / 2
    draw_box(ax, 0.1, root_y - 0.3, 1.7, 0.6, GRAY, alpha=0.15, text=prompt, fontsize=10)
    for words, prob, kept in first:
        ys = [y for key, y in rows.items() if key[0] == words[0]]
        y = sum(ys) / len(ys)
        color = BLUE if kept else GRAY
        draw_arrow(ax, (1.82, root_y), (3.4, y), color=color, linewidth=1.8 if kept else 0.8)
        ax.text(2.6, (root_y + y) / 2 + 0.12, f"{prob:.2f}", fontsize=8, color=color, ha="center")
        draw_box(ax, 3.42, y - 0.25, 1.9, 0.5, color, alpha=0.22 if kept else 0.08,
                 text=f"{words[0]}  (p = {prob:.2f})", text_color="black" if kept else GRAY)  # fmt: skip
        if not kept:
            ax.text(5.5, y, "pruned: not among the best two" if num_beams == 2 else "pruned", va="center",
                    fontsize=8, color=GRAY, style="italic")  # fmt: skip
        for child, child_prob, child_kept in (c for c in second if c[0][0] == words[0]):
            cy = rows[child]
            child_color = GREEN if child == best[0] else (BLUE if child_kept else GRAY)
            step_p = child_prob / prob
            draw_arrow(ax, (5.34, y), (6.9, cy), color=child_color, linewidth=1.8 if child_kept else 0.8)
            ax.text(6.1, (y + cy) / 2 + 0.12, f"{step_p:.2f}", fontsize=8, color=child_color, ha="center")
            draw_box(ax, 6.92, cy - 0.22, 3.9, 0.44, child_color, alpha=0.22 if child_kept else 0.06,
                     text=f"{child[1]}: {prob:.2f} x {step_p:.2f} = {child_prob:.3f}",
                     text_color="black" if child_kept else GRAY, fontsize=8.5)  # fmt: skip
    note = f"beam search keeps '{' '.join(best[0])}' (p = {best[1]:.3f})"
    if greedy is not None:
        note += f";  greedy search ends with '{' '.join(greedy[0])}' (p = {greedy[1]:.3f})"
    ax.text(6.0, 0.2, note, ha="center", fontsize=10, weight="bold")
    ax.text(11.9, n_rows + 0.8, "blue: kept beams, grey: pruned, green: the best", ha="right", fontsize=8.5)
    return fig


def draw_llm_build_stages() -> Figure:
    """The three stages of building an LLM (build, pretrain, fine-tune), with the notebooks that teach each step."""
    fig, ax = _canvas(13, 4.4, 13, 4.6, "Building an LLM in three stages, and where this course does each step")
    width, gap = 3.6, 0.75
    for i, (stage, steps) in enumerate(LLM_BUILD_STAGES):
        x = 0.2 + i * (width + gap)
        color = COURSE_COLORS[i]
        draw_box(ax, x, 0.35, width, 3.6, color, alpha=0.12)
        ax.text(x + width / 2, 3.6, stage, ha="center", va="center", fontsize=12, weight="bold", color=color)
        for j, (step, notebooks) in enumerate(steps):
            y = 2.75 - j * 0.85
            draw_box(ax, x + 0.2, y - 0.3, width - 0.4, 0.6, color, alpha=0.22)
            ax.text(x + width / 2, y + 0.06, step, ha="center", va="center", fontsize=9.5)
            ax.text(x + width / 2, y - 0.19, f"notebook {notebooks}", ha="center", va="center", fontsize=7.5,
                    style="italic")  # fmt: skip
        if i < len(LLM_BUILD_STAGES) - 1:
            draw_arrow(ax, (x + width + 0.05, 2.1), (x + width + gap - 0.05, 2.1), mutation_scale=16)
            label = "a model that\ncan be trained" if i == 0 else "a foundation\nmodel"
            ax.text(x + width + gap / 2, 2.45, label, ha="center", va="bottom", fontsize=7.5)
    return fig


__all__ = [
    "BEAM_EXAMPLE_PROMPT",
    "BEAM_EXAMPLE_TREE",
    "LLM_BUILD_STAGES",
    "RNN_TYPES",
    "beam_search_tree",
    "draw_beam_search",
    "draw_bert_vs_gpt",
    "draw_gpt_block",
    "draw_llm_build_stages",
    "draw_model_families",
    "draw_rnn_types",
    "draw_rnn_vs_attention",
    "draw_transformer",
]
