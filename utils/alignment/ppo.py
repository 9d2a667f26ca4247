"""PPO (proximal policy optimization) for RLHF, from scratch: the pieces of the algorithm. Taught in notebook 13.

One PPO iteration samples completions of a batch of prompts from the policy, scores them with the reward model,
and then trains on them with these pieces:

* `kl_per_token`: how far the policy is from the reference at each sampled token;
* `token_rewards`: each token's reward, `-beta * KL_t`, plus the reward model's score on the last token;
* `gae`: generalized advantage estimation from the rewards and the value head's values (`ValueHead`);
* `whiten`: the advantages on a fixed scale;
* `ppo_clip_loss` and `value_loss`: the clipped surrogate objective and the value head's loss, minimised for several
  epochs of minibatch steps on the same samples.

`group_advantages` is the value-free alternative of GRPO and RLOO (TRL 1.16 has no PPO trainer; its GRPO and RLOO
trainers keep the clipped objective but drop the value head). The rollout, the update, the training loop and the
course's PPO-tuned SmolLM2 are `utils.alignment.ppo_training`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

__all__ = [
    "KL_ESTIMATORS",
    "ClipLoss",
    "ValueHead",
    "gae",
    "group_advantages",
    "kl_per_token",
    "masked_mean",
    "ppo_clip_loss",
    "token_rewards",
    "value_loss",
    "whiten",
]

KL_ESTIMATORS = ("k1", "k2", "k3")


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
    log_ratio = ref_logps - policy_logps
    if estimator == "k1":
        return -log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio**2
    if estimator == "k3":
        return torch.expm1(log_ratio) - log_ratio
    raise ValueError(f"`estimator` must be one of {list(KL_ESTIMATORS)}, got {estimator!r}.")


def token_rewards(scores: torch.Tensor, kl: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """The reward of each completion token `[B, T]`: `-beta * kl[t]` on every counted token, plus the reward
    model's score `scores[b]` on the last counted token of row b (its end token, or the last one sampled; every
    row counts at least one token)."""
    mask = mask.to(kl.dtype)
    last = mask.sum(dim=1).long() - 1
    rewards = -beta * kl * mask
    rewards[torch.arange(len(scores), device=kl.device), last] += scores.to(rewards.dtype)
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Generalized advantage estimation over the last axis (one finished episode `[T]`, or a batch `[..., T]`).

    `values[..., t]` is the value of step t and the value after the last step is 0 (the episode is over).
    With `delta_t = rewards_t + gamma * values_{t+1} - values_t`, the advantage is
    `A_t = delta_t + gamma * lam * A_{t+1}`: lam = 0 gives the one-step TD error, lam = 1 the discounted return
    minus the value. For padded batches, set rewards and values to 0 after each row's end.
    """
    assert rewards.shape == values.shape, f"rewards {tuple(rewards.shape)} and values {tuple(values.shape)} differ"
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
    assert new_logps.shape == old_logps.shape == advantages.shape == mask.shape, "one value per completion token"
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


def value_loss(
    values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    *,
    old_values: torch.Tensor | None = None,
    clip: float = 0.0,
) -> torch.Tensor:
    """Half the mean squared error between the value head's `values` and the `returns` (advantages + old values)
    over the counted tokens. With `clip` > 0 (TRL's `cliprange_value`, 0.2) the new values may not leave
    `old_values +- clip` for free: the larger of the plain and the clipped squared error counts."""
    error = (values - returns.detach()) ** 2
    if clip > 0:
        old = old_values.detach()
        clipped = old + torch.clamp(values - old, -clip, clip)
        error = torch.max(error, (clipped - returns.detach()) ** 2)
    return 0.5 * masked_mean(error, mask)


def group_advantages(
    rewards: torch.Tensor, group_size: int, *, baseline: str = "mean", scale: bool = True
) -> torch.Tensor:
    """Advantages without a value head, for `group_size` completions sampled per prompt (`rewards` `[n_prompts *
    group_size]`, each prompt's completions next to each other), one number per completion.

    baseline "mean" (GRPO): `r_i - mean(group)`, divided by `std(group) + 1e-4` when `scale`; "leave_one_out"
    (RLOO): `r_i - mean(the other completions of the group)`, never scaled. Both need no value head: the other
    samples of the same prompt are the baseline.
    """
    groups = rewards.view(-1, group_size)
    if baseline == "leave_one_out":
        others = (groups.sum(dim=1, keepdim=True) - groups) / (group_size - 1)
        return (groups - others).view(-1)
    if baseline != "mean":
        raise ValueError(f"`baseline` must be 'mean' (GRPO) or 'leave_one_out' (RLOO), got {baseline!r}.")
    advantages = groups - groups.mean(dim=1, keepdim=True)
    if scale:
        advantages = advantages / (groups.std(dim=1, keepdim=True) + 1e-4)
    return advantages.view(-1)


class ValueHead(nn.Module):
    """A linear layer from the policy's last hidden state at each position to one number: the value (expected
    future reward) of the state before the token at that position. It starts at zero."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """`hidden` `[..., hidden_size]` -> values `[...]`."""
        return self.linear(hidden.to(self.linear.weight.dtype)).squeeze(-1)
