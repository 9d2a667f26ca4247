"""Reward models: ranked completions turned into preference pairs, the Bradley-Terry loss, a reward model (MiniLM,
mean-pooled, with a linear head to one number) that reads the prompt and the review, r(x, y), trained on the
course's movie-review pairs, and the course's trained reward model (`load_reward_model`), trained from a recipe when
it is not cached. A bridge to TRL's `RewardTrainer` (`as_sequence_classifier`, `tokenize_preferences`) trains the
very same model with the library. Taught in notebook 12; notebook 13 optimises a policy against the reward model
(PPO) and notebook 14 scores DPO's answers with it."""

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


def _check_prompts(texts: Sequence[str], prompts: Sequence[str] | None) -> None:
    if isinstance(texts, str):
        raise TypeError("`texts` must be a list of strings, got one str; wrap it: [text].")
    if prompts is None:
        return
    if isinstance(prompts, str):
        raise TypeError("`prompts` must be a list of strings (one per text), got one str; wrap it: [prompt].")
    if len(prompts) != len(texts):
        raise ValueError(f"`prompts` must hold one prompt per text: got {len(prompts)} prompts for {len(texts)} texts.")


def _encode_reviews(
    tokenizer: Any,
    texts: Sequence[str],
    prompts: Sequence[str] | None = None,
    *,
    max_length: int,
    padding: bool = True,
) -> dict[str, Any]:
    """How every path of this module tokenizes for the reward model: `texts` alone, or the sentence pairs
    `[CLS] prompt [SEP] text [SEP]` when `prompts` are given (only the text is cut at `max_length`, the prompt never).
    Only `input_ids` and `attention_mask` are kept: `token_type_ids` are left out, i.e. all zero, because TRL's
    collator passes only these two and MiniLM was fine-tuned with zeros; the [SEP] token marks where the text starts.
    Right-padded to the longest row (tensors) with `padding`, else lists of token ids of each row's own length."""
    if prompts is None:
        batch = tokenizer(list(texts), truncation=True, max_length=max_length, padding=padding)
    else:
        batch = tokenizer(list(prompts), list(texts), truncation="only_second", max_length=max_length, padding=padding)
    if not padding:
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    return {"input_ids": torch.tensor(batch["input_ids"]), "attention_mask": torch.tensor(batch["attention_mask"])}


class RewardModel(nn.Module):
    """A text encoder with a linear head to one number: the reward is `head(mean of the token vectors)` (padding
    excluded, as `utils.transformer.embeddings.mean_pool`). By default the encoder is the course's all-MiniLM-L6-v2
    (`load_encoder`). With `with_prompt` (the default) it reads the prompt and the review as one sentence pair,
    r(x, y); without, it scores the review alone, r(y), and ignores any prompts it is given.

    `forward(input_ids, attention_mask)` gives one reward per row; `score(texts, prompts=...)` tokenizes and scores."""

    def __init__(
        self,
        encoder: nn.Module | None = None,
        tokenizer: Any = None,
        *,
        max_length: int = 96,
        with_prompt: bool = True,
    ) -> None:
        super().__init__()
        if (encoder is None) != (tokenizer is None):
            raise ValueError("pass both `encoder` and `tokenizer`, or neither (then MiniLM is loaded).")
        require_type("with_prompt", with_prompt, bool)
        if encoder is None:
            encoder, tokenizer = load_encoder()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.with_prompt = with_prompt
        self.head = nn.Linear(encoder.config.hidden_size, 1).to(device_of(encoder))

    def _check_inputs(self, texts: Sequence[str], prompts: Sequence[str] | None) -> None:
        _check_prompts(texts, prompts)
        if self.with_prompt and prompts is None:
            raise ValueError("this reward model reads the prompt (with_prompt=True): pass `prompts`, one per text.")

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(mean_pool(tokens, attention_mask)).squeeze(-1)

    def encode(self, texts: Sequence[str], *, prompts: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """`{"input_ids", "attention_mask"}` for `texts` (with `prompts`, one per text, when the model reads them),
        right-padded to the longest row, cut at `max_length` tokens (`_encode_reviews`)."""
        self._check_inputs(texts, prompts)
        return _encode_reviews(self.tokenizer, texts, prompts if self.with_prompt else None, max_length=self.max_length)

    @torch.no_grad()
    def score(
        self, texts: Sequence[str], *, prompts: Sequence[str] | None = None, batch_size: int = 32
    ) -> torch.Tensor:
        """The reward of each text (under its prompt): float32 `[len(texts)]` on the CPU, computed in eval mode
        (restored after)."""
        self._check_inputs(texts, prompts)
        if not texts:
            return torch.empty(0)
        device = device_of(self)
        was_training = self.training
        self.eval()
        out = []
        for start in range(0, len(texts), batch_size):
            chunk = None if prompts is None else prompts[start : start + batch_size]
            batch = self.encode(texts[start : start + batch_size], prompts=chunk)
            out.append(self(batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu())
        self.train(was_training)
        return torch.cat(out)


class PreferenceCollator:
    """Turns preference rows `{"prompt", "chosen", "rejected"}` into one batch `{"input_ids", "attention_mask"}` of
    2 x len(rows) texts: the chosen texts first, then the rejected ones in the same order (TRL's layout), so one
    forward pass scores both sides. With `with_prompt` each text is paired with its row's prompt, as
    `RewardModel.encode` does. Use it as a DataLoader's `collate_fn`; `reward_loss` reads the batch."""

    def __init__(self, tokenizer: Any, *, max_length: int = 96, with_prompt: bool = True) -> None:
        self.tokenizer, self.max_length, self.with_prompt = tokenizer, max_length, with_prompt

    def __call__(self, rows: Sequence[Mapping[str, str]]) -> dict[str, torch.Tensor]:
        texts = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
        prompts = [r["prompt"] for r in rows] * 2 if self.with_prompt else None
        return _encode_reviews(self.tokenizer, texts, prompts, max_length=self.max_length)


def reward_loss(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """`bradley_terry_loss` of `model` on a `PreferenceCollator` batch, and the number of pairs: a `loss_fn` for
    `train_model` and `evaluate`."""
    chosen, rejected = model(batch["input_ids"], batch["attention_mask"]).chunk(2)
    return bradley_terry_loss(chosen, rejected), len(chosen)


def score_pairs(model: RewardModel, rows: Sequence[Mapping[str, str]], *, batch_size: int = 32) -> torch.Tensor:
    """The rewards of the chosen and rejected texts of `rows` (each under its row's prompt when the model reads
    prompts): float32 `[2, len(rows)]` (row 0 chosen, row 1 rejected), on the CPU."""
    prompts = [r["prompt"] for r in rows] if model.with_prompt else None
    chosen = model.score([r["chosen"] for r in rows], prompts=prompts, batch_size=batch_size)
    rejected = model.score([r["rejected"] for r in rows], prompts=prompts, batch_size=batch_size)
    return torch.stack([chosen, rejected])


# ----------------------------------------------------------------------------------------------------------------
# The course's reward model


@dataclass(frozen=True)
class RewardRecipe:
    """Everything that decides the course's reward model: notebook 12 trains it, `load_reward_model` trains it the
    same way when it is not cached. The training pairs come from `preference_rows("train")`, the validation pairs
    (watched during training, for tuning) from `preference_rows("validation")`, other movies of the training split;
    the test split is never touched by training."""

    n_train: int = 1600  # training pairs (steps x batch_size: each seen once)
    n_val: int = 64  # validation pairs (movies held out of the training split)
    max_length: int = 96  # tokens per (prompt, review) pair: the longest pair of the data has 91, none is cut
    with_prompt: bool = True  # the model reads (prompt, review), r(x, y); False: the review alone, r(y)
    batch_size: int = 16  # pairs per step (32 texts)
    steps: int = 100
    lr: float = 1e-4
    warmup_steps: int = 10
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        require_training_recipe(self, counts=("n_train", "n_val"))
        require_type("with_prompt", self.with_prompt, bool)

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
    `(model in eval mode, history)`; the history's validation loss is on `recipe.n_val` pairs of the validation
    split (movies held out of the training split; the test split is not used). The seed is
    set again before training, so a `model` built right after `set_seed(recipe.seed)` trains exactly as the fresh
    one would."""
    require_type("recipe", recipe, RewardRecipe)
    if model is None:
        set_seed(recipe.seed)
        model = RewardModel(max_length=recipe.max_length, with_prompt=recipe.with_prompt)
    generator = set_seed(recipe.seed)  # the same data order and dropout whether `model` was given or built here
    collate = PreferenceCollator(model.tokenizer, max_length=recipe.max_length, with_prompt=model.with_prompt)
    train_loader = DataLoader(
        preference_rows("train", recipe.n_train, seed=recipe.seed),
        batch_size=recipe.batch_size,
        shuffle=True,
        collate_fn=collate,
        generator=generator,
    )
    val_rows = preference_rows("validation", recipe.n_val, seed=recipe.seed)
    val_loader = DataLoader(val_rows, batch_size=32, collate_fn=collate)
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
        model = RewardModel(max_length=recipe.max_length, with_prompt=recipe.with_prompt)
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


def tokenize_preferences(
    rows: Sequence[Mapping[str, str]], tokenizer: Any, *, max_length: int = 96, with_prompt: bool = True
) -> Any:
    """A `datasets.Dataset` with the columns `chosen_ids` and `rejected_ids`: each text (with `with_prompt`, the pair
    of its row's prompt and the text) tokenized and cut at `max_length` by `_encode_reviews`, exactly as
    `PreferenceCollator` does. TRL's `RewardTrainer` takes such a tokenized dataset as it is (a raw text dataset
    would get the tokenizer's EOS token appended, which a BERT tokenizer lacks); its collator pads the ids and builds
    the attention mask, and passes no `token_type_ids`, as ours."""
    from datasets import Dataset  # heavy: imported only for the TRL bridge

    prompts = [r["prompt"] for r in rows] if with_prompt else None

    def ids(side: str) -> list[list[int]]:
        texts = [r[side] for r in rows]
        return _encode_reviews(tokenizer, texts, prompts, max_length=max_length, padding=False)["input_ids"]

    return Dataset.from_dict({"chosen_ids": ids("chosen"), "rejected_ids": ids("rejected")})
