"""PPO (proximal policy optimization) for RLHF, from scratch: per-token KL to the reference, per-token rewards,
generalized advantage estimation (GAE), the clipped surrogate objective, a value head, one rollout and one update,
the training loop, and the course's PPO-tuned SmolLM2 adapter (`load_ppo_policy`). Taught in notebook 13.

One PPO iteration: sample completions of a batch of prompts from the policy (`ppo_rollout`); score them with the
reward model; reward each token with `-beta * KL_t` to the reference and add the reward model's score on the last
token; estimate advantages with GAE and the value head; then several epochs of minibatch steps on the clipped
objective plus a value loss (`ppo_update`). TRL 1.16 has no PPO trainer; its GRPO and RLOO trainers keep the
clipped objective but drop the value head (notebook 13 compares them).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from ..assets.models import recipe_cache_dir
from ..course.arguments import require_choice, require_range, require_type
from ..course.device import device_of
from ..training.lora import disable_lora, lora_layers, remove_lora
from .policy import Samples, add_policy_lora, completion_log_probs, make_generator, review_prompts, sample_completions

__all__ = [
    "KL_ESTIMATORS",
    "PPO_RECIPE",
    "ClipLoss",
    "PPOHistory",
    "PPORecipe",
    "Rollout",
    "ValueHead",
    "gae",
    "group_advantages",
    "kl_per_token",
    "load_ppo_policy",
    "masked_mean",
    "ppo_clip_loss",
    "ppo_policy_dir",
    "ppo_rollout",
    "ppo_update",
    "save_ppo_policy",
    "token_rewards",
    "train_ppo",
    "value_loss",
    "whiten",
]

KL_ESTIMATORS = ("k1", "k2", "k3")
PPO_NAME = "ppo-policy"
ADAPTER_FILE = "adapter.safetensors"
INFO_FILE = "course_recipe.json"


# ----------------------------------------------------------------------------------------------------------------
# The pieces: KL, rewards, GAE, the clipped loss, the value head


def _require_tensor(name: str, value: Any) -> None:
    require_type(name, value, torch.Tensor)
    if not value.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor, got dtype {value.dtype}.")


def _require_same_shape(names_values: Sequence[tuple[str, torch.Tensor]]) -> None:
    (first_name, first), *rest = names_values
    for name, value in rest:
        if value.shape != first.shape:
            raise ValueError(
                f"`{name}` must have the shape of `{first_name}` {tuple(first.shape)}, got {tuple(value.shape)}."
            )


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of `values` over the positions where `mask` is 1 (0 when the mask is empty)."""
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def kl_per_token(policy_logps: torch.Tensor, ref_logps: torch.Tensor, estimator: str = "k1") -> torch.Tensor:
    """A per-token estimate of KL(policy || reference) from the log-probabilities of the sampled tokens.

    With `r = ref_logps - policy_logps`: "k1" is `-r` (the log-ratio: unbiased, single values can be negative),
    "k2" is `r**2 / 2` (biased, never negative), "k3" is `exp(r) - 1 - r` (unbiased and never negative; what TRL's
    GRPO uses). Averaged over tokens sampled from the policy, k1 and k3 both estimate the KL.
    """
    _require_tensor("policy_logps", policy_logps)
    _require_tensor("ref_logps", ref_logps)
    _require_same_shape([("policy_logps", policy_logps), ("ref_logps", ref_logps)])
    require_choice("estimator", estimator, KL_ESTIMATORS)
    log_ratio = ref_logps - policy_logps
    if estimator == "k1":
        return -log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio**2
    return torch.expm1(log_ratio) - log_ratio


def token_rewards(scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """The reward of each completion token `[B, T]`: `-beta * kl[t]` on every counted token, plus the reward
    model's score `scores[b]` on the last counted token of row b (its end token, or the last one sampled)."""
    _require_tensor("scores", scores)
    _require_tensor("kl", kl)
    require_type("mask", mask, torch.Tensor)
    _require_same_shape([("kl", kl), ("mask", mask)])
    if kl.ndim != 2 or scores.shape != kl.shape[:1]:
        raise ValueError(f"`kl` must be [B, T] and `scores` [B], got {tuple(kl.shape)} and {tuple(scores.shape)}.")
    require_type("beta", beta, (int, float))
    require_range("beta", beta, low=0.0)
    mask = mask.to(kl.dtype)
    lengths = mask.sum(dim=1).long()
    if (lengths == 0).any():
        raise ValueError("every row of `mask` needs at least one counted token (the end token counts).")
    rewards = -beta * kl * mask
    rows = torch.arange(len(scores), device=kl.device)
    rewards[rows, lengths - 1] += scores.to(rewards.dtype)
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Generalized advantage estimation over the last axis (one finished episode `[T]`, or a batch `[..., T]`).

    `values[..., t]` is the value of step t and the value after the last step is 0 (the episode is over).
    With `delta_t = rewards_t + gamma * values_{t+1} - values_t`, the advantage is
    `A_t = delta_t + gamma * lam * A_{t+1}`: lam = 0 gives the one-step TD error, lam = 1 the discounted return
    minus the value. For padded batches, set rewards and values to 0 after each row's end.
    """
    _require_tensor("rewards", rewards)
    _require_tensor("values", values)
    _require_same_shape([("rewards", rewards), ("values", values)])
    if rewards.ndim == 0 or rewards.shape[-1] == 0:
        raise ValueError(f"`rewards` must have at least one step on its last axis, got shape {tuple(rewards.shape)}.")
    for name, value in (("gamma", gamma), ("lam", lam)):
        require_type(name, value, (int, float))
        require_range(name, value, low=0.0, high=1.0)
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[..., 0])
    running = torch.zeros_like(rewards[..., 0])
    for t in reversed(range(rewards.shape[-1])):
        delta = rewards[..., t] + gamma * next_value - values[..., t]
        running = delta + gamma * lam * running
        advantages[..., t] = running
        next_value = values[..., t]
    return advantages


def whiten(values: torch.Tensor, mask: torch.Tensor, *, eps: float = 1e-8) -> torch.Tensor:
    """`values` shifted and scaled to mean 0 and standard deviation 1 over the counted positions (0 elsewhere):
    advantages on a fixed scale, whatever the scale of the rewards."""
    _require_tensor("values", values)
    require_type("mask", mask, torch.Tensor)
    _require_same_shape([("values", values), ("mask", mask)])
    if mask.sum() < 2:
        raise ValueError("`mask` must count at least two positions to whiten.")
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    return (values - mean) * torch.rsqrt(var + eps) * mask.to(values.dtype)


class ClipLoss(NamedTuple):
    """`loss`: the clipped surrogate loss (a scalar to minimise); `clip_fraction`: the share of counted tokens whose
    clipped term won (their gradient is zero); `approx_kl`: mean of `(log ratio)^2 / 2`, how far the policy moved
    from the one that sampled."""

    loss: torch.Tensor
    clip_fraction: torch.Tensor
    approx_kl: torch.Tensor


def ppo_clip_loss(
    new_logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip: float
) -> ClipLoss:
    """PPO's clipped surrogate, averaged over the counted tokens of the batch:

    `loss = -mean_t min(ratio_t * A_t, clamp(ratio_t, 1 - clip, 1 + clip) * A_t)`, `ratio_t = exp(new - old)`.

    Where the ratio has already moved more than `clip` in the direction the advantage asks for, the clipped term
    is the smaller one and is constant: that token stops pushing. `old_logps` and `advantages` are constants (no
    gradient flows into them).
    """
    for name, value in (("new_logps", new_logps), ("old_logps", old_logps), ("advantages", advantages)):
        _require_tensor(name, value)
    require_type("mask", mask, torch.Tensor)
    _require_same_shape(
        [("new_logps", new_logps), ("old_logps", old_logps), ("advantages", advantages), ("mask", mask)]
    )
    require_type("clip", clip, (int, float))
    require_range("clip", clip, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    if not mask.any():
        raise ValueError("`mask` counts no token: nothing to compute a loss on.")
    log_ratio = new_logps - old_logps.detach()
    ratio = torch.exp(log_ratio)
    advantages = advantages.detach()
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1 - clip, 1 + clip) * advantages
    loss = masked_mean(-torch.min(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((clipped < unclipped).to(ratio.dtype), mask)
        approx_kl = masked_mean(0.5 * log_ratio**2, mask)
    return ClipLoss(loss, clip_fraction, approx_kl)


def value_loss(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Half the mean squared error between the value head's `values` and the `returns` (advantages + old values)
    over the counted tokens."""
    _require_tensor("values", values)
    _require_tensor("returns", returns)
    require_type("mask", mask, torch.Tensor)
    _require_same_shape([("values", values), ("returns", returns), ("mask", mask)])
    return 0.5 * masked_mean((values - returns.detach()) ** 2, mask)


def group_advantages(
    rewards: torch.Tensor, group_size: int, *, baseline: str = "mean", scale: bool = True
) -> torch.Tensor:
    """Advantages without a value head, for `group_size` completions sampled per prompt (`rewards` `[n_prompts *
    group_size]`, each prompt's completions next to each other), one number per completion.

    baseline "mean" (GRPO): `r_i - mean(group)`, divided by `std(group) + 1e-4` when `scale`; "leave_one_out"
    (RLOO): `r_i - mean(the other completions of the group)`, never scaled. Both need no value head: the other
    samples of the same prompt are the baseline.
    """
    _require_tensor("rewards", rewards)
    require_type("group_size", group_size, int)
    require_range("group_size", group_size, low=2)
    require_choice("baseline", baseline, ("mean", "leave_one_out"))
    require_type("scale", scale, bool)
    if rewards.ndim != 1 or len(rewards) % group_size:
        raise ValueError(
            f"`rewards` must be flat with a multiple of `group_size` ({group_size}) values, got {tuple(rewards.shape)}."
        )
    groups = rewards.view(-1, group_size)
    if baseline == "leave_one_out":
        others = (groups.sum(dim=1, keepdim=True) - groups) / (group_size - 1)
        return (groups - others).view(-1)
    advantages = groups - groups.mean(dim=1, keepdim=True)
    if scale:
        advantages = advantages / (groups.std(dim=1, keepdim=True) + 1e-4)
    return advantages.view(-1)


class ValueHead(nn.Module):
    """A linear layer from the policy's last hidden state at each position to one number: the value (expected
    future reward) of the state before the token at that position. It starts at zero."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        require_type("hidden_size", hidden_size, int)
        require_range("hidden_size", hidden_size, low=1)
        self.linear = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """`hidden` `[..., hidden_size]` -> values `[...]`."""
        return self.linear(hidden.to(self.linear.weight.dtype)).squeeze(-1)


# ----------------------------------------------------------------------------------------------------------------
# One rollout, one update


@dataclass
class Rollout:
    """Everything PPO needs from one batch of sampled completions, per completion token `[B, T]` (0 where the
    completion mask is 0): the sampling policy's log-probs (`old_logps`), the reference's (`ref_logps`), the value
    head's `old_values`, the per-token `kl` estimate, the per-token `rewards`, the `advantages` (GAE, whitened
    when asked) and the `returns` (raw advantages + old values), the policy's `entropy`; per row the reward model's
    `scores` `[B]`."""

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
        """Batch means: reward-model score, summed KL per completion, score - beta * KL (`reward`, the objective),
        entropy per token (nats), completion length (tokens)."""
        mask = self.mask
        return {
            "score": float(self.scores.mean()),
            "kl": float(self.kl.sum(dim=1).mean()),
            "reward": float(self.rewards.sum(dim=1).mean()),
            "entropy": float(masked_mean(self.entropy, mask)),
            "length": float(mask.sum(dim=1).float().mean()),
        }


@torch.no_grad()
def ppo_rollout(
    model: Any,
    value_head: ValueHead,
    tokenizer: Any,
    reward_model: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    beta: float,
    gamma: float = 1.0,
    lam: float = 0.95,
    generator: torch.Generator | int = 0,
    kl_estimator: str = "k1",
    whiten_advantages: bool = True,
) -> Rollout:
    """Sample one completion per prompt from `model` (the policy: its LoRA adapter on), then score it: the
    policy's log-probs, entropies and values (one forward pass), the reference's log-probs (the same model,
    adapter off), the reward model's score, the per-token KL and rewards, and the GAE advantages and returns."""
    require_type("value_head", value_head, ValueHead)
    if not lora_layers(model):
        raise ValueError("`model` has no LoRA adapter: the reference is the model with its adapter off.")
    if not callable(getattr(reward_model, "score", None)):
        raise TypeError("`reward_model` must have a `score(texts) -> Tensor` method (a RewardModel).")
    require_type("whiten_advantages", whiten_advantages, bool)
    samples = sample_completions(model, tokenizer, prompts, max_new_tokens=max_new_tokens, generator=generator)
    mask = samples.completion_mask.float()
    policy = completion_log_probs(model, samples, with_entropy=True, with_hidden=True)
    values = value_head(policy.hidden) * mask
    with disable_lora(model):
        ref_logps = completion_log_probs(model, samples).log_probs
    scores = torch.as_tensor(reward_model.score(samples.completions)).float().to(mask.device)
    kl = kl_per_token(policy.log_probs, ref_logps, kl_estimator) * mask
    rewards = token_rewards(scores, kl, mask, beta)
    advantages = gae(rewards, values, gamma, lam) * mask
    returns = advantages + values
    if whiten_advantages:
        advantages = whiten(advantages, mask)
    return Rollout(
        samples, policy.log_probs, ref_logps, values, policy.entropy, scores, kl, rewards, advantages, returns
    )


def ppo_update(
    model: nn.Module,
    value_head: ValueHead,
    optimizer: torch.optim.Optimizer,
    rollout: Rollout,
    *,
    epochs: int,
    minibatch_size: int,
    clip: float = 0.2,
    value_coef: float = 0.1,
    max_grad_norm: float | None = 1.0,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """`epochs` passes over the rollout in shuffled minibatches of `minibatch_size` completions, one optimizer step
    each, on `ppo_clip_loss + value_coef * value_loss`. Returns the means over the steps of `policy_loss`,
    `value_loss`, `clip_fraction`, `approx_kl`, and the number of `steps`.

    With one minibatch and one epoch the ratio is exactly 1 at the only step and nothing is clipped: the clip
    only acts from the second step on a batch.
    """
    require_type("rollout", rollout, Rollout)
    require_type("epochs", epochs, int)
    require_range("epochs", epochs, low=1)
    require_type("minibatch_size", minibatch_size, int)
    require_range("minibatch_size", minibatch_size, low=1)
    require_type("value_coef", value_coef, (int, float))
    require_range("value_coef", value_coef, low=0.0)
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    totals = {"policy_loss": 0.0, "value_loss": 0.0, "clip_fraction": 0.0, "approx_kl": 0.0}
    steps = 0
    for _ in range(epochs):
        order = torch.randperm(len(rollout.samples), generator=generator)
        for rows in order.split(minibatch_size):
            on_device = rows.to(rollout.old_logps.device)
            batch = rollout.samples.select(rows)
            mask = batch.completion_mask
            out = completion_log_probs(model, batch, with_hidden=True)
            pg = ppo_clip_loss(out.log_probs, rollout.old_logps[on_device], rollout.advantages[on_device], mask, clip)
            vl = value_loss(value_head(out.hidden), rollout.returns[on_device], mask)
            loss = pg.loss + value_coef * vl
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
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
# The recipe and the training loop


@dataclass(frozen=True)
class PPORecipe:
    """Everything that decides one PPO run on SmolLM2: notebook 13 reads its settings from here, and
    `load_ppo_policy` trains with it when the adapter is not cached."""

    iterations: int = 24  # rollouts (each: sample, score, then `epochs` passes of minibatch steps)
    batch_size: int = 8  # prompts per rollout (one completion each)
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
    whiten_advantages: bool = True
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_targets: tuple[str, ...] = field(default=("q_proj", "v_proj"))
    reward_smoke: bool = False  # True: the reward model of REWARD_RECIPE.smoke() (smoke runs)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "minibatch_size", "epochs", "max_new_tokens", "lora_r", "seed"):
            require_type(name, getattr(self, name), int)
            require_range(name, getattr(self, name), low=0 if name == "seed" else 1)
        for name in ("lr", "value_lr", "lora_alpha"):
            require_type(name, getattr(self, name), (int, float))
            require_range(name, getattr(self, name), low=0.0, low_inclusive=False)
        for name in ("value_coef", "beta", "max_grad_norm"):
            require_type(name, getattr(self, name), (int, float))
            require_range(name, getattr(self, name), low=0.0)
        for name in ("gamma", "lam"):
            require_type(name, getattr(self, name), (int, float))
            require_range(name, getattr(self, name), low=0.0, high=1.0)
        require_type("clip", self.clip, (int, float))
        require_range("clip", self.clip, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
        require_choice("kl_estimator", self.kl_estimator, KL_ESTIMATORS)
        require_type("lora_targets", self.lora_targets, tuple)
        require_range("minibatch_size", self.minibatch_size, high=self.batch_size)

    def smoke(self) -> PPORecipe:
        """The same recipe shrunk to a few seconds (for the smoke runs of the tests)."""
        return replace(
            self, iterations=2, batch_size=4, minibatch_size=2, epochs=2, max_new_tokens=8, reward_smoke=True
        )

    def reward_recipe(self) -> Any:
        """The recipe of the reward model this run optimises (`REWARD_RECIPE`, or its smoke version)."""
        from .reward import REWARD_RECIPE

        return REWARD_RECIPE.smoke() if self.reward_smoke else REWARD_RECIPE


PPO_RECIPE = PPORecipe()


@dataclass
class PPOHistory:
    """Per iteration: the rollout's means (`score` of the reward model, summed `kl`, `reward` = score - beta KL,
    `entropy`, `length`), the update's means (`policy_loss`, `value_loss`, `clip_fraction`, `approx_kl`), the
    wall-clock `seconds` since the start, and the sampled `completions` with their `prompts`."""

    score: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)
    length: list[float] = field(default_factory=list)
    policy_loss: list[float] = field(default_factory=list)
    value_loss: list[float] = field(default_factory=list)
    clip_fraction: list[float] = field(default_factory=list)
    approx_kl: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    prompts: list[list[str]] = field(default_factory=list)
    completions: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _prompt_batches(prompts: Sequence[str], batch_size: int, iterations: int, seed: int) -> list[list[str]]:
    """`iterations` batches of `batch_size` prompts: the prompts shuffled once (seeded), then taken in turn."""
    order = torch.randperm(len(prompts), generator=torch.Generator().manual_seed(seed)).tolist()
    stream = [prompts[i] for i in order]
    while len(stream) < batch_size * iterations:
        stream += stream[: len(prompts)]
    return [stream[i * batch_size : (i + 1) * batch_size] for i in range(iterations)]


def train_ppo(
    recipe: PPORecipe = PPO_RECIPE,
    *,
    model: nn.Module | None = None,
    tokenizer: Any = None,
    reward_model: Any = None,
    prompts: Sequence[str] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[nn.Module, ValueHead, PPOHistory]:
    """Run `recipe.iterations` PPO iterations on `model` (SmolLM2 loaded when None) against `reward_model` (the
    course's, `load_reward_model(recipe=recipe.reward_recipe())`, when None), with prompts drawn in turn from
    `prompts` (default: every training prompt, `review_prompts("train")`). Any adapter of `model` is replaced by a
    fresh one (B = 0, A from `recipe.seed`), so the same recipe always trains the same adapter. Returns
    `(model with the trained adapter, in eval mode, value head, history)`."""
    from tqdm.auto import tqdm

    from ..assets.models import load_chat_model
    from ..course.seeding import set_seed

    require_type("recipe", recipe, PPORecipe)
    require_type("progress", progress, bool)
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both `model` and `tokenizer`, or neither (then SmolLM2 is loaded).")
    if model is None:
        model, tokenizer = load_chat_model(device=device)
    if reward_model is None:
        from .reward import load_reward_model

        reward_model = load_reward_model(recipe=recipe.reward_recipe(), progress=progress)
    prompts = list(review_prompts("train") if prompts is None else prompts)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError("`prompts` must be a non-empty list of strings.")

    set_seed(recipe.seed)
    if lora_layers(model):
        remove_lora(model)
    add_policy_lora(model, r=recipe.lora_r, alpha=recipe.lora_alpha, target_modules=recipe.lora_targets)
    model.eval()  # no dropout: the sampling policy and the trained policy are the same function
    device = device_of(model)
    value_head = ValueHead(model.config.hidden_size).to(device)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.parameters() if p.requires_grad], "lr": recipe.lr},
            {"params": list(value_head.parameters()), "lr": recipe.value_lr},
        ],
        weight_decay=0.0,
    )
    sampler = make_generator(recipe.seed, device)
    shuffler = torch.Generator().manual_seed(recipe.seed)
    history = PPOHistory()
    start = time.perf_counter()
    batches = _prompt_batches(prompts, recipe.batch_size, recipe.iterations, recipe.seed)
    bar = tqdm(batches, desc="PPO", disable=not progress)
    for batch_prompts in bar:
        rollout = ppo_rollout(
            model,
            value_head,
            tokenizer,
            reward_model,
            batch_prompts,
            max_new_tokens=recipe.max_new_tokens,
            beta=recipe.beta,
            gamma=recipe.gamma,
            lam=recipe.lam,
            generator=sampler,
            kl_estimator=recipe.kl_estimator,
            whiten_advantages=recipe.whiten_advantages,
        )
        update = ppo_update(
            model,
            value_head,
            optimizer,
            rollout,
            epochs=recipe.epochs,
            minibatch_size=recipe.minibatch_size,
            clip=recipe.clip,
            value_coef=recipe.value_coef,
            max_grad_norm=recipe.max_grad_norm,
            generator=shuffler,
        )
        stats = rollout.stats()
        for key, value in stats.items():
            getattr(history, key).append(value)
        for key in ("policy_loss", "value_loss", "clip_fraction", "approx_kl"):
            getattr(history, key).append(update[key])
        history.seconds.append(time.perf_counter() - start)
        history.prompts.append(list(batch_prompts))
        history.completions.append(list(rollout.samples.completions))
        bar.set_postfix(score=f"{stats['score']:+.2f}", kl=f"{stats['kl']:.2f}")
    return model.eval(), value_head, history


# ----------------------------------------------------------------------------------------------------------------
# The course's PPO-tuned adapter


def ppo_policy_dir(recipe: PPORecipe = PPO_RECIPE) -> Path:
    """Where the adapter trained with `recipe` is saved (one folder per recipe in the course cache)."""
    require_type("recipe", recipe, PPORecipe)
    return recipe_cache_dir(PPO_NAME, recipe)


def save_ppo_policy(model: nn.Module, recipe: PPORecipe, history: PPOHistory | None = None) -> Path:
    """Save the LoRA adapter of `model`, trained with `recipe`, where `load_ppo_policy(recipe=recipe)` finds it,
    with the recipe and the history as JSON. Returns the folder."""
    from ..training.lora import save_lora

    require_type("recipe", recipe, PPORecipe)
    if history is not None:
        require_type("history", history, PPOHistory)
    folder = ppo_policy_dir(recipe)
    save_lora(model, folder / ADAPTER_FILE)
    info = {"recipe": asdict(recipe), "history": history.to_dict() if history is not None else {}}
    (folder / INFO_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
    return folder


def load_ppo_policy(
    train_if_missing: bool = True,
    progress: bool = True,
    *,
    recipe: PPORecipe = PPO_RECIPE,
    device: str | torch.device | None = None,
) -> tuple[nn.Module, Any]:
    """SmolLM2 with the LoRA adapter that PPO trained with `recipe` (notebook 13), from the course cache:
    `(model in eval mode, tokenizer)`; the reference is `with disable_lora(model):`. When the adapter is missing
    and `train_if_missing` is True it is trained now (`PPO_RECIPE`: several minutes on a 2-core CPU, with a
    progress bar; `PPO_RECIPE.smoke()`: seconds) and saved."""
    from ..assets.models import load_chat_model
    from ..training.lora import load_lora

    require_type("train_if_missing", train_if_missing, bool)
    require_type("progress", progress, bool)
    require_type("recipe", recipe, PPORecipe)
    folder = ppo_policy_dir(recipe)
    model, tokenizer = load_chat_model(device=device)
    if not ((folder / ADAPTER_FILE).is_file() and (folder / INFO_FILE).is_file()):
        if not train_if_missing:
            raise FileNotFoundError(
                f"No PPO adapter for this recipe in {str(folder)!r}: run notebook 13, or call "
                "load_ppo_policy(train_if_missing=True)."
            )
        model, _, history = train_ppo(recipe, model=model, tokenizer=tokenizer, progress=progress)
        save_ppo_policy(model, recipe, history)
        return model, tokenizer
    add_policy_lora(model, r=recipe.lora_r, alpha=recipe.lora_alpha, target_modules=recipe.lora_targets)
    load_lora(model, folder / ADAPTER_FILE)
    return model.eval(), tokenizer
