"""The checkers of the exercises of week 4, notebooks 12-14 (reward models, PPO, DPO). Each computes the expected
answer itself with the course's own functions, so the notebook never shows it; it prints right or wrong and returns
it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..alignment.dpo import dpo_loss
from ..alignment.ppo import gae, group_advantages, ppo_clip_loss
from ..alignment.reward import bradley_terry_loss, ranked_pairs
from ..course.grading import check_answer, check_function, exercise

__all__ = [
    "check_bradley_terry_function",
    "check_bradley_terry_gradient",
    "check_clipped_term",
    "check_dpo_loss_function",
    "check_dpo_pair_loss",
    "check_gae_function",
    "check_hardest_pair",
    "check_optimal_policy",
    "check_pair_count",
    "check_preference_probability",
    "check_rloo_advantages",
    "check_undiscounted_gae",
]


def _tensor(answer: Any) -> Any:
    """Lists and numbers as float tensors, so `[1, 2]` and `torch.tensor([1., 2.])` compare alike; anything else
    unchanged (a wrong type is then simply a wrong answer)."""
    try:
        return torch.as_tensor(answer, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        return answer


# ----------------------------------------------------------------------------------------------- notebook 12


@exercise(wrong=[3 + 6 + 9, 4 * 7 * 9, 4 * 3 + 7 * 6 + 9 * 8, None], solution=63)
def check_pair_count(answer: Any) -> bool:
    """Notebook 12, exercise 1: how many preference pairs rankings of 4, 7 and 9 completions give in all."""
    expected = sum(len(ranked_pairs([f"completion {i}" for i in range(k)])) for k in (4, 7, 9))
    return check_answer("pairs from rankings of 4, 7 and 9", answer, expected)


@exercise(
    wrong=[0.5, 1.5, 0.1824, None],  # a tie; the reward difference itself; the second text's probability
    solution=0.8176,
    context={"rewards": torch.tensor([1.0, -0.5])},
)
def check_preference_probability(answer: Any, rewards: torch.Tensor) -> bool:
    """Notebook 12, exercise 2: the Bradley-Terry probability that a person prefers the first of two texts whose
    rewards are `rewards` (the reward model's scores of the duel)."""
    expected = torch.sigmoid(rewards[0] - rewards[1]).item()
    return check_answer("P(first preferred)", _tensor(answer), expected)


@exercise(
    wrong=[[-0.0180, -0.5, -0.9526], [0.0060, 0.1667, 0.3175], [0.0, 0.0, 0.0]],  # not averaged; wrong sign; zero
    solution=[-0.0060, -0.1667, -0.3175],
    context={"chosen": torch.tensor([4.0, 0.0, -2.0]), "rejected": torch.tensor([0.0, 0.0, 1.0])},
)
def check_bradley_terry_gradient(answer: Any, chosen: torch.Tensor, rejected: torch.Tensor) -> bool:
    """Notebook 12, exercise 3: d(mean Bradley-Terry loss) / d(chosen rewards) for the pairs (chosen, rejected)."""
    chosen = chosen.detach().clone().requires_grad_(True)
    bradley_terry_loss(chosen, rejected.detach()).backward()
    return check_answer("d loss / d chosen", _tensor(answer), chosen.grad, atol=1e-3)


# ----------------------------------------------------------------------------------------------- notebook 13


@exercise(
    wrong=[[2.0, 2.0, 2.0, 2.0], [0.2, 0.3, 0.3, 0.2], [-1.0, -0.8, -0.5, -0.2]],  # returns; TD errors; sign
    solution=[1.0, 0.8, 0.5, 0.2],
    context={"rewards": torch.tensor([0.0, 0.0, 0.0, 2.0]), "values": torch.tensor([1.0, 1.2, 1.5, 1.8])},
)
def check_undiscounted_gae(answer: Any, rewards: torch.Tensor, values: torch.Tensor) -> bool:
    """Notebook 13, exercise 1: the advantages of one episode (`rewards`, `values`) with gamma = lambda = 1."""
    expected = gae(rewards, values, 1.0, 1.0)
    return check_answer("GAE with gamma = lambda = 1", _tensor(answer), expected)


@exercise(wrong=[(2.4, True), (3.0, True), (-3.0, False), (2.4, False)], solution=(3.0, False))
def check_clipped_term(answer: Any) -> bool:
    """Notebook 13, exercise 2: `(loss, clipped)` of one token with ratio 1.5, advantage -2 and epsilon 0.2."""
    out = ppo_clip_loss(torch.tensor([[1.5]]).log(), torch.zeros(1, 1), torch.tensor([[-2.0]]), torch.ones(1, 1), 0.2)
    if not (isinstance(answer, tuple | list) and len(answer) == 2):
        print(f"❌ clipped term: store a pair (loss, clipped) in `answer`, got {answer!r}.")
        return False
    loss, clipped = answer
    right_loss = check_answer("clipped loss for ratio 1.5, A = -2", _tensor(loss), out.loss.item())
    right_flag = check_answer("is it clipped?", clipped, bool(out.clip_fraction.item()))
    return right_loss and right_flag


@exercise(
    # the group mean as baseline (GRPO without scaling); GRPO's standardised advantages; the rewards themselves
    wrong=[[-2.0, 0.0, -1.0, 3.0], [-0.9258, 0.0, -0.4629, 1.3887], [1.0, 3.0, 2.0, 6.0]],
    solution=[-2.6667, 0.0, -1.3333, 4.0],
    context={"rewards": torch.tensor([1.0, 3.0, 2.0, 6.0])},
)
def check_rloo_advantages(answer: Any, rewards: torch.Tensor) -> bool:
    """Notebook 13, exercise 3: each reward minus the mean of the other rewards of its group (`rewards`, one group)."""
    expected = group_advantages(rewards, len(rewards), baseline="leave_one_out")
    return check_answer("RLOO advantages", _tensor(answer), expected, atol=1e-3)


# ----------------------------------------------------------------------------------------------- notebook 14


@exercise(wrong=[0.6931, 0.3, 1.1032, -0.403], solution=0.4032)  # log 2; the margin; the loss of -margin; sign
def check_dpo_pair_loss(answer: Any) -> bool:
    """Notebook 14, exercise 1: the DPO loss (beta 0.2) of a pair with policy log-probabilities -42.0 / -47.5 and
    reference -44.0 / -46.0 (chosen / rejected)."""
    expected = dpo_loss(torch.tensor([-42.0]), torch.tensor([-47.5]), torch.tensor([-44.0]), torch.tensor([-46.0]), 0.2)
    return check_answer("DPO loss of one pair", _tensor(answer), expected.loss.item(), atol=1e-3)


@exercise(
    wrong=[[0.1, 0.4, 0.3, 0.2], [0.8196, 0.1632, 0.0166, 0.0005], [0.25, 0.25, 0.25, 0.25]],  # ref; beta 0.5; uniform
    solution=[0.2488, 0.4701, 0.2138, 0.0673],
    context={"ref_probs": torch.tensor([0.10, 0.40, 0.30, 0.20]), "rewards": torch.tensor([2.0, 0.5, -0.5, -2.0])},
)
def check_optimal_policy(answer: Any, ref_probs: torch.Tensor, rewards: torch.Tensor, beta: float = 2.0) -> bool:
    """Notebook 14, exercise 2: the optimal RLHF policy pi_ref * exp(r / beta) / Z for the toy answers."""
    expected = torch.softmax(ref_probs.log() + rewards / beta, dim=0)
    return check_answer(f"optimal policy for beta = {beta:g}", _tensor(answer), expected, atol=1e-3)


@exercise(wrong=[0, 1, 3, 2.5], solution=2, context={"margins": torch.tensor([2.0, 0.0, -1.0, 0.5])})
def check_hardest_pair(answer: Any, margins: torch.Tensor) -> bool:
    """Notebook 14, exercise 3: the index of the pair whose DPO gradient is largest (scaled by sigmoid(-margin))."""
    expected = int(torch.sigmoid(-margins).argmax())
    return check_answer("the pair DPO pushes hardest", answer, expected, atol=0.0)


# ------------------------------------------------------------------------------- code-writing exercises, 12-14


def _random_tensors(seed: int, shapes: list[tuple[int, ...]], count: int, scale: float = 1.0) -> list[tuple]:
    """`count` random float tensors of each shape in `shapes`, one tuple per shape (the checkers' hidden inputs)."""
    generator = torch.Generator().manual_seed(seed)
    return [tuple(scale * torch.randn(shape, generator=generator) for _ in range(count)) for shape in shapes]


def _bradley_terry_cases() -> list[tuple]:
    cases = _random_tensors(12, [(1,), (8,), (64,)], 2, scale=3.0)
    cases.append((torch.tensor([-60.0, 0.0, 60.0]), torch.tensor([60.0, 0.0, -60.0])))  # log(sigmoid(-120)) = -inf
    return cases


@exercise(
    wrong=lambda: [
        lambda c, r: -F.logsigmoid(r - c).mean(),  # the rejected reward first
        lambda c, r: -F.logsigmoid(c - r).sum(),  # summed, not averaged over pairs
        lambda c, r: -torch.log(torch.sigmoid(c - r)).mean(),  # underflows to inf on a very wrong pair
        lambda c, r: (r - c).mean(),  # no sigmoid: not a likelihood
        None,
    ],
    solution=lambda: bradley_terry_loss,
)
def check_bradley_terry_function(answer: Callable[..., Any]) -> bool:
    """Notebook 12, exercise 4 (code): the learner's Bradley-Terry loss `f(chosen_rewards, rejected_rewards)`,
    run on hidden batches of rewards (one with a pair ranked 120 points the wrong way) against the course's."""
    return check_function("your Bradley-Terry loss", answer, bradley_terry_loss, _bradley_terry_cases())


def _gae_cases() -> list[tuple]:
    shapes = [(1, 4), (3, 6), (2, 5), (5, 12)]
    settings = [(1.0, 1.0), (0.9, 0.95), (0.99, 0.0), (0.97, 0.5)]
    return [(r, v, gamma, lam) for (r, v), (gamma, lam) in zip(_random_tensors(13, shapes, 2), settings, strict=True)]


def _gae_forward(rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """Wrong: accumulates from the first step on, so each advantage sees the past instead of the future."""
    advantages, running = torch.zeros_like(rewards), torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1]):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(running)
        running = rewards[:, t] + gamma * next_value - values[:, t] + gamma * lam * running
        advantages[:, t] = running
    return advantages


@exercise(
    wrong=lambda: [
        _gae_forward,
        lambda r, v, gamma, lam: gae(r, v, gamma, 1.0),  # lambda ignored
        lambda r, v, gamma, lam: gae(r - gamma * torch.cat([v[:, 1:], 0 * v[:, :1]], 1), v, gamma, lam),  # no V(t+1)
        lambda r, v, gamma, lam: gae(r, v, gamma, lam) + v,  # the returns, not the advantages
        lambda r, v, gamma, lam: gae(r, v, gamma, 0.0),  # the one-step TD errors only
        None,
    ],
    solution=lambda: gae,
)
def check_gae_function(answer: Callable[..., Any]) -> bool:
    """Notebook 13, exercise 4 (code): the learner's GAE `f(rewards, values, gamma, lam)` on `[batch, T]` tensors
    (the value after the last step is 0), run on hidden batches and settings against the course's `gae`."""
    return check_function("your GAE", answer, gae, _gae_cases())


def _dpo_cases() -> list[tuple]:
    cases = _random_tensors(14, [(1,), (6,), (32,)], 4, scale=20.0)
    return [
        (pc - 50, pr - 50, rc - 50, rr - 50, beta)
        for (pc, pr, rc, rr), beta in zip(cases, (0.1, 0.5, 0.05), strict=True)
    ]


def _dpo_reference(pc: torch.Tensor, pr: torch.Tensor, rc: torch.Tensor, rr: torch.Tensor, beta: float) -> Any:
    return dpo_loss(pc, pr, rc, rr, beta).loss


@exercise(
    wrong=lambda: [
        lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * (pc - pr)).mean(),  # no reference
        lambda pc, pr, rc, rr, beta: -F.logsigmoid((pc - rc) - (pr - rr)).mean(),  # no beta
        lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((rc - pc) - (rr - pr))).mean(),  # ratios upside down
        lambda pc, pr, rc, rr, beta: -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).sum(),  # summed over pairs
        None,
    ],
    solution=lambda: _dpo_reference,
)
def check_dpo_loss_function(answer: Callable[..., Any]) -> bool:
    """Notebook 14, exercise 4 (code): the learner's DPO loss `f(policy_chosen, policy_rejected, ref_chosen,
    ref_rejected, beta)` (summed log-probabilities per answer, `[n_pairs]` each), run on hidden batches against
    the course's `dpo_loss`."""
    return check_function("your DPO loss", answer, _dpo_reference, _dpo_cases())
