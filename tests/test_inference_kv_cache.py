"""The key/value cache of `utils.inference.kv_cache`: cached decoding gives the tokens of uncached decoding on the
course's GPT and LlamaDecoder, and on SmolLM2 the tokens of transformers' `generate(do_sample=False)`."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from tiny_models import tiny_llama

from utils.generation.decoding import greedy_decode
from utils.inference.kv_cache import CachedDecoder, KVCache, kv_cache_bytes
from utils.transformer.gpt import GPT, GPTConfig
from utils.transformer.llama import LlamaDecoder

LEFT_PADDED = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]])

pytestmark = pytest.mark.usefixtures("one_thread")


def _gpt(context_length: int = 64) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=40, context_length=context_length, d_model=32, n_heads=4, n_layers=2)).eval()


def _llama() -> tuple[Any, LlamaDecoder]:
    reference = tiny_llama(40, seed=1)
    return reference, LlamaDecoder.from_hf(reference)


@pytest.mark.parametrize("padded", [False, True])
def test_cached_gpt_gives_the_uncached_tokens(padded: bool) -> None:
    model = _gpt()
    ids = torch.randint(1, 40, (3, 6), generator=torch.Generator().manual_seed(0))
    mask = LEFT_PADDED if padded else None
    plain = greedy_decode(model, ids, 25, attention_mask=mask)
    cached = greedy_decode(CachedDecoder(model), ids, 25, attention_mask=mask)
    assert torch.equal(plain, cached)


@pytest.mark.parametrize("padded", [False, True])
def test_cached_llama_gives_the_uncached_and_the_transformers_tokens(padded: bool) -> None:
    reference, model = _llama()
    ids = torch.randint(1, 40, (3, 6), generator=torch.Generator().manual_seed(1))
    mask = LEFT_PADDED if padded else torch.ones_like(ids)
    cached = greedy_decode(CachedDecoder(model), ids, 20, attention_mask=mask)
    assert torch.equal(cached, greedy_decode(model, ids, 20, attention_mask=mask))
    expected = reference.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=20, pad_token_id=0)
    assert torch.equal(cached, expected)


@pytest.mark.parametrize("build", [_gpt, lambda: _llama()[1]])
@torch.no_grad()
def test_prompt_then_steps_give_the_full_forward_logits(build: Any) -> None:
    model = build()
    ids = torch.randint(0, 40, (2, 12), generator=torch.Generator().manual_seed(2))
    full = model(input_ids=ids).logits
    cached_model = CachedDecoder(model)
    out = cached_model(input_ids=ids[:, :5])
    pieces = [out.logits]
    for start, stop in ((5, 6), (6, 9), (9, 12)):  # one token, then several at once
        out = cached_model(input_ids=ids[:, start:stop], past_key_values=out.past_key_values)
        pieces.append(out.logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    assert out.past_key_values.get_seq_length() == 12


def test_cache_size_matches_the_formula() -> None:
    _, model = _llama()
    out = CachedDecoder(model)(input_ids=torch.ones(2, 7, dtype=torch.long))
    cache = out.past_key_values
    config = model.config
    assert isinstance(cache, KVCache)
    assert cache.nbytes == kv_cache_bytes(config.n_layers, config.n_kv_heads, config.head_dim, 7, batch_size=2)
    assert tuple(cache.keys[0].shape) == (2, config.n_kv_heads, 7, config.head_dim)


def test_use_cache_false_returns_no_cache() -> None:
    out = CachedDecoder(_gpt())(input_ids=torch.ones(1, 3, dtype=torch.long), use_cache=False)
    assert out.past_key_values is None


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: CachedDecoder(torch.nn.Linear(2, 2)), TypeError, "model"),
        (lambda: CachedDecoder(_gpt(8))(torch.ones(1, 9, dtype=torch.long)), ValueError, "context_length"),
        (lambda: CachedDecoder(_gpt())(torch.ones(1, 3)), TypeError, "input_ids"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(call: Any, error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        call()


@pytest.mark.slow
def test_cached_llama_decoder_on_smollm2_matches_generate(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    texts = ["The capital of France is", "Once upon a time, in a small"]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation pads on the left
    try:
        batch = tokenizer(texts, return_tensors="pt", padding=True)
    finally:
        tokenizer.padding_side = side
    ids, mask = batch.input_ids, batch.attention_mask
    assert not bool(mask.all())  # the batch really is padded
    expected = model.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=16, pad_token_id=2)
    ours = greedy_decode(CachedDecoder(LlamaDecoder.from_hf(model)), ids, 16, attention_mask=mask)
    assert torch.equal(ours, expected)
