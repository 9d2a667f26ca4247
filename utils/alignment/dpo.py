"""Direct preference optimization (DPO) from scratch: the loss, the log-probabilities of preference pairs, and a
SmolLM2 + LoRA policy trained on the course's movie-review pairs. Taught in notebook 14.

DPO turns the KL-regularised reward maximisation of RLHF into a classification loss on pairs. With the implicit
reward `r(x, y) = beta * (log pi(y | x) - log pi_ref(y | x))`, the loss is the Bradley-Terry loss on it:

    loss = -log sigmoid(r(x, y_chosen) - r(x, y_rejected)), averaged over the pairs.

No reward model and no sampling: the policy's and the reference's log-probabilities of the two given answers are
all it needs. As in the preference notebooks, the reference is the policy itself with its LoRA adapter switched off
(`utils.training.lora.disable_lora`), so no second copy of the model is held. The tokenization and the batch layout
(chosen rows first, then rejected rows) are those of TRL's `DPOTrainer`, and the loss equals its "sigmoid" loss (the
default) or its "ipo" loss (IPO, Azar et al. 2023) on the same batch. Only the answer positions' logits are computed
(`logits_to_keep`), not the full-vocabulary logits of the prompt positions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..assets.artifacts import INFO_FILE, artifact_dir, artifact_info, load_or_train, save_artifact
from ..assets.datasets import preference_rows
from ..assets.models import load_chat_model
from ..course.arguments import require_choice, require_type
from ..course.device import device_of
from ..course.seeding import set_seed
from ..generation.scoring import gather_log_probs
from ..training.loop import TrainingHistory, require_training_recipe, train_with_recipe
from ..training.lora import disable_lora, load_lora, lora_layers, remove_lora, save_lora
from ..transformer.padding import pad_examples, pad_id_of, tokenize_chat
from .policy import add_policy_lora

__all__ = [
    "DPO_RECIPE",
    "LOSS_TYPES",
    "DPOCollator",
    "DPOLoss",
    "DPOLossFn",
    "DPORecipe",
    "answer_log_probs",
    "dpo_loss",
    "dpo_policy_dir",
    "dpo_training_info",
    "load_dpo_policy",
    "preference_log_probs",
    "save_dpo_policy",
    "tokenize_pair",
    "train_dpo",
]

PAIR_KEYS = ("prompt", "chosen", "rejected")
LOSS_TYPES = ("sigmoid", "ipo")  # TRL's names


class DPOLoss(NamedTuple):
    """What `dpo_loss` returns: `loss` is the mean over the pairs (differentiable); `chosen_rewards` and
    `rejected_rewards` are the implicit rewards `beta * (log pi - log pi_ref)` of each answer, `[n_pairs]`, detached."""

    loss: torch.Tensor
    chosen_rewards: torch.Tensor
    rejected_rewards: torch.Tensor

    @property
    def margins(self) -> torch.Tensor:
        """Implicit reward of the chosen answer minus that of the rejected one, per pair (> 0: the pair is ranked
        right)."""
        return self.chosen_rewards - self.rejected_rewards

    @property
    def accuracy(self) -> float:
        """Share of pairs with a margin > 0 (a tie, e.g. policy = reference, counts as wrong)."""
        return (self.margins > 0).float().mean().item()


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
    *,
    loss_type: str = "sigmoid",
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
) -> DPOLoss:
    """The DPO loss of a batch of pairs, averaged over the pairs. `pc, pr` are the policy's summed log-probabilities
    of the chosen and rejected answers and `rc, rr` the reference's (each `[n_pairs]`); `beta` > 0 is the strength of
    the KL leash to the reference (TRL's default: 0.1).

    `loss_type="sigmoid"` (DPO): `-log sigmoid(beta * ((pc - rc) - (pr - rr)))`.
    `loss_type="ipo"` (IPO, Azar et al. 2023): `((pc - rc) / n_c - (pr - rr) / n_r - 1 / (2 beta)) ** 2`, where
    `n_c, n_r` are `chosen_lengths` and `rejected_lengths`, the answers' token counts (`[n_pairs]`): TRL 1.16 averages
    each log-ratio over the answer's tokens (the paper writes the sums); pass ones for the paper's form.
    Returns `DPOLoss(loss, chosen_rewards, rejected_rewards)`, the rewards `beta * (log pi - log pi_ref)` of the summed
    log-probabilities for both loss types (as TRL logs them). Taught in notebook 14."""
    require_choice("loss_type", loss_type, LOSS_TYPES)
    chosen_logratios = policy_chosen_logps - ref_chosen_logps
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    if loss_type == "sigmoid":
        losses = -F.logsigmoid(beta * (chosen_logratios - rejected_logratios))
    else:
        if chosen_lengths is None or rejected_lengths is None:
            raise ValueError(
                "loss_type='ipo' needs `chosen_lengths` and `rejected_lengths`, the answers' token counts "
                "(TRL averages the log-ratios over them; pass ones for the paper's summed form)."
            )
        delta = chosen_logratios / chosen_lengths.clamp(min=1) - rejected_logratios / rejected_lengths.clamp(min=1)
        losses = (delta - 1 / (2 * beta)) ** 2
    return DPOLoss(losses.mean(), beta * chosen_logratios.detach(), beta * rejected_logratios.detach())


# ----------------------------------------------------------------------------------------------------------------
# Preference pairs as token batches


def _check_pairs(rows: Any) -> None:
    """Preference pairs from the caller: a non-empty list of dicts with string values for `PAIR_KEYS`."""
    pairs = isinstance(rows, list | tuple) and all(
        isinstance(row, Mapping) and all(isinstance(row.get(key), str) for key in PAIR_KEYS) for row in rows
    )
    if not pairs or not rows:
        raise ValueError(
            f"`rows` must be a non-empty list of preference pairs, dicts of strings with {list(PAIR_KEYS)}."
        )


def tokenize_pair(tokenizer: Any, row: Mapping[str, str], *, max_length: int = 256) -> dict[str, dict[str, list[int]]]:
    """`{"chosen": {...}, "rejected": {...}}`, each `{"input_ids", "completion_mask"}`: the prompt as a user turn of
    the chat template, the answer as the assistant's turn (end-of-turn token included), mask 1 on the answer. This is
    how notebook 09 tokenizes an instruction and how TRL's DPOTrainer tokenizes a conversational pair; sequences are
    cut at `max_length` from the end."""
    prompt = [{"role": "user", "content": row["prompt"]}]
    return {
        side: tokenize_chat(tokenizer, prompt, [{"role": "assistant", "content": row[side]}], max_length=max_length)
        for side in ("chosen", "rejected")
    }


class DPOCollator:
    """Preference pairs -> one right-padded batch `{"input_ids", "attention_mask", "completion_mask"}` of `2 n`
    sequences: the `n` chosen answers first, then the `n` rejected ones (TRL's layout), so a single forward pass scores
    both sides. Use it as a DataLoader's `collate_fn`."""

    def __init__(self, tokenizer: Any, *, max_length: int = 256) -> None:
        self.tokenizer, self.max_length, self.pad_id = tokenizer, max_length, pad_id_of(tokenizer)

    def __call__(self, rows: Sequence[Mapping[str, str]]) -> dict[str, torch.Tensor]:
        pairs = [tokenize_pair(self.tokenizer, row, max_length=self.max_length) for row in rows]
        examples = [pair["chosen"] for pair in pairs] + [pair["rejected"] for pair in pairs]
        return pad_examples(examples, self.pad_id)


def answer_log_probs(model: Any, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """`(log_probs, n_tokens)`, each `[rows]`: every row's answer log-probability (summed over the tokens that
    `completion_mask` and `attention_mask` both mark) and its number of answer tokens, for a right-padded batch such
    as `DPOCollator`'s. The logits are computed only from the batch's first answer token on (`logits_to_keep`): the
    full-vocabulary logits of the prompt positions are never needed. Equals
    `sequence_log_probs(...).total`. Differentiable."""
    counted = batch["completion_mask"] * batch["attention_mask"]
    start = max(int(counted.argmax(dim=1).min()), 1)  # the earliest answer token of the batch (position 0 never counts)
    out = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        logits_to_keep=counted.shape[1] - start + 1,
    )
    picked = gather_log_probs(out.logits[:, :-1], batch["input_ids"][:, start:, None])[..., 0]  # tokens start..T-1
    return (picked * counted[:, start:].to(picked.dtype)).sum(dim=1), counted.sum(dim=1)


def preference_log_probs(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Mapping[str, str]],
    *,
    batch_size: int | None = None,
    max_length: int = 256,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(chosen_logps, rejected_logps)`, each `[len(rows)]`: the log-probability `model` gives each pair's chosen and
    rejected answer after its prompt (summed over the answer's tokens, `answer_log_probs`). `batch_size` pairs per
    forward pass (None: all at once). Differentiable: wrap it in `torch.no_grad()` to evaluate, and in
    `disable_lora(model)` for the reference."""
    _check_pairs(rows)
    collate = DPOCollator(tokenizer, max_length=max_length)
    step = batch_size or len(rows)
    device = device_of(model)
    chosen, rejected = [], []
    for start in range(0, len(rows), step):
        batch = {k: v.to(device) for k, v in collate(list(rows[start : start + step])).items()}
        c, r = answer_log_probs(model, batch)[0].chunk(2)  # chosen rows first, then rejected
        chosen.append(c)
        rejected.append(r)
    return torch.cat(chosen), torch.cat(rejected)


class DPOLossFn:
    """The DPO loss of a `DPOCollator` batch, as a `loss_fn` for `utils.training.loop.train_model`:
    `(mean loss, number of pairs)`. The policy is `model` with its LoRA adapters on; the reference is the same model
    with them off, scored without gradients. `loss_type` as in `dpo_loss` ("sigmoid" or "ipo"). Each call's metrics
    are kept, in `train_log` while the model trains and in `eval_log` during evaluation: dicts with `loss`,
    `chosen_reward`, `rejected_reward`, `margin`, `accuracy` (batch means), `chosen_logp`, `rejected_logp` (the
    policy's mean summed log-probabilities) and `ref_chosen_logp`, `ref_rejected_logp` (the reference's)."""

    def __init__(self, beta: float, loss_type: str = "sigmoid") -> None:
        require_choice("loss_type", loss_type, LOSS_TYPES)
        self.beta, self.loss_type = float(beta), loss_type
        self.train_log: list[dict[str, float]] = []
        self.eval_log: list[dict[str, float]] = []

    def __call__(self, model: nn.Module, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        policy_logps, n_tokens = answer_log_probs(model, batch)
        with torch.no_grad(), disable_lora(model):
            ref_logps, _ = answer_log_probs(model, batch)
        (policy_chosen, policy_rejected), (ref_chosen, ref_rejected) = policy_logps.chunk(2), ref_logps.chunk(2)
        chosen_lengths, rejected_lengths = n_tokens.chunk(2)
        out = dpo_loss(
            policy_chosen,
            policy_rejected,
            ref_chosen,
            ref_rejected,
            self.beta,
            loss_type=self.loss_type,
            chosen_lengths=chosen_lengths,
            rejected_lengths=rejected_lengths,
        )
        log = self.train_log if model.training else self.eval_log
        log.append(
            {
                "loss": out.loss.item(),
                "chosen_reward": out.chosen_rewards.mean().item(),
                "rejected_reward": out.rejected_rewards.mean().item(),
                "margin": out.margins.mean().item(),
                "accuracy": out.accuracy,
                "chosen_logp": policy_chosen.detach().mean().item(),
                "rejected_logp": policy_rejected.detach().mean().item(),
                "ref_chosen_logp": ref_chosen.mean().item(),
                "ref_rejected_logp": ref_rejected.mean().item(),
            }
        )
        return out.loss, len(policy_chosen)


# ----------------------------------------------------------------------------------------------------------------
# The course's DPO policy


@dataclass(frozen=True)
class DPORecipe:
    """Everything that decides one DPO-trained SmolLM2: notebook 14 trains with it, and `load_dpo_policy` trains
    with it when the adapter is not cached. Each training pair is seen once (`steps * batch_size` pairs)."""

    steps: int = 32
    batch_size: int = 4  # pairs per step (8 sequences per forward pass)
    n_val: int = 8  # validation pairs (training-split movies held out of "train") for the loss during training
    eval_every: int = 16
    beta: float = 0.1  # TRL's default
    loss_type: str = "sigmoid"  # "sigmoid" (DPO) or "ipo" (IPO, where beta is IPO's tau), as in `dpo_loss`
    lr: float = 1.5e-3  # LoRA adapters start at zero and train few steps: a large rate (5e-4 moved them little)
    warmup_steps: int = 2
    weight_decay: float = 0.0
    max_length: int = 128
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_targets: tuple[str, ...] = field(default=("q_proj", "v_proj"))  # as notebook 13's PPO policy
    seed: int = 0

    def __post_init__(self) -> None:
        require_training_recipe(
            self,
            counts=("eval_every", "lora_r"),
            positive=("beta", "lora_alpha"),
            non_negative=("n_val",),
            choices={"loss_type": LOSS_TYPES},
        )

    def smoke(self) -> DPORecipe:
        """The same recipe shrunk to a few seconds of training (for the smoke runs of the tests)."""
        return replace(self, steps=2, batch_size=2, n_val=2, eval_every=2, warmup_steps=0, max_length=96)


DPO_RECIPE = DPORecipe()
DPO_NAME = "dpo-policy"
ADAPTER_FILE = "adapter.safetensors"


def dpo_policy_dir(recipe: DPORecipe = DPO_RECIPE) -> Path:
    """Where the adapter trained with `recipe` is saved (one folder per recipe in the course cache)."""
    return artifact_dir(DPO_NAME, recipe)


def train_dpo(
    recipe: DPORecipe = DPO_RECIPE,
    *,
    model: nn.Module | None = None,
    tokenizer: Any = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[nn.Module, Any, TrainingHistory, DPOLossFn]:
    """Train a fresh LoRA adapter on SmolLM2 (or on `model`, changed in place: an adapter it has is replaced, so the
    same recipe always trains the same adapter) with the DPO loss on `recipe.steps * recipe.batch_size` training
    pairs (`preference_rows`, each seen once) through `train_with_recipe`.
    Returns `(model in eval mode, tokenizer, history, loss_fn)`; `loss_fn.train_log` holds the per-step implicit
    rewards, `history.val_loss` the DPO loss on `recipe.n_val` pairs of `preference_rows("validation")` (movies of the
    training split held out of training; the test pairs are left for the final measurement)."""
    require_type("recipe", recipe, DPORecipe)
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both `model` and `tokenizer`, or neither (then SmolLM2 is loaded).")
    if model is None:
        model, tokenizer = load_chat_model(device=device)
    generator = set_seed(recipe.seed)
    if lora_layers(model):
        remove_lora(model)
    add_policy_lora(model, r=recipe.lora_r, alpha=recipe.lora_alpha, target_modules=recipe.lora_targets)
    collate = DPOCollator(tokenizer, max_length=recipe.max_length)
    train_rows = preference_rows("train", recipe.steps * recipe.batch_size, seed=recipe.seed)
    train_loader = DataLoader(
        train_rows, batch_size=recipe.batch_size, shuffle=True, collate_fn=collate, generator=generator
    )
    val_loader = None
    if recipe.n_val:
        val_rows = preference_rows("validation", recipe.n_val, seed=recipe.seed)  # training movies, never test
        val_loader = DataLoader(val_rows, batch_size=recipe.batch_size, collate_fn=collate)
    loss_fn = DPOLossFn(recipe.beta, recipe.loss_type)
    history = train_with_recipe(
        model, train_loader, val_loader, loss_fn, recipe, eval_every=recipe.eval_every, device=device, progress=progress
    )
    return model.eval(), tokenizer, history, loss_fn


def save_dpo_policy(model: nn.Module, recipe: DPORecipe, history: TrainingHistory | None = None) -> Path:
    """Save the LoRA adapter of `model`, trained with `recipe`, where `load_dpo_policy(recipe)` finds it, with the
    recipe and the training history (time included) beside it. Returns the folder."""
    return save_artifact(DPO_NAME, recipe, lambda folder: save_lora(model, folder / ADAPTER_FILE), history)


def dpo_training_info(recipe: DPORecipe = DPO_RECIPE) -> dict[str, Any]:
    """What `save_dpo_policy` stored beside the adapter: `{"recipe": ..., "history": ..., ...}` (history.seconds is
    the training time); FileNotFoundError when the adapter is not cached."""
    return artifact_info(DPO_NAME, recipe)


def load_dpo_policy(
    recipe: DPORecipe = DPO_RECIPE,
    *,
    train_if_missing: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[nn.Module, Any]:
    """SmolLM2 with the LoRA adapter that DPO trained with `recipe` (notebook 14), from the course cache: `(model in
    eval mode, tokenizer)`; `disable_lora(model)` gives the reference. When the adapter is missing and
    `train_if_missing` is True it is trained now (`DPO_RECIPE`: a few minutes on a 2-core CPU, with a progress bar;
    `recipe.smoke()`: seconds) and saved."""

    def read(folder: Path) -> tuple[nn.Module, Any]:
        model, tokenizer = load_chat_model(device=device)
        add_policy_lora(model, r=recipe.lora_r, alpha=recipe.lora_alpha, target_modules=recipe.lora_targets)
        load_lora(model, folder / ADAPTER_FILE)
        return model.eval(), tokenizer

    def train() -> tuple[nn.Module, Any]:
        model, tokenizer, history, _ = train_dpo(recipe, device=device, progress=progress)
        save_dpo_policy(model, recipe, history)
        return model, tokenizer

    return load_or_train(
        DPO_NAME,
        recipe,
        read=read,
        train=train,
        train_if_missing=train_if_missing,
        hint="run notebook 14",
        files=(ADAPTER_FILE, INFO_FILE),
    )
