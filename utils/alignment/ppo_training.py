"""PPO training on SmolLM2: one rollout, one update, the training loop, and the course's PPO-tuned adapter
(`load_ppo_policy`). Taught in notebook 13; the pieces of the algorithm (KL, rewards, GAE, the clipped loss, the
value head) are `utils.alignment.ppo`.

One PPO iteration: sample completions of a batch of prompts from the policy (`ppo_rollout`); score them with the
reward model; reward each token with `-beta * KL_t` to the reference and add the reward model's score on the last
token; estimate advantages with GAE and the value head; then several epochs of minibatch steps on the clipped
objective plus a value loss (`ppo_update`). `train_ppo` runs `recipe.iterations` of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ..assets.artifacts import INFO_FILE, artifact_dir, artifact_info, load_or_train, save_artifact
from ..assets.models import load_chat_model
from ..course.arguments import require_range, require_type
from ..course.device import device_of
from ..course.seeding import set_seed
from ..training.loop import require_training_recipe
from ..training.lora import disable_lora, load_lora, lora_layers, remove_lora, save_lora
from .policy import Samples, add_policy_lora, completion_log_probs, make_generator, review_prompts, sample_completions
from .ppo import (
    KL_ESTIMATORS,
    ValueHead,
    gae,
    group_advantages,
    kl_per_token,
    masked_mean,
    ppo_clip_loss,
    token_rewards,
    value_loss,
    whiten,
)
from .reward import REWARD_RECIPE, RewardRecipe, load_reward_model

__all__ = [
    "GRPO_RECIPE",
    "PPO_RECIPE",
    "RLOO_RECIPE",
    "TIGHT_BETA",
    "PPOHistory",
    "PPORecipe",
    "Rollout",
    "load_ppo_policy",
    "new_policy",
    "ppo_policy_dir",
    "ppo_rollout",
    "ppo_training_info",
    "ppo_update",
    "prompt_batches",
    "reference_score_scale",
    "save_ppo_policy",
    "shaped_scores",
    "train_ppo",
]

PPO_NAME = "ppo-policy"
ADVANTAGES = ("gae", "grpo", "rloo")
ADAPTER_FILE = "adapter.safetensors"
REWARD_FILE = "reward_recipe.json"  # the recipe of the reward model an adapter was trained against


# ----------------------------------------------------------------------------------------------------------------
# The recipe


@dataclass(frozen=True)
class PPORecipe:
    """Everything that decides one PPO run on SmolLM2: notebook 13 reads its settings from here, `ppo_rollout` and
    `ppo_update` read theirs, and `load_ppo_policy` trains with it when the adapter is not cached."""

    iterations: int = 24  # rollouts (each: sample, score, then `epochs` passes of minibatch steps)
    batch_size: int = 8  # completions per rollout: batch_size / group_size prompts, group_size completions each
    minibatch_size: int = 4  # completions per optimizer step: 2 minibatches, so the clip can act
    epochs: int = 2
    max_new_tokens: int = 24
    lr: float = 3e-4  # LoRA adapter
    value_lr: float = 1e-3  # value head
    value_coef: float = 0.1
    beta: float = 0.05  # weight of the KL penalty in the reward
    kl_estimator: str = "k1"
    gamma: float = 1.0
    lam: float = 0.95
    clip: float = 0.2
    max_grad_norm: float = 1.0
    whiten_advantages: bool = True  # "gae" and "rloo": advantages to mean 0, std 1 over the batch
    # How advantages are estimated: "gae" (PPO: a value head and GAE), "grpo" (no value head: each completion's
    # reward minus its group's mean, over the group's std) or "rloo" (no value head: minus the mean of the others).
    advantage: str = "gae"
    group_size: int = 1  # completions sampled per prompt ("grpo" and "rloo" need at least 2)
    value_clip: float = 0.0  # > 0: the clipped value loss (TRL's cliprange_value is 0.2); "gae" only
    normalize_scores: bool = False  # reward-model scores to mean 0, std 1 on the reference's own samples
    missing_eos_penalty: float = 0.0  # subtracted from the score of a completion cut off before its end token
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_targets: tuple[str, ...] = field(default=("q_proj", "v_proj"))
    # Which reward model the policy optimises: the course's (`REWARD_RECIPE`) or, True, its smoke version
    # (`REWARD_RECIPE.smoke()`), so that a smoke run never trains the full reward model. A field, not an argument:
    # a policy tuned against another reward model is another model, with its own cache folder.
    reward_smoke: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        require_training_recipe(
            self,
            counts=("iterations", "minibatch_size", "epochs", "max_new_tokens", "lora_r", "group_size"),
            positive=("value_lr", "lora_alpha", "clip"),
            non_negative=("value_coef", "beta", "max_grad_norm", "value_clip", "missing_eos_penalty"),
            fractions=("gamma", "lam"),
            choices={"kl_estimator": KL_ESTIMATORS, "advantage": ADVANTAGES},
        )
        require_range("clip", self.clip, high=1.0, high_inclusive=False)
        require_range("minibatch_size", self.minibatch_size, high=self.batch_size)
        if self.batch_size % self.group_size:
            raise ValueError(f"`batch_size` ({self.batch_size}) must be a multiple of `group_size` ({self.group_size})")
        if self.advantage != "gae" and self.group_size < 2:
            raise ValueError(f"advantage={self.advantage!r} compares completions of one prompt: `group_size` >= 2.")

    def smoke(self) -> PPORecipe:
        """The same recipe shrunk to a few seconds (for the smoke runs of the tests), against the smoke reward model."""
        return replace(
            self, iterations=1, batch_size=4, minibatch_size=2, epochs=2, max_new_tokens=8, reward_smoke=True
        )

    @property
    def uses_value_head(self) -> bool:
        return self.advantage == "gae"

    def reward_recipe(self) -> RewardRecipe:
        """The recipe of the reward model this run optimises (`REWARD_RECIPE`, or its smoke version)."""
        return REWARD_RECIPE.smoke() if self.reward_smoke else REWARD_RECIPE


PPO_RECIPE = PPORecipe()
# Notebook 13's other runs, which notebook 14 reads back from the cache for its reward-KL chart: the beta sweep
# (0, PPO_RECIPE.beta, TIGHT_BETA) and GRPO / RLOO with groups of 4 out of the same 8 completions per rollout.
TIGHT_BETA = 0.5
GRPO_RECIPE = replace(PPO_RECIPE, advantage="grpo", group_size=4)
RLOO_RECIPE = replace(PPO_RECIPE, advantage="rloo", group_size=4)


# ----------------------------------------------------------------------------------------------------------------
# One rollout, one update


@dataclass
class Rollout:
    """Everything PPO needs from one batch of sampled completions, per completion token `[B, T]` (0 where the
    completion mask is 0): the sampling policy's log-probs (`old_logps`), the reference's (`ref_logps`), the value
    head's `old_values` (0 without a value head), the per-token `kl` estimate, the per-token `rewards`, the
    `advantages` and the `returns` (raw advantages + old values; 0 without a value head), the policy's `entropy`;
    per row the reward model's raw `scores` `[B]`."""

    samples: Samples
    old_logps: torch.Tensor
    ref_logps: torch.Tensor
    old_values: torch.Tensor
    entropy: torch.Tensor
    scores: torch.Tensor
    kl: torch.Tensor
    rewards: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        return self.samples.completion_mask

    def stats(self) -> dict[str, float]:
        """Batch means: reward-model score, summed KL per completion, the summed per-token rewards (`reward`, the
        objective: score - beta * KL, after any normalisation or penalty), entropy per token (nats), completion
        length (tokens), share of completions that ended with the end token."""
        mask = self.mask
        return {
            "score": float(self.scores.mean()),
            "kl": float(self.kl.sum(dim=1).mean()),
            "reward": float(self.rewards.sum(dim=1).mean()),
            "entropy": float(masked_mean(self.entropy, mask)),
            "length": float(mask.sum(dim=1).float().mean()),
            "ended": float(self.samples.ended.float().mean()),
        }


def shaped_scores(
    scores: torch.Tensor, ended: torch.Tensor, recipe: PPORecipe, scale: tuple[float, float] | None = None
) -> torch.Tensor:
    """The reward-model scores the policy is rewarded with: normalised with `scale` = (mean, std) of the reference's
    own scores when given, minus `recipe.missing_eos_penalty` where a completion did not end."""
    if scale is not None:
        scores = (scores - scale[0]) / scale[1]
    return scores - recipe.missing_eos_penalty * (~ended.to(scores.device)).to(scores.dtype)


@torch.no_grad()
def ppo_rollout(
    model: Any,
    value_head: ValueHead | None,
    tokenizer: Any,
    reward_model: Any,
    prompts: Sequence[str],
    recipe: PPORecipe = PPO_RECIPE,
    *,
    generator: torch.Generator | int = 0,
    score_scale: tuple[float, float] | None = None,
) -> Rollout:
    """Sample one completion per entry of `prompts` from `model` (the policy: its LoRA adapter on;
    `recipe.max_new_tokens` at most, drawn with `generator`; for "grpo" and "rloo" each prompt appears
    `recipe.group_size` times in a row), then score it: the policy's log-probs, entropies and values (one forward
    pass; no values without a value head), the reference's log-probs (the same model, adapter off), the reward
    model's score of (prompt, completion), the per-token KL (`recipe.kl_estimator`) and rewards (`recipe.beta`), and
    the advantages: GAE with the value head ("gae", `recipe.gamma`, `recipe.lam`), or one per completion from its
    group ("grpo", "rloo") on every token; whitened over the batch if `recipe.whiten_advantages` ("gae", "rloo")."""
    samples = sample_completions(model, tokenizer, prompts, max_new_tokens=recipe.max_new_tokens, generator=generator)
    mask = samples.completion_mask.float()
    policy = completion_log_probs(model, samples, with_entropy=True, with_hidden=value_head is not None)
    values = value_head(policy.hidden) * mask if value_head is not None else torch.zeros_like(mask)
    with disable_lora(model):
        ref_logps = completion_log_probs(model, samples).log_probs
    raw = torch.as_tensor(reward_model.score(samples.completions, prompts=samples.prompts)).float().to(mask.device)
    scores = shaped_scores(raw, samples.ended, recipe, score_scale)
    kl = kl_per_token(policy.log_probs, ref_logps, recipe.kl_estimator) * mask
    rewards = token_rewards(scores, kl, mask, recipe.beta)
    if recipe.advantage == "gae":
        advantages = gae(rewards, values, recipe.gamma, recipe.lam) * mask
        returns = advantages + values
    else:  # one advantage per completion, from the other completions of its prompt, on each of its tokens
        baseline = "mean" if recipe.advantage == "grpo" else "leave_one_out"
        advantages = group_advantages(rewards.sum(dim=1), recipe.group_size, baseline=baseline)[:, None] * mask
        returns = torch.zeros_like(mask)
    if recipe.whiten_advantages and recipe.advantage != "grpo":
        advantages = whiten(advantages, mask)
    return Rollout(samples, policy.log_probs, ref_logps, values, policy.entropy, raw, kl, rewards, advantages, returns)


def ppo_update(
    model: nn.Module,
    value_head: ValueHead | None,
    optimizer: torch.optim.Optimizer,
    rollout: Rollout,
    recipe: PPORecipe = PPO_RECIPE,
    *,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """`recipe.epochs` passes over the rollout in minibatches of `recipe.minibatch_size` completions (shuffled with
    `generator`), one optimizer step each, on `ppo_clip_loss + recipe.value_coef * value_loss` (no value loss
    without a value head; gradients clipped at `recipe.max_grad_norm`). Returns the means over the steps of
    `policy_loss`, `value_loss`, `clip_fraction`, `approx_kl`, and the number of `steps`.

    With one minibatch and one epoch the ratio is exactly 1 at the only step and nothing is clipped: the clip
    only acts from the second step on a batch.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    totals = {"policy_loss": 0.0, "value_loss": 0.0, "clip_fraction": 0.0, "approx_kl": 0.0}
    steps = 0
    for _ in range(recipe.epochs):
        order = torch.randperm(len(rollout.samples), generator=generator)
        for rows in order.split(recipe.minibatch_size):
            on_device = rows.to(rollout.old_logps.device)
            batch = rollout.samples.select(rows)
            mask = batch.completion_mask
            out = completion_log_probs(model, batch, with_hidden=value_head is not None)
            pg = ppo_clip_loss(
                out.log_probs, rollout.old_logps[on_device], rollout.advantages[on_device], mask, recipe.clip
            )
            loss, vl = pg.loss, torch.zeros(())
            if value_head is not None:
                old_values, returns = rollout.old_values[on_device], rollout.returns[on_device]
                vl = value_loss(value_head(out.hidden), returns, mask, old_values=old_values, clip=recipe.value_clip)
                loss = loss + recipe.value_coef * vl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, recipe.max_grad_norm)
            optimizer.step()
            for key, value in (
                ("policy_loss", pg.loss),
                ("value_loss", vl),
                ("clip_fraction", pg.clip_fraction),
                ("approx_kl", pg.approx_kl),
            ):
                totals[key] += value.detach().item()
            steps += 1
    return {key: value / steps for key, value in totals.items()} | {"steps": steps}


# ----------------------------------------------------------------------------------------------------------------
# The training loop


@dataclass
class PPOHistory:
    """Per iteration: the rollout's means (`score` of the reward model, summed `kl`, `reward` = score - beta KL,
    `entropy`, `length`, share `ended`), the update's means (`policy_loss`, `value_loss`, `clip_fraction`,
    `approx_kl`), the wall-clock `seconds` since the start, and the sampled `completions` with their `prompts`;
    once, the (mean, std) of the reference's scores when the recipe normalises them (`score_scale`)."""

    score: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)
    length: list[float] = field(default_factory=list)
    ended: list[float] = field(default_factory=list)
    policy_loss: list[float] = field(default_factory=list)
    value_loss: list[float] = field(default_factory=list)
    clip_fraction: list[float] = field(default_factory=list)
    approx_kl: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    prompts: list[list[str]] = field(default_factory=list)
    completions: list[list[str]] = field(default_factory=list)
    score_scale: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prompt_batches(prompts: Sequence[str], recipe: PPORecipe) -> list[list[str]]:
    """The prompts of each of `recipe.iterations` rollouts: the prompts shuffled once (seeded with `recipe.seed`),
    taken in turn, `batch_size / group_size` per rollout, each repeated `group_size` times in a row."""
    per_batch = recipe.batch_size // recipe.group_size
    order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(recipe.seed)).tolist()
    stream = [prompts[i] for i in order]
    while len(stream) < per_batch * recipe.iterations:
        stream += stream[: len(prompts)]
    batches = [stream[i * per_batch : (i + 1) * per_batch] for i in range(recipe.iterations)]
    return [[p for p in batch for _ in range(recipe.group_size)] for batch in batches]


@torch.no_grad()
def reference_score_scale(
    model: Any, tokenizer: Any, reward_model: Any, prompts: Sequence[str], recipe: PPORecipe, *, n: int = 64
) -> tuple[float, float]:
    """Mean and standard deviation of the reward model's scores of the reference's own completions (one each for
    the first `n` prompts, sampled with seed `recipe.seed + 1`): the scale `normalize_scores` divides by."""
    chosen = list(prompts[:n])
    with disable_lora(model):
        samples = sample_completions(
            model, tokenizer, chosen, max_new_tokens=recipe.max_new_tokens, generator=recipe.seed + 1
        )
    scores = torch.as_tensor(reward_model.score(samples.completions, prompts=chosen)).double()
    return float(scores.mean()), float(scores.std().clamp(min=1e-6))


def new_policy(model: nn.Module, recipe: PPORecipe) -> tuple[ValueHead | None, torch.optim.Optimizer]:
    """Give `model` a fresh adapter (B = 0, A from `recipe.seed`, any old adapter removed), in eval mode (no
    dropout), and return a fresh value head (None unless `recipe.advantage` is "gae") and the AdamW optimizer of
    both: the start of every `train_ppo` run."""
    set_seed(recipe.seed)
    if lora_layers(model):
        remove_lora(model)
    add_policy_lora(model, r=recipe.lora_r, alpha=recipe.lora_alpha, target_modules=recipe.lora_targets)
    model.eval()  # no dropout: the sampling policy and the trained policy are the same function
    value_head = ValueHead(model.config.hidden_size).to(device_of(model)) if recipe.uses_value_head else None
    groups = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": recipe.lr}]
    if value_head is not None:
        groups.append({"params": list(value_head.parameters()), "lr": recipe.value_lr})
    return value_head, torch.optim.AdamW(groups, weight_decay=0.0)


def train_ppo(
    recipe: PPORecipe = PPO_RECIPE,
    *,
    model: nn.Module | None = None,
    tokenizer: Any = None,
    reward_model: Any = None,
    prompts: Sequence[str] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    on_iteration: Callable[[int, nn.Module, PPOHistory], None] | None = None,
) -> tuple[nn.Module, ValueHead | None, PPOHistory]:
    """Run `recipe.iterations` PPO iterations (or GRPO / RLOO ones: `recipe.advantage`) on `model` (SmolLM2 loaded
    when None) against `reward_model` (the course's, `load_reward_model(recipe.reward_recipe())`, when None), with
    prompts drawn in turn from `prompts` (default: every training prompt, `review_prompts("train")`). Any adapter of
    `model` is replaced by a fresh one (`new_policy`), so the same recipe always trains the same adapter.
    `on_iteration(i, model, history)`, when given, is called after iteration i (1, 2, ...) with the history so far,
    e.g. to keep a checkpoint; it must not change the model or draw from the global random generators. Returns
    `(model with the trained adapter, in eval mode, value head or None, history)`."""
    require_type("recipe", recipe, PPORecipe)
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both `model` and `tokenizer`, or neither (then SmolLM2 is loaded).")
    if model is None:
        model, tokenizer = load_chat_model(device=device)
    if reward_model is None:
        reward_model = load_reward_model(recipe.reward_recipe(), progress=progress)
    prompts = list(review_prompts("train") if prompts is None else prompts)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError("`prompts` must be a non-empty list of strings.")

    value_head, optimizer = new_policy(model, recipe)
    sampler = make_generator(recipe.seed, device_of(model))
    shuffler = torch.Generator().manual_seed(recipe.seed)
    history = PPOHistory()
    start = time.perf_counter()
    scale = None
    if recipe.normalize_scores:
        scale = reference_score_scale(model, tokenizer, reward_model, prompts, recipe)
        history.score_scale = list(scale)
    bar = tqdm(prompt_batches(prompts, recipe), desc=recipe.advantage.upper(), disable=not progress)
    for batch_prompts in bar:
        rollout = ppo_rollout(
            model, value_head, tokenizer, reward_model, batch_prompts, recipe, generator=sampler, score_scale=scale
        )
        update = ppo_update(model, value_head, optimizer, rollout, recipe, generator=shuffler)
        stats = rollout.stats()
        for key, value in stats.items():
            getattr(history, key).append(value)
        for key in ("policy_loss", "value_loss", "clip_fraction", "approx_kl"):
            getattr(history, key).append(update[key])
        history.seconds.append(time.perf_counter() - start)
        history.prompts.append(list(batch_prompts))
        history.completions.append(list(rollout.samples.completions))
        bar.set_postfix(score=f"{stats['score']:+.2f}", kl=f"{stats['kl']:.2f}")
        if on_iteration is not None:
            on_iteration(len(history.score), model, history)
    return model.eval(), value_head, history


# ----------------------------------------------------------------------------------------------------------------
# The course's PPO-tuned adapter


def ppo_policy_dir(recipe: PPORecipe = PPO_RECIPE) -> Path:
    """Where the adapter trained with `recipe` is saved (one folder per recipe in the course cache)."""
    return artifact_dir(PPO_NAME, recipe)


def save_ppo_policy(model: nn.Module, recipe: PPORecipe, history: PPOHistory | None = None) -> Path:
    """Save the LoRA adapter of `model`, trained with `recipe`, where `load_ppo_policy(recipe)` finds it, with the
    recipe, the recipe of the reward model it was trained against (`recipe.reward_recipe()`: `load_ppo_policy` refuses
    the adapter once that changes) and the history beside it. Returns the folder."""

    def write(folder: Path) -> None:
        save_lora(model, folder / ADAPTER_FILE)
        (folder / REWARD_FILE).write_text(json.dumps(asdict(recipe.reward_recipe()), indent=1), encoding="utf-8")

    return save_artifact(PPO_NAME, recipe, write, history)


def _check_reward_recipe(folder: Path, recipe: PPORecipe) -> None:
    """ValueError when the adapter in `folder` was trained against another reward model than `recipe` names now
    (`REWARD_RECIPE` changed since): the recipe's folder name does not show it. Folders written before the course
    recorded it are accepted."""
    path = folder / REWARD_FILE
    if not path.is_file():
        return
    wanted = json.loads(json.dumps(asdict(recipe.reward_recipe())))  # tuples as lists, as stored
    if json.loads(path.read_text(encoding="utf-8")) != wanted:
        raise ValueError(f"the adapter was trained against another reward model than {wanted}")


def ppo_training_info(recipe: PPORecipe = PPO_RECIPE) -> dict[str, Any]:
    """What `save_ppo_policy` stored beside the adapter: `{"recipe", "history", ...}` (`history["seconds"][-1]` is
    the training time); FileNotFoundError when the adapter is not cached."""
    return artifact_info(PPO_NAME, recipe)


def load_ppo_policy(
    recipe: PPORecipe = PPO_RECIPE,
    *,
    train_if_missing: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[nn.Module, Any]:
    """SmolLM2 with the LoRA adapter that PPO trained with `recipe` (notebook 13), from the course cache:
    `(model in eval mode, tokenizer)`; the reference is `with disable_lora(model):`. When the adapter is missing
    and `train_if_missing` is True it is trained now (`PPO_RECIPE`: several minutes on a 2-core CPU, with a
    progress bar; `PPO_RECIPE.smoke()`: seconds) and saved."""
    model, tokenizer = load_chat_model(device=device)

    def read(folder: Path) -> tuple[nn.Module, Any]:
        _check_reward_recipe(folder, recipe)
        add_policy_lora(model, r=recipe.lora_r, alpha=recipe.lora_alpha, target_modules=recipe.lora_targets)
        load_lora(model, folder / ADAPTER_FILE)
        return model.eval(), tokenizer

    def train() -> tuple[nn.Module, Any]:
        trained, _, history = train_ppo(recipe, model=model, tokenizer=tokenizer, progress=progress)
        save_ppo_policy(trained, recipe, history)
        return trained, tokenizer

    return load_or_train(
        PPO_NAME,
        recipe,
        read=read,
        train=train,
        train_if_missing=train_if_missing,
        hint="run notebook 13",
        files=(ADAPTER_FILE, INFO_FILE),
    )
