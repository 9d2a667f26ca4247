"""utils.evaluation.likelihood: perplexity against transformers' loss on a tiny random Llama and against a hand
computation on the course GPT, multiple choice on a model whose answers are forced, the Wilson interval, and the
argument checks."""

from __future__ import annotations

import math
from statistics import NormalDist

import pytest
import torch
import torch.nn.functional as F
from tiny_models import tiny_llama as shared_tiny_llama
from torch import nn
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from utils.evaluation.likelihood import (
    MultipleChoiceResult,
    continuation_log_likelihood,
    encode,
    model_max_length,
    multiple_choice_accuracy,
    perplexity,
    text_log_likelihood,
    wilson_interval,
)
from utils.transformer.gpt import GPT, GPTConfig
from utils.transformer.outputs import CausalLMOutput
from utils.transformer.tokenizer import BPETokenizer

CORPUS = ["the cat sat on the mat", "a dog barked at the cat", "the mat was red and the dog was not"] * 10
TEXTS = ["the cat sat on the mat and the dog barked", "a cat", "the red dog sat on a cat that sat on the mat", "x"]


@pytest.fixture(scope="module")
def hf_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=300, min_frequency=1, show_progress=False)
    return PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer)


@pytest.fixture(scope="module")
def llama() -> LlamaForCausalLM:
    return shared_tiny_llama(300)


@pytest.fixture(scope="module")
def gpt_and_bpe() -> tuple[GPT, BPETokenizer]:
    tokenizer = BPETokenizer()
    tokenizer.train(" ".join(CORPUS), vocab_size=280, progress=False)
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, context_length=16, d_model=16, n_heads=2, n_layers=2)
    return GPT(config).eval(), tokenizer


def _hand_log_probs(model: nn.Module, ids: list[int]) -> float:
    """Sum of log P(token t | tokens < t), t >= 1, for one unpadded sequence, with F.cross_entropy."""
    x = torch.tensor([ids])
    with torch.no_grad():
        logits = model(input_ids=x).logits[0, :-1]
    return -F.cross_entropy(logits.float(), x[0, 1:], reduction="sum").item()


# --------------------------------------------------------------------------------------------------------------------
# Perplexity


def test_perplexity_of_one_text_equals_transformers_loss(llama, hf_tokenizer) -> None:
    ids = torch.tensor([hf_tokenizer.encode(TEXTS[0])])
    with torch.no_grad():
        expected = math.exp(llama(input_ids=ids, labels=ids).loss.item())
    assert perplexity(llama, hf_tokenizer, TEXTS[0]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_perplexity_is_token_weighted_and_batching_does_not_change_it(llama, hf_tokenizer, batch_size) -> None:
    per_text = [_hand_log_probs(llama, hf_tokenizer.encode(t)) for t in TEXTS]
    counts = [len(hf_tokenizer.encode(t)) - 1 for t in TEXTS]
    expected = math.exp(-sum(per_text) / sum(counts))  # pooled over tokens, not a mean of per-text perplexities
    assert perplexity(llama, hf_tokenizer, TEXTS, batch_size=batch_size) == pytest.approx(expected, rel=1e-5)
    detail = text_log_likelihood(llama, hf_tokenizer, TEXTS, batch_size=batch_size)
    assert detail.log_probs == pytest.approx(per_text, abs=1e-4)
    assert list(detail.n_tokens) == counts and counts[-1] == 0  # "x" is one token: nothing to predict
    assert detail.mean_nll == pytest.approx(-sum(per_text) / sum(counts), rel=1e-5)


def test_perplexity_on_the_course_gpt_with_its_bpe(gpt_and_bpe) -> None:
    model, tokenizer = gpt_and_bpe
    text = "the cat sat"
    ids = tokenizer.encode(text)
    assert encode(tokenizer, text) == ids and 2 < len(ids) <= 16
    expected = math.exp(-_hand_log_probs(model, ids) / (len(ids) - 1))
    assert perplexity(model, tokenizer, text) == pytest.approx(expected, rel=1e-5)


def test_long_texts_are_cut_to_the_context_length(gpt_and_bpe) -> None:
    model, tokenizer = gpt_and_bpe
    assert model_max_length(model) == 16
    long_text = " ".join(CORPUS[:3])
    ids = tokenizer.encode(long_text)
    assert len(ids) > 16  # the GPT would refuse it whole
    detail = text_log_likelihood(model, tokenizer, [long_text])
    assert detail.n_tokens[0] == 15
    assert detail.log_probs[0] == pytest.approx(_hand_log_probs(model, ids[:16]), abs=1e-4)
    shorter = text_log_likelihood(model, tokenizer, [long_text], max_length=8)
    assert shorter.n_tokens[0] == 7


def test_perplexity_leaves_the_model_mode_alone(llama, hf_tokenizer) -> None:
    llama.train()
    try:
        first = perplexity(llama, hf_tokenizer, TEXTS[:2])
        assert llama.training and perplexity(llama, hf_tokenizer, TEXTS[:2]) == first  # no dropout noise
    finally:
        llama.eval()


# --------------------------------------------------------------------------------------------------------------------
# Multiple choice


class FixedNextToken(nn.Module):
    """A "language model" whose next-token distribution ignores its input: probability `p` for each id in `likes`,
    the rest shared equally by the other ids. Its answers are forced, so the expected scores are known exactly."""

    def __init__(self, vocab_size: int, likes: dict[int, float]) -> None:
        super().__init__()
        self.config = GPTConfig(vocab_size=vocab_size, context_length=64, d_model=2, n_heads=1, n_layers=1)
        probs = torch.full((vocab_size,), (1 - sum(likes.values())) / (vocab_size - len(likes)))
        for token, p in likes.items():
            probs[token] = p
        self.register_buffer("log_probs", probs.log())

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> CausalLMOutput:
        return CausalLMOutput(logits=self.log_probs.expand(*input_ids.shape, -1).clone())


@pytest.fixture(scope="module")
def forced() -> tuple[FixedNextToken, BPETokenizer]:
    tokenizer = BPETokenizer()  # untrained: one token per byte, so "aaa" is three tokens
    return FixedNextToken(256, {ord("a"): 0.5, ord(" "): 0.25}), tokenizer


def test_multiple_choice_picks_the_forced_answer(forced) -> None:
    model, tokenizer = forced
    items = [
        {"question": "Q1?", "choices": ["aaa", "bbb", "ccc"], "answer": 0},
        {"question": "Q2?", "choices": ["bbb", "aaa"], "answer": 1},
        {"question": "Q3?", "choices": ["aaa", "bbb"], "answer": 1},  # the model is wrong here
    ]
    result = multiple_choice_accuracy(model, tokenizer, items, normalize="sum")
    assert isinstance(result, MultipleChoiceResult)
    assert list(result.predictions) == [0, 1, 0] and list(result.correct) == [True, True, False]
    assert result.accuracy == pytest.approx(2 / 3) and result.n == 3
    other = (1 - 0.75) / 254
    expected_aaa = math.log(0.25) + 3 * math.log(0.5)  # " " then "a" three times
    expected_bbb = math.log(0.25) + 3 * math.log(other)
    assert result.scores[0] == pytest.approx([expected_aaa, expected_bbb, expected_bbb], rel=1e-5)
    low, high = result.interval()
    assert (low, high) == wilson_interval(2, 3) and low < 2 / 3 < high


def test_normalisation_decides_between_short_and_long_choices(forced) -> None:
    model, tokenizer = forced
    item = {"question": "Q?", "choices": ["aaaa", "z"], "answer": 0}
    # summed: 4 likely tokens cost more than one unlikely one? log .5 * 4 = -2.77 vs log(1/1016) = -6.9: "aaaa" wins
    assert multiple_choice_accuracy(model, tokenizer, [item], normalize="sum").accuracy == 1.0
    item = {"question": "Q?", "choices": ["aaaaaaaaaaaa", "a"], "answer": 0}
    by_sum = multiple_choice_accuracy(model, tokenizer, [item], normalize="sum")
    by_token = multiple_choice_accuracy(model, tokenizer, [item], normalize="token")
    by_char = multiple_choice_accuracy(model, tokenizer, [item], normalize="char")
    assert by_sum.predictions[0] == 1  # the sum favours the shorter choice
    assert by_token.predictions[0] == 0 and by_char.predictions[0] == 0  # per token, the longer one is likelier
    n_tokens = len(" aaaaaaaaaaaa")
    for other in (by_sum, by_token, by_char):  # one forward pass is enough for every normalisation
        for normalize, reference in (("sum", by_sum), ("token", by_token), ("char", by_char)):
            again = other.renormalized(normalize)
            assert list(again.predictions) == list(reference.predictions) and again.normalize == normalize
            assert again.scores[0] == pytest.approx(reference.scores[0])
    assert list(by_sum.n_tokens[0]) == [n_tokens, 2] and list(by_char.n_chars[0]) == [n_tokens, 2]
    assert by_token.scores[0][0] == pytest.approx((math.log(0.25) + 12 * math.log(0.5)) / n_tokens, rel=1e-5)


def test_multiple_choice_on_real_models_is_consistent(llama, hf_tokenizer, gpt_and_bpe) -> None:
    """Choice scores equal a hand computation of log P(choice | question), for both tokenizer kinds."""
    item = {"question": "the cat", "choices": ["sat on the mat", "barked"], "answer": 0}
    for model, tokenizer in ((llama, hf_tokenizer), gpt_and_bpe):
        result = multiple_choice_accuracy(model, tokenizer, [item, item], normalize="sum", batch_size=3)
        context = encode(tokenizer, "the cat")
        for k, choice in enumerate(item["choices"]):
            ids = context + encode(tokenizer, " " + choice, special_tokens=False)
            whole = _hand_log_probs(model, ids)
            prefix = _hand_log_probs(model, context)
            assert result.scores[0][k] == pytest.approx(whole - prefix, abs=1e-4)
        assert result.scores[0] == pytest.approx(result.scores[1], abs=1e-4)  # padded differently, same scores
        direct = continuation_log_likelihood(model, tokenizer, ["the cat"] * 2, item["choices"], batch_size=1)
        assert direct == pytest.approx(result.log_likelihoods[0], abs=1e-4)


@pytest.mark.parametrize(
    ("items", "kwargs", "match"),
    [
        ([], {}, "`items`"),
        ([{"question": "Q", "choices": ["a"], "answer": 0}], {}, r"`items\[0\]`"),  # one choice
        ([{"question": "Q", "choices": ["a", "b"], "answer": 2}], {}, r"`items\[0\]`"),
        ([{"question": "Q", "choices": ["a", "b"], "answer": 0}], {"normalize": "mean"}, "`normalize`"),
        ([{"question": "Q", "choices": ["a", "b"], "answer": 0}], {"max_length": 1}, "too long"),
    ],
)
def test_multiple_choice_rejects_bad_arguments(forced, items, kwargs, match) -> None:
    model, tokenizer = forced
    with pytest.raises(ValueError, match=match):
        multiple_choice_accuracy(model, tokenizer, items, **kwargs)


def test_continuation_log_likelihood_rejects_bad_arguments(forced) -> None:
    model, tokenizer = forced
    with pytest.raises(ValueError, match="pair up"):
        continuation_log_likelihood(model, tokenizer, ["a", "b"], ["c"])
    with pytest.raises(ValueError, match="pair up"):
        continuation_log_likelihood(model, tokenizer, [], [])
    with pytest.raises(ValueError, match="no tokens"):
        continuation_log_likelihood(model, tokenizer, ["a"], [""], separator="")
    with pytest.raises(ValueError, match="too long"):
        continuation_log_likelihood(model, tokenizer, ["a"], ["b" * 80])


def test_perplexity_rejects_bad_arguments(llama, hf_tokenizer) -> None:
    with pytest.raises(ValueError, match="nothing to predict"):
        perplexity(llama, hf_tokenizer, [])
    with pytest.raises(ValueError, match="nothing to predict"):
        perplexity(llama, hf_tokenizer, ["x"])
    with pytest.raises(TypeError, match=r"`texts`.*one str"):
        text_log_likelihood(llama, hf_tokenizer, "the cat")


# --------------------------------------------------------------------------------------------------------------------
# Wilson interval


def test_wilson_interval_known_values_and_properties() -> None:
    low, high = wilson_interval(8, 10)
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # the textbook 8/10 example
    z = NormalDist().inv_cdf(0.975)
    p, n = 0.3, 200
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson_interval(60, 200) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(0, 20)[1] > 0.1  # not zero-width at p = 0
    assert wilson_interval(20, 20)[1] == 1.0 and wilson_interval(20, 20)[0] < 0.9
    narrow, wide = wilson_interval(50, 100, 0.8), wilson_interval(50, 100, 0.99)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]
    assert wilson_interval(500, 1000)[1] - wilson_interval(500, 1000)[0] < wilson_interval(5, 10)[1] - 0.5


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((5, 0), ValueError),
        ((11, 10), ValueError),
        ((-1, 10), ValueError),
        ((5, 10, 1.0), ValueError),
        ((5, 10, 95), ValueError),
    ],
)
def test_wilson_interval_rejects_bad_arguments(args, error) -> None:
    with pytest.raises(error):
        wilson_interval(*args)
