"""utils.generation.streaming: the cached greedy step loop equals transformers' `generate`, the streamed text grows
and ends in the non-streamed reply, half-finished characters are held back, bad arguments are refused."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from tiny_models import tiny_llama

from utils.generation.streaming import (
    chat_input_ids,
    repeated_line_start,
    stop_token_ids,
    stream_chat_reply,
    stream_text,
    stream_token_ids,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_step_loop_equals_generate_on_a_tiny_llama(seed: int) -> None:
    model = tiny_llama(50, seed=seed)
    prompt = torch.randint(3, 50, (1, 7), generator=torch.Generator().manual_seed(seed))
    streamed = list(stream_token_ids(model, prompt, max_new_tokens=12))
    reference = model.generate(prompt, max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0)
    assert streamed == reference[0, prompt.shape[1] :].tolist()


def test_stop_id_ends_the_stream_before_it_is_yielded() -> None:
    model = tiny_llama(50, seed=0)
    prompt = torch.tensor([[5, 6, 7, 8]])
    full = list(stream_token_ids(model, prompt, max_new_tokens=10))
    stop = full[3]
    cut = list(stream_token_ids(model, prompt, max_new_tokens=10, stop_ids=[stop]))
    assert cut == full[: full.index(stop)]
    assert stop not in cut


class ByteTokenizer:
    """Token id = one UTF-8 byte; decoding an unfinished character gives U+FFFD, as byte-level BPE tokenizers do."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


def test_stream_text_grows_and_holds_back_half_characters() -> None:
    ids = list("café ✓".encode())
    chunks = list(stream_text(ByteTokenizer(), ids))
    assert chunks[-1] == "café ✓"
    assert all("\ufffd" not in chunk for chunk in chunks)
    assert all(b.startswith(a) and len(b) > len(a) for a, b in itertools.pairwise(chunks))
    assert len(chunks) == len("café ✓")  # one value per finished character


@pytest.mark.slow
def test_streamed_reply_equals_the_greedy_generate_reply(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    messages = [{"role": "user", "content": "Name three colours of the rainbow."}]
    chunks = list(stream_chat_reply(model, tokenizer, messages, max_new_tokens=40))
    ids = chat_input_ids(tokenizer, messages)
    output = model.generate(ids, max_new_tokens=40, do_sample=False, pad_token_id=tokenizer.eos_token_id)
    reference = tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True).strip()
    assert chunks[-1] == reference
    assert len(chunks) > 3, "the reply should arrive in several pieces"
    assert all(b.startswith(a) for a, b in itertools.pairwise(chunks))
    assert tokenizer.eos_token_id in stop_token_ids(model, tokenizer)


def test_a_tokenizer_without_chat_template_is_refused() -> None:
    with pytest.raises(ValueError, match="chat template"):
        chat_input_ids(object(), [{"role": "user", "content": "hi"}])


def test_repeated_line_start() -> None:
    loop = "Intro line here.\n\nThe answer is:\n\nThe answer is:\n\nThe ans"
    cut = repeated_line_start(loop)
    assert loop[:cut].rstrip() == "Intro line here.\n\nThe answer is:"
    assert repeated_line_start("a b c\nd e f\n") is None
    assert repeated_line_start("a b c\nx\nx\n") is None, "short lines (list markers, fences) may repeat"
    assert repeated_line_start("a b c\n a  b c \n") == 6, "spacing does not hide a repeat"
    assert repeated_line_start("a b c\na b c") is None, "an unfinished line is not judged yet"
