"""The lexical baseline of retrieval: BM25, which scores a document by the query words it contains, weighting rare
words up and long documents down. Taught in notebook 16 beside dense (embedding) search.

For a query q and a document d of length |d| (in words), with avgdl the mean length, N documents and n(t) of them
containing term t:

    score(q, d) = sum over t in q of  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
    idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))

(the Okapi BM25 formula with Lucene's always-positive idf). Words that never occur in a document add nothing, so
"install a spreadsheet" cannot find a description that says "office calculation program": the gap that sentence
embeddings close.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from ..course.arguments import require_range
from .documents import Document
from .index import Hit

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased runs of letters and digits: the terms BM25 counts ("GTK+ 3 widgets" -> ["gtk", "3", "widgets"])."""
    return _WORD.findall(text.lower())


class BM25Index:
    """Okapi BM25 over `documents` (`k1` saturates repeated words, `b` in [0, 1] normalises by length), with the
    same `search(queries, k)` as `VectorIndex` (a hit's `score` is its BM25 score)."""

    def __init__(self, documents: list[Document], *, k1: float = 1.5, b: float = 0.75) -> None:
        if not documents:
            raise ValueError("`documents` is empty: an index needs at least one document.")
        require_range("k1", k1, low=0)
        require_range("b", b, low=0, high=1)
        self.documents, self.k1, self.b = list(documents), float(k1), float(b)
        counts = [Counter(words(document.text)) for document in self.documents]
        self.lengths = [sum(c.values()) for c in counts]
        self.mean_length = sum(self.lengths) / len(self.lengths) or 1.0
        self.postings: dict[str, list[tuple[int, int]]] = {}  # term -> [(document index, term count)]
        for index, c in enumerate(counts):
            for term, count in c.items():
                self.postings.setdefault(term, []).append((index, count))
        n = len(self.documents)
        self.idf = {term: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for term, p in self.postings.items()}

    def __len__(self) -> int:
        return len(self.documents)

    def scores(self, query: str) -> list[float]:
        """The BM25 score of every document for `query` (each query word counted once per occurrence)."""
        totals = [0.0] * len(self.documents)
        for term in words(query):
            for index, tf in self.postings.get(term, ()):
                norm = self.k1 * (1 - self.b + self.b * self.lengths[index] / self.mean_length)
                totals[index] += self.idf[term] * tf * (self.k1 + 1) / (tf + norm)
        return totals

    def search(self, queries: str | Sequence[str], k: int = 5) -> list[list[Hit]]:
        """The `k` highest-scoring documents per query, best first (ties: the earlier document first)."""
        require_range("k", k, low=1)
        batch = [queries] if isinstance(queries, str) else list(queries)
        results = []
        for query in batch:
            totals = self.scores(query)
            best = sorted(range(len(totals)), key=lambda i: (-totals[i], i))[: min(k, len(totals))]
            results.append([Hit(self.documents[i], totals[i], rank) for rank, i in enumerate(best, start=1)])
        return results
