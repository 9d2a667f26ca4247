"""A count-based n-gram language model: the baseline that neural language models replaced (notebook 07).

`NGramLM(order, vocab_size, smoothing=...)` counts, in a list of token ids, how often each token follows each
context of `order - 1` tokens. Two smoothings keep unseen n-grams above zero probability:

* `"add_k"` (Lidstone; Laplace when k = 1): P(w | ctx) = (c(ctx, w) + k) / (c(ctx) + k V);
* `"interpolated"` (Jelinek-Mercer): P(w | ctx) = lambda * c(ctx, w) / c(ctx) + (1 - lambda) * P(w | shorter ctx)
  when the context was seen, else P(w | shorter ctx); the recursion ends at the add-k unigram.

Both give a distribution over the whole vocabulary for every context (`next_token_probs` sums to 1)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from ..course.arguments import require_choice, require_range

SMOOTHINGS = ("add_k", "interpolated")


class NGramLM:
    """An n-gram language model over token ids `0 .. vocab_size - 1`; `fit(ids)` counts, then ask for
    probabilities (`prob`, `next_token_probs`) or score a text (`log_likelihood`, `perplexity`)."""

    def __init__(
        self, order: int, vocab_size: int, *, smoothing: str = "interpolated", k: float = 1.0, lam: float = 0.7
    ) -> None:
        require_range("order", order, low=1)
        require_choice("smoothing", smoothing, SMOOTHINGS)
        require_range("k", k, low=0.0, low_inclusive=False)
        require_range("lam", lam, low=0.0, high=1.0, high_inclusive=False)
        self.order, self.vocab_size, self.smoothing, self.k, self.lam = order, vocab_size, smoothing, float(k), lam
        # counts[n][context] = Counter of the next token, for context lengths n = 0 .. order - 1
        self.counts: list[dict[tuple[int, ...], Counter]] = [defaultdict(Counter) for _ in range(order)]
        self.totals: list[dict[tuple[int, ...], int]] = [defaultdict(int) for _ in range(order)]
        self.n_tokens = 0

    def fit(self, ids: Sequence[int]) -> NGramLM:
        """Count every n-gram (all orders up to `order`) in one sequence of token ids; returns self."""
        ids = [int(i) for i in ids]
        if not ids:
            raise ValueError("`ids` is empty: an n-gram model needs at least one token to count.")
        if min(ids) < 0 or max(ids) >= self.vocab_size:
            raise ValueError(f"`ids` must lie in 0 .. {self.vocab_size - 1} (vocab_size), got {min(ids)}..{max(ids)}.")
        for n in range(self.order):  # n = context length
            grams = Counter(zip(*(ids[i : len(ids) - n + i] for i in range(n + 1)), strict=True))
            for gram, count in grams.items():
                self.counts[n][gram[:-1]][gram[-1]] += count
                self.totals[n][gram[:-1]] += count
        self.n_tokens += len(ids)
        return self

    def _context(self, context: Sequence[int]) -> tuple[int, ...]:
        wanted = self.order - 1
        return tuple(int(i) for i in context)[-wanted:] if wanted else ()

    def prob(self, context: Sequence[int], token: int) -> float:
        """P(token | the last `order - 1` tokens of context); a shorter context (text start) uses lower orders."""
        if self.n_tokens == 0:
            raise ValueError("call `fit(ids)` before asking for probabilities.")
        ctx = self._context(context)
        if self.smoothing == "add_k":
            return (self.count(ctx, token) + self.k) / (self.totals[len(ctx)].get(ctx, 0) + self.k * self.vocab_size)
        p = (self.count((), token) + self.k) / (self.totals[0][()] + self.k * self.vocab_size)
        for n in range(1, len(ctx) + 1):  # from the unigram up to the full context
            sub = ctx[len(ctx) - n :]
            total = self.totals[n].get(sub, 0)
            if total:
                p = self.lam * self.count(sub, token) / total + (1 - self.lam) * p
        return p

    def count(self, context: Sequence[int], token: int) -> int:
        """How often `token` followed `context` (a tuple of at most `order - 1` ids) in the fitted text."""
        context = tuple(int(i) for i in context)
        if len(context) >= self.order:
            raise ValueError(f"`context` must hold at most {self.order - 1} tokens (order - 1), got {len(context)}.")
        following = self.counts[len(context)].get(context)
        return following[int(token)] if following else 0

    def next_token_probs(self, context: Sequence[int]) -> np.ndarray:
        """The whole next-token distribution after `context`: `vocab_size` probabilities that sum to 1."""
        return np.array([self.prob(context, t) for t in range(self.vocab_size)])

    def token_log_probs(self, ids: Sequence[int], *, start: int = 1) -> np.ndarray:
        """ln P(ids[i] | ids[:i]) for i = start .. len(ids) - 1, one number per scored token."""
        ids = [int(i) for i in ids]
        require_range("start", start, low=0, high=max(0, len(ids) - 1))
        return np.array(
            [math.log(self.prob(ids[max(0, i - self.order + 1) : i], ids[i])) for i in range(start, len(ids))]
        )

    def log_likelihood(self, ids: Sequence[int], *, start: int = 1) -> tuple[float, int]:
        """Sum of ln P(ids[i] | ids[:i]) for i = start .. len(ids) - 1, and the number of tokens scored."""
        log_probs = self.token_log_probs(ids, start=start)
        return float(log_probs.sum()), len(log_probs)

    def perplexity(self, ids: Sequence[int], *, start: int = 1) -> float:
        """exp of the mean negative log-likelihood per scored token (see `log_likelihood`)."""
        total, n = self.log_likelihood(ids, start=start)
        if n == 0:
            raise ValueError("`ids` leaves no token to score after `start`.")
        return math.exp(-total / n)
