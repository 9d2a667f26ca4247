"""Few-shot classification with a causal language model: build k-shot prompts, then read the answer either from
the log-probabilities of the label words (one forward pass) or by parsing a short greedy generation.
Taught in notebook 06; notebook 08 uses it as the prompting baseline."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..assets.datasets import SENTIMENT_LABELS
from ..course.device import device_of
from ..transformer.padding import padding_side
from .scoring import gather_log_probs

REVIEW_TEMPLATE = "Classify this review: {text}\nSentiment:"


def format_example(
    text: str,
    label: int | None = None,
    *,
    label_words: Sequence[str] = SENTIMENT_LABELS,
    template: str = REVIEW_TEMPLATE,
) -> str:
    """One example in the prompt: `template` filled with `text`, followed by `" " + label_words[label]` when a label
    is given (a solved example) or left open when `label` is None (the query)."""
    if "{text}" not in template:
        raise ValueError(f"`template` must contain the placeholder '{{text}}', got {template!r}.")
    answer = "" if label is None else " " + label_words[int(label)]
    return template.replace("{text}", text) + answer


def build_few_shot_prompt(
    examples: Sequence[tuple[str, int]],
    query: str,
    *,
    label_words: Sequence[str] = SENTIMENT_LABELS,
    template: str = REVIEW_TEMPLATE,
    separator: str = "\n\n",
) -> str:
    """A k-shot prompt: the solved `examples` (text, label) in the given order, then `query` with its answer open.
    With no examples this is the zero-shot prompt."""
    query_part = format_example(query, label_words=label_words, template=template)
    prefix = few_shot_prefix(examples, label_words=label_words, template=template, separator=separator)
    return prefix + separator + query_part if prefix else query_part


def few_shot_prefix(
    examples: Sequence[tuple[str, int]],
    *,
    label_words: Sequence[str] = SENTIMENT_LABELS,
    template: str = REVIEW_TEMPLATE,
    separator: str = "\n\n",
) -> str:
    """The part of `build_few_shot_prompt` that every query shares: the solved examples joined by `separator`,
    without the trailing separator (so the cut falls between a label word and whitespace, a token boundary).
    Empty for zero-shot."""
    return separator.join(format_example(t, y, label_words=label_words, template=template) for t, y in examples)


def draw_examples(
    texts: Sequence[str], labels: Sequence[int], k: int, rng: np.random.Generator
) -> list[tuple[str, int]]:
    """`k` distinct (text, label) pairs drawn with `rng`, as balanced between the labels as possible (an odd `k`
    gives the extra example to a random label), in random order."""
    if not texts or len(texts) != len(labels):
        raise ValueError(f"`texts` and `labels` must be non-empty and of equal length: {len(texts)}, {len(labels)}.")
    classes = sorted(set(int(y) for y in labels))
    by_class = {c: [i for i, y in enumerate(labels) if int(y) == c] for c in classes}
    counts = {c: k // len(classes) for c in classes}
    for c in rng.choice(classes, k % len(classes), replace=False):
        counts[int(c)] += 1
    for c in classes:
        if counts[c] > len(by_class[c]):
            raise ValueError(f"`k`={k} needs {counts[c]} examples of label {c}, only {len(by_class[c])} exist.")
    chosen = [int(i) for c in classes for i in rng.choice(by_class[c], counts[c], replace=False)]
    rng.shuffle(chosen)
    return [(texts[i], int(labels[i])) for i in chosen]


def label_token_ids(tokenizer: Any, label_words: Sequence[str] = SENTIMENT_LABELS) -> list[int]:
    """The token id of `" " + word` for each label word; raises ValueError if a word is not a single token (its
    log-probability would then need several forward steps)."""
    ids = []
    for word in label_words:
        encoded = tokenizer.encode(" " + word, add_special_tokens=False)
        if len(encoded) != 1:
            raise ValueError(
                f"label word {word!r} is {len(encoded)} tokens for this tokenizer; pick single-token words."
            )
        ids.append(encoded[0])
    return ids


def _prefix_cache(model: Any, tokenizer: Any, prompts: Sequence[str], prefix: str) -> tuple[Any, list[str], int]:
    """Run `prefix` once and return (its key/value cache, the prompts' suffixes, the prefix length in tokens),
    after checking that every prompt starts with `prefix` and tokenizes as prefix tokens + suffix tokens."""
    if not all(p.startswith(prefix) and len(p) > len(prefix) for p in prompts):
        raise ValueError("every prompt must start with `shared_prefix` and continue after it.")
    prefix_ids = tokenizer(prefix)["input_ids"]
    suffixes = [p[len(prefix) :] for p in prompts]
    for prompt, suffix in zip(prompts, suffixes, strict=True):
        if tokenizer(prompt)["input_ids"] != prefix_ids + tokenizer(suffix, add_special_tokens=False)["input_ids"]:
            raise ValueError(
                "`shared_prefix` does not end at a token boundary of every prompt: end it just before whitespace "
                "(as `few_shot_prefix` does), or pass shared_prefix=None."
            )
    device = device_of(model)
    out = model(input_ids=torch.tensor([prefix_ids], device=device), use_cache=True)
    return out.past_key_values, suffixes, len(prefix_ids)


@torch.no_grad()
def label_log_probs(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    label_ids: Sequence[int],
    *,
    batch_size: int = 16,
    shared_prefix: str | None = None,
) -> np.ndarray:
    """Log-probability of each label token right after each prompt: an array of shape `[len(prompts),
    len(label_ids)]`. Prompts are padded on the right in batches and read at their last real token, which a
    causal model computes exactly as it would without padding.

    shared_prefix: text every prompt starts with (e.g. `few_shot_prefix(examples)`). It is run through the model
    once and its key/value cache reused for every batch, so k-shot scoring costs little more than zero-shot;
    the result is the same up to float rounding. (A model without a cache gets the whole prompts.)"""
    if isinstance(prompts, str):
        raise TypeError("`prompts` must be a list of strings, got one str; wrap it: [prompt].")
    device = device_of(model)
    cache, n_prefix = None, 0
    if shared_prefix:
        cache, suffixes, n_prefix = _prefix_cache(model, tokenizer, prompts, shared_prefix)
        if cache is not None:  # a model that keeps no cache (the course's) scores the whole prompts
            prompts = suffixes
    out = []
    with padding_side(tokenizer, "right"):
        for start in range(0, len(prompts), batch_size):
            texts = list(prompts[start : start + batch_size])
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=cache is None).to(device)
            if cache is None:
                logits = model(**batch).logits
            else:
                batch_cache = copy.deepcopy(cache)
                batch_cache.batch_repeat_interleave(len(texts))
                mask = batch["attention_mask"]
                mask = torch.cat([mask.new_ones(len(texts), n_prefix), mask], dim=1)
                logits = model(input_ids=batch["input_ids"], attention_mask=mask, past_key_values=batch_cache).logits
            last = batch["attention_mask"].sum(dim=1) - 1
            last_logits = logits[torch.arange(len(last), device=device), last]  # [batch, vocab]
            candidates = torch.tensor(list(label_ids), device=device).expand(len(last), -1)
            out.append(gather_log_probs(last_logits, candidates).cpu())
    return torch.cat(out).numpy()


def few_shot_predict(
    model: Any,
    tokenizer: Any,
    examples: Sequence[tuple[str, int]],
    texts: Sequence[str],
    *,
    label_words: Sequence[str] = SENTIMENT_LABELS,
    batch_size: int = 16,
) -> np.ndarray:
    """The label each text gets from a k-shot prompt with `examples` (none: zero-shot): the label word with the
    highest log-probability after the prompt. The examples' prefix is run once and cached."""
    if isinstance(texts, str):
        raise TypeError("`texts` must be a list of strings, got one str; wrap it: [text].")
    prompts = [build_few_shot_prompt(examples, text, label_words=label_words) for text in texts]
    prefix = few_shot_prefix(examples, label_words=label_words) or None
    ids = label_token_ids(tokenizer, label_words)
    scores = label_log_probs(model, tokenizer, prompts, ids, batch_size=batch_size, shared_prefix=prefix)
    return scores.argmax(axis=1)


@torch.no_grad()
def generate_completions(
    model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int = 2, batch_size: int = 16
) -> list[str]:
    """Greedy continuations of `max_new_tokens` tokens, one string per prompt (new text only). Batches are padded on
    the left, so every prompt ends where generation starts."""
    if isinstance(prompts, str):
        raise TypeError("`prompts` must be a list of strings, got one str; wrap it: [prompt].")
    device = device_of(model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    texts: list[str] = []
    with padding_side(tokenizer, "left"):
        for start in range(0, len(prompts), batch_size):
            batch = tokenizer(list(prompts[start : start + batch_size]), return_tensors="pt", padding=True).to(device)
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id)
            texts += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return texts


def parse_label(completion: str, label_words: Sequence[str] = SENTIMENT_LABELS) -> int:
    """The label whose word appears in `completion` (case-insensitive, whole word), or -1 when none or several do."""
    words = set("".join(ch if ch.isalnum() else " " for ch in completion.lower()).split())
    hits = [label for label, word in enumerate(label_words) if word.lower() in words]
    return hits[0] if len(hits) == 1 else -1
