"""utils.training.instruction: the two prompt formats, the response-only mask and loss (equal to TRL's SFTTrainer
on the same examples), the data mix, and the cached instruction-tuned model."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from typing import Any

import pytest
import torch
from tiny_models import tiny_llama as shared_tiny_llama
from transformers import LlamaForCausalLM

from utils.training import instruction
from utils.training.instruction import (
    INSTRUCTION_RECIPE,
    LORA_RECIPE,
    REPLAY_INSTRUCTION,
    InstructionRecipe,
    SFTCollator,
    chat_messages,
    format_alpaca,
    generate_responses,
    instruction_model_dir,
    instruction_model_info,
    instruction_rows,
    load_instruction_tuned,
    replay_rows,
    save_instruction_model,
    sft_loss,
    tokenize_example,
    train_instruction_model,
)

ROWS = [
    {"instruction": "Name a colour.", "input": "", "output": "Teal."},
    {"instruction": "Add the numbers.", "input": "2 and 40", "output": "42"},
    {"instruction": "Spell it backwards.", "input": "stressed", "output": "desserts, as it happens"},
]


def tiny_llama(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    return shared_tiny_llama(vocab_size, seed=seed, tie_word_embeddings=True)


def test_tokenization_and_loss_equal_trl_sft_trainer(tokenizer: Any) -> None:
    """TRL's SFTTrainer on conversational prompt-completion rows: same ids, same response tokens, same loss."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model = tiny_llama(len(tokenizer))
    data = [dict(zip(("prompt", "completion"), chat_messages(r), strict=True)) for r in ROWS]
    args = SFTConfig(
        output_dir=tempfile.mkdtemp(),
        max_length=64,
        per_device_train_batch_size=3,
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        activation_checkpointing=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(data), processing_class=tokenizer)
    trl_rows = list(trainer.train_dataset)
    for row, theirs in zip(ROWS, trl_rows, strict=True):
        ours = tokenize_example(tokenizer, row, max_length=64)
        assert ours["input_ids"] == theirs["input_ids"]
        assert ours["completion_mask"] == [int(label != -100) for label in theirs["labels"]]
    trl_batch = trainer.data_collator(trl_rows)
    with torch.no_grad():
        theirs = trainer.compute_loss(model.eval(), dict(trl_batch))
        ours, n_tokens = sft_loss(model, SFTCollator(tokenizer, max_length=64)(ROWS))
    assert n_tokens == int((trl_batch["labels"][:, 1:] != -100).sum())
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_sft_loss_equals_transformers_loss_with_ignored_labels(tokenizer: Any) -> None:
    model = tiny_llama(len(tokenizer), seed=1)
    batch = SFTCollator(tokenizer, max_length=64)(ROWS)
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    with torch.no_grad():
        reference = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
        ours, _ = sft_loss(model, batch)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)


def test_collator_pads_right_and_masks_prompt_and_padding(tokenizer: Any) -> None:
    batch = SFTCollator(tokenizer, max_length=64)(ROWS)
    lengths = batch["attention_mask"].sum(dim=1)
    assert batch["input_ids"].shape == batch["completion_mask"].shape == (3, int(lengths.max()))
    for i, row in enumerate(ROWS):
        n = int(lengths[i])
        assert batch["attention_mask"][i, :n].all() and not batch["attention_mask"][i, n:].any()
        assert not batch["completion_mask"][i, n:].any()
        response = tokenizer.decode(batch["input_ids"][i][batch["completion_mask"][i].bool()])
        assert response.startswith(row["output"]) and "<|im_end|>" in response  # the answer and its end-of-turn
        assert row["instruction"] in tokenizer.decode(batch["input_ids"][i, :n][batch["completion_mask"][i, :n] == 0])


def test_alpaca_format_and_its_tokens(tokenizer: Any) -> None:
    prompt, response = format_alpaca(ROWS[1])
    assert "### Instruction:\nAdd the numbers." in prompt and "### Input:\n2 and 40" in prompt
    assert prompt.endswith("### Response:\n") and response == "42"
    assert "### Input" not in format_alpaca(ROWS[0])[0]
    example = tokenize_example(tokenizer, ROWS[1], template="alpaca")
    ids, mask = example["input_ids"], example["completion_mask"]
    assert ids[-1] == tokenizer.eos_token_id and mask[-1] == 1
    assert tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m]) == "42" + tokenizer.eos_token
    cut = tokenize_example(tokenizer, ROWS[1], template="alpaca", max_length=10)
    assert len(cut["input_ids"]) == 10 and not any(cut["completion_mask"])


def test_instruction_rows_mix_is_deterministic_and_split_by_word() -> None:
    rows = instruction_rows("train", n_wordnet=12, n_summaries=5, n_sentiment=3, seed=3)
    assert rows == instruction_rows("train", n_wordnet=12, n_summaries=5, n_sentiment=3, seed=3)
    assert [r["task"] for r in rows].count("wordnet") == 12 and len(rows) == 20
    assert {r["output"] for r in rows if r["task"] == "sentiment"} <= {"positive", "negative"}
    assert all(len(r["input"].split()) <= 61 for r in rows if r["task"] == "summary")
    other = instruction_rows("train", n_wordnet=12, n_summaries=5, n_sentiment=3, seed=4)
    assert rows != other
    test_words = {r["input"] for r in instruction_rows("test", n_wordnet=50, n_summaries=0)}
    train_words = {r["input"] for r in instruction_rows("train", n_wordnet=500, n_summaries=0)}
    assert not test_words & train_words


@pytest.mark.parametrize(
    ("call", "error", "names"),
    [
        (lambda: instruction_rows("dev", n_wordnet=1, n_summaries=1), ValueError, "split"),
        (lambda: instruction_rows("train", n_wordnet=0, n_summaries=0), ValueError, "at least one row"),
        (lambda: instruction_rows("test", n_wordnet=10**6, n_summaries=0), ValueError, "asked for"),
        (lambda: InstructionRecipe(method="qlora"), ValueError, "method"),
        (lambda: InstructionRecipe(lora_targets=["q_proj"]), TypeError, "lora_targets"),
        (lambda: InstructionRecipe(n_sentiment=-1), ValueError, "n_sentiment"),
        (lambda: InstructionRecipe(steps=4, warmup_steps=5), ValueError, "warmup_steps"),
        (lambda: instruction_model_dir({"steps": 1}), TypeError, "recipe"),
    ],
)
def test_bad_arguments_are_refused(call, error: type[Exception], names: str) -> None:
    with pytest.raises(error, match=names):
        call()


def test_bad_template_and_empty_batch_are_refused(tokenizer: Any) -> None:
    with pytest.raises(ValueError, match="template"):
        tokenize_example(tokenizer, ROWS[0], template="vicuna")
    with pytest.raises(AssertionError, match="no response tokens"):
        sft_loss(tiny_llama(len(tokenizer)), SFTCollator(tokenizer, max_length=8)(ROWS))


def test_loss_on_all_scores_every_real_token_and_bad_settings_are_refused(tokenizer: Any) -> None:
    batch = SFTCollator(tokenizer, max_length=64)(ROWS)
    every = SFTCollator(tokenizer, max_length=64, loss_on="all")(ROWS)
    assert torch.equal(every["completion_mask"], batch["attention_mask"])
    assert torch.equal(every["input_ids"], batch["input_ids"])
    with pytest.raises(ValueError, match="loss_on"):
        SFTCollator(tokenizer, loss_on="prompt")
    with pytest.raises(ValueError, match="loss_on"):
        InstructionRecipe(loss_on="prompt")
    with pytest.raises(ValueError, match="n_replay"):
        InstructionRecipe(n_replay=-1)


def test_replay_rows_are_the_models_own_answers_to_passages(tokenizer: Any) -> None:
    model = tiny_llama(len(tokenizer))
    rows = replay_rows(model, tokenizer, 3, seed=1, max_new_tokens=4)
    assert [r["task"] for r in rows] == ["replay"] * 3
    assert all(r["instruction"] == REPLAY_INSTRUCTION and len(r["input"].split()) <= 41 for r in rows)
    assert rows == replay_rows(model, tokenizer, 3, seed=1, max_new_tokens=4)  # the same rows every time
    assert [r["output"] for r in rows] == generate_responses(model, tokenizer, rows, max_new_tokens=4)
    with pytest.raises(ValueError, match="`n`"):
        replay_rows(model, tokenizer, 0)


def test_replay_recipe_trains_on_the_task_rows_plus_replay(tokenizer: Any) -> None:
    recipe = replace(INSTRUCTION_RECIPE.smoke(), n_replay=2, batch_size=3)
    seen = []
    model, _, history = train_instruction_model(
        recipe, model=tiny_llama(len(tokenizer)), tokenizer=tokenizer, on_validate=lambda step, m: seen.append(step)
    )
    assert seen == [0, 1, 2] and len(history.train_loss) == recipe.steps
    assert not model.is_activation_checkpointing  # switched off again after full fine-tuning


def test_recipes_have_their_own_cache_folders() -> None:
    folders = {instruction_model_dir(r) for r in (INSTRUCTION_RECIPE, LORA_RECIPE, INSTRUCTION_RECIPE.smoke())}
    assert len(folders) == 3
    assert instruction_model_dir(replace(INSTRUCTION_RECIPE)) == instruction_model_dir(INSTRUCTION_RECIPE)
    small = INSTRUCTION_RECIPE.smoke()
    assert small.steps < INSTRUCTION_RECIPE.steps and small.method == "full"


def test_train_save_and_load_the_tuned_model(tokenizer: Any, tmp_path, monkeypatch) -> None:
    """The cache path notebooks 10 and 11 rely on: train (here a tiny model), save, reload the same weights."""
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    recipe = replace(INSTRUCTION_RECIPE.smoke(), steps=3, lr=1e-2)
    with pytest.raises(FileNotFoundError, match="notebook 09"):
        load_instruction_tuned(recipe, train_if_missing=False)
    model, tok, history = train_instruction_model(recipe, model=tiny_llama(len(tokenizer)), tokenizer=tokenizer)
    assert len(history.train_loss) == 3 and history.val_loss[-1] < history.val_loss[0]  # lr 1e-2: it learns fast
    folder = save_instruction_model(model, tok, recipe, history)
    assert folder == instruction_model_dir(recipe) and folder.parent == tmp_path
    assert instruction_model_info(recipe)["history"]["train_loss"] == history.train_loss
    loaded, _ = load_instruction_tuned(recipe, train_if_missing=False)
    batch = SFTCollator(tok, max_length=64)(ROWS)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(**{k: batch[k] for k in ("input_ids", "attention_mask")}).logits,
            model(**{k: batch[k] for k in ("input_ids", "attention_mask")}).logits,
        )
    with pytest.raises(ValueError, match="both"):
        train_instruction_model(recipe, model=model)
    assert instruction.INSTRUCTION_NAME in folder.name


def test_response_rouge_l_scores_each_answer_against_its_reference() -> None:
    from rouge_score import rouge_scorer

    from utils.training.instruction import response_rouge_l

    rows = [{"instruction": "", "input": "", "output": out} for out in ("the cat sat", "a quick brown fox", "x")]
    answers = ["the cat sat down", "brown quick a fox", ""]
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    expected = [scorer.score(r["output"], a)["rougeL"].fmeasure for r, a in zip(rows, answers, strict=True)]
    assert response_rouge_l(rows, answers).tolist() == pytest.approx(expected)
    assert response_rouge_l(rows[:1], ["the cat sat"])[0] == 1.0
    with pytest.raises(ValueError, match="pair up"):
        response_rouge_l(rows, answers[:2])
