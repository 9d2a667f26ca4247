"""utils.retrieval.index: exact top-k in torch equals faiss' IndexFlatIP and a brute-force ranking; the embedding
cache; the VectorIndex on the real MiniLM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from utils.retrieval import index as index_module
from utils.retrieval.documents import Document, package_documents
from utils.retrieval.index import (
    Hit,
    VectorIndex,
    embed_documents,
    embedding_cache_key,
    faiss_flat_index,
    top_k_cosine,
)
from utils.transformer.embeddings import embed_sentences


def _random_vectors(n: int, dim: int = 16, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=generator)


def _docs(n: int) -> list[Document]:
    return [Document(f"d{i}", f"Doc {i}", f"text number {i}", "test") for i in range(n)]


def test_top_k_matches_a_brute_force_ranking() -> None:
    keys, queries = _random_vectors(50), _random_vectors(7, seed=1)
    scores, indices = top_k_cosine(queries, keys, 5)
    cos = torch.nn.functional.cosine_similarity(queries[:, None, :], keys[None, :, :], dim=-1)
    for row in range(7):
        expected = sorted(range(50), key=lambda j: -cos[row, j].item())[:5]
        assert indices[row].tolist() == expected
        assert torch.allclose(scores[row], cos[row, expected], atol=1e-5)


def test_top_k_equals_faiss_index_flat_ip() -> None:
    pytest.importorskip("faiss")
    keys, queries = _random_vectors(300, dim=32), _random_vectors(20, dim=32, seed=2)
    scores, indices = top_k_cosine(queries, keys, 10)
    unit_queries = torch.nn.functional.normalize(queries, dim=-1).numpy()
    faiss_scores, faiss_indices = faiss_flat_index(keys).search(unit_queries, 10)
    np.testing.assert_array_equal(indices.numpy(), faiss_indices)
    np.testing.assert_allclose(scores.numpy(), faiss_scores, atol=1e-5)


def test_vector_index_search_returns_ranked_hits() -> None:
    docs, keys = _docs(6), _random_vectors(6)
    idx = VectorIndex(docs, keys)
    assert len(idx) == 6
    hits = idx.search_vectors(keys[[3, 1]], k=3)
    assert [h.rank for h in hits[0]] == [1, 2, 3]
    assert hits[0][0].document == docs[3] and hits[1][0].document == docs[1]
    assert hits[0][0].score == pytest.approx(1.0, abs=1e-5)
    assert all(a.score >= b.score for a, b in zip(hits[0], hits[0][1:], strict=False))
    assert len(idx.search_vectors(keys[:1], k=100)[0]) == 6  # k above the size: every document


@pytest.mark.parametrize(
    ("documents", "vectors", "match"),
    [
        ([], torch.zeros(0, 4), "`documents`"),
        (_docs(2), torch.zeros(3, 4), "one row per document"),
        (_docs(2), torch.zeros(2), r"shape \(2,\)"),
    ],
)
def test_vector_index_rejects_bad_input(documents: list, vectors: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        VectorIndex(documents, vectors)
    with pytest.raises(ValueError, match="`k`"):
        VectorIndex(_docs(2), torch.zeros(2, 4)).search_vectors(torch.zeros(1, 4), k=0)


def test_cache_key_depends_on_every_text() -> None:
    assert embedding_cache_key(["a", "b"]) == embedding_cache_key(["a", "b"])
    assert embedding_cache_key(["a", "b"]) != embedding_cache_key(["b", "a"])
    assert embedding_cache_key(["ab", ""]) != embedding_cache_key(["a", "b"])


def test_embed_documents_caches_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def vectors_of(texts: list[str]) -> torch.Tensor:
        return torch.nn.functional.normalize(torch.tensor([[float(len(t)), 1.0] for t in texts]), dim=-1)

    def fake_embed(texts: list[str], model: object, tokenizer: object, batch_size: int = 32) -> torch.Tensor:
        calls.append(len(texts))
        return vectors_of(texts)

    monkeypatch.setattr(index_module, "embed_sentences", fake_embed)
    monkeypatch.setattr(index_module, "default_encoder", lambda: (None, None))  # no real encoder is loaded
    texts = ["a much longer text than the others", "b", "middle one"]
    first = embed_documents(texts, cache_dir=tmp_path, batch_size=2, progress=False)
    assert calls == [2, 1]  # sorted by length into batches of 2
    assert torch.allclose(first, vectors_of(texts))  # original order restored
    second = embed_documents(texts, cache_dir=tmp_path, progress=False)
    assert calls == [2, 1] and torch.equal(first, second)  # loaded from disk
    assert len(list(tmp_path.glob("minilm-*.pt"))) == 1
    embed_documents(texts, cache_dir=tmp_path, progress=False, use_cache=False)
    assert len(calls) == 3
    with pytest.raises(ValueError, match="empty"):
        embed_documents([], cache_dir=tmp_path)
    with pytest.raises(TypeError, match="one str"):
        embed_documents("text", cache_dir=tmp_path)  # type: ignore[arg-type]


@pytest.mark.slow
def test_real_minilm_index_finds_the_obvious_document(tmp_path: Path) -> None:
    documents = package_documents("test", limit=40)
    vectors = embed_documents(documents, cache_dir=tmp_path, progress=False)
    assert vectors.shape == (40, 384)
    assert torch.allclose(vectors.norm(dim=-1), torch.ones(40), atol=1e-4)
    plain = embed_sentences([d.text for d in documents[:3]], *index_module.default_encoder())
    assert torch.allclose(vectors[:3], plain, atol=1e-4)  # sorting by length does not change a vector
    idx = VectorIndex.from_documents(documents, cache_dir=tmp_path, progress=False)
    hits = idx.search(documents[7].text, k=3)
    assert isinstance(hits[0][0], Hit) and hits[0][0].document == documents[7]
    assert len(idx.search([documents[1].text, documents[2].text], k=2)) == 2
    with pytest.raises(ValueError, match="empty"):
        idx.search([" "])
