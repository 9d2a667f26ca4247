"""Reference-based metrics that count overlapping words: ROUGE (summaries) and BLEU (translations), from scratch.
Taught in notebook 11.

Both compare a model's output with a human-written reference and count shared n-grams (runs of n words):

* **ROUGE** (recall-oriented, for summaries) scores one prediction against one reference. ROUGE-n counts shared
  n-grams; ROUGE-L uses the longest common subsequence (shared words in the same order, gaps allowed). Each gives
  a precision (share of the prediction's n-grams found in the reference), a recall (share of the reference's
  n-grams found in the prediction) and their harmonic mean F. `rouge_n` / `rouge_l` return F, equal to
  `rouge_score.rouge_scorer.RougeScorer([...]).score(reference, prediction)[...].fmeasure` (note the order there:
  target first). Their tokenizer is reproduced: lowercase, every run of characters other than a-z and 0-9
  becomes a space (so accented letters split words), and with `stemmer=True` words longer than 3 characters go
  through NLTK's Porter stemmer, as rouge_score does (`use_stemmer=True`).
* **BLEU** (precision-oriented, for translation) scores a whole corpus at once: clipped n-gram precisions for
  n = 1..4 pooled over all sentences, their geometric mean, times a brevity penalty for output shorter than the
  references. `bleu` equals `sacrebleu.corpus_bleu(hypotheses, [references]).score` (0-100) with sacrebleu's
  defaults: the "13a" tokenizer of WMT's mteval-v13a script, case-sensitive, "exp" smoothing of zero counts.
  `bleu_breakdown` returns every intermediate number.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from ..course.arguments import require_range, require_type
from .text_metrics import ngrams

# --------------------------------------------------------------------------------------------------------------------
# ROUGE


class OverlapScore(NamedTuple):
    """Precision, recall and their harmonic mean (F-measure) of one overlap comparison, each in [0, 1]."""

    precision: float
    recall: float
    fmeasure: float


_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=1)
def _porter_stemmer() -> Any:
    from nltk.stem.porter import PorterStemmer  # NLTK comes with rouge_score; the stemmer needs no data download

    return PorterStemmer()


def rouge_tokenize(text: str, stemmer: bool = False) -> list[str]:
    """ROUGE's words: lowercase, non-alphanumerics (a-z, 0-9) to spaces, split; optionally Porter-stem words of
    more than 3 characters. "The cat's 2 hats!" -> ['the', 'cat', 's', '2', 'hats']."""
    tokens = _NOT_ALPHANUMERIC.sub(" ", text.lower()).split()
    if stemmer:
        stem = _porter_stemmer().stem
        tokens = [stem(token) if len(token) > 3 else token for token in tokens]
    return tokens


def f_measure(precision: float, recall: float) -> float:
    """Harmonic mean 2PR / (P + R), 0 when both are 0."""
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def rouge_n_scores(prediction: str, reference: str, n: int, *, stemmer: bool = False) -> OverlapScore:
    """ROUGE-n precision, recall and F of `prediction` against `reference`.

    matched = sum over the reference's n-grams of min(count in reference, count in prediction) ("clipped" counts:
    repeating a word does not earn it twice); precision = matched / prediction n-grams, recall = matched /
    reference n-grams (0 when a side has no n-gram)."""
    require_type("prediction", prediction, str)
    require_type("reference", reference, str)
    require_range("n", n, low=1)
    predicted = Counter(ngrams(rouge_tokenize(prediction, stemmer), n))
    wanted = Counter(ngrams(rouge_tokenize(reference, stemmer), n))
    matched = sum(min(count, predicted[gram]) for gram, count in wanted.items())
    precision = matched / max(sum(predicted.values()), 1)
    recall = matched / max(sum(wanted.values()), 1)
    return OverlapScore(precision, recall, f_measure(precision, recall))


def lcs_length(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Length of the longest common subsequence of `a` and `b` (dynamic programming, one row at a time)."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l_scores(prediction: str, reference: str, *, stemmer: bool = False) -> OverlapScore:
    """ROUGE-L precision, recall and F: LCS length / prediction words, / reference words (0 if either is empty)."""
    require_type("prediction", prediction, str)
    require_type("reference", reference, str)
    predicted = rouge_tokenize(prediction, stemmer)
    wanted = rouge_tokenize(reference, stemmer)
    if not predicted or not wanted:
        return OverlapScore(0.0, 0.0, 0.0)
    common = lcs_length(wanted, predicted)
    precision, recall = common / len(predicted), common / len(wanted)
    return OverlapScore(precision, recall, f_measure(precision, recall))


def rouge_n(prediction: str, reference: str, n: int, *, stemmer: bool = False) -> float:
    """ROUGE-n F-measure in [0, 1] (see `rouge_n_scores`)."""
    return rouge_n_scores(prediction, reference, n, stemmer=stemmer).fmeasure


def rouge_l(prediction: str, reference: str, *, stemmer: bool = False) -> float:
    """ROUGE-L F-measure in [0, 1] (see `rouge_l_scores`)."""
    return rouge_l_scores(prediction, reference, stemmer=stemmer).fmeasure


# --------------------------------------------------------------------------------------------------------------------
# BLEU

MAX_ORDER = 4

# The 13a tokenizer (WMT's mteval-v13a.pl), in four regular-expression passes: (1) pad ASCII symbols other than
# ' - . , (which stay attached to letters); (2) split . and , from a preceding non-digit; (3) split . and , from
# a following non-digit, so "3.5" and "1,000" stay whole; (4) split a dash after a digit ("2-3" -> "2 - 3").
_13A_PASSES = (
    (re.compile(r"""([!"#$%&()*+/:;<=>?@\[\\\]^_`{|}~])"""), r" \1 "),
    (re.compile(r"([^0-9])([.,])"), r"\1 \2 "),
    (re.compile(r"([.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
)


def bleu_tokenize(text: str) -> list[str]:
    """BLEU's words (sacrebleu's default "13a" tokenizer): "Hello, world (v2.0)!" -> Hello , world ( v2.0 ) !"""
    line = text.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:  # the four XML escapes mteval undoes
        for escaped, plain in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
            line = line.replace(escaped, plain)
    line = f" {line} "
    for pattern, replacement in _13A_PASSES:
        line = pattern.sub(replacement, line)
    return line.split()


@dataclass(frozen=True)
class BLEUBreakdown:
    """Everything BLEU is computed from, pooled over the corpus.

    matches[k] / totals[k]: clipped matching (k+1)-grams / (k+1)-grams in the hypotheses; precisions[k]: their
    ratio in percent (after smoothing); brevity_penalty: exp(1 - ref_len / hyp_len) when the output is shorter
    than the references, else 1; score = brevity_penalty * geometric mean of the precisions (0-100)."""

    score: float
    precisions: tuple[float, ...]
    brevity_penalty: float
    hyp_len: int
    ref_len: int
    matches: tuple[int, ...]
    totals: tuple[int, ...]

    @property
    def length_ratio(self) -> float:
        """hyp_len / ref_len: below 1, the brevity penalty bites."""
        return self.hyp_len / self.ref_len if self.ref_len else 0.0

    def __str__(self) -> str:
        precisions = "/".join(f"{p:.1f}" for p in self.precisions)
        return (
            f"BLEU = {self.score:.2f} {precisions} (BP = {self.brevity_penalty:.3f} ratio = {self.length_ratio:.3f} "
            f"hyp_len = {self.hyp_len} ref_len = {self.ref_len})"
        )


def _all_ngrams(tokens: Sequence[str], max_order: int) -> Counter:
    return Counter(gram for n in range(1, max_order + 1) for gram in ngrams(tokens, n))


def bleu_breakdown(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]]) -> BLEUBreakdown:
    """Corpus BLEU and its parts; `references[i]` is the reference of `hypotheses[i]` (or a list of references).

    Per sentence: each hypothesis n-gram counts as matched at most as often as it occurs in a reference (with
    several references, the most in any one); the reference length is the one closest to the hypothesis length
    (ties: the shorter). Counts and lengths are summed over the corpus before any division, so BLEU is not a
    mean of sentence scores. A zero match count for some n > 1 is smoothed as mteval does ("exp"): the k-th such
    order gets precision 100 / (2^k * total); if nothing at all matches, or some order has no n-gram at all (every
    hypothesis shorter than n words), BLEU is 0."""
    one_string = isinstance(hypotheses, str) or isinstance(references, str)
    if one_string or not hypotheses or len(references) != len(hypotheses):
        raise ValueError(
            "`hypotheses` must be a non-empty list of strings and `references` hold one reference (or a list of "
            f"them) per hypothesis: got {len(references)} references for {len(hypotheses)} hypotheses."
        )
    all_refs = [[reference] if isinstance(reference, str) else reference for reference in references]
    for i, (hypothesis, refs) in enumerate(zip(hypotheses, all_refs, strict=True)):
        strings = isinstance(refs, list | tuple) and refs and all(isinstance(ref, str) for ref in refs)
        if not isinstance(hypothesis, str) or not strings:
            raise TypeError(f"`hypotheses[{i}]` must be a string and `references[{i}]` one or more strings.")
    matches, totals = [0] * MAX_ORDER, [0] * MAX_ORDER
    hyp_len = ref_len = 0
    for hypothesis, refs in zip(hypotheses, all_refs, strict=True):
        tokens = bleu_tokenize(hypothesis)
        ref_tokens = [bleu_tokenize(ref) for ref in refs]
        clip: Counter = Counter()
        for ref in ref_tokens:
            clip |= _all_ngrams(ref, MAX_ORDER)  # `|` keeps the larger count of each n-gram
        for gram, count in _all_ngrams(tokens, MAX_ORDER).items():
            totals[len(gram) - 1] += count
            matches[len(gram) - 1] += min(count, clip[gram])
        hyp_len += len(tokens)
        ref_len += min((abs(len(ref) - len(tokens)), len(ref)) for ref in ref_tokens)[1]

    # The brevity penalty: precision alone would reward a translation that says only what it is sure of.
    brevity_penalty = 1.0
    if hyp_len < ref_len:
        brevity_penalty = math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0
    precisions = [0.0] * MAX_ORDER
    smoothing = 1.0
    for k in range(MAX_ORDER):
        if totals[k] == 0 or not any(matches):
            break
        if matches[k] == 0:
            smoothing *= 2
            precisions[k] = 100.0 / (smoothing * totals[k])
        else:
            precisions[k] = 100.0 * matches[k] / totals[k]
    if min(precisions) == 0.0:  # nothing matched, or an order with no n-gram at all
        score = 0.0
    else:
        score = brevity_penalty * math.exp(sum(math.log(p) for p in precisions) / MAX_ORDER)
    return BLEUBreakdown(score, tuple(precisions), brevity_penalty, hyp_len, ref_len, tuple(matches), tuple(totals))


def bleu(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Corpus BLEU (0-100), equal to `sacrebleu.corpus_bleu(hypotheses, [references]).score`."""
    return bleu_breakdown(hypotheses, references).score
