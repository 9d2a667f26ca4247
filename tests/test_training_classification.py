"""utils.training.classification: padding is masked exactly, the loss trains through `train_model` and counts
examples, predictions are batched correctly. (encode_texts is tested in test_transformer_padding.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from utils import set_seed
from utils.assets.packages import AssetMissingError, asset_path
from utils.training.classification import (
    classification_loss,
    classifier_logits,
    count_trainable,
    predict_classes,
)
from utils.training.loop import train_model
from utils.transformer.padding import encode_texts

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
    history = train_model(
        model, loader, loader, steps=15, lr=1e-4, eval_every=15, eval_batches=1, progress=False, loss_fn=loss_fn
    )
    assert history.val_loss[-1] < history.val_loss[0] - 0.3
    assert history.items_seen == 15 * 4, "throughput counts examples, not tokens"
    assert np.array_equal(predict_classes(model, ids, tokenizer.pad_token_id, batch_size=3), labels.numpy())
    assert not model.training


def test_count_trainable_respects_frozen_parameters() -> None:
    layer = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    assert count_trainable(layer) == 16 + 10
    layer[0].requires_grad_(False)
    assert count_trainable(layer) == 10


def test_mean_pooled_classifier_reads_the_probe_features() -> None:
    """Its head sees exactly the vectors `embed_sentences` gives a linear probe."""
    from utils.assets.models import load_encoder
    from utils.training.classification import MeanPooledClassifier
    from utils.transformer.embeddings import embed_sentences

    try:
        encoder, tokenizer = load_encoder(device="cpu")
    except AssetMissingError as exc:  # pragma: no cover
        pytest.skip(f"encoder not installed: {exc}")
    set_seed(0)
    classifier = MeanPooledClassifier(encoder, 3).eval()
    ids = encode_texts(tokenizer, TEXTS, 32)
    with torch.no_grad():
        logits = classifier_logits(classifier, ids, tokenizer.pad_token_id)
        expected = classifier.head(embed_sentences(TEXTS, encoder, tokenizer))
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    assert count_trainable(classifier) == count_trainable(encoder) + 384 * 3 + 3
    with pytest.raises(ValueError, match="n_classes"):
        MeanPooledClassifier(encoder, 1)


@pytest.mark.parametrize("family", ["course GPT", "transformers Llama"])
def test_last_token_classifier_reads_the_last_real_token(family: str) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from utils.training.classification import LastTokenClassifier
    from utils.transformer.gpt import GPT, GPTConfig

    set_seed(0)
    if family == "course GPT":
        lm = GPT(GPTConfig(vocab_size=50, context_length=16, d_model=16, n_heads=2, n_layers=2))
    else:
        config = LlamaConfig(
            vocab_size=50,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
        )
        lm = LlamaForCausalLM(config)
    classifier = LastTokenClassifier(lm, 2).eval()
    assert classifier.model.lm_head.out_features == 2
    pad = 0
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, pad, pad]])
    with torch.no_grad():
        batched = classifier_logits(classifier, ids, pad)
        alone = [classifier_logits(classifier, row[row != pad][None], pad)[0] for row in ids]
        full = lm(input_ids=ids[:1]).logits[0, -1]
    torch.testing.assert_close(batched, torch.stack(alone), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched[0], full)
    with pytest.raises(ValueError, match="lm_head"):
        LastTokenClassifier(torch.nn.Linear(3, 3), 2)


def test_last_token_classifier_can_start_as_the_zero_shot_prompt() -> None:
    """Initialised from the label words' rows of the vocabulary head, its logits are the label words' logits."""
    from utils.training.classification import LastTokenClassifier
    from utils.transformer.gpt import GPT, GPTConfig

    set_seed(0)
    lm = GPT(GPTConfig(vocab_size=50, context_length=16, d_model=16, n_heads=2, n_layers=2)).eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        word_logits = lm(input_ids=ids).logits[0, -1, [11, 3]]
        classifier = LastTokenClassifier(lm, 2, label_token_ids=[11, 3]).eval()
        torch.testing.assert_close(classifier_logits(classifier, ids, 0)[0], word_logits)
    with pytest.raises(ValueError, match="label_token_ids"):
        LastTokenClassifier(GPT(GPTConfig(vocab_size=50, context_length=8, d_model=8, n_heads=2, n_layers=1)), 2, [1])
