"""Texts to padded batches of token ids. Taught in notebooks 06 and 08.

A batch needs one rectangle of ids, so shorter texts are padded. Which side matters: to score a prompt's last
token or to train a classifier, pad on the right (real tokens keep positions 0, 1, 2, ...); to generate, pad on
the left, so every row ends where the new tokens begin.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from ..course.arguments import require_choice, require_range, require_type


@contextmanager
def padding_side(tokenizer: Any, side: str) -> Iterator[None]:
    """Pad on `side` ("left" or "right") inside the `with` block, then restore the tokenizer's own setting."""
    require_choice("side", side, ("left", "right"))
    previous = tokenizer.padding_side
    tokenizer.padding_side = side
    try:
        yield
    finally:
        tokenizer.padding_side = previous


def encode_texts(tokenizer: Any, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Token ids `[len(texts), L]`, truncated to `max_length` and right-padded with the tokenizer's pad id to the
    longest text (L <= max_length). One tensor, so a `TensorDataset` can hold it."""
    require_type("texts", texts, (list, tuple))
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("`texts` must be a non-empty list of strings.")
    require_type("max_length", max_length, int)
    require_range("max_length", max_length, low=2)
    if tokenizer.pad_token_id is None:
        raise ValueError("`tokenizer` has no pad token; set tokenizer.pad_token first.")
    with padding_side(tokenizer, "right"):
        ids = tokenizer(list(texts), truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    return ids["input_ids"]
