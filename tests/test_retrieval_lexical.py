"""utils.retrieval.lexical: BM25 scores equal the Okapi formula computed by hand on a tiny corpus, and rank_bm25 on
package descriptions."""

from __future__ import annotations

import math

import pytest

from utils.retrieval.documents import Document
from utils.retrieval.lexical import BM25Index, words

TEXTS = [
    "the cat sat on the mat",
    "a dog and a cat",
    "spreadsheet program for office calculations",
    "the dog barked at the cat and the other dog",
]
DOCS = [Document(f"d{i}", f"d{i}", text, "test") for i, text in enumerate(TEXTS)]


def test_words_lowercases_and_splits() -> None:
    assert words("GTK+ 3 Widgets, for C++!") == ["gtk", "3", "widgets", "for", "c"]


def test_scores_equal_the_formula() -> None:
    k1, b = 1.2, 0.75
    index = BM25Index(DOCS, k1=k1, b=b)
    tokenized = [t.split() for t in TEXTS]
    avgdl = sum(map(len, tokenized)) / len(tokenized)
    query = "cat dog dog"
    expected = []
    for doc in tokenized:
        total = 0.0
        for term in query.split():
            n_t = sum(term in d for d in tokenized)
            idf = math.log(1 + (len(tokenized) - n_t + 0.5) / (n_t + 0.5))
            tf = doc.count(term)
            total += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc) / avgdl))
        expected.append(total)
    assert index.scores(query) == pytest.approx(expected)


def test_search_ranks_and_breaks_ties_by_order() -> None:
    index = BM25Index(DOCS)
    hits = index.search("office spreadsheet", k=2)[0]
    assert hits[0].document.doc_id == "d2" and hits[0].rank == 1
    assert hits[1].score == 0.0 and hits[1].document.doc_id == "d0"  # no shared word: ties keep document order
    assert len(index.search(["cat", "dog"], k=10)) == 2 and len(index.search("cat", k=10)[0]) == 4


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="documents"):
        BM25Index([])
    with pytest.raises(ValueError, match="`b`"):
        BM25Index(DOCS, b=2.0)
    with pytest.raises(ValueError, match="`k`"):
        BM25Index(DOCS).search("cat", k=0)


def test_scores_equal_rank_bm25_on_package_descriptions() -> None:
    """The reference: rank_bm25's BM25Okapi (term counts, length normalisation, average length) with the idf this
    index uses (Lucene's ln(1 + (N - n + 0.5) / (n + 0.5)), always positive; BM25Okapi's own can go negative)."""
    from rank_bm25 import BM25Okapi

    from utils.retrieval.documents import package_documents

    class LuceneIdfBM25(BM25Okapi):
        def _calc_idf(self, nd: dict[str, int]) -> None:
            self.idf = {term: math.log(1 + (self.corpus_size - n + 0.5) / (n + 0.5)) for term, n in nd.items()}

    documents = package_documents("train", limit=200)
    ours = BM25Index(documents, k1=1.2, b=0.75)
    reference = LuceneIdfBM25([words(d.text) for d in documents], k1=1.2, b=0.75)
    for query in ("a library for parsing XML files", "command line tool to edit images", "python bindings"):
        assert ours.scores(query) == pytest.approx(list(reference.get_scores(words(query))), rel=1e-9, abs=1e-12)
