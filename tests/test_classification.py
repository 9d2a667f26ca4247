"""utils.classification: padding is masked exactly, the loss trains, predictions are batched correctly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from utils import set_seed, train_language_model
from utils.classification import (
    classification_loss,
    classifier_logits,
    count_trainable,
    encode_texts,
    predict_classes,
)
from utils.models import AssetMissingError, asset_path

TEXTS = ["a joyless, plodding mess.", "warm, funny and beautifully acted.", "meh", "one of the best films of the year"]


@pytest.fixture(scope="module")
def encoder_classifier() -> Iterator[tuple[Any, Any]]:
    try:
        folder = asset_path("encoder")
    except AssetMissingError as exc:  # pragma: no cover - the assets are installed by `make setup`
        pytest.skip(f"encoder not installed: {exc}")
    set_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    yield model.eval(), AutoTokenizer.from_pretrained(folder)


def test_encode_texts_pads_right_to_the_longest(encoder_classifier: tuple[Any, Any]) -> None:
    _, tokenizer = encoder_classifier
    ids = encode_texts(tokenizer, TEXTS, max_length=64)
    lengths = (ids != tokenizer.pad_token_id).sum(dim=1)
    assert ids.shape[1] == lengths.max() and (ids[:, 0] == tokenizer.cls_token_id).all()
    assert encode_texts(tokenizer, TEXTS, max_length=4).shape == (4, 4)


def test_logits_with_padding_equal_logits_alone(encoder_classifier: tuple[Any, Any]) -> None:
    model, tokenizer = encoder_classifier
    ids = encode_texts(tokenizer, TEXTS, max_length=64)
    batched = classifier_logits(model, ids, tokenizer.pad_token_id)
    for row, text in zip(batched, TEXTS, strict=True):
        alone = model(**tokenizer(text, return_tensors="pt")).logits[0]
        torch.testing.assert_close(row, alone, atol=1e-5, rtol=1e-4)


def test_a_few_steps_fit_four_labelled_texts(encoder_classifier: tuple[Any, Any]) -> None:
    model, tokenizer = encoder_classifier
    ids, labels = encode_texts(tokenizer, TEXTS, max_length=64), torch.tensor([0, 1, 0, 1])
    loader = DataLoader(TensorDataset(ids, labels), batch_size=4)
    loss_fn = classification_loss(tokenizer.pad_token_id)
    history = train_language_model(
        model, loader, loader, steps=15, lr=1e-4, eval_every=15, eval_batches=1, progress=False, loss_fn=loss_fn
    )
    assert history.val_loss[-1] < history.val_loss[0] - 0.3
    assert np.array_equal(predict_classes(model, ids, tokenizer.pad_token_id, batch_size=3), labels.numpy())
    assert not model.training


def test_count_trainable_respects_frozen_parameters() -> None:
    layer = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    assert count_trainable(layer) == 16 + 10
    layer[0].requires_grad_(False)
    assert count_trainable(layer) == 10


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"texts": "one string", "max_length": 8}, TypeError, "`texts`"),
        ({"texts": [], "max_length": 8}, ValueError, "`texts`"),
        ({"texts": ["a"], "max_length": 1}, ValueError, "`max_length`"),
    ],
)
def test_encode_texts_rejects_bad_arguments(
    encoder_classifier: tuple[Any, Any], kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        encode_texts(encoder_classifier[1], **kwargs)
