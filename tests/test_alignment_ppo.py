"""utils.alignment.ppo and ppo_training: GAE against hand-computed numbers, the clipped loss at the clip edges (values,
gradients, clip fraction) and against TRL's GRPO loss code on the same tensors, the KL estimators, per-token rewards,
the value head, one rollout and update on a tiny model, a seeded training loop, the recipe and the cached adapter.
The tiny random Llama uses SmolLM2's real tokenizer; the reward model is a stand-in (completion length)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from tiny_models import tiny_llama

from utils.alignment import ppo_training
from utils.alignment.policy import add_policy_lora, completion_log_probs
from utils.alignment.ppo import (
    ValueHead,
    gae,
    group_advantages,
    kl_per_token,
    ppo_clip_loss,
    token_rewards,
    value_loss,
    whiten,
)
from utils.alignment.ppo_training import (
    PPO_RECIPE,
    PPOHistory,
    PPORecipe,
    Rollout,
    load_ppo_policy,
    ppo_policy_dir,
    ppo_rollout,
    ppo_training_info,
    ppo_update,
    save_ppo_policy,
    train_ppo,
)
from utils.training.lora import lora_layers, lora_state_dict

PROMPTS = ["Say something kind about tea.", "Two words on rain?", "Describe a quiet harbour.", "Name a colour."]


def small_policy(tokenizer: Any, *, seed: int = 0) -> Any:
    """A tiny Llama over SmolLM2's vocabulary whose end token is likely (a logit bias), so lengths vary."""
    model = tiny_llama(len(tokenizer), seed=seed, max_position_embeddings=128)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    bias = torch.zeros(len(tokenizer))
    bias[tokenizer.eos_token_id] = 9.0
    model.lm_head.register_forward_hook(lambda module, inputs, output: output + bias)
    return model


class LengthReward:
    """A stand-in reward model: the number of characters of each completion, divided by 10."""

    def score(self, texts: list[str], *, prompts: list[str] | None = None) -> torch.Tensor:
        return torch.tensor([len(t) / 10 for t in texts])


# ---------------------------------------------------------------------------------------------------------------- GAE


def test_gae_matches_a_hand_computed_episode() -> None:
    rewards, values = torch.tensor([0.0, 0.0, 1.0]), torch.tensor([0.5, 0.6, 0.7])
    # gamma 0.9, lam 0.8: delta = r_t + 0.9 V_{t+1} - V_t with V_3 = 0, then A_t = delta_t + 0.72 A_{t+1}
    # delta_2 = 1 - 0.7 = 0.3;    A_2 = 0.3
    # delta_1 = 0.63 - 0.6 = 0.03; A_1 = 0.03 + 0.72 * 0.3 = 0.246
    # delta_0 = 0.54 - 0.5 = 0.04; A_0 = 0.04 + 0.72 * 0.246 = 0.21712
    torch.testing.assert_close(gae(rewards, values, 0.9, 0.8), torch.tensor([0.21712, 0.246, 0.3]))
    # lam = 0: the one-step TD errors; lam = 1: the discounted return minus the value
    torch.testing.assert_close(gae(rewards, values, 0.9, 0.0), torch.tensor([0.04, 0.03, 0.3]))
    returns = torch.tensor([0.81, 0.9, 1.0])
    torch.testing.assert_close(gae(rewards, values, 0.9, 1.0), returns - values)


def test_gae_on_a_padded_batch_equals_each_episode_alone() -> None:
    torch.manual_seed(0)
    rewards, values = torch.randn(3, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    lengths = [6, 4, 1]
    mask = torch.tensor([[1.0] * n + [0.0] * (6 - n) for n in lengths], dtype=torch.float64)
    batch = gae(rewards * mask, values * mask, 0.95, 0.9) * mask
    for row, n in enumerate(lengths):
        torch.testing.assert_close(batch[row, :n], gae(rewards[row, :n], values[row, :n], 0.95, 0.9))
    assert gae(rewards[None], values[None], 1.0, 1.0).shape == (1, 3, 6)


# -------------------------------------------------------------------------------------------------- the clipped loss


EPS = 0.2


@pytest.mark.parametrize(
    ("ratio", "advantage", "clipped"),
    [
        (1 + EPS - 1e-3, 2.0, False),  # just inside: the ratio still counts
        (1 + EPS + 1e-3, 2.0, True),  # just outside, pushed further up: clipped, no gradient
        (1 + EPS + 1e-3, -2.0, False),  # above the band but the advantage pulls it back: not clipped
        (1 - EPS + 1e-3, -2.0, False),
        (1 - EPS - 1e-3, -2.0, True),  # just outside below, pushed further down: clipped
        (1 - EPS - 1e-3, 2.0, False),  # below the band, the advantage pulls it back up: not clipped
    ],
)
def test_clip_loss_at_the_clip_edges(ratio: float, advantage: float, clipped: bool) -> None:
    old = torch.tensor([[-1.3]], dtype=torch.float64)
    new = (old + math.log(ratio)).requires_grad_(True)
    out = ppo_clip_loss(new, old, torch.tensor([[advantage]], dtype=torch.float64), torch.ones(1, 1), EPS)
    kept = min(max(ratio, 1 - EPS), 1 + EPS) if clipped else ratio
    assert out.loss.item() == pytest.approx(-kept * advantage, rel=1e-9)
    out.loss.backward()
    expected_grad = 0.0 if clipped else -ratio * advantage  # d(-ratio A)/d(new) = -ratio A
    assert float(new.grad) == pytest.approx(expected_grad, abs=1e-12)
    assert float(out.clip_fraction) == float(clipped)
    assert float(out.approx_kl) == pytest.approx(0.5 * math.log(ratio) ** 2)


def test_clip_loss_averages_counted_tokens_only() -> None:
    new = torch.tensor([[0.0, 0.5, 9.0], [0.1, 9.0, 9.0]], requires_grad=True)
    old = torch.zeros(2, 3)
    adv = torch.tensor([[1.0, 1.0, 5.0], [-1.0, 5.0, 5.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    out = ppo_clip_loss(new, old, adv, mask, EPS)
    # tokens: ratio 1 (A=1) -> -1; ratio e^0.5 > 1.2 (A=1) -> clipped -1.2; ratio e^0.1 (A=-1) -> +e^0.1
    expected = (-1.0 - 1.2 + math.exp(0.1)) / 3
    assert out.loss.item() == pytest.approx(expected, rel=1e-6)
    assert float(out.clip_fraction) == pytest.approx(1 / 3)
    out.loss.backward()
    assert new.grad[0, 2] == 0 and new.grad[1, 1:].abs().sum() == 0 and new.grad[0, 1] == 0


def test_clip_loss_equals_trl_grpo_loss_code() -> None:
    """TRL's GRPOTrainer._compute_loss (loss_type "bnpo": mean over every counted token of the batch, beta 0),
    run on the same tensors with a stand-in trainer, gives our loss and our clip fraction; with beta > 0 its KL
    metric is the mean of our "k3" estimator."""
    from trl import GRPOTrainer

    torch.manual_seed(1)
    old = -torch.rand(4, 7, dtype=torch.float64) * 3
    new = old + torch.randn(4, 7, dtype=torch.float64) * 0.3
    ref = old + torch.randn(4, 7, dtype=torch.float64) * 0.2
    mask = (torch.arange(7) < torch.tensor([[7], [5], [2], [6]])).long()
    adv = torch.randn(4, dtype=torch.float64)

    def trl_loss(beta: float) -> tuple[float, dict]:
        class Accelerator:
            def gather(self, x: torch.Tensor) -> torch.Tensor:
                return x

            def reduce(self, x: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
                return x

        trainer = SimpleNamespace(
            _get_per_token_logps_and_entropies=lambda *a, **k: (new, torch.zeros_like(new), None),
            aux_loss_enabled=False,
            top_entropy_quantile=1.0,
            off_policy_mask_threshold=None,
            importance_sampling_level="token",
            beta=beta,
            loss_type="bnpo",
            epsilon_low=EPS,
            epsilon_high=EPS,
            args=SimpleNamespace(delta=None, use_bias_correction_kl=False),
            use_vllm=False,
            model=SimpleNamespace(training=False),
            _entropy_bonus_enabled=False,
            _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
            accelerator=Accelerator(),
            current_gradient_accumulation_steps=1,
        )
        inputs = {
            "prompt_ids": torch.zeros(4, 2, dtype=torch.long),
            "prompt_mask": torch.ones(4, 2, dtype=torch.long),
            "completion_ids": torch.zeros(4, 7, dtype=torch.long),
            "completion_mask": mask,
            "advantages": adv,
            "old_per_token_logps": old,
            "ref_per_token_logps": ref,
        }
        loss = GRPOTrainer._compute_loss(trainer, None, inputs)
        return float(loss), trainer._metrics["eval"]

    theirs, metrics = trl_loss(0.0)
    ours = ppo_clip_loss(new, old, adv[:, None].expand(4, 7), mask, EPS)
    assert ours.loss.item() == pytest.approx(theirs, rel=1e-9)
    assert float(ours.clip_fraction) == pytest.approx(metrics["clip_ratio/region_mean"][0], rel=1e-6)  # float32
    _, metrics = trl_loss(0.04)
    k3 = kl_per_token(new, ref, "k3")
    assert (k3 >= 0).all()
    assert float((k3 * mask).sum() / mask.sum()) == pytest.approx(metrics["kl"][0], rel=1e-6)


# ---------------------------------------------------------------------------------- KL, rewards, whitening, values


def test_kl_estimators_estimate_the_kl_of_the_sampling_policy() -> None:
    """Tokens drawn from p: the means of k1 and k3 approach KL(p || q); k1 can be negative, k2 and k3 cannot."""
    generator = torch.Generator().manual_seed(0)
    p = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
    q = torch.tensor([0.25, 0.25, 0.25, 0.25], dtype=torch.float64)
    exact = float((p * (p / q).log()).sum())
    tokens = torch.multinomial(p, 200_000, replacement=True, generator=generator)
    logp, logq = p.log()[tokens], q.log()[tokens]
    k1, k2, k3 = (kl_per_token(logp, logq, e) for e in ("k1", "k2", "k3"))
    torch.testing.assert_close(k1, logp - logq)
    assert float(k1.mean()) == pytest.approx(exact, abs=0.01) and float(k3.mean()) == pytest.approx(exact, abs=0.01)
    assert (k1 < 0).any() and (k2 >= 0).all() and (k3 >= 0).all()
    with pytest.raises(ValueError, match="estimator"):
        kl_per_token(logp, logq, "k4")


def test_token_rewards_put_the_score_on_the_last_counted_token() -> None:
    kl = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    rewards = token_rewards(torch.tensor([2.0, -1.0]), kl, mask, beta=0.5)
    torch.testing.assert_close(rewards, torch.tensor([[-0.05, -0.1, 2.0 - 0.15], [-1.0 - 0.2, 0.0, 0.0]]))


def test_whiten_and_value_loss_and_head() -> None:
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 99.0, 99.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    out = whiten(values, mask)
    counted = out[mask.bool()]
    assert float(counted.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(counted.pow(2).mean()) == pytest.approx(1.0, abs=1e-5)  # the population variance
    assert out[1, 1:].abs().sum() == 0
    assert float(value_loss(values, values + 2 * mask, mask)) == pytest.approx(2.0)
    head = ValueHead(5)
    assert head(torch.randn(2, 3, 5)).shape == (2, 3) and not head(torch.randn(4, 5)).any(), "starts at zero"


def test_group_advantages_as_grpo_and_rloo_compute_them() -> None:
    """GRPO (TRL's default scale_rewards="group"): (r - group mean) / (group std + 1e-4), with TRL's nanstd (Bessel's
    correction); RLOO: r minus the mean of the other completions, which is G / (G - 1) times r minus the mean."""
    from trl.trainer.utils import nanstd

    rewards = torch.tensor([1.0, 2.0, 4.0, 9.0, -1.0, -1.0, 0.5, 3.0])
    groups = rewards.view(2, 4)
    trl_std = nanstd(groups, dim=1).repeat_interleave(4)
    expected = (rewards - groups.mean(dim=1).repeat_interleave(4)) / (trl_std + 1e-4)
    torch.testing.assert_close(group_advantages(rewards, 4), expected)
    torch.testing.assert_close(group_advantages(rewards, 4, scale=False), rewards - groups.mean(1).repeat_interleave(4))
    loo = group_advantages(rewards, 4, baseline="leave_one_out")
    torch.testing.assert_close(loo[0], rewards[0] - (2.0 + 4.0 + 9.0) / 3)
    torch.testing.assert_close(loo, 4 / 3 * group_advantages(rewards, 4, scale=False))
    assert group_advantages(torch.ones(4), 2).abs().max() == 0, "equal rewards: no signal"
    with pytest.raises(ValueError, match="baseline"):
        group_advantages(rewards, 4, baseline="value_head")


# ------------------------------------------------------------------------------------------ rollout, update, loop


def test_rollout_scores_a_batch(tokenizer: Any) -> None:
    model = add_policy_lora(small_policy(tokenizer), r=2, alpha=4, target_modules=["q_proj", "v_proj"])
    head = ValueHead(model.config.hidden_size)
    with torch.no_grad():
        head.linear.weight.normal_()
        for layer in lora_layers(model).values():
            layer.B.normal_(std=0.3)
    recipe = replace(PPO_RECIPE, max_new_tokens=6, beta=0.1, lam=0.9)
    rollout = ppo_rollout(model, head, tokenizer, LengthReward(), PROMPTS, recipe, generator=0)
    mask = rollout.mask.bool()
    assert isinstance(rollout, Rollout) and rollout.old_logps.shape == mask.shape
    for name in ("old_logps", "ref_logps", "old_values", "entropy", "kl", "rewards", "advantages", "returns"):
        assert not getattr(rollout, name)[~mask].any(), f"{name} must be 0 after the end"
    torch.testing.assert_close(rollout.scores, LengthReward().score(rollout.samples.completions))
    torch.testing.assert_close(rollout.kl, (rollout.old_logps - rollout.ref_logps) * mask)
    raw = gae(rollout.rewards, rollout.old_values, 1.0, 0.9) * mask
    torch.testing.assert_close(rollout.returns, raw + rollout.old_values)
    torch.testing.assert_close(rollout.advantages, whiten(raw, rollout.mask))
    stats = rollout.stats()
    assert stats["reward"] == pytest.approx(stats["score"] - 0.1 * stats["kl"], abs=1e-5)
    with pytest.raises(ValueError, match="LoRA"):  # the reference is the model with its adapter off
        ppo_rollout(
            small_policy(tokenizer), head, tokenizer, LengthReward(), PROMPTS, replace(recipe, max_new_tokens=2)
        )


def test_update_clips_only_after_the_first_step(tokenizer: Any) -> None:
    model = add_policy_lora(small_policy(tokenizer), r=2, alpha=4, target_modules=["q_proj", "v_proj"])
    head = ValueHead(model.config.hidden_size)
    recipe = replace(PPO_RECIPE, max_new_tokens=6, beta=0.1)
    rollout = ppo_rollout(model, head, tokenizer, LengthReward(), PROMPTS * 2, recipe)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())

    one = ppo_update(model, head, torch.optim.SGD(params, lr=0.0), rollout, replace(recipe, epochs=1, minibatch_size=8))
    assert one["steps"] == 1 and one["clip_fraction"] == 0.0 and one["approx_kl"] < 1e-10, "ratio 1 at step 1"

    optimizer = torch.optim.AdamW(params, lr=0.05)
    three = replace(recipe, epochs=3, minibatch_size=4)
    many = ppo_update(model, head, optimizer, rollout, three, generator=torch.Generator())
    assert many["steps"] == 6 and many["clip_fraction"] > 0 and many["approx_kl"] > 0
    with torch.no_grad():
        after = completion_log_probs(model, rollout.samples).log_probs
    assert not torch.allclose(after, rollout.old_logps), "the policy moved"


def test_train_ppo_is_seeded(tokenizer: Any) -> None:
    recipe = replace(PPO_RECIPE, iterations=2, batch_size=4, minibatch_size=2, max_new_tokens=5, lora_r=2)
    runs = []
    for _ in range(2):
        model, head, history = train_ppo(
            recipe, model=small_policy(tokenizer), tokenizer=tokenizer, reward_model=LengthReward(),
            prompts=PROMPTS * 3, progress=False,
        )  # fmt: skip
        runs.append((lora_state_dict(model), history))
    (first, h1), (second, h2) = runs
    assert isinstance(h1, PPOHistory) and len(h1.score) == 2 and len(h1.completions[0]) == 4
    assert h1.to_dict() | {"seconds": None} == h2.to_dict() | {"seconds": None}
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert any(v.abs().sum() > 0 for k, v in first.items() if k.endswith(".B")), "the adapter trained"
    assert isinstance(head, ValueHead) and not model.training
    with pytest.raises(ValueError, match="model"):
        train_ppo(recipe, model=small_policy(tokenizer), reward_model=LengthReward(), progress=False)


def test_group_rollouts_have_no_value_head_and_share_an_advantage_per_completion(tokenizer: Any) -> None:
    model = add_policy_lora(small_policy(tokenizer), r=2, alpha=4, target_modules=["q_proj", "v_proj"])
    for advantage, baseline in (("grpo", "mean"), ("rloo", "leave_one_out")):
        recipe = replace(PPO_RECIPE, max_new_tokens=6, beta=0.1, advantage=advantage, group_size=4)
        prompts = [p for p in PROMPTS[:2] for _ in range(4)]
        rollout = ppo_rollout(model, None, tokenizer, LengthReward(), prompts, recipe, generator=0)
        mask = rollout.mask.float()
        assert not rollout.old_values.any() and not rollout.returns.any()
        sequence = group_advantages(rollout.rewards.sum(dim=1), 4, baseline=baseline)[:, None] * mask
        expected = sequence if advantage == "grpo" else whiten(sequence, mask)
        torch.testing.assert_close(rollout.advantages, expected)
        params = [p for p in model.parameters() if p.requires_grad]
        update = ppo_update(model, None, torch.optim.AdamW(params, lr=1e-3), rollout, recipe)
        assert update["value_loss"] == 0.0 and update["steps"] == 4


def test_prompt_batches_repeat_each_prompt_group_size_times() -> None:
    recipe = replace(PPO_RECIPE, iterations=3, batch_size=4, minibatch_size=2, advantage="grpo", group_size=2)
    batches = ppo_training.prompt_batches(PROMPTS, recipe)
    assert [len(b) for b in batches] == [4, 4, 4] and all(b[0] == b[1] and b[2] == b[3] for b in batches)
    plain = ppo_training.prompt_batches(PROMPTS, replace(recipe, advantage="gae", group_size=1))
    assert plain[0][:2] == [batches[0][0], batches[0][2]], "the same prompt order, fewer prompts per batch"


def test_value_clipping_and_shaped_scores() -> None:
    old = torch.zeros(1, 2)
    returns = torch.tensor([[1.0, -1.0]])
    new = torch.tensor([[0.9, 0.1]])
    mask = torch.ones(1, 2)
    plain = value_loss(new, returns, mask)
    clipped = value_loss(new, returns, mask, old_values=old, clip=0.2)
    # token 0: clamped to 0.2, error (0.2 - 1)^2 = 0.64 > 0.01; token 1: inside the clip range, 1.21 both ways
    assert float(clipped) == pytest.approx(0.5 * (0.64 + 1.21) / 2) and float(clipped) > float(plain)
    recipe = replace(PPO_RECIPE, missing_eos_penalty=1.0)
    scores = ppo_training.shaped_scores(torch.tensor([2.0, 4.0]), torch.tensor([True, False]), recipe, (2.0, 2.0))
    torch.testing.assert_close(scores, torch.tensor([0.0, 0.0]))


def test_normalized_scores_are_recorded(tokenizer: Any) -> None:
    recipe = replace(
        PPO_RECIPE, iterations=1, batch_size=4, minibatch_size=2, max_new_tokens=4, lora_r=2, normalize_scores=True
    )
    _, _, history = train_ppo(
        recipe, model=small_policy(tokenizer), tokenizer=tokenizer, reward_model=LengthReward(),
        prompts=PROMPTS, progress=False,
    )  # fmt: skip
    assert len(history.score_scale) == 2 and history.score_scale[1] > 0
    assert 0.0 <= history.ended[0] <= 1.0


def test_recipe_checks_and_smoke() -> None:
    smoke = PPO_RECIPE.smoke()
    assert smoke.iterations < PPO_RECIPE.iterations and smoke.reward_smoke and not PPO_RECIPE.reward_smoke
    assert ppo_policy_dir(smoke) != ppo_policy_dir(PPO_RECIPE)
    assert ppo_policy_dir(PPO_RECIPE) == ppo_policy_dir(PPORecipe())
    with pytest.raises(ValueError, match="minibatch_size"):
        PPORecipe(batch_size=4, minibatch_size=8)
    assert smoke.reward_recipe() != PPO_RECIPE.reward_recipe(), "a smoke run optimises the smoke reward model"
    with pytest.raises(ValueError, match="kl_estimator"):
        PPORecipe(kl_estimator="exact")
    for clip in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="clip"):
            PPORecipe(clip=clip)
    with pytest.raises(ValueError, match="gamma"):
        PPORecipe(gamma=1.5)
    with pytest.raises(TypeError, match="iterations"):
        PPORecipe(iterations=2.5)
    with pytest.raises(TypeError, match="lora_targets"):
        PPORecipe(lora_targets=["q_proj"])
    with pytest.raises(ValueError, match="advantage"):
        PPORecipe(advantage="vtrace")
    with pytest.raises(ValueError, match="group_size"):
        PPORecipe(advantage="grpo")
    with pytest.raises(ValueError, match="group_size"):
        PPORecipe(batch_size=8, group_size=3)


def test_cached_adapter_is_trained_once_then_loaded(
    tokenizer: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_ppo_policy trains when the cache is empty (here on the tiny model and the stand-in reward), saves the
    adapter, and later loads the same adapter; train_if_missing=False refuses an empty cache."""
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(ppo_training, "load_chat_model", lambda device=None: (small_policy(tokenizer), tokenizer))
    monkeypatch.setattr(ppo_training, "load_reward_model", lambda recipe, **kwargs: LengthReward())
    recipe = replace(PPO_RECIPE.smoke(), iterations=1, max_new_tokens=3, lora_r=2)
    with pytest.raises(FileNotFoundError, match="notebook 13"):
        load_ppo_policy(recipe, train_if_missing=False)
    trained, _ = load_ppo_policy(recipe, progress=False)
    assert (ppo_policy_dir(recipe) / ppo_training.ADAPTER_FILE).is_file()
    assert str(ppo_policy_dir(recipe)).startswith(str(tmp_path))
    assert len(ppo_training_info(recipe)["history"]["score"]) == 1
    loaded, tok = load_ppo_policy(recipe, train_if_missing=False)
    assert tok is tokenizer and not loaded.training
    expected, got = lora_state_dict(trained), lora_state_dict(loaded)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert save_ppo_policy(loaded, recipe) == ppo_policy_dir(recipe)
    with pytest.raises(TypeError, match="recipe"):
        load_ppo_policy("ppo")
    # the folder's name does not show the reward model: a changed REWARD_RECIPE makes the adapter stale
    monkeypatch.setattr(PPORecipe, "reward_recipe", lambda self: replace(ppo_training.REWARD_RECIPE, seed=7))
    with pytest.raises(RuntimeError, match="another reward model"):
        load_ppo_policy(recipe, train_if_missing=False)


def test_a_checkpoint_equals_the_shorter_run(tokenizer: Any) -> None:
    """on_iteration sees the adapter after iteration i: the adapter a run of i iterations ends with."""
    recipe = replace(PPO_RECIPE, iterations=3, batch_size=4, minibatch_size=2, max_new_tokens=4, lora_r=2)
    kept = {}

    def keep(i: int, model: Any, history: PPOHistory) -> None:
        kept[i] = (lora_state_dict(model), len(history.score))

    run = {"model": small_policy(tokenizer), "tokenizer": tokenizer, "reward_model": LengthReward(), "prompts": PROMPTS}
    train_ppo(recipe, **run, progress=False, on_iteration=keep)
    short, _, _ = train_ppo(replace(recipe, iterations=2), **run, progress=False)
    assert sorted(kept) == [1, 2, 3] and kept[2][1] == 2
    assert all(torch.equal(kept[2][0][k], v) for k, v in lora_state_dict(short).items())
