"""Fine-tuning a transformer for classification: token ids padded into one tensor, logits read with the padding
masked, a loss for `train_language_model`, and batched predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validation import require_range, require_type
from .prompting import padding_side
from .training import LossFn, _device_of


def encode_texts(tokenizer: Any, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Token ids `[len(texts), L]`, truncated to `max_length` and right-padded with the tokenizer's pad id to the
    longest text (L <= max_length). One tensor, so a `TensorDataset` and `train_language_model` can use it."""
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


def classifier_logits(model: nn.Module, ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Class logits `[batch, n_classes]` of a sequence classifier (e.g. `AutoModelForSequenceClassification`) for
    right-padded `ids`: the attention mask is `ids != pad_id`, and columns that are padding in every row are cut."""
    mask = ids != pad_id
    length = max(1, int(mask.sum(dim=1).max()))
    return model(input_ids=ids[:, :length], attention_mask=mask[:, :length].long()).logits


def classification_loss(pad_id: int) -> LossFn:
    """`loss_fn(model, ids, labels)` = cross-entropy of `classifier_logits`, for `train_language_model` and
    `evaluate_loss`."""
    require_type("pad_id", pad_id, int)

    def loss_fn(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(classifier_logits(model, ids, pad_id), labels)

    return loss_fn


@torch.no_grad()
def predict_classes(model: nn.Module, ids: torch.Tensor, pad_id: int, *, batch_size: int = 64) -> np.ndarray:
    """The most likely class for each row of `ids`, computed in batches in eval mode (the mode is restored)."""
    require_type("ids", ids, torch.Tensor)
    require_type("batch_size", batch_size, int)
    require_range("batch_size", batch_size, low=1)
    device = _device_of(model)
    was_training = model.training
    model.eval()
    out = [
        classifier_logits(model, ids[start : start + batch_size].to(device), pad_id).argmax(dim=-1).cpu()
        for start in range(0, len(ids), batch_size)
    ]
    model.train(was_training)
    return torch.cat(out).numpy()


def count_trainable(model: nn.Module) -> int:
    """Number of parameters that an optimizer would update (`requires_grad=True`)."""
    require_type("model", model, nn.Module)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
