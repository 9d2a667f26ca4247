"""How likely a model finds given tokens: the log-probability of chosen tokens, per token and summed over a
completion. Taught in notebooks 05 and 06; reward models, DPO and PPO (notebooks 12-14) score with it too.

It is differentiable (no `no_grad` inside): wrap the call in `torch.no_grad()` when you only evaluate.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


class SequenceLogProbs(NamedTuple):
    """`per_token[b, t]` = log P(token t | tokens < t) where `completion_mask[b, t]` is 1, else 0; `total[b]` = their
    sum over t (the log-probability of the whole completion)."""

    per_token: torch.Tensor
    total: torch.Tensor


def gather_log_probs(logits: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """log softmax(`logits`) read at `token_ids`: `logits` `[..., vocab]`, `token_ids` `[..., k]` -> `[..., k]`.
    Computed in float32, whatever the model's dtype."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, token_ids)


def sequence_log_probs(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    completion_mask: torch.Tensor,
) -> SequenceLogProbs:
    """Log-probabilities of the tokens that `completion_mask` marks, under a causal LM (course or transformers).

    input_ids `[batch, seq]` (pad on the right), attention_mask `[batch, seq]` (1 = real token; None = no
    padding), completion_mask `[batch, seq]`: 1 where a token's log-probability counts (e.g. the answer after a
    prompt). The token at position t is scored from the logits at t - 1, so position 0 can never count.
    """
    assert completion_mask.shape == input_ids.shape, "`completion_mask` must have the shape of `input_ids`"
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]  # logits at t - 1
    picked = gather_log_probs(logits, input_ids[:, 1:, None])[..., 0]  # log P(token t | tokens < t), t >= 1
    counted = completion_mask[:, 1:].to(picked.dtype)
    per_token = torch.cat([picked.new_zeros(len(picked), 1), picked * counted], dim=1)
    return SequenceLogProbs(per_token=per_token, total=per_token.sum(dim=1))
