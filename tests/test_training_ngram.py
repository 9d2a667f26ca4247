"""The n-gram language model: hand-computed probabilities, distributions that sum to 1, and NLTK's Lidstone model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from utils.training.ngram import NGramLM

CORPUS = [0, 1, 0, 1, 2, 0, 0, 1]  # "a b a b c a a b" with a=0, b=1, c=2


def test_add_k_bigram_by_hand() -> None:
    lm = NGramLM(2, 3, smoothing="add_k", k=1.0).fit(CORPUS)
    # "a" is followed by b, b, a, b: c(a, b) = 3, c(a, .) = 4 -> (3 + 1) / (4 + 3)
    assert math.isclose(lm.prob([0], 1), 4 / 7)
    # "c" is followed once, by "a": an unseen pair (c, c) gets k / (1 + 3 k)
    assert math.isclose(lm.prob([2], 2), 1 / 4)
    # A longer context keeps only its last token.
    assert math.isclose(lm.prob([2, 2, 0], 1), 4 / 7)


def test_interpolated_trigram_by_hand() -> None:
    lm = NGramLM(3, 3, smoothing="interpolated", k=1.0, lam=0.5).fit(CORPUS)
    unigram = (4 + 1) / (8 + 3)  # P(a): 4 of the 8 tokens are "a"
    # c(b, .) counts the bigrams that start with b: (b, a), (b, c); the last "b" ends the text
    bigram = 0.5 * (1 / 2) + 0.5 * unigram
    # the trigram context (a, b) is followed by a, c: c(a, b, a) = 1 of 2
    trigram = 0.5 * (1 / 2) + 0.5 * bigram
    assert math.isclose(lm.prob([0, 1], 0), trigram)
    # An unseen context (c, c) falls back to the bigram of (c) -> a, seen once of once.
    assert math.isclose(lm.prob([2, 2], 0), 0.5 * 1.0 + 0.5 * unigram)


@pytest.mark.parametrize("smoothing", ["add_k", "interpolated"])
@pytest.mark.parametrize("context", [[], [0], [1, 2], [2, 2], [0, 1, 0]])
def test_every_next_token_distribution_sums_to_one(smoothing: str, context: list[int]) -> None:
    lm = NGramLM(3, 5, smoothing=smoothing, k=0.1).fit(CORPUS)  # tokens 3 and 4 never occur
    probs = lm.next_token_probs(context)
    assert probs.shape == (5,) and (probs > 0).all()
    assert math.isclose(probs.sum(), 1.0, rel_tol=1e-12)


def test_add_k_matches_nltk_lidstone() -> None:
    nltk_lm = pytest.importorskip("nltk.lm")
    from nltk.lm.preprocessing import everygrams

    words = [
        "it",
        "is",
        "a",
        "truth",
        "universally",
        "acknowledged",
        "that",
        "a",
        "single",
        "man",
        "in",
        "possession",
        "of",
        "a",
        "good",
        "fortune",
    ]
    reference = nltk_lm.Lidstone(0.3, 2)
    reference.fit([list(everygrams(words, max_len=2))], vocabulary_text=words)
    vocab = sorted(reference.vocab)  # includes nltk's <UNK>, which never occurs
    ids = {w: i for i, w in enumerate(vocab)}
    ours = NGramLM(2, len(vocab), smoothing="add_k", k=0.3).fit([ids[w] for w in words])
    for context, word in [("a", "truth"), ("a", "single"), ("man", "of"), ("fortune", "a"), ("that", "a")]:
        assert math.isclose(ours.prob([ids[context]], ids[word]), reference.score(word, [context]))


def test_count_reads_without_adding_contexts() -> None:
    lm = NGramLM(3, 3).fit(CORPUS)
    n_contexts = len(lm.counts[2])
    assert lm.count((0, 1), 0) == 1 and lm.count((0, 1), 2) == 1 and lm.count((2, 2), 0) == 0
    lm.prob([2, 2], 1)  # an unseen context is looked up, not stored
    assert len(lm.counts[2]) == n_contexts
    with pytest.raises(ValueError, match="context"):
        lm.count((0, 1, 0), 1)


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size() -> None:
    lm = NGramLM(1, 4, smoothing="add_k", k=1.0).fit([0, 1, 2, 3])  # every token once: uniform
    assert math.isclose(lm.perplexity([3, 2, 1, 0, 0]), 4.0)
    total, n = lm.log_likelihood([3, 2, 1, 0], start=0)
    assert n == 4 and math.isclose(total, 4 * math.log(0.25))


def test_token_log_probs_add_up_to_the_log_likelihood() -> None:
    lm = NGramLM(3, 3, smoothing="interpolated").fit(CORPUS)
    text = [0, 1, 2, 2, 0, 1]
    per_token = lm.token_log_probs(text, start=2)
    assert per_token.shape == (4,)
    assert math.isclose(per_token[0], math.log(lm.prob([0, 1], 2)))
    assert math.isclose(per_token.sum(), lm.log_likelihood(text, start=2)[0])
    with pytest.raises(ValueError, match="start"):
        lm.token_log_probs(text, start=6)


def test_more_context_lowers_perplexity_on_repetitive_text() -> None:
    text = [0, 1, 2, 3] * 50
    unigram = NGramLM(1, 4).fit(text)
    bigram = NGramLM(2, 4).fit(text)
    assert bigram.perplexity(text) < unigram.perplexity(text)
    assert np.isclose(unigram.perplexity(text), 4.0, rtol=0.01)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="smoothing"):
        NGramLM(2, 10, smoothing="kneser_ney")
    with pytest.raises(ValueError, match="order"):
        NGramLM(0, 10)
    with pytest.raises(ValueError, match="lam"):
        NGramLM(2, 10, lam=1.0)
    with pytest.raises(ValueError, match="ids"):
        NGramLM(2, 3).fit([0, 5])
    with pytest.raises(ValueError, match="fit"):
        NGramLM(2, 3).prob([0], 1)
