"""Notebook 08's sentiment classifier as a transformers model, so `transformers.pipeline` can serve it (notebook 15).

Notebook 08 fine-tunes MiniLM with the course's own `MeanPooledClassifier`. A pipeline needs a transformers model
class instead, so here the same encoder is fine-tuned as `AutoModelForSequenceClassification` (BERT's head: the
first token's vector through the pretrained pooler, then a linear layer), with the same loss and training loop,
and saved with `save_pretrained` into the course cache, one folder per recipe.

* The folder is written and read by `utils.assets.artifacts` (the name tagger of
  `utils.training.token_classification` is kept the same way).
* `SentimentRecipe`, `train_sentiment_classifier`, `load_sentiment_classifier(recipe)` (trains when missing),
  `sentiment_classifier_info(recipe)` (the recipe and training history beside the weights).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..assets.artifacts import (
    artifact_dir,
    artifact_info,
    load_or_train,
    read_pretrained_artifact,
    save_pretrained_artifact,
)
from ..assets.datasets import SENTIMENT_LABELS, load_rotten_tomatoes
from ..assets.models import load_encoder_with_head
from ..course.arguments import require_range, require_type
from ..course.seeding import set_seed
from ..transformer.padding import encode_texts
from .classification import classification_loss
from .loop import TrainingHistory, require_training_recipe, train_with_recipe

SENTIMENT_NAME = "minilm-sentiment"


# ----------------------------------------------------------------------------------------------------------------
# The sentiment classifier


@dataclass(frozen=True)
class SentimentRecipe:
    """Everything that decides the sentiment classifier: Rotten Tomatoes snippets (the first `n_train` of the
    training split shuffled with `seed`), `steps` AdamW steps of `batch_size`, validation on `n_val` snippets."""

    n_train: int = 1600
    n_val: int = 200
    max_length: int = 64
    batch_size: int = 16
    steps: int = 100
    lr: float = 1e-4
    warmup_steps: int = 10
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        require_training_recipe(self, counts=("n_train", "n_val"))

    def smoke(self) -> SentimentRecipe:
        """The same recipe shrunk to a few seconds of training (for the smoke runs of the tests)."""
        return replace(self, n_train=32, n_val=16, batch_size=8, steps=4, warmup_steps=1)


SENTIMENT_RECIPE = SentimentRecipe()


def sentiment_classifier_dir(recipe: SentimentRecipe = SENTIMENT_RECIPE) -> Path:
    """Where the classifier trained with `recipe` is saved (one folder per recipe in the course cache)."""
    return artifact_dir(SENTIMENT_NAME, recipe)


def sentiment_rows(split: str, n: int | None = None, *, seed: int = 0) -> tuple[list[str], list[int]]:
    """Texts and labels (0 negative, 1 positive) of a Rotten Tomatoes split, shuffled with `seed`, the first `n`."""
    rows = load_rotten_tomatoes()[split].shuffle(seed=seed)
    if n is not None:
        require_range("n", n, low=1)
        rows = rows.select(range(min(n, len(rows))))
    return list(rows["text"]), list(rows["label"])


def new_sentiment_classifier() -> tuple[nn.Module, Any]:
    """MiniLM with a fresh 2-class `AutoModelForSequenceClassification` head (labels "negative", "positive")."""
    return load_encoder_with_head("sequence", SENTIMENT_LABELS)


def train_sentiment_classifier(
    recipe: SentimentRecipe = SENTIMENT_RECIPE, *, device: str | torch.device | None = None, progress: bool = True
) -> tuple[nn.Module, Any, TrainingHistory]:
    """Fine-tune MiniLM as a sequence classifier on `recipe`: `(model in eval mode, tokenizer, history)`."""
    require_type("recipe", recipe, SentimentRecipe)
    set_seed(recipe.seed)
    model, tokenizer = new_sentiment_classifier()
    generator = set_seed(recipe.seed)
    texts, labels = sentiment_rows("train", recipe.n_train, seed=recipe.seed)
    val_texts, val_labels = sentiment_rows("validation", recipe.n_val, seed=recipe.seed)
    train_data = TensorDataset(encode_texts(tokenizer, texts, recipe.max_length), torch.tensor(labels))
    val_data = TensorDataset(encode_texts(tokenizer, val_texts, recipe.max_length), torch.tensor(val_labels))
    val_loader = DataLoader(val_data, batch_size=64)
    train_loader = DataLoader(train_data, batch_size=recipe.batch_size, shuffle=True, generator=generator)
    loss_fn = classification_loss(tokenizer.pad_token_id)
    every = max(2, recipe.steps // 5)
    history = train_with_recipe(
        model, train_loader, val_loader, loss_fn, recipe, eval_every=every, device=device, progress=progress
    )
    return model.eval(), tokenizer, history


def sentiment_classifier_info(recipe: SentimentRecipe = SENTIMENT_RECIPE) -> dict[str, Any]:
    """What was saved beside the classifier trained with `recipe`: `{"recipe": ..., "history": ..., ...}`."""
    return artifact_info(SENTIMENT_NAME, recipe)


def load_sentiment_classifier(
    recipe: SentimentRecipe = SENTIMENT_RECIPE,
    *,
    train_if_missing: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[nn.Module, Any]:
    """The classifier trained with `recipe`, reloaded from its `save_pretrained` folder: `(model, tokenizer)`.
    When missing and `train_if_missing` is True it is trained now (about a minute on 2 cores) and saved first."""
    from transformers import AutoModelForSequenceClassification  # heavy: imported when a model is read

    def read(folder: Path) -> tuple[nn.Module, Any]:
        return read_pretrained_artifact(folder, AutoModelForSequenceClassification, device)

    def train() -> tuple[nn.Module, Any]:
        model, tokenizer, history = train_sentiment_classifier(recipe, device=device, progress=progress)
        return read(save_pretrained_artifact(SENTIMENT_NAME, recipe, model, tokenizer, history))

    return load_or_train(
        SENTIMENT_NAME, recipe, read=read, train=train, train_if_missing=train_if_missing, hint="run notebook 15"
    )
