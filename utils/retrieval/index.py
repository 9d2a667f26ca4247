"""Dense retrieval: embed the documents once with MiniLM (cached on disk), then answer a query with the k documents
whose vectors are closest to the query's. Taught in notebook 16; the Q&A app of notebook 15 uses it.

With unit-length vectors, cosine similarity is a dot product, so exact search over n documents is one matrix
product `queries @ vectors.T` and a `topk`: for a few thousand 384-d vectors that takes well under a millisecond.
Embedding is the cost (a forward pass of the encoder per text), which is why the vectors are cached, keyed by a
hash of the texts. `faiss_flat_index` builds the same exact search in faiss (`IndexFlatIP`), the library that
real systems grow into (approximate indexes for millions of vectors).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..assets.models import cache_dir as models_cache_dir
from ..assets.models import load_encoder
from ..course.arguments import require_range
from ..transformer.embeddings import MAX_TOKENS, embed_sentences
from .documents import Document

ENCODER_NAME = "all-MiniLM-L6-v2"
EMBEDDING_CACHE_FORMAT = 1


@dataclass(frozen=True)
class Hit:
    """One search result: the `document`, its cosine similarity to the query (`score`) and its `rank` (1 = best)."""

    document: Document
    score: float
    rank: int


def _texts_of(name: str, items: Sequence[Document | str]) -> list[str]:
    if isinstance(items, str):
        raise TypeError(f"`{name}` must be a list of Documents or strings, got one str; wrap it: [text].")
    return [item.text if isinstance(item, Document) else item for item in items]


def embedding_cache_key(texts: Sequence[str]) -> str:
    """A SHA-256 digest of the encoder's name, its token limit and every text (with its length, so that no two
    different lists of texts share a key)."""
    digest = hashlib.sha256(f"{ENCODER_NAME}:{MAX_TOKENS}:{EMBEDDING_CACHE_FORMAT}".encode())
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def default_embedding_cache() -> Path:
    """Where `embed_documents` keeps vectors: `utils.assets.models.cache_dir()/embeddings`."""
    return models_cache_dir() / "embeddings"


@functools.lru_cache(maxsize=1)
def default_encoder() -> tuple[Any, Any]:
    """The offline MiniLM `(model, tokenizer)` (`load_encoder()`) that documents and queries are embedded with,
    loaded once per process so repeated searches stay fast."""
    return load_encoder()


def _embed_sorted(texts: list[str], batch_size: int, progress: bool) -> torch.Tensor:
    """Embed texts in order of length (batches of similar lengths waste little padding), then restore the order."""
    model, tokenizer = default_encoder()
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    vectors: torch.Tensor | None = None
    starts = range(0, len(texts), batch_size)
    for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress):
        picked = order[start : start + batch_size]
        chunk = embed_sentences([texts[i] for i in picked], model, tokenizer, batch_size=batch_size)
        if vectors is None:
            vectors = torch.empty(len(texts), chunk.shape[1])
        vectors[torch.tensor(picked)] = chunk
    assert vectors is not None
    return vectors


def embed_documents(
    documents: Sequence[Document | str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    progress: bool = True,
    use_cache: bool = True,
) -> torch.Tensor:
    """L2-normalised MiniLM vectors of the documents' texts (or of plain strings): float32 `(n, 384)` on the CPU.

    The vectors are saved under `cache_dir` (default `default_embedding_cache()`) in a file named by a hash of
    the texts, so a second call with the same texts loads them instead of running the encoder. `use_cache=False`
    neither reads nor writes the cache. `progress` shows a tqdm bar while embedding.
    """
    texts = _texts_of("documents", documents)
    if not texts:
        raise ValueError("`documents` is empty: there is nothing to embed.")
    folder = Path(cache_dir) if cache_dir is not None else default_embedding_cache()
    path = folder / f"minilm-{embedding_cache_key(texts)}.pt"
    if use_cache and path.is_file():
        try:
            vectors = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(vectors, torch.Tensor) and vectors.ndim == 2 and vectors.shape[0] == len(texts):
                return vectors
        except (OSError, RuntimeError, EOFError):
            pass  # a damaged file: embed again and overwrite it
    vectors = _embed_sorted(texts, batch_size, progress)
    if use_cache:
        folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=".minilm-", suffix=".tmp", dir=folder)
        os.close(handle)
        try:
            torch.save(vectors, tmp)
            os.replace(tmp, path)  # atomic: a reader never sees a half-written file
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return vectors


def top_k_cosine(query_vectors: torch.Tensor, vectors: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact search: the `k` largest cosine similarities of each query row against `vectors`, as `(scores,
    indices)`, both `(n_queries, k)`, best first. Rows are normalised here, so unnormalised vectors work too."""
    queries = F.normalize(query_vectors.float(), dim=-1)
    keys = F.normalize(vectors.float(), dim=-1)
    scores, indices = (queries @ keys.T).topk(k, dim=-1)
    return scores, indices


def faiss_flat_index(vectors: torch.Tensor) -> Any:
    """A faiss `IndexFlatIP` (exact inner-product search) holding the unit-normalised `vectors`: its
    `search(queries, k)` gives the same top-k as `top_k_cosine`. Needs `faiss-cpu`."""
    import faiss  # an optional, heavy library: imported only when a faiss index is asked for

    keys = F.normalize(vectors.float(), dim=-1).contiguous().numpy()
    index = faiss.IndexFlatIP(keys.shape[1])
    index.add(keys)
    return index


class VectorIndex:
    """Documents and their unit vectors, searched exactly (every document scored) with one matrix product."""

    def __init__(self, documents: list[Document], vectors: torch.Tensor) -> None:
        if not documents or vectors.ndim != 2 or len(vectors) != len(documents):
            raise ValueError(
                f"`documents` must be non-empty and `vectors` (n, dim) hold one row per document, got "
                f"{len(documents)} documents and vectors of shape {tuple(vectors.shape)}."
            )
        self.documents: list[Document] = list(documents)
        self.vectors: torch.Tensor = F.normalize(vectors.detach().float().cpu(), dim=-1)

    @classmethod
    def from_documents(cls, documents: list[Document], **embed_kwargs: Any) -> VectorIndex:
        """Embed `documents` with `embed_documents(documents, **embed_kwargs)` (cached) and index them."""
        return cls(list(documents), embed_documents(documents, **embed_kwargs))

    def __len__(self) -> int:
        return len(self.documents)

    def __repr__(self) -> str:
        return f"VectorIndex({len(self)} documents, dim={self.vectors.shape[1]})"

    def embed_queries(self, queries: str | Sequence[str]) -> torch.Tensor:
        """The unit vectors of the queries (not cached: queries are short and new each time)."""
        texts = [queries] if isinstance(queries, str) else _texts_of("queries", queries)
        for i, text in enumerate(texts):
            if not text.strip():
                raise ValueError(f"`queries[{i}]` is empty; ask something.")
        return embed_sentences(texts, *default_encoder())

    def search_vectors(self, query_vectors: torch.Tensor, k: int = 5) -> list[list[Hit]]:
        """The `k` best documents for each row of `query_vectors` (already embedded), best first."""
        require_range("k", k, low=1)
        scores, indices = top_k_cosine(query_vectors, self.vectors, min(k, len(self)))
        results = []
        for row_scores, row_indices in zip(scores.tolist(), indices.tolist(), strict=True):
            pairs = enumerate(zip(row_scores, row_indices, strict=True), start=1)
            results.append([Hit(self.documents[i], score, rank) for rank, (score, i) in pairs])
        return results

    def search(self, queries: str | list[str], k: int = 5) -> list[list[Hit]]:
        """The `k` documents most similar to each query (a str counts as one query), best first: one list of
        `Hit`s per query. `k` larger than the index returns every document."""
        return self.search_vectors(self.embed_queries(queries), k)
