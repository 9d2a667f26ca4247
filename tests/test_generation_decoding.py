"""utils.decoding: filters and sampling against transformers' warpers, greedy/beam search against `generate`."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from utils.generation.decoding import (
    beam_search,
    greedy_decode,
    sample_decode,
    sample_next_token,
    top_k_filter,
    top_p_filter,
)

SHAPES = [(50,), (3, 50), (2, 4, 33)]
EOS = 2  # SmolLM2's <|im_end|>, also its pad token

pytestmark = pytest.mark.usefixtures("one_thread")


def _random_logits(shape: tuple[int, ...], seed: int, ties: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if ties:  # few distinct values: many ties, also at the top-k / top-p thresholds
        return torch.randint(-3, 4, shape, generator=g).float()
    return torch.randn(shape, generator=g) * 3


def _reference(warper: Any, logits: torch.Tensor) -> torch.Tensor:
    """Apply a transformers warper (which expects [batch, vocab]) to [..., vocab] logits."""
    flat = logits.reshape(-1, logits.shape[-1])
    return warper(None, flat.clone()).reshape(logits.shape)


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("k", [1, 2, 5, 33, 1000])
@pytest.mark.parametrize("ties", [False, True])
def test_top_k_filter_matches_transformers(shape: tuple[int, ...], k: int, ties: bool) -> None:
    logits = _random_logits(shape, seed=k, ties=ties)
    ours = top_k_filter(logits, k)
    assert ours.shape == logits.shape
    assert torch.equal(ours, _reference(TopKLogitsWarper(top_k=k), logits))
    assert torch.equal(logits, _random_logits(shape, seed=k, ties=ties))  # input untouched


def test_top_k_filter_keeps_ties_at_the_threshold() -> None:
    out = top_k_filter(torch.tensor([1.0, 3.0, 2.0, 2.0, 0.0]), 2)
    assert torch.equal(torch.isfinite(out), torch.tensor([False, True, True, True, False]))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.05, 0.3, 0.9, 0.999, 1.0])
@pytest.mark.parametrize("ties", [False, True])
def test_top_p_filter_matches_transformers(shape: tuple[int, ...], p: float, ties: bool) -> None:
    logits = _random_logits(shape, seed=int(p * 1000), ties=ties)
    ours = top_p_filter(logits, p)
    assert ours.shape == logits.shape
    assert torch.equal(ours, _reference(TopPLogitsWarper(top_p=p), logits))


@pytest.mark.parametrize("p", [0.5, 1.0])
@pytest.mark.parametrize("min_keep", [1, 3])
def test_top_p_filter_edge_cases_match_transformers(p: float, min_keep: int) -> None:
    logits = torch.randn(4, 20, generator=torch.Generator().manual_seed(0))
    logits[0, 0] = 30.0  # one token takes (almost) all the mass: min_tokens_to_keep decides
    logits[1, :5] = float("-inf")  # probability exactly 0
    logits[2, :5] = -1e4  # probability underflows to 0
    ours = top_p_filter(logits, p, min_tokens_to_keep=min_keep)
    assert torch.equal(ours, TopPLogitsWarper(top_p=p, min_tokens_to_keep=min_keep)(None, logits.clone()))
    assert (torch.isfinite(ours).sum(-1) >= min_keep).all()


def test_top_p_filter_keeps_the_smallest_nucleus() -> None:
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    assert torch.isfinite(top_p_filter(logits, 0.7)).tolist() == [True, True, False, False]
    assert torch.isfinite(top_p_filter(logits, 0.5)).tolist() == [True, False, False, False]


# --------------------------------------------------------------------------- sampling


def test_sample_next_token_is_reproducible_with_a_seeded_generator() -> None:
    logits = torch.randn(4, 3, 40, generator=torch.Generator().manual_seed(1))
    a = sample_next_token(logits, temperature=0.8, top_k=10, generator=torch.Generator().manual_seed(7))
    b = sample_next_token(logits, temperature=0.8, top_k=10, generator=torch.Generator().manual_seed(7))
    assert a.shape == (4, 3) and a.dtype == torch.long
    assert torch.equal(a, b)
    draws = {
        tuple(sample_next_token(logits, generator=torch.Generator().manual_seed(s)).flatten().tolist())
        for s in range(5)
    }
    assert len(draws) > 1  # different seeds, different draws


def test_sample_next_token_uses_transformers_order_of_warpers() -> None:
    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(2))
    warpers = LogitsProcessorList([TemperatureLogitsWarper(0.7), TopKLogitsWarper(12), TopPLogitsWarper(0.8)])
    probs = torch.softmax(warpers(None, logits.clone()), dim=-1)
    expected = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(3)).squeeze(-1)
    ours = sample_next_token(logits, temperature=0.7, top_k=12, top_p=0.8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(ours, expected)


@pytest.mark.parametrize(("top_k", "top_p"), [(5, None), (None, 0.6), (8, 0.7), (1, None)])
def test_sample_next_token_never_picks_a_filtered_token(top_k: int | None, top_p: float | None) -> None:
    row = torch.randn(60, generator=torch.Generator().manual_seed(4)) * 2
    allowed = row / 1.3
    if top_k is not None:
        allowed = top_k_filter(allowed, top_k)
    if top_p is not None:
        allowed = top_p_filter(allowed, top_p)
    allowed_ids = set(torch.nonzero(torch.isfinite(allowed)).flatten().tolist())
    ids = sample_next_token(
        row.expand(3000, -1), temperature=1.3, top_k=top_k, top_p=top_p, generator=torch.Generator().manual_seed(5)
    )
    seen = set(ids.tolist())
    assert seen <= allowed_ids
    assert len(seen) == len(allowed_ids) or len(allowed_ids) > 5  # small sets are fully explored
    if top_k == 1:
        assert seen == {int(row.argmax())}


def test_low_temperature_approaches_greedy() -> None:
    logits = torch.randn(400, 30, generator=torch.Generator().manual_seed(6))
    top = logits.argmax(-1)
    logits[torch.arange(400), top] += 0.05  # a clear winner in every row
    hits = []
    for temperature in (2.0, 1.0, 0.3, 1e-3):
        ids = sample_next_token(logits, temperature=temperature, generator=torch.Generator().manual_seed(8))
        hits.append((ids == top).float().mean().item())
    assert hits == sorted(hits)  # colder = more often the argmax
    assert hits[-1] == 1.0 and hits[0] < 0.5


# --------------------------------------------------------------------------- bad arguments


def _dummy_model(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the arguments should have been rejected before calling the model")


LOGITS = torch.zeros(2, 10)
IDS = torch.tensor([[1, 2, 3]])
BAD_CALLS = [
    (lambda: top_k_filter(LOGITS, 0), ValueError, "`k`"),
    (lambda: top_p_filter(LOGITS, 0.0), ValueError, "`p`"),
    (lambda: top_p_filter(LOGITS, 1.5), ValueError, "`p`"),
    (lambda: greedy_decode(_dummy_model, IDS, 0), ValueError, "`max_new_tokens`"),
    (lambda: sample_decode(_dummy_model, IDS, 0), ValueError, "`max_new_tokens`"),
    (lambda: sample_decode(_dummy_model, IDS, 5, temperature=0.0), ValueError, "`temperature`"),
    (lambda: sample_decode(_dummy_model, IDS, 5, top_k=0), ValueError, "`top_k`"),
    (lambda: sample_decode(_dummy_model, IDS, 5, top_p=1.2), ValueError, "`top_p`"),
    (lambda: beam_search(_dummy_model, IDS, 0, 5), ValueError, "`num_beams`"),
    (lambda: beam_search(_dummy_model, IDS, 2, 0), ValueError, "`max_new_tokens`"),
    (lambda: beam_search(_dummy_model, IDS, 2, 5, early_stopping="sometimes"), ValueError, "`early_stopping`"),
]


@pytest.mark.parametrize(("call", "error", "name"), BAD_CALLS, ids=[f"{i}-{c[2]}" for i, c in enumerate(BAD_CALLS)])
def test_bad_arguments_raise_naming_the_argument(call: Any, error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        call()


# --------------------------------------------------------------------------- greedy and beam search vs generate


def _prompt(tokenizer: Any, name: str) -> torch.Tensor:
    if name == "plain":  # no EOS within the first tokens
        return tokenizer("The capital of France is", return_tensors="pt").input_ids
    question = {"yes": "Reply with one word: yes or no?", "sum": "What is 2+2? Answer with a number only."}[name]
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
    )
    return tokenizer(text, return_tensors="pt").input_ids  # the reply ends with EOS within a few tokens


@pytest.mark.slow
@pytest.mark.parametrize("prompt", ["plain", "sum"])
def test_greedy_decode_matches_generate(chat_model: tuple[Any, Any], prompt: str) -> None:
    model, tokenizer = chat_model
    ids = _prompt(tokenizer, prompt)
    expected = model.generate(ids, do_sample=False, max_new_tokens=10, eos_token_id=EOS, pad_token_id=EOS)
    ours = greedy_decode(model, ids, 10, eos_token_id=EOS)
    assert torch.equal(ours, expected)
    assert torch.equal(greedy_decode(model, ids[0], 10, eos_token_id=EOS), expected[0])  # 1-D prompt, 1-D answer
    if prompt == "sum":
        assert ours[0, -1] == EOS and ours.shape[1] < ids.shape[1] + 10  # stopped at EOS


@pytest.mark.slow
def test_greedy_decode_matches_generate_on_a_left_padded_batch(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        batch = tokenizer(["Hi", "The capital of France is a city"], return_tensors="pt", padding=True)
    finally:
        tokenizer.padding_side = old_side
    expected = model.generate(**batch, do_sample=False, max_new_tokens=6, eos_token_id=EOS, pad_token_id=EOS)
    ours = greedy_decode(model, batch.input_ids, 6, eos_token_id=EOS, attention_mask=batch.attention_mask)
    assert torch.equal(ours, expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prompt", "early_stopping", "length_penalty"),
    [("plain", False, 1.0), ("yes", True, 1.0), ("yes", False, 2.0), ("sum", "never", 1.0)],
)
def test_beam_search_matches_generate(
    chat_model: tuple[Any, Any], prompt: str, early_stopping: bool | str, length_penalty: float
) -> None:
    model, tokenizer = chat_model
    ids = _prompt(tokenizer, prompt)
    settings = {"early_stopping": early_stopping, "length_penalty": length_penalty}
    expected = model.generate(
        ids, do_sample=False, num_beams=3, max_new_tokens=8, eos_token_id=EOS, pad_token_id=EOS, **settings
    )
    ours = beam_search(model, ids, num_beams=3, max_new_tokens=8, eos_token_id=EOS, **settings)
    assert torch.equal(ours, expected)


@pytest.mark.slow
def test_beam_search_without_eos_runs_to_max_new_tokens(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    batch = tokenizer(["The capital of France is", "The capital of Italy is"], return_tensors="pt").input_ids
    assert batch.shape[0] == 2  # same length, no padding needed
    ours = beam_search(model, batch, num_beams=2, max_new_tokens=5)
    assert ours.shape == (2, batch.shape[1] + 5)
    assert torch.equal(ours[:, : batch.shape[1]], batch)
    assert torch.equal(beam_search(model, batch[1], num_beams=2, max_new_tokens=5), ours[1])


class _WithoutCache(torch.nn.Module):
    """SmolLM2 speaking the protocol the way the course's own models do: no key/value cache comes back."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=False):
        assert past_key_values is None, "a model without a cache must be fed the whole sequence"
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)
        return SimpleNamespace(logits=out.logits, past_key_values=None)


@pytest.mark.slow
def test_sample_decode_matches_generate_with_the_same_seed(chat_model: tuple[Any, Any]) -> None:
    model, tokenizer = chat_model
    ids = _prompt(tokenizer, "plain")
    knobs = {"temperature": 0.8, "top_k": 20, "top_p": 0.9}
    torch.manual_seed(3)
    expected = model.generate(ids, do_sample=True, max_new_tokens=8, eos_token_id=EOS, pad_token_id=EOS, **knobs)
    torch.manual_seed(3)
    ours = sample_decode(model, ids, 8, eos_token_id=EOS, **knobs)
    assert torch.equal(ours, expected)
    torch.manual_seed(3)
    assert torch.equal(sample_decode(_WithoutCache(model), ids, 8, eos_token_id=EOS, **knobs), expected)


@pytest.mark.slow
def test_decoders_without_a_cache_give_the_cached_tokens(chat_model: tuple[Any, Any]) -> None:
    """The path the course's models take (whole sequence every step) equals transformers' cached generation."""
    model, tokenizer = chat_model
    ids = _prompt(tokenizer, "sum")
    plain = _WithoutCache(model)
    expected = model.generate(ids, do_sample=False, max_new_tokens=6, eos_token_id=EOS, pad_token_id=EOS)
    assert torch.equal(greedy_decode(plain, ids, 6, eos_token_id=EOS), expected)
    beams = model.generate(ids, do_sample=False, num_beams=2, max_new_tokens=4, eos_token_id=EOS, pad_token_id=EOS)
    assert torch.equal(beam_search(plain, ids, num_beams=2, max_new_tokens=4, eos_token_id=EOS), beams)
