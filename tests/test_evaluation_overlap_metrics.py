"""utils.evaluation.overlap_metrics: ROUGE-n / ROUGE-L against rouge_score and BLEU against sacrebleu, on random
and edge-case inputs (none of them the notebook's), plus the argument checks."""

from __future__ import annotations

import random

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from utils.evaluation.overlap_metrics import (
    BLEUBreakdown,
    bleu,
    bleu_breakdown,
    bleu_tokenize,
    f_measure,
    lcs_length,
    rouge_l,
    rouge_l_scores,
    rouge_n,
    rouge_n_scores,
    rouge_tokenize,
)

TOL = 1e-6
# Words chosen to exercise both tokenizers: case, punctuation, decimals, thousands, dashes, apostrophes, accents,
# XML escapes, brackets, stemmable suffixes.
VOCAB_TEXT = (
    "the The THE a cat cats dog dogs running runs ran jumped jumping over under lazy quick 3.5 1,000 2-3 12 "
    "don't l'été über Café naïve e-mail x&amp;y &quot;hi&quot; <b> (note) [x] {y} a/b 50% $5 #1 @home ... , . ! ? ; :"
)
VOCAB = VOCAB_TEXT.split()
SEPARATORS = [" ", " ", " ", "", "  ", "\t", "\n", " - "]


def _sentence(rng: random.Random, max_words: int = 14) -> str:
    words = [rng.choice(VOCAB) for _ in range(rng.randint(0, max_words))]
    text = "".join(w + rng.choice(SEPARATORS) for w in words)
    return text + rng.choice(["", ".", " .", "!", "\n", "  "])


EDGE_PAIRS = [
    ("", ""),
    ("", "the cat"),
    ("the cat", ""),
    ("!!!", "..."),  # punctuation only: no ROUGE tokens at all
    ("the the the the", "the cat"),  # repeated words are clipped
    ("cat the", "the cat"),  # same words, other order
    ("The CAT.", "the cat"),  # case and punctuation do not matter to ROUGE
    ("running dogs", "runs dog"),  # only the stemmer matches these
    ("über café", "uber cafe"),  # accents split words in ROUGE's tokenizer
    ("a b c d e f g", "g f e d c b a"),
]


# --------------------------------------------------------------------------------------------------------------------
# ROUGE


@pytest.mark.parametrize("stemmer", [False, True])
def test_rouge_equals_rouge_score_on_random_and_edge_cases(stemmer: bool) -> None:
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rouge3", "rougeL"], use_stemmer=stemmer)
    rng = random.Random(1234 + stemmer)
    pairs = EDGE_PAIRS + [(_sentence(rng), _sentence(rng)) for _ in range(400)]
    for prediction, reference in pairs:
        expected = scorer.score(reference, prediction)  # rouge_score takes the target first
        for n in (1, 2, 3):
            ours = rouge_n_scores(prediction, reference, n, stemmer=stemmer)
            theirs = expected[f"rouge{n}"]
            assert ours == pytest.approx(tuple(theirs), abs=TOL), (prediction, reference, n)
            assert rouge_n(prediction, reference, n, stemmer=stemmer) == pytest.approx(theirs.fmeasure, abs=TOL)
        ours_l = rouge_l_scores(prediction, reference, stemmer=stemmer)
        assert ours_l == pytest.approx(tuple(expected["rougeL"]), abs=TOL), (prediction, reference)
        assert rouge_l(prediction, reference, stemmer=stemmer) == pytest.approx(expected["rougeL"].fmeasure, abs=TOL)


def test_rouge_tokenizer_and_hand_values() -> None:
    assert rouge_tokenize("The cat's 2 hats!") == ["the", "cat", "s", "2", "hats"]
    assert rouge_tokenize("Café über") == ["caf", "ber"]  # non-ASCII letters are separators
    assert rouge_tokenize("running dogs", stemmer=True) == ["run", "dog"]
    assert rouge_tokenize("") == []
    # prediction "the cat sat" vs reference "the cat sat down": unigram P = 3/3, R = 3/4
    scores = rouge_n_scores("the cat sat", "the cat sat down", 1)
    assert scores.precision == 1.0 and scores.recall == 0.75
    assert scores.fmeasure == pytest.approx(2 * 0.75 / 1.75)
    assert rouge_n("the the the", "the cat", 1) == pytest.approx(f_measure(1 / 3, 1 / 2))  # clipped to 1 match
    assert rouge_l("cat the", "the cat") == 0.5 and rouge_n("cat the", "the cat", 1) == 1.0
    assert f_measure(0.0, 0.0) == 0.0


def test_lcs_length() -> None:
    assert lcs_length("ABCBDAB", "BDCABA") == 4
    assert lcs_length([], [1, 2]) == 0
    assert lcs_length([1, 2, 3], [1, 2, 3]) == 3
    assert lcs_length([1, 2, 3], [3, 2, 1]) == 1


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: rouge_n("a", "b", 0), ValueError, "`n`"),
        (lambda: rouge_n(["a"], "a", 1), TypeError, "`prediction`"),  # the caller's argument, not the tokenizer's
        (lambda: rouge_n_scores("a", None, 1), TypeError, "`reference`"),
        (lambda: rouge_l("a", ["b"]), TypeError, "`reference`"),
    ],
)
def test_rouge_rejects_bad_arguments(call, error, name) -> None:
    with pytest.raises(error, match=name):
        call()


# --------------------------------------------------------------------------------------------------------------------
# BLEU


def _assert_same_bleu(hypotheses: list[str], references: list[str] | list[list[str]], streams: list[list[str]]):
    theirs = sacrebleu.corpus_bleu(hypotheses, streams)
    ours = bleu_breakdown(hypotheses, references)
    context = (hypotheses, references)
    assert ours.score == pytest.approx(theirs.score, abs=TOL), context
    assert ours.precisions == pytest.approx(theirs.precisions, abs=TOL), context
    assert ours.brevity_penalty == pytest.approx(theirs.bp, abs=TOL), context
    assert (ours.hyp_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len), context
    assert list(ours.matches) == list(theirs.counts) and list(ours.totals) == list(theirs.totals), context
    assert bleu(hypotheses, references) == ours.score


def test_bleu_equals_sacrebleu_on_random_corpora() -> None:
    rng = random.Random(99)
    for _ in range(250):
        size = rng.randint(1, 6)
        hypotheses = [_sentence(rng) for _ in range(size)]
        references = [_sentence(rng) for _ in range(size)]
        _assert_same_bleu(hypotheses, references, [references])


def test_bleu_equals_sacrebleu_with_several_references() -> None:
    rng = random.Random(7)
    for _ in range(100):
        size = rng.randint(1, 5)
        hypotheses = [_sentence(rng) for _ in range(size)]
        streams = [[_sentence(rng) for _ in range(size)] for _ in range(rng.randint(2, 3))]
        per_hypothesis = [list(refs) for refs in zip(*streams, strict=True)]
        _assert_same_bleu(hypotheses, per_hypothesis, streams)


@pytest.mark.parametrize(
    ("hypotheses", "references"),
    [
        (["the cat sat on the mat"], ["the cat sat on the mat"]),  # identical: 100
        (["the cat"], ["the cat sat on the mat today"]),  # short hypothesis: brevity penalty, no 3-/4-grams
        (["the cat sat on"], ["the cat sat on the mat today"]),  # short, every n-gram matches
        (["on the mat the cat sat"], ["the cat sat on the mat"]),  # all unigrams match, order differs
        (["dog"], ["cat"]),  # nothing matches: 0
        ([""], ["the cat"]),  # empty hypothesis
        (["the cat"], [""]),  # empty reference
        ([""], [""]),
        (["a b c d e f g h i j"], ["a b c x e f g y i j"]),  # zero 4-gram matches: exp smoothing
        (["Hello, world (v2.0)! It costs $5.50 & 1,000 e-mails; 2-3 days."], ["Hello world, v2.0 costs 5.50 $"]),
        (["the the the the the the the"], ["the cat is on the mat"]),  # clipping
        (["The Cat"], ["the cat"]),  # BLEU is case-sensitive by default
        (["x &amp; y &lt;z&gt; &quot;q&quot;"], ['x & y <z> "q"']),  # XML escapes are undone
        (["a sentence ending in a tokenized period ."], ["a sentence ending in a tokenized period."]),
    ],
)
def test_bleu_edge_cases_equal_sacrebleu(hypotheses: list[str], references: list[str]) -> None:
    _assert_same_bleu(hypotheses, references, [references])


def test_bleu_hand_values() -> None:
    perfect = bleu_breakdown(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert perfect.score == pytest.approx(100.0) and perfect.brevity_penalty == 1.0
    assert perfect.matches == (6, 5, 4, 3) and perfect.totals == (6, 5, 4, 3)
    short = bleu_breakdown(["the cat sat on"], ["the cat sat on the mat today"])
    assert short.precisions == pytest.approx((100.0, 100.0, 100.0, 100.0))
    assert short.brevity_penalty == pytest.approx(2.718281828459045 ** (1 - 7 / 4))  # exp(1 - r / c)
    assert short.score == pytest.approx(100 * short.brevity_penalty) and short.length_ratio == pytest.approx(4 / 7)
    assert "BP = " in str(short) and isinstance(short, BLEUBreakdown)
    assert bleu(["dog"], ["cat"]) == 0.0


def test_bleu_tokenizer() -> None:
    assert bleu_tokenize("Hello, world (v2.0)!") == ["Hello", ",", "world", "(", "v2.0", ")", "!"]
    assert bleu_tokenize("1,000 items cost 3.5.") == ["1,000", "items", "cost", "3.5", "."]
    assert bleu_tokenize("2-3 e-mails don't") == ["2", "-", "3", "e-mails", "don't"]
    assert bleu_tokenize("") == []


@pytest.mark.parametrize(
    ("hypotheses", "references", "error", "name"),
    [
        ([], [], ValueError, "`hypotheses`"),
        (["a", "b"], ["a"], ValueError, "2 hypotheses"),
        ("a", ["a"], ValueError, "`hypotheses`"),
        (["a"], "a", ValueError, "`references`"),
        ([1], ["a"], TypeError, r"`hypotheses\[0\]`"),
        (["a"], [None], TypeError, r"`references\[0\]`"),
        (["a"], [[]], TypeError, r"`references\[0\]`"),
        (["a"], [["a", 2]], TypeError, r"`references\[0\]`"),
    ],
)
def test_bleu_rejects_bad_arguments(hypotheses, references, error, name) -> None:
    with pytest.raises(error, match=name):
        bleu(hypotheses, references)
