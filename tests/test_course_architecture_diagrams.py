"""Smoke tests of the model diagrams: each draws, returns a Figure and carries the labels the notebooks rely on."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from utils.course import architecture_diagrams as diagrams


def _texts(fig: Figure) -> str:
    """Every string drawn on the figure (axes texts, titles, suptitle), joined."""
    parts = [t.get_text() for ax in fig.axes for t in ax.texts]
    parts += [ax.get_title() for ax in fig.axes]
    if fig._suptitle is not None:
        parts.append(fig._suptitle.get_text())
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("draw", "labels"),
    [
        (diagrams.draw_transformer, ["multi-head self-attention", "cross-attention", "keys & values", "N x", "x N"]),
        (diagrams.draw_model_families, ["Encoder-only", "Decoder-only", "Encoder-decoder", "BERT", "GPT", "T5"]),
        (diagrams.draw_gpt_block, ["masked multi-head attention", "LayerNorm", "feed-forward", "linear head"]),
        (diagrams.draw_bert_vs_gpt, ["BERT", "GPT", "[MASK]", "target: 'sat'", "target: 'mat'"]),
        (diagrams.draw_llm_build_stages, ["Stage 1", "Stage 2", "Stage 3", "the attention mechanism", "a classifier"]),
        (diagrams.draw_beam_search, ["The cat is", "sleeping", "purring", "num_beams = 2", "purring softly"]),
        (diagrams.draw_rnn_types, ["one-to-one", "one-to-many", "many-to-one", "many-to-many", "sentiment analysis"]),
        (diagrams.draw_rnn_vs_attention, ["h5", "z5", "4 updates", "RNN", "Attention"]),
    ],
)
def test_each_diagram_draws_a_figure_with_its_labels(draw, labels) -> None:
    fig = draw()
    assert isinstance(fig, Figure)
    text = _texts(fig)
    for label in labels:
        assert label in text, f"{draw.__name__} lost the label {label!r}"
    fig.canvas.draw()  # the whole layout renders without errors
    plt.close(fig)


def test_beam_search_tree_keeps_the_best_two_and_beats_greedy() -> None:
    first, second = diagrams.beam_search_tree(num_beams=2)
    # The first step uses the notes' numbers exactly.
    assert {words[0]: prob for words, prob, _ in first} == {
        "sleeping": 0.4, "purring": 0.3, "running": 0.2, "barking": 0.1,
    }  # fmt: skip
    assert [words for words, _, kept in first if kept] == [("sleeping",), ("purring",)]
    kept = {words: prob for words, prob, keep in second if keep}
    assert set(kept) == {("purring", "softly"), ("sleeping", "soundly")}
    assert math.isclose(kept[("purring", "softly")], 0.3 * 0.7)
    # Only the two kept beams were expanded: no continuation of "running" or "barking" was scored.
    assert {words[0] for words, _, _ in second} == {"sleeping", "purring"}
    # One beam is greedy search: the best first word, then the best word after it.
    _, greedy_second = diagrams.beam_search_tree(num_beams=1)
    assert [w for w, _, keep in greedy_second if keep] == [("sleeping", "soundly")]


def test_beam_search_tree_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_beams"):
        diagrams.beam_search_tree(num_beams=0)
    with pytest.raises(ValueError, match="tree"):
        diagrams.beam_search_tree({"cat": {"sat": 1.0}})
    with pytest.raises(TypeError, match="num_beams"):
        diagrams.beam_search_tree(num_beams=1.5)


def test_diagram_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="n_tokens"):
        diagrams.draw_rnn_vs_attention(n_tokens=1)
    with pytest.raises(ValueError, match="tokens"):
        diagrams.draw_bert_vs_gpt(("a", "b"))
