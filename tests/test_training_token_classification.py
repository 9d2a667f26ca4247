"""utils.training.token_classification: sentences and BIO tags from Austen, labels aligned to word pieces (checked
against the tokenizer's own word ids), entity spans and scores (hand-worked cases), the held-out names really held
out, the tagger's loss equal to a hand-computed cross-entropy, and bad arguments refused. The sentiment classifier's
cache helpers are checked here too (utils.training.sentiment_classifier)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from utils.training.sentiment_classifier import (
    SENTIMENT_RECIPE,
    SentimentRecipe,
    load_sentiment_classifier,
    sentiment_classifier_dir,
    sentiment_classifier_info,
)
from utils.training.token_classification import (
    AUSTEN_NAMES,
    HELD_OUT_NAMES,
    IGNORE_INDEX,
    TAGS,
    TaggedSentence,
    TaggingCollator,
    TokenTaggerRecipe,
    align_labels,
    austen_sentences,
    bio_tags,
    dictionary_tags,
    entity_scores,
    entity_spans,
    load_token_tagger,
    name_tagging_data,
    predict_word_tags,
    recall_by_name_kind,
    split_words,
    tagging_loss,
    token_tagger_dir,
    token_tagger_info,
)

TEXT = (
    'Mr. Darcy walked in with Sir Walter Elliot. "How do you do, Miss Bennet?" said he!\n'
    "Elizabeth smiled at Mrs. Jennings and said nothing at all.\n\n"
    "It rained all day in Bath, and nobody came to call at the house.\n\n"
    "Short one. Captain Wentworth looked at the sea for a long time.\n"
)


def test_split_words_and_sentences() -> None:
    assert split_words("Mr. Darcy's hat, 2 pounds") == ["Mr", ".", "Darcy", "'", "s", "hat", ",", "2", "pounds"]
    sentences = austen_sentences(TEXT, min_words=4)
    assert sentences[0][:4] == ["Mr", ".", "Darcy", "walked"], "no sentence break after Mr."
    assert any(s[0] == "Elizabeth" and "Mrs" in s and "Jennings" in s for s in sentences), "none after Mrs."
    assert ["Short", "one", "."] not in sentences, "sentences shorter than min_words are dropped"
    assert all(len(s) <= 40 for s in austen_sentences(TEXT, max_words=40))


def test_bio_tags_join_consecutive_names() -> None:
    words = ["Sir", "Walter", "Elliot", "met", "Anne", "and", "Mr", ".", "Darcy"]
    assert bio_tags(words) == ["O", "B-PER", "I-PER", "O", "B-PER", "O", "O", "O", "B-PER"]
    assert dictionary_tags(words, {"Darcy"}) == ["O"] * 8 + ["B-PER"]
    assert "darcy" not in AUSTEN_NAMES and HELD_OUT_NAMES < AUSTEN_NAMES


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["O", "B-PER", "I-PER", "O", "B-PER"], [(1, 3), (4, 5)]),
        (["B-PER", "B-PER"], [(0, 1), (1, 2)]),  # two names side by side
        (["O", "I-PER", "I-PER", "O"], [(1, 3)]),  # an I after O starts an entity (the CoNLL reading)
        (["O", "O"], []),
        ([], []),
    ],
)
def test_entity_spans(tags: list[str], spans: list[tuple[int, int]]) -> None:
    assert entity_spans(tags) == spans


def test_entity_scores_by_hand() -> None:
    gold = [["B-PER", "I-PER", "O", "B-PER"], ["O", "B-PER"]]
    predicted = [["B-PER", "O", "O", "B-PER"], ["O", "B-PER"]]  # the first name cut short: wrong span
    scores = entity_scores(gold, predicted)
    assert (scores.true_positives, scores.predicted, scores.gold) == (2, 3, 3)
    assert scores.precision == pytest.approx(2 / 3) and scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(2 / 3)
    empty = entity_scores([["O"]], [["O"]])
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="as many sentences"):
        entity_scores(gold, predicted[:1])
    with pytest.raises(ValueError, match="tags"):
        entity_spans(["O", "B-LOC"])


def test_recall_by_name_kind() -> None:
    sentence = TaggedSentence(["Anne", "saw", "Wentworth"], ["B-PER", "O", "B-PER"], ("Wentworth",))
    kinds = recall_by_name_kind([sentence], [["B-PER", "O", "O"]])
    assert kinds == {"seen": 1.0, "unseen": 0.0}


def test_align_labels_against_the_tokenizer() -> None:
    from utils.assets.models import load_encoder

    _, tokenizer = load_encoder()
    words = ["Mr", ".", "Knightley", "unquestionably", "agreed"]
    labels = [0, 0, 1, 0, 0]
    encoded = tokenizer(words, is_split_into_words=True)
    word_ids = encoded.word_ids()
    aligned = align_labels(word_ids, labels)
    assert len(aligned) == len(encoded["input_ids"])
    assert aligned[0] == aligned[-1] == IGNORE_INDEX  # [CLS], [SEP]
    firsts = [i for i, w in enumerate(word_ids) if w is not None and (i == 0 or word_ids[i - 1] != w)]
    assert [aligned[i] for i in firsts] == labels
    assert sum(label != IGNORE_INDEX for label in aligned) == len(words)
    assert len(encoded["input_ids"]) - 2 > len(words), "some words must be split for this test to mean anything"


def test_collator_and_loss_match_a_hand_computed_cross_entropy() -> None:
    from transformers import BertConfig, BertForTokenClassification

    from utils.assets.models import load_encoder

    _, tokenizer = load_encoder()
    sentences = [
        TaggedSentence(["Emma", "laughed", "."], ["B-PER", "O", "O"], ()),
        TaggedSentence(
            ["Sir", "Thomas", "Bertram", "frowned", "severely", "."],
            bio_tags(["Sir", "Thomas", "Bertram", "frowned", "severely", "."]),
            (),
        ),
    ]
    batch = TaggingCollator(tokenizer, max_length=32)(sentences)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert int((batch["labels"] != IGNORE_INDEX).sum()) == 3 + 6
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=len(TAGS),
    )
    model = BertForTokenClassification(config).eval()
    loss, n_items = tagging_loss(model, batch)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    expected = F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE_INDEX)
    assert n_items == 9 and torch.isclose(loss, expected)
    model.config.id2label = dict(enumerate(TAGS))
    predicted = predict_word_tags(model, tokenizer, [s.words for s in sentences])
    assert [len(p) for p in predicted] == [3, 6] and all(t in TAGS for p in predicted for t in p)


def test_name_tagging_data_keeps_held_out_names_out_of_training() -> None:
    from utils.assets.datasets import load_austen_text

    text = load_austen_text(["Emma", "Persuasion"])
    data = name_tagging_data(text, n_train=60, n_val=10, n_test=40, seed=3)
    assert (len(data.train), len(data.val), len(data.test)) == (60, 10, 40)
    for sentence in data.train + data.val:
        assert not set(sentence.words) & HELD_OUT_NAMES
    assert sum(bool(s.held_out) for s in data.test) == 20
    assert sum("B-PER" in s.tags for s in data.train) == round(60 * 0.6)
    ids = {tuple(s.words) for s in data.train}
    assert not ids & {tuple(s.words) for s in data.test}, "no test sentence is a training sentence"
    again = name_tagging_data(text, n_train=60, n_val=10, n_test=40, seed=3)
    assert again == data, "the same arguments give the same data"
    with pytest.raises(ValueError, match="only"):
        name_tagging_data(text, n_train=10**6, n_val=1, n_test=2)
    with pytest.raises(ValueError, match="name_share"):
        name_tagging_data(text, n_train=2, n_val=1, n_test=2, name_share=1.5)


def test_recipes_and_cache_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    assert token_tagger_dir(TokenTaggerRecipe()) != token_tagger_dir(TokenTaggerRecipe().smoke())
    assert sentiment_classifier_dir(SENTIMENT_RECIPE).parent == tmp_path
    with pytest.raises(ValueError, match="steps"):
        SentimentRecipe(steps=0)
    with pytest.raises(ValueError, match="name_share"):
        TokenTaggerRecipe(name_share=1.5)
    with pytest.raises(TypeError, match="held_out"):
        TokenTaggerRecipe(held_out=["Emma"])
    with pytest.raises(TypeError, match="recipe"):
        token_tagger_dir("tagger")
    with pytest.raises(FileNotFoundError, match="minilm-sentiment"):
        sentiment_classifier_info(SENTIMENT_RECIPE)


@pytest.mark.slow
def test_smoke_recipes_train_save_and_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both task models train with their smoke recipe (train_with_recipe), are saved into an empty cache with
    their history, and come back in eval mode (utils.assets.artifacts.load_or_train)."""
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    cases = [
        (load_sentiment_classifier, sentiment_classifier_info, SENTIMENT_RECIPE.smoke()),
        (load_token_tagger, token_tagger_info, TokenTaggerRecipe().smoke()),
    ]
    for load, info_of, recipe in cases:
        with pytest.raises(FileNotFoundError, match="run notebook 15"):
            load(recipe, train_if_missing=False)
        model, tokenizer = load(recipe, device="cpu", progress=False)
        assert not model.training and tokenizer.pad_token_id is not None
        info = info_of(recipe)
        assert info["recipe"] == json.loads(json.dumps(dataclasses.asdict(recipe)))  # tuples come back as lists
        assert len(info["history"]["val_loss"]) >= 2, "the validation loss was measured along the way"
        reloaded, _ = load(recipe, train_if_missing=False, device="cpu")
        for (name, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items(), strict=True):
            assert torch.equal(a, b), name


def test_entity_scores_equal_seqeval_on_random_tag_sequences() -> None:
    """The reference: seqeval's CoNLL-style (default mode) entity precision, recall and F1, on random tag sequences
    that hold every awkward case (I- after O, B- after B-, entities at the ends)."""
    from seqeval import metrics

    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        lengths = torch.randint(1, 12, (6,), generator=generator).tolist()

        def draw(lengths: list[int] = lengths) -> list[list[str]]:
            return [[TAGS[i] for i in torch.randint(0, len(TAGS), (n,), generator=generator).tolist()] for n in lengths]

        gold, predicted = draw(), draw()
        ours = entity_scores(gold, predicted)
        assert ours.precision == pytest.approx(metrics.precision_score(gold, predicted, zero_division=0))
        assert ours.recall == pytest.approx(metrics.recall_score(gold, predicted, zero_division=0))
        assert ours.f1 == pytest.approx(metrics.f1_score(gold, predicted, zero_division=0))
