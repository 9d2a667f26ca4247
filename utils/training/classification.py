"""Fine-tuning a transformer for classification: two ways to put a class head on a pretrained model (an encoder's
mean-pooled vector, a decoder's last token), class logits read with the padding masked, a loss for `train_model`,
batched predictions and a count of what an optimizer trains. Taught in notebook 08.
(Token ids are padded into one tensor with `utils.transformer.padding.encode_texts`.)"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..course.arguments import require_range
from ..course.device import device_of
from ..transformer.embeddings import mean_pool
from .loop import LossFn


class ClassifierOutput(NamedTuple):
    """What the classifiers below return: class `logits` `[batch, n_classes]`."""

    logits: torch.Tensor


class MeanPooledClassifier(nn.Module):
    """An encoder (e.g. MiniLM) with a linear head on its sentence vector: the mean of the token vectors over the
    real tokens, scaled to length 1, exactly the features `embed_sentences` gives a linear probe, but trainable."""

    def __init__(self, encoder: nn.Module, n_classes: int) -> None:
        super().__init__()
        require_range("n_classes", n_classes, low=2)
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.hidden_size, n_classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> ClassifierOutput:
        tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return ClassifierOutput(self.head(F.normalize(mean_pool(tokens, attention_mask), dim=-1)))


class LastTokenClassifier(nn.Module):
    """A causal (GPT-style) language model turned classifier: its vocabulary head `lm_head` is replaced by a
    `n_classes` head, read at the last real token, the only position that has seen the whole text. Works for the
    course's GPT and for transformers' decoders (SmolLM2); pad on the right.

    label_token_ids: optional, one vocabulary id per class (e.g. the ids of " negative" and " positive"). The new
    head then starts as those rows of the old vocabulary head, so before any training the classifier predicts
    exactly what a zero-shot prompt ending at the text would (the label word the model finds likelier)."""

    def __init__(self, language_model: nn.Module, n_classes: int, label_token_ids: list[int] | None = None) -> None:
        super().__init__()
        require_range("n_classes", n_classes, low=2)
        head = getattr(language_model, "lm_head", None)
        if not isinstance(head, nn.Linear):
            raise ValueError("`language_model` needs a linear `lm_head` (the vocabulary head) to replace.")
        new_head = nn.Linear(head.in_features, n_classes).to(head.weight.device)
        if label_token_ids is not None:
            if len(label_token_ids) != n_classes or not all(0 <= i < head.out_features for i in label_token_ids):
                raise ValueError(
                    f"`label_token_ids` must hold {n_classes} vocabulary ids in [0, {head.out_features}), "
                    f"got {label_token_ids!r}."
                )
            with torch.no_grad():
                new_head.weight.copy_(head.weight[list(label_token_ids)])
                bias = head.bias[list(label_token_ids)] if head.bias is not None else 0.0
                new_head.bias.copy_(torch.as_tensor(bias, dtype=new_head.bias.dtype))
        language_model.lm_head = new_head
        self.model = language_model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> ClassifierOutput:
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits  # [batch, seq, n_classes]
        last = attention_mask.sum(dim=1) - 1
        return ClassifierOutput(logits[torch.arange(len(last), device=logits.device), last])


def classifier_logits(model: nn.Module, ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Class logits `[batch, n_classes]` of a sequence classifier (e.g. `AutoModelForSequenceClassification`) for
    right-padded `ids`: the attention mask is `ids != pad_id`, and columns that are padding in every row are cut."""
    mask = ids != pad_id
    length = max(1, int(mask.sum(dim=1).max()))
    return model(input_ids=ids[:, :length], attention_mask=mask[:, :length].long()).logits


def classification_loss(pad_id: int) -> LossFn:
    """`loss_fn(model, (ids, labels))` = (cross-entropy of `classifier_logits`, number of examples), for
    `train_model` and `evaluate`."""

    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, int]:
        ids, labels = batch
        return F.cross_entropy(classifier_logits(model, ids, pad_id), labels), len(labels)

    return loss_fn


@torch.no_grad()
def predict_classes(model: nn.Module, ids: torch.Tensor, pad_id: int, *, batch_size: int = 64) -> np.ndarray:
    """The most likely class for each row of `ids`, computed in batches in eval mode (the mode is restored)."""
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
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
