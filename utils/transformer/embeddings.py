"""Sentence embeddings the way sentence-transformers makes them for all-MiniLM-L6-v2. Taught in notebook 02.

The encoder gives one vector per token; a sentence vector is the mean of its token vectors (padding
excluded, via the attention mask), scaled to length 1. The package's `1_Pooling/config.json` says
`pooling_mode_mean_tokens: true` and `modules.json` ends with a `Normalize` module, so this matches.
With unit vectors, cosine similarity is just a dot product.

The encoder is an argument: load it once with `utils.assets.models.load_encoder()` and pass it to every call (this
floor knows nothing of where the course's models live).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ..course.arguments import require_range, require_type
from ..course.device import device_of

MAX_TOKENS = 256  # `max_seq_length` in the model's sentence_bert_config.json; longer sentences are truncated


def mean_pool(token_vectors: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average `token_vectors` (batch, tokens, dim) over the positions where `attention_mask` is 1."""
    mask = attention_mask.unsqueeze(-1).to(token_vectors.dtype)
    counts = mask.sum(dim=1).clamp(min=1e-9)
    return (token_vectors * mask).sum(dim=1) / counts


def embed_sentences(
    sentences: Sequence[str],
    model: Any,
    tokenizer: Any,
    *,
    batch_size: int = 32,
) -> torch.Tensor:
    """Embed each sentence as a unit-length vector: a float32 tensor (len(sentences), dim) on the CPU.

    `model` and `tokenizer`: the sentence encoder and its tokenizer, e.g. the offline
    all-MiniLM-L6-v2 (384 dimensions) of `utils.assets.models.load_encoder()`; load it once and pass it along.
    """
    if isinstance(sentences, str):
        raise TypeError("`sentences` must be a list of strings, got one str; wrap it: [sentence].")
    for i, sentence in enumerate(sentences):
        require_type(f"sentences[{i}]", sentence, str)
    require_range("batch_size", batch_size, low=1)
    if not sentences:
        return torch.empty(0, model.config.hidden_size)
    device = device_of(model)
    max_length = min(MAX_TOKENS, tokenizer.model_max_length)
    chunks = []
    with torch.no_grad():  # not inference_mode: learners may feed these vectors into a model they train
        for start in range(0, len(sentences), batch_size):
            batch = tokenizer(
                list(sentences[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(device)
            token_vectors = model(**batch).last_hidden_state
            pooled = mean_pool(token_vectors.float(), batch["attention_mask"])
            chunks.append(F.normalize(pooled, p=2, dim=-1).cpu())
    return torch.cat(chunks)


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of vectors: a (dim,) or (n, dim) against b (dim,) or (m, dim).

    Shapes of the result: () for two vectors, (n,) or (m,) for a matrix against a vector, (n, m) for two matrices.
    """
    require_type("a", a, torch.Tensor)
    require_type("b", b, torch.Tensor)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"`a` and `b` must have the same last dimension, got {tuple(a.shape)} and {tuple(b.shape)}.")
    a_unit = F.normalize(a.float(), p=2, dim=-1)
    b_unit = F.normalize(b.float(), p=2, dim=-1).to(a_unit.device)
    return a_unit @ (b_unit.T if b_unit.ndim == 2 else b_unit)
