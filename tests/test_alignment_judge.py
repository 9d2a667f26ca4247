"""utils.alignment.judge: the sentiment judge scores P(positive) as the classifier computes it (softmax of its
logits, padding ignored), takes RewardModel.score's signature and ignores prompts, and load_judge trains and then
reads the course's classifier."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from tiny_models import tiny_bert_config
from transformers import BertForSequenceClassification

from utils.alignment.judge import SentimentJudge, load_judge
from utils.training.classification import predict_classes
from utils.training.sentiment_classifier import SENTIMENT_RECIPE, sentiment_classifier_dir
from utils.transformer.padding import encode_texts

TEXTS = ["A warm, witty film.", "Dull.", "An incoherent mess that wastes its actors, its budget and our evening."]


@pytest.fixture(scope="module")
def tokenizer(encoder_tokenizer: Any) -> Any:
    """This module's tokenizer is MiniLM's (conftest's `tokenizer` is the chat model's)."""
    return encoder_tokenizer


def tiny_classifier(tokenizer: Any, labels: tuple[str, ...] = ("negative", "positive")) -> Any:
    torch.manual_seed(0)
    config = tiny_bert_config(
        tokenizer.vocab_size,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    return BertForSequenceClassification(config).eval()


def test_score_is_p_positive_and_ignores_prompts(tokenizer: Any) -> None:
    model = tiny_classifier(tokenizer, labels=("positive", "negative"))  # the label's id is read, not assumed
    judge = SentimentJudge(model, tokenizer, max_length=16)
    scores = judge.score(TEXTS)
    assert scores.shape == (3,) and scores.dtype == torch.float32 and scores.device.type == "cpu"
    with torch.no_grad():
        for text, score in zip(TEXTS, scores, strict=True):
            ids = tokenizer(text, truncation=True, max_length=16, return_tensors="pt")["input_ids"]
            torch.testing.assert_close(score, model(input_ids=ids).logits.softmax(-1)[0, 0])
    torch.testing.assert_close(judge.score(TEXTS, batch_size=1), scores, atol=1e-6, rtol=1e-5)  # padding ignored
    torch.testing.assert_close(judge.score(TEXTS, prompts=["a", "b", "c"]), scores)  # RewardModel.score's call
    predicted = predict_classes(model, encode_texts(tokenizer, TEXTS, 16), tokenizer.pad_token_id)
    assert ((scores < 0.5).long().numpy() == predicted).all()  # P(positive) > 0.5 where the classifier says so
    model.train()
    judge.score(TEXTS[:1])
    assert model.training, "score restores the training mode"
    assert judge.score([]).shape == (0,)


def test_judge_refuses_bad_arguments(tokenizer: Any) -> None:
    judge = SentimentJudge(tiny_classifier(tokenizer), tokenizer)
    with pytest.raises(TypeError, match="wrap it"):
        judge.score("one review")
    with pytest.raises(ValueError, match="one prompt per text"):
        judge.score(TEXTS, prompts=["only one"])
    with pytest.raises(ValueError, match="positive"):
        SentimentJudge(tiny_classifier(tokenizer, labels=("rotten", "fresh")), tokenizer)
    with pytest.raises(TypeError, match="smoke"):
        load_judge(smoke="yes")


def test_load_judge_trains_the_course_classifier_once(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    judge = load_judge(smoke=True, progress=False)  # a clean cache: trains the smoke recipe (4 steps)
    assert sentiment_classifier_dir(SENTIMENT_RECIPE.smoke()).is_dir()
    assert judge.max_length == SENTIMENT_RECIPE.max_length and not judge.model.training
    again = load_judge(smoke=True, progress=False)
    torch.testing.assert_close(again.score(TEXTS), judge.score(TEXTS))
    assert ((judge.score(TEXTS) >= 0) & (judge.score(TEXTS) <= 1)).all()
