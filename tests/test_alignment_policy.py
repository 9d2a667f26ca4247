"""utils.alignment.policy: the prompt splits, the LoRA policy and its reference (the same model, adapter off),
seeded sampling (greedy equal to transformers' `generate`, masks up to and including the first end token),
per-token log-probabilities and entropies equal to TRL's helpers, and `evaluate_policy` on a tiny model.
The tiny random Llama uses SmolLM2's real tokenizer (its chat template, pad = EOS)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from tiny_models import tiny_llama
from transformers import LlamaForCausalLM

from utils.alignment.policy import (
    PolicyEvaluation,
    Samples,
    add_policy_lora,
    chat_prompts,
    compare_policies,
    completion_log_probs,
    evaluate_policy,
    make_generator,
    movie_title,
    review_prompts,
    sample_completions,
    stop_token_ids,
)
from utils.generation.scoring import sequence_log_probs
from utils.training.classification import count_trainable
from utils.training.lora import disable_lora, lora_layers

PROMPTS = ["Say something kind about tea.", "Two words on rain?", "Describe a very small, quiet harbour at dawn."]


def small_policy(tokenizer: Any, *, eos_boost: float = 0.0, seed: int = 0) -> LlamaForCausalLM:
    """A tiny Llama over SmolLM2's vocabulary; `eos_boost` (about 9-10) makes the end token likely: rows stop early."""
    model = tiny_llama(len(tokenizer), seed=seed, max_position_embeddings=128)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    if eos_boost:  # a bias on the end token's logit, added by a hook (the tiny model's head has no bias)
        bias = torch.zeros(len(tokenizer))
        bias[tokenizer.eos_token_id] = eos_boost
        model.lm_head.register_forward_hook(lambda module, inputs, output: output + bias)
    return model


class LengthReward:
    """A stand-in reward model: the number of characters of each completion, divided by 10."""

    def score(self, texts: list[str], *, prompts: list[str] | None = None) -> torch.Tensor:
        return torch.tensor([len(t) / 10 for t in texts])


def test_review_prompts_are_distinct_ordered_and_split() -> None:
    train, test = review_prompts("train"), review_prompts("test")
    assert len(train) == len(set(train)) > 100 and len(test) == len(set(test)) > 10
    assert not set(train) & set(test), "the held-out prompts must name other movies"
    assert all(p.startswith("Write a short positive review of the movie ") for p in train + test)
    assert review_prompts("test", 5) == test[:5] and review_prompts("test") == test  # a fixed order
    with pytest.raises(ValueError, match="split"):
        review_prompts("validation")
    with pytest.raises(ValueError, match="`n`"):
        review_prompts("test", 0)
    with pytest.raises(ValueError, match="`n`"):
        review_prompts("test", len(test) + 1)


def test_chat_prompts_use_the_template(tokenizer: Any) -> None:
    texts = chat_prompts(tokenizer, PROMPTS[:1])
    assert texts[0].endswith(f"{PROMPTS[0]}<|im_end|>\n<|im_start|>assistant\n")
    assert texts[0].startswith("<|im_start|>system\n"), "SmolLM2's template adds its default system prompt"
    with pytest.raises(ValueError, match="prompts"):
        chat_prompts(tokenizer, [])
    with pytest.raises(ValueError, match="prompts"):
        chat_prompts(tokenizer, "one prompt")


def test_policy_lora_starts_as_the_reference(tokenizer: Any) -> None:
    model = small_policy(tokenizer)
    ids = torch.tensor([[5, 6, 7, 8]])
    before = model(input_ids=ids).logits
    assert add_policy_lora(model, r=2, alpha=4, target_modules=["q_proj", "v_proj"]) is model
    assert count_trainable(model) == sum(p.numel() for layer in lora_layers(model).values() for p in (layer.A, layer.B))
    torch.testing.assert_close(model(input_ids=ids).logits, before)  # B = 0
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.B.normal_()
    assert not torch.allclose(model(input_ids=ids).logits, before)
    with disable_lora(model):
        torch.testing.assert_close(model(input_ids=ids).logits, before)
    with pytest.raises(ValueError, match="target_modules"):
        add_policy_lora(small_policy(tokenizer), r=2, alpha=4, target_modules=["nothing_here"])


def test_greedy_sampling_equals_generate(tokenizer: Any) -> None:
    """Left padding, a key/value cache and the same stop rule as transformers' greedy `generate`."""
    model = small_policy(tokenizer, eos_boost=0.45)  # rows end at different steps
    samples = sample_completions(model, tokenizer, PROMPTS, max_new_tokens=12, greedy=True)
    assert len(set(samples.lengths.tolist())) > 1
    batch = tokenizer(chat_prompts(tokenizer, PROMPTS), add_special_tokens=False)
    for i, ids in enumerate(batch["input_ids"]):  # one prompt at a time: no padding at all in the reference
        out = model.generate(
            torch.tensor([ids]), max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )[0, len(ids) :]
        n = int(samples.lengths[i])
        assert samples.completion_ids[i, :n].tolist() == out[:n].tolist()
        assert n == 12 or out[n - 1] == tokenizer.eos_token_id
    assert samples.prompt_mask[:, -1].all() and not samples.prompt_mask[:, 0].all(), "prompts are padded on the left"


def test_sampling_is_seeded_and_masks_up_to_the_first_end(tokenizer: Any) -> None:
    model = small_policy(tokenizer, eos_boost=9.5)
    eos = tokenizer.eos_token_id
    first = sample_completions(model, tokenizer, PROMPTS * 4, max_new_tokens=10, generator=3)
    again = sample_completions(model, tokenizer, PROMPTS * 4, max_new_tokens=10, generator=make_generator(3))
    other = sample_completions(model, tokenizer, PROMPTS * 4, max_new_tokens=10, generator=4)
    assert torch.equal(first.completion_ids, again.completion_ids) and first.completions == again.completions
    assert not torch.equal(first.completion_ids[:, :3], other.completion_ids[:, :3])
    ended = 0
    for ids, mask in zip(first.completion_ids.tolist(), first.completion_mask.tolist(), strict=True):
        n = sum(mask)
        assert mask == [1] * n + [0] * (len(mask) - n), "the mask is a run of ones from the start"
        if eos in ids:
            ended += 1
            assert n == ids.index(eos) + 1, "the first end token counts; nothing after it does"
            assert all(t == tokenizer.pad_token_id for t in ids[n:])
        else:
            assert n == len(ids)
    assert 0 < ended < len(PROMPTS) * 4, "the boosted end token should stop some rows, not all"
    assert len(first) == 12 and first.select([1, 0]).prompts == [PROMPTS[1], PROMPTS[0]]
    assert stop_token_ids(model, tokenizer) == [eos]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_new_tokens": 0}, ValueError, "max_new_tokens"),
        ({"max_new_tokens": 4, "temperature": 0.0}, ValueError, "temperature"),
    ],
)
def test_sampling_refuses_bad_arguments(tokenizer: Any, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        sample_completions(small_policy(tokenizer), tokenizer, PROMPTS, **kwargs)


def test_completion_log_probs_equal_unpadded_scoring_and_trl(tokenizer: Any) -> None:
    """Left-padded batch scoring equals scoring each sequence alone (sequence_log_probs); per-token values equal
    TRL's selective_log_softmax and entropy_from_logits on the same logits."""
    from trl.trainer.utils import entropy_from_logits, selective_log_softmax

    model = small_policy(tokenizer, eos_boost=9.5, seed=1)
    samples = sample_completions(model, tokenizer, PROMPTS, max_new_tokens=8, generator=0)
    scores = completion_log_probs(model, samples, with_entropy=True, with_hidden=True)
    assert scores.log_probs.shape == samples.completion_ids.shape
    assert scores.hidden.shape == (*samples.completion_ids.shape, model.config.hidden_size)
    for i in range(len(samples)):
        prompt = samples.prompt_ids[i][samples.prompt_mask[i].bool()]
        completion = samples.completion_ids[i][samples.completion_mask[i].bool()]
        ids = torch.cat([prompt, completion])[None]
        marks = torch.cat([torch.zeros_like(prompt), torch.ones_like(completion)])[None]
        alone = sequence_log_probs(model, ids, None, marks)
        torch.testing.assert_close(scores.log_probs[i, : len(completion)], alone.per_token[0, len(prompt) :])
        logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1]
        torch.testing.assert_close(scores.log_probs[i, : len(completion)], selective_log_softmax(logits, completion))
        torch.testing.assert_close(scores.entropy[i, : len(completion)], entropy_from_logits(logits))
        assert not scores.log_probs[i, len(completion) :].any() and not scores.entropy[i, len(completion) :].any()
    plain = completion_log_probs(model, samples)
    assert plain.entropy is None and plain.hidden is None
    torch.testing.assert_close(plain.log_probs, scores.log_probs)


def test_evaluate_policy_on_a_tiny_model(tokenizer: Any) -> None:
    model = add_policy_lora(small_policy(tokenizer, eos_boost=9.5), r=2, alpha=4, target_modules=["q_proj"])
    prompts = PROMPTS * 2
    fresh = evaluate_policy(model, tokenizer, LengthReward(), prompts, max_new_tokens=6, seed=0, batch_size=4)
    assert isinstance(fresh, PolicyEvaluation) and len(fresh) == len(prompts) and fresh.prompts == prompts
    assert torch.equal(fresh.kl, torch.zeros(len(prompts))), "a fresh adapter (B = 0) is the reference: KL 0"
    torch.testing.assert_close(fresh.rewards, LengthReward().score(fresh.completions))
    assert fresh.mean_reward == pytest.approx(float(fresh.rewards.mean()), abs=1e-6)
    assert fresh.reward_sem == pytest.approx(float(fresh.rewards.std()) / math.sqrt(len(prompts)), rel=1e-5)
    assert "reward" in fresh.summary() and fresh.lengths.max() <= 6

    again = evaluate_policy(model, tokenizer, LengthReward(), prompts, max_new_tokens=6, seed=0, batch_size=4)
    assert again.completions == fresh.completions and torch.equal(again.rewards, fresh.rewards)

    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.B.normal_(std=0.5)
    moved = evaluate_policy(model, tokenizer, LengthReward(), prompts, max_new_tokens=6, seed=0)
    assert moved.kl.abs().sum() > 0 and math.isfinite(moved.kl_sem)
    samples = sample_completions(model, tokenizer, prompts, max_new_tokens=6, generator=0)
    with torch.no_grad():  # the KL is the summed log-ratio policy / reference on the sampled tokens
        policy = completion_log_probs(model, samples).log_probs
        with disable_lora(model):
            reference = completion_log_probs(model, samples).log_probs
    torch.testing.assert_close(moved.kl, (policy - reference).sum(dim=1))

    greedy = evaluate_policy(model, tokenizer, LengthReward(), prompts[:2], max_new_tokens=6, seed=0, greedy=True)
    other_seed = evaluate_policy(model, tokenizer, LengthReward(), prompts[:2], max_new_tokens=6, seed=9, greedy=True)
    assert greedy.completions == other_seed.completions, "greedy decoding ignores the seed"

    plain = evaluate_policy(small_policy(tokenizer), tokenizer, LengthReward(), prompts[:2], max_new_tokens=3, seed=0)
    assert torch.equal(plain.kl, torch.zeros(2)), "a model without LoRA is its own reference"


def test_evaluate_policy_refuses_bad_arguments(tokenizer: Any) -> None:
    model = small_policy(tokenizer)
    with pytest.raises(ValueError, match="prompts"):
        evaluate_policy(model, tokenizer, LengthReward(), [], max_new_tokens=2, seed=0)
    with pytest.raises(TypeError, match="reward_model"):
        evaluate_policy(model, tokenizer, object(), PROMPTS, max_new_tokens=2, seed=0)
    assert isinstance(sample_completions(model, tokenizer, PROMPTS[:1], max_new_tokens=1), Samples)


def test_evaluate_policy_with_samples_per_prompt_a_judge_and_diagnostics(tokenizer: Any) -> None:
    model = add_policy_lora(small_policy(tokenizer, eos_boost=9.5), r=2, alpha=4, target_modules=["q_proj"])
    prompts = [f"Write a short positive review of the movie {title}." for title in ("Up", "Heat", "Alien")]

    class MentionJudge:
        def score(self, texts: list[str], *, prompts: list[str] | None = None) -> torch.Tensor:
            return torch.tensor([float(movie_title(p) in t) + 0.5 for t, p in zip(texts, prompts, strict=True)])

    result = evaluate_policy(
        model, tokenizer, LengthReward(), prompts, max_new_tokens=6, seed=0, samples_per_prompt=3, judge=MentionJudge()
    )
    assert len(result) == 9 and result.prompts == [p for p in prompts for _ in range(3)]
    assert result.ended.dtype == torch.bool and result.ended.shape == (9,)
    assert result.per_prompt("reward").shape == (3,)
    torch.testing.assert_close(result.per_prompt("reward")[1], result.rewards[3:6].double().mean())
    diagnostics = result.diagnostics()
    assert set(diagnostics) == {
        "reward",
        "judge",
        "kl",
        "length",
        "ended",
        "distinct_2",
        "repeated_4gram",
        "mentions_movie",
    }
    assert diagnostics["judge"] == pytest.approx(diagnostics["mentions_movie"] + 0.5)
    assert "judge" in result.summary()
    same = compare_policies(result, result, "reward")
    assert same.mean == same.low == same.high == 0.0
    with pytest.raises(ValueError, match="judge"):
        evaluate_policy(model, tokenizer, LengthReward(), prompts, max_new_tokens=2, seed=0).metric("judge")
    with pytest.raises(ValueError, match="same prompts"):
        compare_policies(result, evaluate_policy(model, tokenizer, LengthReward(), prompts, max_new_tokens=2, seed=0))
    with pytest.raises(ValueError, match="name"):
        result.metric("bleu")


def test_sampled_rows_know_whether_they_ended(tokenizer: Any) -> None:
    model = small_policy(tokenizer, eos_boost=9.5)
    samples = sample_completions(model, tokenizer, PROMPTS * 4, max_new_tokens=5, generator=0)
    stops = torch.tensor(stop_token_ids(model, tokenizer))
    last = samples.completion_ids.gather(1, (samples.lengths - 1)[:, None])[:, 0]
    assert torch.equal(samples.ended, torch.isin(last, stops))
    assert torch.equal(samples.select([1, 0]).ended, samples.ended[[1, 0]])
