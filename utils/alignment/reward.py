"""Reward models: ranked completions turned into preference pairs, the Bradley-Terry loss, a reward model (MiniLM,
mean-pooled, with a linear head to one number) trained on the course's movie-review pairs, and the course's trained
reward model (`load_reward_model`), trained from a recipe when it is not cached. A bridge to TRL's `RewardTrainer`
(`as_sequence_classifier`, `tokenize_preferences`) trains the very same model with the library. Taught in notebook
12; notebook 13 optimises a policy against the reward model (PPO) and notebook 14 scores DPO's answers with it."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..assets.artifacts import INFO_FILE, artifact_dir, artifact_info, load_or_train, save_artifact
from ..assets.datasets import preference_rows
from ..assets.models import load_encoder
from ..course.arguments import require_type
from ..course.device import device_of, resolve_device
from ..course.seeding import set_seed
from ..training.loop import TrainingHistory, require_training_recipe, train_with_recipe
from ..transformer.embeddings import mean_pool

REWARD_NAME = "reward-model"
WEIGHTS_FILE = "reward_model.pt"


# ----------------------------------------------------------------------------------------------------------------
# Preferences and the Bradley-Terry loss


def ranked_pairs(ranked: Sequence[str]) -> list[tuple[str, str]]:
    """Every `(chosen, rejected)` pair that a ranking of completions implies, best first in `ranked`: k completions
    give k(k-1)/2 pairs, each better completion paired with every worse one."""
    if isinstance(ranked, str):
        raise TypeError("`ranked` must be a list of completions, best first, not one str.")
    if len(ranked) < 2:
        raise ValueError(f"`ranked` needs at least two completions to make a pair, got {len(ranked)}.")
    if len(set(ranked)) != len(ranked):
        raise ValueError("`ranked` holds the same completion twice: a ranking orders distinct completions.")
    return [(ranked[i], ranked[j]) for i in range(len(ranked)) for j in range(i + 1, len(ranked))]


def bradley_terry_loss(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """The Bradley-Terry loss of a reward model on preference pairs: the mean over pairs of
    -log sigmoid(r_chosen - r_rejected), the negative log-likelihood of the observed preferences when
    P(chosen preferred) = sigmoid(r_chosen - r_rejected). Only reward differences matter."""
    return -F.logsigmoid(chosen_rewards - rejected_rewards).mean()


def pairwise_accuracy(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Per pair, 1.0 where the reward model ranks the chosen text above the rejected one, else 0.0 (a tie counts
    0.0, as in TRL's accuracy); its mean is the pairwise accuracy, 0.5 for a model that guesses."""
    return (chosen_rewards > rejected_rewards).float()


# ----------------------------------------------------------------------------------------------------------------
# The reward model


class RewardModel(nn.Module):
    """A text encoder with a linear head to one number: the reward of a text is `head(mean of its token vectors)`
    (padding excluded, as `utils.transformer.embeddings.mean_pool`). By default the encoder is the course's
    all-MiniLM-L6-v2 (`load_encoder`). It scores a text on its own (a movie review), without the prompt.

    `forward(input_ids, attention_mask)` gives one reward per row; `score(texts)` tokenizes and scores texts."""

    def __init__(self, encoder: nn.Module | None = None, tokenizer: Any = None, *, max_length: int = 64) -> None:
        super().__init__()
        if (encoder is None) != (tokenizer is None):
            raise ValueError("pass both `encoder` and `tokenizer`, or neither (then MiniLM is loaded).")
        if encoder is None:
            encoder, tokenizer = load_encoder()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.head = nn.Linear(encoder.config.hidden_size, 1).to(device_of(encoder))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(mean_pool(tokens, attention_mask)).squeeze(-1)

    def encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """`{"input_ids", "attention_mask"}` for `texts`, right-padded to the longest, cut at `max_length` tokens."""
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    @torch.no_grad()
    def score(self, texts: Sequence[str], *, batch_size: int = 32) -> torch.Tensor:
        """The reward of each text: float32 `[len(texts)]` on the CPU, computed in eval mode (restored after)."""
        if isinstance(texts, str):
            raise TypeError("`texts` must be a list of strings, got one str; wrap it: [text].")
        if not texts:
            return torch.empty(0)
        device = device_of(self)
        was_training = self.training
        self.eval()
        out = []
        for start in range(0, len(texts), batch_size):
            batch = self.encode(texts[start : start + batch_size])
            out.append(self(batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu())
        self.train(was_training)
        return torch.cat(out)


class PreferenceCollator:
    """Turns preference rows `{"chosen", "rejected", ...}` into one batch `{"input_ids", "attention_mask"}` of
    2 x len(rows) texts: the chosen texts first, then the rejected ones in the same order (TRL's layout), so one
    forward pass scores both sides. Use it as a DataLoader's `collate_fn`; `reward_loss` reads the batch."""

    def __init__(self, tokenizer: Any, *, max_length: int = 64) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def __call__(self, rows: Sequence[Mapping[str, str]]) -> dict[str, torch.Tensor]:
        texts = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


def reward_loss(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """`bradley_terry_loss` of `model` on a `PreferenceCollator` batch, and the number of pairs: a `loss_fn` for
    `train_model` and `evaluate`."""
    chosen, rejected = model(batch["input_ids"], batch["attention_mask"]).chunk(2)
    return bradley_terry_loss(chosen, rejected), len(chosen)


def score_pairs(model: RewardModel, rows: Sequence[Mapping[str, str]], *, batch_size: int = 32) -> torch.Tensor:
    """The rewards of the chosen and rejected texts of `rows`: float32 `[2, len(rows)]` (row 0 chosen, row 1
    rejected), on the CPU."""
    chosen = model.score([r["chosen"] for r in rows], batch_size=batch_size)
    rejected = model.score([r["rejected"] for r in rows], batch_size=batch_size)
    return torch.stack([chosen, rejected])


# ----------------------------------------------------------------------------------------------------------------
# The course's reward model


@dataclass(frozen=True)
class RewardRecipe:
    """Everything that decides the course's reward model: notebook 12 trains it, `load_reward_model` trains it the
    same way when it is not cached. The validation pairs are the first `n_val` of the shuffled test split (only
    watched during training, never used to choose anything)."""

    n_train: int = 1600  # training pairs (steps x batch_size: each seen once)
    n_val: int = 64
    max_length: int = 64  # tokens per review (the longest reviews are cut)
    batch_size: int = 16  # pairs per step (32 texts)
    steps: int = 100
    lr: float = 1e-4
    warmup_steps: int = 10
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        require_training_recipe(self, counts=("n_train", "n_val"))

    def smoke(self) -> RewardRecipe:
        """The same recipe shrunk to a few seconds of training (for the smoke runs of the tests)."""
        return replace(self, n_train=24, n_val=4, batch_size=4, steps=6, warmup_steps=1, lr=1e-4)


REWARD_RECIPE = RewardRecipe()


def reward_model_dir(recipe: RewardRecipe = REWARD_RECIPE) -> Path:
    """Where the reward model trained with `recipe` is saved (one folder per recipe in the course cache)."""
    return artifact_dir(REWARD_NAME, recipe)


def train_reward_model(
    recipe: RewardRecipe = REWARD_RECIPE,
    *,
    model: RewardModel | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[RewardModel, TrainingHistory]:
    """Train a reward model on `recipe`'s preference pairs with `bradley_terry_loss` and `train_model`: a fresh
    MiniLM `RewardModel` (built right after `set_seed(recipe.seed)`), or `model`, trained in place. Returns
    `(model in eval mode, history)`; the history's validation loss is on `recipe.n_val` held-out pairs. The seed is
    set again before training, so a `model` built right after `set_seed(recipe.seed)` trains exactly as the fresh
    one would."""
    require_type("recipe", recipe, RewardRecipe)
    if model is None:
        set_seed(recipe.seed)
        model = RewardModel(max_length=recipe.max_length)
    generator = set_seed(recipe.seed)  # the same data order and dropout whether `model` was given or built here
    collate = PreferenceCollator(model.tokenizer, max_length=recipe.max_length)
    train_loader = DataLoader(
        preference_rows("train", recipe.n_train, seed=recipe.seed),
        batch_size=recipe.batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=generator,
    )
    val_loader = DataLoader(preference_rows("test", recipe.n_val, seed=recipe.seed), batch_size=32, collate_fn=collate)
    every = max(2, recipe.steps // 6)
    history = train_with_recipe(
        model, train_loader, val_loader, reward_loss, recipe, eval_every=every, device=device, progress=progress
    )
    return model.eval(), history


def save_reward_model(model: RewardModel, recipe: RewardRecipe, history: TrainingHistory | None = None) -> Path:
    """Save a reward model trained with `recipe` where `load_reward_model(recipe)` finds it: its weights (encoder
    and head) and the recipe with the training history. The folder is replaced in one move."""

    def write(folder: Path) -> None:
        state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
        torch.save(state, folder / WEIGHTS_FILE)

    return save_artifact(REWARD_NAME, recipe, write, history)


def reward_model_info(recipe: RewardRecipe = REWARD_RECIPE) -> dict[str, Any]:
    """What `save_reward_model` stored next to the weights: `{"recipe": ..., "history": ..., ...}`."""
    return artifact_info(REWARD_NAME, recipe)


def load_reward_model(
    recipe: RewardRecipe = REWARD_RECIPE,
    *,
    train_if_missing: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> RewardModel:
    """The course's reward model trained with `recipe` (notebook 12), from `reward_model_dir(recipe)`, in eval mode
    on `device`. When it is missing and `train_if_missing` is True it is trained now (`REWARD_RECIPE`: a few
    minutes on a 2-core laptop CPU, with a progress bar; `REWARD_RECIPE.smoke()`: seconds) and saved."""

    def read(folder: Path) -> RewardModel:
        model = RewardModel(max_length=recipe.max_length)
        model.load_state_dict(torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True))
        return model.to(resolve_device(device)).eval()

    def train() -> RewardModel:
        model, history = train_reward_model(recipe, device=device, progress=progress)
        return read(save_reward_model(model, recipe, history))

    return load_or_train(
        REWARD_NAME,
        recipe,
        read=read,
        train=train,
        train_if_missing=train_if_missing,
        hint="run notebook 12",
        files=(WEIGHTS_FILE, INFO_FILE),
    )


# ----------------------------------------------------------------------------------------------------------------
# The bridge to TRL's RewardTrainer


@functools.cache
def _sequence_classifier_class() -> type:
    """Built on first use, so that importing this module does not import transformers' model classes."""
    from transformers import PreTrainedModel  # heavy: imported on first use
    from transformers.modeling_outputs import SequenceClassifierOutput

    class RewardModelAsSequenceClassifier(PreTrainedModel):
        """A `RewardModel` seen as a transformers sequence classifier with one label (the reward in `logits`
        `[batch, 1]`), which is what TRL's `RewardTrainer` trains. It holds the reward model itself: training it
        trains the reward model."""

        base_model_prefix = "reward_model"
        _supports_sdpa = True

        def __init__(self, reward_model: RewardModel) -> None:
            config = copy.deepcopy(reward_model.encoder.config)
            config.num_labels = 1
            super().__init__(config)
            self.reward_model = reward_model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_: Any) -> SequenceClassifierOutput:
            return SequenceClassifierOutput(logits=self.reward_model(input_ids, attention_mask).unsqueeze(-1))

    return RewardModelAsSequenceClassifier


def as_sequence_classifier(model: RewardModel) -> nn.Module:
    """`model` wrapped as a transformers `PreTrainedModel` sequence classifier with `num_labels = 1`, the model
    type TRL's `RewardTrainer` accepts. The weights are shared, not copied."""
    return _sequence_classifier_class()(model)


def tokenize_preferences(rows: Sequence[Mapping[str, str]], tokenizer: Any, *, max_length: int = 64) -> Any:
    """A `datasets.Dataset` with the columns `chosen_ids` and `rejected_ids`: each text tokenized on its own and cut
    at `max_length`, exactly as `PreferenceCollator` does. TRL's `RewardTrainer` takes such a tokenized dataset as
    it is (a raw text dataset would get the tokenizer's EOS token appended, which a BERT tokenizer lacks)."""
    from datasets import Dataset  # heavy: imported only for the TRL bridge

    def ids(texts: list[str]) -> list[list[int]]:
        return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]

    chosen, rejected = ids([r["chosen"] for r in rows]), ids([r["rejected"] for r in rows])
    return Dataset.from_dict({"chosen_ids": chosen, "rejected_ids": rejected})
