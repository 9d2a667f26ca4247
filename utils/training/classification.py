"""Fine-tuning a transformer for classification: class logits read with the padding masked, a loss for
`train_model`, batched predictions and a count of what an optimizer trains. Taught in notebook 08.
(Token ids are padded into one tensor with `utils.transformer.padding.encode_texts`.)"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..course.arguments import require_range, require_type
from ..course.device import device_of
from .loop import LossFn


def classifier_logits(model: nn.Module, ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Class logits `[batch, n_classes]` of a sequence classifier (e.g. `AutoModelForSequenceClassification`) for
    right-padded `ids`: the attention mask is `ids != pad_id`, and columns that are padding in every row are cut."""
    mask = ids != pad_id
    length = max(1, int(mask.sum(dim=1).max()))
    return model(input_ids=ids[:, :length], attention_mask=mask[:, :length].long()).logits


def classification_loss(pad_id: int) -> LossFn:
    """`loss_fn(model, (ids, labels))` = (cross-entropy of `classifier_logits`, number of examples), for
    `train_model` and `evaluate`."""
    require_type("pad_id", pad_id, int)

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, int]:
        ids, labels = batch
        return F.cross_entropy(classifier_logits(model, ids, pad_id), labels), len(labels)

    return loss_fn


@torch.no_grad()
def predict_classes(model: nn.Module, ids: torch.Tensor, pad_id: int, *, batch_size: int = 64) -> np.ndarray:
    """The most likely class for each row of `ids`, computed in batches in eval mode (the mode is restored)."""
    require_type("ids", ids, torch.Tensor)
    require_type("batch_size", batch_size, int)
    require_range("batch_size", batch_size, low=1)
    device = device_of(model)
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
