"""utils.prompting: prompt building, balanced example draws, and batched scoring / generation checked against
one-prompt-at-a-time forward passes and `generate` calls."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from utils.generation.prompting import (
    build_few_shot_prompt,
    draw_examples,
    few_shot_predict,
    few_shot_prefix,
    format_example,
    generate_completions,
    label_log_probs,
    label_token_ids,
    parse_label,
)

TEXTS = [f"review {i}" for i in range(10)]
LABELS = [0, 0, 0, 1, 1, 1, 1, 1, 0, 1]
PROMPTS = [
    "Classify this review: a joyless, plodding mess.\nSentiment:",
    "Classify this review: warm, funny and beautifully acted; the best film of the year.\nSentiment:",
    "The capital of France is",
]


def test_format_example_open_and_solved() -> None:
    assert format_example("great") == "Classify this review: great\nSentiment:"
    assert format_example("great", 1) == "Classify this review: great\nSentiment: positive"
    assert format_example("bad", np.int64(0), template="Q: {text}\nA:") == "Q: bad\nA: negative"


def test_build_few_shot_prompt_keeps_order_and_ends_open() -> None:
    prompt = build_few_shot_prompt([("a", 1), ("b", 0)], "c")
    assert prompt.startswith(few_shot_prefix([("a", 1), ("b", 0)]) + "\n\n")
    assert few_shot_prefix([]) == ""
    parts = prompt.split("\n\n")
    assert parts == [format_example("a", 1), format_example("b", 0), format_example("c")]
    assert build_few_shot_prompt([], "c") == format_example("c")


def test_format_example_needs_the_text_placeholder() -> None:
    with pytest.raises(ValueError, match="`template`"):
        format_example("x", template="no placeholder")


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4, 7])
def test_draw_examples_is_balanced_distinct_and_reproducible(k: int) -> None:
    drawn = draw_examples(TEXTS, LABELS, k, np.random.default_rng(3))
    assert drawn == draw_examples(TEXTS, LABELS, k, np.random.default_rng(3))
    assert len(drawn) == k and len({t for t, _ in drawn}) == k
    assert all(LABELS[TEXTS.index(t)] == y for t, y in drawn)
    n_pos = sum(y for _, y in drawn)
    assert abs(n_pos - (k - n_pos)) <= 1


def test_draw_examples_odd_k_gives_the_extra_example_to_either_label() -> None:
    extra = {sum(y for _, y in draw_examples(TEXTS, LABELS, 1, np.random.default_rng(s))) for s in range(20)}
    assert extra == {0, 1}


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((TEXTS, LABELS[:3], 1), ValueError, "equal length"),
        (([], [], 1), ValueError, "non-empty"),
        ((TEXTS, LABELS, 10), ValueError, "only 4 exist"),
    ],
)
def test_draw_examples_rejects_bad_arguments(args: tuple[Any, ...], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        draw_examples(*args, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("completion", "label"),
    [
        (" positive", 1),
        (" Negative.", 0),
        ("POSITIVE!", 1),
        (" positively", -1),  # not the label word
        (" neutral", -1),
        ("positive or negative", -1),  # ambiguous
        ("", -1),
    ],
)
def test_parse_label(completion: str, label: int) -> None:
    assert parse_label(completion) == label


def test_label_token_ids_are_single_tokens(chat_model: tuple[Any, Any]) -> None:
    _, tokenizer = chat_model
    ids = label_token_ids(tokenizer)
    assert [tokenizer.decode([i]) for i in ids] == [" negative", " positive"]
    with pytest.raises(ValueError, match="single-token"):
        label_token_ids(tokenizer, ["negative", "antidisestablishmentarianism"])


def test_label_log_probs_batched_equals_one_by_one(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    ids = label_token_ids(tokenizer)
    before = tokenizer.padding_side
    batched = label_log_probs(model, tokenizer, PROMPTS, ids, batch_size=3)
    assert batched.shape == (len(PROMPTS), 2)
    assert tokenizer.padding_side == before
    for row, prompt in zip(batched, PROMPTS, strict=True):
        with torch.no_grad():
            logits = model(**tokenizer(prompt, return_tensors="pt")).logits[0, -1]
        reference = torch.log_softmax(logits.float(), dim=-1)[ids].numpy()
        np.testing.assert_allclose(row, reference, atol=1e-4)
    # read the right way round: the angry review leans more to " negative" than the happy one (zero-shot, the
    # model prefers " positive" for both: that is the label bias notebook 06 measures)
    assert batched[0, 0] - batched[0, 1] > batched[1, 0] - batched[1, 1] + 1.0


def test_label_log_probs_with_a_shared_prefix_cache_equals_without(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    ids = label_token_ids(tokenizer)
    examples = [("a joyless, plodding mess.", 0), ("warm and funny.", 1)]
    queries = ["silly, loud and goofy.", "a gem.", "I wanted my two hours back, and then some more of them."]
    prompts = [build_few_shot_prompt(examples, q) for q in queries]
    prefix = few_shot_prefix(examples)
    assert all(p.startswith(prefix + "\n\n") for p in prompts)
    plain = label_log_probs(model, tokenizer, prompts, ids, batch_size=2)
    cached = label_log_probs(model, tokenizer, prompts, ids, batch_size=2, shared_prefix=prefix)
    np.testing.assert_allclose(cached, plain, atol=1e-4)
    with pytest.raises(ValueError, match="token boundary"):  # cutting after the whitespace splits a token
        label_log_probs(model, tokenizer, prompts, ids, shared_prefix=prefix + "\n\n")
    with pytest.raises(ValueError, match="start with `shared_prefix`"):
        label_log_probs(model, tokenizer, prompts, ids, shared_prefix="Something else")


def test_generate_completions_batched_equals_one_by_one(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    before = tokenizer.padding_side
    batched = generate_completions(model, tokenizer, PROMPTS, max_new_tokens=3, batch_size=3)
    assert tokenizer.padding_side == before
    for text, prompt in zip(batched, PROMPTS, strict=True):
        inputs = tokenizer(prompt, return_tensors="pt")
        out = model.generate(**inputs, max_new_tokens=3, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        assert text == tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def test_generate_completions_and_label_log_probs_refuse_one_string(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    with pytest.raises(TypeError, match="`prompts`"):
        generate_completions(model, tokenizer, "one string")
    with pytest.raises(TypeError, match="`prompts`"):
        label_log_probs(model, tokenizer, "one string", label_token_ids(tokenizer))


def test_few_shot_predict_equals_the_argmax_of_label_log_probs(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    examples = [("a joyless, plodding mess.", 0), ("warm, funny and moving.", 1)]
    texts = ["the worst film I have seen in years.", "a delight from start to finish.", "it exists."]
    prompts = [build_few_shot_prompt(examples, t) for t in texts]
    scores = label_log_probs(model, tokenizer, prompts, label_token_ids(tokenizer))  # no cached prefix
    np.testing.assert_array_equal(few_shot_predict(model, tokenizer, examples, texts), scores.argmax(axis=1))
    zero_shot = label_log_probs(
        model, tokenizer, [build_few_shot_prompt([], t) for t in texts], label_token_ids(tokenizer)
    )
    np.testing.assert_array_equal(few_shot_predict(model, tokenizer, [], texts), zero_shot.argmax(axis=1))
    with pytest.raises(TypeError, match="texts"):
        few_shot_predict(model, tokenizer, examples, "one text")
