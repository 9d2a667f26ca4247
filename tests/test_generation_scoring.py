"""utils.generation.scoring: sequence_log_probs against transformers' own loss on SmolLM2, on the course GPT with
padding, against label_log_probs, and its gradients."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from utils.generation.prompting import label_log_probs, label_token_ids
from utils.generation.scoring import gather_log_probs, sequence_log_probs
from utils.transformer.gpt import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def _gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=30, context_length=12, d_model=16, n_heads=2, n_layers=2)).eval()


def test_gather_log_probs_reads_log_softmax() -> None:
    logits = torch.randn(2, 3, 7)
    ids = torch.randint(0, 7, (2, 3, 2))
    expected = torch.log_softmax(logits, dim=-1).gather(-1, ids)
    torch.testing.assert_close(gather_log_probs(logits, ids), expected)
    assert gather_log_probs(logits.half(), ids).dtype == torch.float32


@pytest.mark.slow
def test_whole_sequence_score_equals_transformers_loss(chat_model: tuple[Any, Any]) -> None:
    """With every token after the first counted, -total / (n - 1) is exactly the model's own mean loss."""
    model, tokenizer = chat_model
    ids = tokenizer("Elizabeth Bennet smiled at Mr. Darcy.", return_tensors="pt").input_ids
    counted = torch.ones_like(ids)
    counted[:, 0] = 0
    with torch.no_grad():
        scores = sequence_log_probs(model, ids, None, counted)
        loss = model(input_ids=ids, labels=ids).loss
    torch.testing.assert_close(-scores.total / (ids.shape[1] - 1), loss.reshape(1), atol=1e-5, rtol=0)
    assert scores.per_token.shape == ids.shape and scores.per_token[0, 0] == 0


@pytest.mark.slow
def test_the_label_token_scores_as_label_log_probs_does(chat_model: tuple[Any, Any]) -> None:
    """Scoring prompt + " positive" with only the label counted gives label_log_probs' number."""
    model, tokenizer = chat_model
    prompts = ["Classify this review: a triumph.\nSentiment:", "Classify this review: dull.\nSentiment:"]
    labels = label_token_ids(tokenizer)
    with torch.no_grad():
        table = label_log_probs(model, tokenizer, prompts, labels)
        for row, prompt in enumerate(prompts):
            prompt_ids = tokenizer(prompt, return_tensors="pt").input_ids
            for column, label in enumerate(labels):
                ids = torch.cat([prompt_ids, torch.tensor([[label]])], dim=1)
                completion = torch.zeros_like(ids)
                completion[:, -1] = 1
                total = sequence_log_probs(model, ids, torch.ones_like(ids), completion).total
                assert total.item() == pytest.approx(table[row, column], abs=1e-4)


def test_the_course_gpt_scores_a_right_padded_batch_like_each_row_alone() -> None:
    model = _gpt()
    rows = [[3, 4, 5, 6, 7], [8, 9, 10]]
    completions = [[0, 0, 0, 1, 1], [0, 1, 1]]  # the "answer" part of each row
    ids = torch.zeros(2, 5, dtype=torch.long)
    mask, completion = torch.zeros(2, 5, dtype=torch.long), torch.zeros(2, 5, dtype=torch.long)
    for i, (row, done) in enumerate(zip(rows, completions, strict=True)):
        ids[i, : len(row)], mask[i, : len(row)], completion[i, : len(row)] = torch.tensor(row), 1, torch.tensor(done)
    with torch.no_grad():
        batch = sequence_log_probs(model, ids, mask, completion)
        for i, (row, done) in enumerate(zip(rows, completions, strict=True)):
            alone = sequence_log_probs(model, torch.tensor([row]), None, torch.tensor([done]))
            torch.testing.assert_close(batch.total[i], alone.total[0], atol=1e-5, rtol=0)
            log_probs = torch.log_softmax(model(torch.tensor([row])).logits[0, :-1], dim=-1)
            by_hand = sum(log_probs[t - 1, row[t]] for t in range(1, len(row)) if done[t])
            torch.testing.assert_close(alone.total[0], by_hand, atol=1e-5, rtol=0)
    assert (batch.per_token[completion == 0] == 0).all()


def test_scores_are_differentiable_for_preference_training() -> None:
    model = _gpt()
    ids = torch.tensor([[1, 2, 3, 4]])
    scores = sequence_log_probs(model, ids, None, torch.tensor([[0, 0, 1, 1]]))
    scores.total.sum().backward()
    assert model.tok_emb.weight.grad is not None and model.tok_emb.weight.grad.abs().sum() > 0
