"""Token classification (named-entity recognition, the notes' "word classification"): find the characters' names in
Jane Austen's sentences with MiniLM. Taught in notebook 15.

* The data: `austen_sentences` splits the novels into word lists; `bio_tags` tags the words that are characters'
  names (`AUSTEN_NAMES`) with the BIO scheme (B-PER starts a name, I-PER continues it, O is everything else);
  `name_tagging_data` builds training and test sentences, keeping some names (`HELD_OUT_NAMES`) out of training
  altogether, so the test shows whether the model learned what a name looks like or only memorised a list.
* Word labels to word pieces: `align_labels` gives each word's label to its first piece and -100 (ignored by the
  loss) to the other pieces and the special tokens.
* Scoring: `entity_spans` reads the (start, end) spans out of BIO tags and `entity_scores` gives entity-level
  precision, recall and F1 (a name counts only when its span is exactly right); `dictionary_tags` is the baseline
  that looks words up in a list.
* The model: `TokenTaggerRecipe`, `train_token_tagger`, `load_token_tagger` (an `AutoModelForTokenClassification`
  saved with `save_pretrained` in the course cache by `utils.assets.artifacts`), `token_tagger_info`,
  `predict_word_tags`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..assets.artifacts import (
    artifact_dir,
    artifact_info,
    load_or_train,
    read_pretrained_artifact,
    save_pretrained_artifact,
)
from ..assets.datasets import load_austen_text
from ..assets.models import load_encoder_with_head
from ..course.arguments import require_range, require_type
from ..course.device import device_of
from ..course.seeding import set_seed
from .loop import TrainingHistory, require_training_recipe, train_with_recipe

TAGS: tuple[str, ...] = ("O", "B-PER", "I-PER")
IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips
TAGGER_NAME = "minilm-austen-names"

_CHARACTER_NAMES = {  # one string per novel, split into words below
    "Sense and Sensibility": "Elinor Marianne Dashwood Ferrars Willoughby Brandon Lucy Steele Jennings Middleton "
    "Palmer Edward Margaret",
    "Pride and Prejudice": "Elizabeth Darcy Jane Bennet Bingley Lydia Wickham Collins Charlotte Lucas Kitty "
    "Catherine Gardiner Caroline Georgiana Lizzy Eliza Hurst Phillips Mary",
    "Mansfield Park": "Fanny Price Edmund Bertram Crawford Henry Julia Maria Rushworth Norris Thomas Tom William "
    "Yates Grant Susan",
    "Emma": "Emma Woodhouse Knightley Harriet Smith Weston Churchill Frank Fairfax Elton Bates Martin Robert Isabella "
    "Perry Goddard Taylor",
    "Northanger Abbey": "Morland Tilney Eleanor Thorpe John James Allen Frederick",
    "Persuasion": "Anne Elliot Wentworth Walter Musgrove Louisa Henrietta Charles Russell Croft Benwick Harville",
}
#: First and family names of the main characters, novel by novel (a word is a name only with this exact case).
AUSTEN_CHARACTERS: dict[str, tuple[str, ...]] = {
    novel: tuple(names.split()) for novel, names in _CHARACTER_NAMES.items()
}
AUSTEN_NAMES: frozenset[str] = frozenset(name for names in AUSTEN_CHARACTERS.values() for name in names)
_HELD_OUT = "Willoughby Jennings Wickham Gardiner Rushworth Norris Knightley Fairfax Tilney Thorpe Wentworth Harville"
#: Names never shown in training (two per novel): the test measures how many of them the model still finds.
HELD_OUT_NAMES: frozenset[str] = frozenset(_HELD_OUT.split())

_WORD = re.compile(r"[A-Za-z]+|[0-9]+|[^\sA-Za-z0-9_]")
_SENTENCE_END = re.compile(  # after . ! ? (and a closing quote), before a capital; never after Mr. Mrs. Dr. St.
    r"(?<=[.!?][\"'])\s+(?=[\"']?[A-Z])|(?<=[.!?])(?<!\bMr\.)(?<!\bMrs\.)(?<!\bDr\.)(?<!\bSt\.)\s+(?=[\"']?[A-Z])"
)


def split_words(text: str) -> list[str]:
    """Words and punctuation marks of `text`, e.g. "Mr. Darcy's" -> ["Mr", ".", "Darcy", "'", "s"]."""
    return _WORD.findall(text)


def austen_sentences(text: str, *, min_words: int = 6, max_words: int = 40) -> list[list[str]]:
    """The sentences of `text` (paragraphs split at blank lines, sentences at . ! ? before a capital, not after Mr,
    Mrs, Dr, St) as word lists with `min_words`..`max_words` words, in the order of the text."""
    sentences = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        for sentence in _SENTENCE_END.split(flat):
            words = split_words(sentence)
            if min_words <= len(words) <= max_words:
                sentences.append(words)
    return sentences


def bio_tags(words: Sequence[str], names: Iterable[str] = AUSTEN_NAMES) -> list[str]:
    """BIO tags of `words`: each run of consecutive names is one entity, its first word "B-PER", the rest "I-PER"
    ("Sir Walter Elliot" -> O B-PER I-PER); every other word is "O"."""
    known = set(names)
    tags = []
    for i, word in enumerate(words):
        if word not in known:
            tags.append("O")
        elif i > 0 and words[i - 1] in known:
            tags.append("I-PER")
        else:
            tags.append("B-PER")
    return tags


def dictionary_tags(words: Sequence[str], names: Iterable[str]) -> list[str]:
    """The lookup baseline: tag the words found in `names` (e.g. the names seen in training), nothing else."""
    return bio_tags(words, names)


class TaggedSentence(NamedTuple):
    """One sentence: its words, their BIO tags, and which of its names were held out of training."""

    words: list[str]
    tags: list[str]
    held_out: tuple[str, ...]


class NameTaggingData(NamedTuple):
    """Training, validation and test sentences; training and validation contain no held-out name."""

    train: list[TaggedSentence]
    val: list[TaggedSentence]
    test: list[TaggedSentence]


def _tagged(words: list[str], held_out: frozenset[str]) -> TaggedSentence:
    return TaggedSentence(words, bio_tags(words), tuple(sorted({w for w in words if w in held_out})))


def name_tagging_data(
    text: str,
    *,
    n_train: int,
    n_val: int,
    n_test: int,
    name_share: float = 0.6,
    held_out: frozenset[str] = HELD_OUT_NAMES,
    seed: int = 0,
) -> NameTaggingData:
    """Tagged sentences of `text` (e.g. `load_austen_text()`):

    * train / val: `n_train` / `n_val` sentences without any held-out name, `name_share` of them with a name;
    * test: `n_test` other sentences, half with a held-out name (names the model never saw), the rest split like
      the training data. Sentences are drawn with `random.Random(seed)`, so the same arguments give the same data.
    """
    require_range("name_share", name_share, low=0.0, high=1.0)
    sentences = [_tagged(words, held_out) for words in austen_sentences(text)]
    unseen = [s for s in sentences if s.held_out]
    with_names = [s for s in sentences if not s.held_out and "B-PER" in s.tags]
    without = [s for s in sentences if "B-PER" not in s.tags]
    rng = random.Random(seed)
    for group in (unseen, with_names, without):
        rng.shuffle(group)

    def take(group: list[TaggedSentence], n: int) -> list[TaggedSentence]:
        if n > len(group):
            raise ValueError(f"asked for {n} sentences of a kind the text has only {len(group)} of; ask for fewer.")
        taken = group[:n]
        del group[:n]
        return taken

    def mixed(n: int) -> list[TaggedSentence]:
        n_names = round(n * name_share)
        out = take(with_names, n_names) + take(without, n - n_names)
        rng.shuffle(out)
        return out

    n_unseen = n_test // 2
    test = take(unseen, n_unseen) + mixed(n_test - n_unseen)
    rng.shuffle(test)
    return NameTaggingData(train=mixed(n_train), val=mixed(n_val), test=test)


# ----------------------------------------------------------------------------------------------------------------
# Word labels -> word-piece labels


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """One label per token: a word's label on its first piece, -100 on its other pieces and on special tokens
    (`word_ids` is what a fast tokenizer's `word_ids()` returns: the word index of each token, None for specials)."""
    labels = []
    previous = None
    for word in word_ids:
        if word is None or word == previous:
            labels.append(IGNORE_INDEX)
        else:
            labels.append(int(word_labels[word]))
        previous = word
    return labels


class TaggingCollator:
    """Turn `TaggedSentence`s into a padded batch (`input_ids`, `attention_mask`, `labels` aligned to the pieces)."""

    def __init__(self, tokenizer: Any, *, max_length: int = 96) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("`tokenizer` must be a fast tokenizer (it has to report `word_ids()`).")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.tag_ids = {tag: i for i, tag in enumerate(TAGS)}

    def __call__(self, sentences: Sequence[TaggedSentence]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(
            [list(s.words) for s in sentences],
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        labels = [align_labels(batch.word_ids(i), [self.tag_ids[t] for t in s.tags]) for i, s in enumerate(sentences)]
        return {
            "input_ids": batch["input_ids"],
            "attention_mask": batch["attention_mask"],
            "labels": torch.tensor(labels),
        }


def tagging_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """`train_model`'s loss: the model's cross-entropy over the labelled pieces, and how many pieces that is."""
    output = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
    return output.loss, int((batch["labels"] != IGNORE_INDEX).sum())


@torch.no_grad()
def predict_word_tags(
    model: nn.Module, tokenizer: Any, sentences: Sequence[Sequence[str]], *, batch_size: int = 64
) -> list[list[str]]:
    """The predicted tag of every word (read at its first piece), for word lists `sentences`; words cut off by
    truncation get "O"."""
    id2label = model.config.id2label
    device = device_of(model)
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(sentences), batch_size):
        chunk = [list(words) for words in sentences[start : start + batch_size]]
        batch = tokenizer(chunk, is_split_into_words=True, truncation=True, padding=True, return_tensors="pt")
        logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
        best = logits.logits.argmax(dim=-1).cpu()
        for row, words in enumerate(chunk):
            tags = ["O"] * len(words)
            previous = None
            for position, word in enumerate(batch.word_ids(row)):
                if word is not None and word != previous:
                    tags[word] = id2label[int(best[row, position])]
                previous = word
            out.append(tags)
    model.train(was_training)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Entity-level scores


def entity_spans(tags: Sequence[str]) -> list[tuple[int, int]]:
    """The entities of one sentence as (start, end) word spans, end exclusive. An entity starts at "B-..." (or at
    an "I-..." that follows "O", as the CoNLL evaluation reads it) and goes on over the "I-..." after it."""
    spans = []
    start = None
    for i, tag in enumerate([*tags, "O"]):
        if tag not in TAGS:
            raise ValueError(f"`tags` must hold only {list(TAGS)}, got {tag!r} at position {i}.")
        inside = tag == "I-PER" and start is not None
        if start is not None and not inside:
            spans.append((start, i))
            start = None
        if tag == "B-PER" or (tag == "I-PER" and start is None):
            start = i
    return spans


@dataclass(frozen=True)
class EntityScores:
    """Entity-level precision, recall and F1, with the counts behind them."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    gold: int


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> EntityScores:
    """Precision = right entities / predicted entities, recall = right entities / gold entities, F1 their harmonic
    mean, over all sentences; an entity is right only when its span matches a gold span exactly (0 when undefined)."""
    if len(gold) != len(predicted):
        raise ValueError(f"`gold` and `predicted` must have as many sentences, got {len(gold)} and {len(predicted)}.")
    hits = n_pred = n_gold = 0
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted tags.")
        g_spans, p_spans = set(entity_spans(g)), set(entity_spans(p))
        hits += len(g_spans & p_spans)
        n_pred += len(p_spans)
        n_gold += len(g_spans)
    precision = hits / n_pred if n_pred else 0.0
    recall = hits / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return EntityScores(precision, recall, f1, hits, n_pred, n_gold)


def recall_by_name_kind(
    sentences: Sequence[TaggedSentence], predicted: Sequence[Sequence[str]], held_out: frozenset[str] = HELD_OUT_NAMES
) -> dict[str, float]:
    """Recall of gold entities that contain a held-out name ("unseen") and of the others ("seen")."""
    found = {"seen": [0, 0], "unseen": [0, 0]}
    for sentence, tags in zip(sentences, predicted, strict=True):
        predicted_spans = set(entity_spans(tags))
        for start, end in entity_spans(sentence.tags):
            kind = "unseen" if any(w in held_out for w in sentence.words[start:end]) else "seen"
            found[kind][0] += (start, end) in predicted_spans
            found[kind][1] += 1
    return {kind: hits / total if total else 0.0 for kind, (hits, total) in found.items()}


# ----------------------------------------------------------------------------------------------------------------
# The tagger: recipe, training, cache


@dataclass(frozen=True)
class TokenTaggerRecipe:
    """Everything that decides the name tagger (MiniLM + a token classification head)."""

    n_train: int = 960
    n_val: int = 100
    n_test: int = 400
    name_share: float = 0.6
    max_length: int = 96
    batch_size: int = 16
    steps: int = 60
    lr: float = 1e-4
    warmup_steps: int = 6
    weight_decay: float = 0.01
    held_out: tuple[str, ...] = field(default=tuple(sorted(HELD_OUT_NAMES)))
    seed: int = 0

    def __post_init__(self) -> None:
        require_training_recipe(self, counts=("n_train", "n_val", "n_test"), fractions=("name_share",))

    def smoke(self) -> TokenTaggerRecipe:
        """The same recipe shrunk to a few seconds of training (for the smoke runs of the tests)."""
        return replace(self, n_train=48, n_val=16, n_test=48, batch_size=8, steps=6, warmup_steps=1)

    def data(self) -> NameTaggingData:
        """The recipe's sentences from all six novels (`name_tagging_data`)."""
        return name_tagging_data(
            load_austen_text(),
            n_train=self.n_train,
            n_val=self.n_val,
            n_test=self.n_test,
            name_share=self.name_share,
            held_out=frozenset(self.held_out),
            seed=self.seed,
        )


TOKEN_TAGGER_RECIPE = TokenTaggerRecipe()


def token_tagger_dir(recipe: TokenTaggerRecipe = TOKEN_TAGGER_RECIPE) -> Path:
    """Where the tagger trained with `recipe` is saved (one folder per recipe in the course cache)."""
    return artifact_dir(TAGGER_NAME, recipe)


def new_token_tagger() -> tuple[nn.Module, Any]:
    """MiniLM with a fresh `AutoModelForTokenClassification` head over `TAGS`, and its (fast) tokenizer."""
    return load_encoder_with_head("token", TAGS)


def train_token_tagger(
    recipe: TokenTaggerRecipe = TOKEN_TAGGER_RECIPE,
    *,
    data: NameTaggingData | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[nn.Module, Any, TrainingHistory]:
    """Train the name tagger on `recipe`'s sentences (`data` = `recipe.data()`, built when not given) with
    `tagging_loss` and `train_model`: `(model in eval mode, tokenizer, history)`."""
    require_type("recipe", recipe, TokenTaggerRecipe)
    data = recipe.data() if data is None else data
    set_seed(recipe.seed)
    model, tokenizer = new_token_tagger()
    generator = set_seed(recipe.seed)
    collate = TaggingCollator(tokenizer, max_length=recipe.max_length)
    val_loader = DataLoader(data.val, batch_size=64, collate_fn=collate)
    train_loader = DataLoader(
        data.train, batch_size=recipe.batch_size, shuffle=True, collate_fn=collate, generator=generator
    )
    every = max(2, recipe.steps // 5)
    history = train_with_recipe(
        model, train_loader, val_loader, tagging_loss, recipe, eval_every=every, device=device, progress=progress
    )
    return model.eval(), tokenizer, history


def token_tagger_info(recipe: TokenTaggerRecipe = TOKEN_TAGGER_RECIPE) -> dict[str, Any]:
    """What was saved beside the tagger trained with `recipe`: `{"recipe": ..., "history": ..., ...}`."""
    return artifact_info(TAGGER_NAME, recipe)


def load_token_tagger(
    recipe: TokenTaggerRecipe = TOKEN_TAGGER_RECIPE,
    *,
    train_if_missing: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[nn.Module, Any]:
    """The tagger trained with `recipe`, reloaded from its `save_pretrained` folder: `(model, tokenizer)`. When
    missing and `train_if_missing` is True it is trained now (about a minute on 2 cores) and saved first."""
    from transformers import AutoModelForTokenClassification  # heavy: imported when a model is read

    def read(folder: Path) -> tuple[nn.Module, Any]:
        return read_pretrained_artifact(folder, AutoModelForTokenClassification, device)

    def train() -> tuple[nn.Module, Any]:
        model, tokenizer, history = train_token_tagger(recipe, device=device, progress=progress)
        return read(save_pretrained_artifact(TAGGER_NAME, recipe, model, tokenizer, history))

    return load_or_train(
        TAGGER_NAME, recipe, read=read, train=train, train_if_missing=train_if_missing, hint="run notebook 15"
    )
