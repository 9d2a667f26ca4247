"""Token streaming: show a chat reply while it is being written, one token at a time. Taught in notebook 15 (the
Q&A app streams its answers).

`generate` returns only when the whole reply is done; a chat app should show each token as it comes. Greedy
decoding with the key/value cache is a loop of one-token forward passes, so it can `yield` after every step:

* `stream_token_ids` is that loop (the prompt once, then one new token per step, reusing the cache) and yields
  token ids; its ids equal `model.generate(..., do_sample=False)`'s.
* `stream_text` turns the ids into the growing text. It decodes the whole reply so far each time (a word can span
  several tokens, and a character several byte tokens), and holds back text that still ends in an incomplete
  character (the replacement character U+FFFD).
* `stream_chat_reply` does both for chat messages, the way the app calls it.
* `repeated_line_start` finds where a reply starts writing a whole line it already wrote: greedy decoding's loops
  (notebook 05), which an app can cut off instead of streaming them until the token limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch

from ..course.device import device_of

INCOMPLETE = "\ufffd"  # what a tokenizer decodes from the first bytes of a character that is not finished yet


def stop_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """The ids that end a reply: the tokenizer's end token and the model's generation config's end token(s)."""
    ids: set[int] = set()
    for value in (getattr(tokenizer, "eos_token_id", None), getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, Sequence):
            ids.update(int(v) for v in value)
    return ids


@torch.no_grad()
def stream_token_ids(
    model: Any, input_ids: torch.Tensor, *, max_new_tokens: int = 128, stop_ids: Iterable[int] = ()
) -> Iterator[int]:
    """Greedy decoding with the key/value cache, yielding each new token id as soon as it is chosen.

    input_ids: the prompt, shape (1, length) (one sequence, no padding). The loop stops after `max_new_tokens` ids
    or before yielding a stop id (the stop id itself is not yielded).
    """
    stops = {int(i) for i in stop_ids}
    output = model(input_ids=input_ids.to(device_of(model)), use_cache=True)  # the whole prompt, once
    for _ in range(max_new_tokens):
        next_id = output.logits[:, -1].argmax(dim=-1, keepdim=True)  # (1, 1)
        token = int(next_id)
        if token in stops:
            return
        yield token
        output = model(input_ids=next_id, past_key_values=output.past_key_values, use_cache=True)


def stream_text(tokenizer: Any, token_ids: Iterable[int]) -> Iterator[str]:
    """The growing decoded text of `token_ids` (special tokens skipped), yielded whenever it gets longer and does not
    end in a half-finished character; the last value is the whole text."""
    ids: list[int] = []
    shown = ""
    for token in token_ids:
        ids.append(token)
        text = tokenizer.decode(ids, skip_special_tokens=True)
        if text.endswith(INCOMPLETE) or len(text) <= len(shown):
            continue
        shown = text
        yield text
    final = tokenizer.decode(ids, skip_special_tokens=True)
    if final != shown:
        yield final


def chat_input_ids(tokenizer: Any, messages: Sequence[dict[str, str]]) -> torch.Tensor:
    """The token ids (1, length) of chat `messages` in the tokenizer's chat template, ready for the reply."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("`tokenizer` has no chat template; use an instruction-tuned model (e.g. load_chat_model()).")
    encoded = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, return_tensors="pt")
    return encoded["input_ids"] if hasattr(encoded, "keys") else encoded


def stream_chat_reply(
    model: Any, tokenizer: Any, messages: Sequence[dict[str, str]], *, max_new_tokens: int = 128
) -> Iterator[str]:
    """Stream the greedy reply to chat `messages`: yields the reply so far (leading spaces stripped), growing; the
    last value equals the greedy `generate` reply decoded without special tokens and stripped."""
    ids = chat_input_ids(tokenizer, messages)
    tokens = stream_token_ids(model, ids, max_new_tokens=max_new_tokens, stop_ids=stop_token_ids(model, tokenizer))
    shown = ""
    for text in stream_text(tokenizer, tokens):
        text = text.strip()
        if text and text != shown:
            shown = text
            yield text
    if not shown:
        yield ""


def repeated_line_start(text: str, *, min_words: int = 3) -> int | None:
    """The index in `text` where a finished line (one followed by a newline) of at least `min_words` words repeats a
    line written before it, or None. Cutting `text` there keeps everything up to the loop."""
    seen: set[str] = set()
    position = 0
    for line in text.split("\n")[:-1]:  # the last piece is not finished yet
        key = " ".join(line.split())
        if len(key.split()) >= min_words:
            if key in seen:
                return position
            seen.add(key)
        position += len(line) + 1
    return None
