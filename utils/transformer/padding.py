"""Texts to padded batches of token ids. Taught in notebooks 06 and 08; the chat examples in notebooks 09 and 14.

A batch needs one rectangle of ids, so shorter texts are padded. Which side matters: to score a prompt's last
token or to train a classifier, pad on the right (real tokens keep positions 0, 1, 2, ...); to generate, pad on
the left, so every row ends where the new tokens begin.

A chat example (a prompt and the answer to learn) is tokenized with the chat template as TRL does
(`tokenize_chat`: the ids and a `completion_mask` that is 1 on the answer), and such examples are right-padded into
one batch with `pad_examples`; instruction tuning (notebook 09) and DPO (notebook 14) both build their batches so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from ..course.arguments import require_choice, require_range, require_type


@contextmanager
def padding_side(tokenizer: Any, side: str) -> Iterator[None]:
    """Pad on `side` ("left" or "right") inside the `with` block, then restore the tokenizer's own setting."""
    require_choice("side", side, ("left", "right"))
    previous = tokenizer.padding_side
    tokenizer.padding_side = side
    try:
        yield
    finally:
        tokenizer.padding_side = previous


def encode_texts(tokenizer: Any, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Token ids `[len(texts), L]`, truncated to `max_length` and right-padded with the tokenizer's pad id to the
    longest text (L <= max_length). One tensor, so a `TensorDataset` can hold it."""
    require_type("texts", texts, (list, tuple))
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("`texts` must be a non-empty list of strings.")
    require_type("max_length", max_length, int)
    require_range("max_length", max_length, low=2)
    if tokenizer.pad_token_id is None:
        raise ValueError("`tokenizer` has no pad token; set tokenizer.pad_token first.")
    with padding_side(tokenizer, "right"):
        ids = tokenizer(list(texts), truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    return ids["input_ids"]


# ----------------------------------------------------------------------------------------------------------------
# Chat examples: prompt + answer, with a mask on the answer


def chat_ids(tokenizer: Any, messages: list[dict[str, str]], *, generation_prompt: bool) -> list[int]:
    """The token ids of `messages` rendered by the tokenizer's chat template (with the assistant's turn opened at
    the end when `generation_prompt`)."""
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=True)
    if isinstance(out, Mapping) or hasattr(out, "keys"):
        out = out["input_ids"]
    return list(out)


def tokenize_chat(
    tokenizer: Any, prompt: list[dict[str, str]], completion: list[dict[str, str]], *, max_length: int = 256
) -> dict[str, list[int]]:
    """`{"input_ids", "completion_mask"}` of a conversational prompt-completion example (TRL's layout): the prompt
    messages rendered up to the assistant's turn, then the completion messages (the end-of-turn token included),
    `completion_mask` 1 on the completion's tokens; sequences longer than `max_length` are cut at the end."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("`tokenizer` has no chat template; use a chat model's tokenizer (SmolLM2-Instruct).")
    prompt_ids = chat_ids(tokenizer, prompt, generation_prompt=True)
    ids = chat_ids(tokenizer, prompt + completion, generation_prompt=False)
    if ids[: len(prompt_ids)] != prompt_ids:
        raise ValueError("the chat template renders the prompt differently on its own; cannot split the tokens.")
    mask = [0] * len(prompt_ids) + [1] * (len(ids) - len(prompt_ids))
    return {"input_ids": ids[:max_length], "completion_mask": mask[:max_length]}


def pad_id_of(tokenizer: Any) -> int:
    """The id to pad with: the tokenizer's pad token, else its EOS token (SmolLM2 pads with EOS)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ValueError("`tokenizer` has neither a pad token nor an EOS token to pad with.")
    return pad


def pad_examples(examples: Sequence[Mapping[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad tokenized examples (`input_ids` and `completion_mask` lists, e.g. from `tokenize_chat`) into one
    batch `{"input_ids", "attention_mask", "completion_mask"}`; padding counts 0 in both masks."""
    width = max(len(e["input_ids"]) for e in examples)
    batch = {
        "input_ids": torch.full((len(examples), width), pad_id),
        "attention_mask": torch.zeros(len(examples), width, dtype=torch.long),
        "completion_mask": torch.zeros(len(examples), width, dtype=torch.long),
    }
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        batch["input_ids"][i, :n] = torch.tensor(e["input_ids"])
        batch["attention_mask"][i, :n] = 1
        batch["completion_mask"][i, :n] = torch.tensor(e["completion_mask"])
    return batch
