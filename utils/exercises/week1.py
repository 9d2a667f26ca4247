"""The checkers of the exercises of week 1, notebooks 01-04 (tokenization, embeddings and positions, attention,
transformer architectures). Each computes or holds the expected answer itself, so the notebook never shows it; it
prints right or wrong and returns it (a learner's `None` is simply wrong)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import torch

from ..assets.datasets import load_austen_text
from ..course.arguments import require_range, require_type
from ..course.grading import check_answer, exercise
from ..transformer.blocks import DecoderBlock
from ..transformer.llama import LlamaConfig
from ..transformer.positional import sinusoidal_positional_encoding
from ..transformer.tokenizer import BPETokenizer

__all__ = [
    "ARCHITECTURES",
    "ARCHITECTURE_TASKS",
    "RNN_FORGETTING_CHOICES",
    "check_architecture_choice",
    "check_attention_row",
    "check_block_parameters",
    "check_byte_count",
    "check_closest_use",
    "check_first_merge",
    "check_gqa_saving",
    "check_head_dim",
    "check_one_hot_lookup",
    "check_pe_by_hand",
    "check_pe_shift",
    "check_rnn_forgetting_reason",
    "check_tokens_per_word",
]


def _tensor(answer: Any) -> Any:
    """Lists and numbers as float64 tensors, so `[1, 2]` and `torch.tensor([1., 2.])` compare alike; anything else
    unchanged (a wrong type is then simply a wrong answer)."""
    if isinstance(answer, torch.Tensor):
        return answer.detach().double().cpu()
    try:
        return torch.as_tensor(answer, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return answer


def _text(answer: Any) -> Any:
    """A string answer stripped and lower-cased (bytes decoded first); anything else unchanged."""
    if isinstance(answer, bytes):
        answer = answer.decode("utf-8", errors="replace")
    return answer.strip().lower() if isinstance(answer, str) else answer


# ----------------------------------------------------------------------------------------------- notebook 01

FIRST_MERGE_TEXT = "aaabdaaabac"  #: notebook 01, exercise 1: the classic toy text of the BPE literature


@exercise(wrong=["ab", "ba", "aaa", "a", None], solution="aa")
def check_first_merge(answer: Any, text: str = FIRST_MERGE_TEXT) -> bool:
    """Notebook 01, exercise 1 (by hand): the token BPE creates with its first merge on `text`, as a string."""
    require_type("text", text, str)
    toy = BPETokenizer()
    toy.train(text, 257)
    expected = toy.vocab[256].decode("utf-8")
    got = answer.decode("utf-8", errors="replace") if isinstance(answer, bytes) else answer
    return check_answer(f"the first merge of {text!r}", got, expected)


BYTES_TEXT = "🙂 東京"  #: notebook 01, exercise 2


# characters (code points); UTF-16 bytes; UTF-32 bytes; the two words; the bytes without the space
@exercise(wrong=[4, 10, 16, 2, None], solution=11)
def check_byte_count(answer: Any, text: str = BYTES_TEXT) -> bool:
    """Notebook 01, exercise 2: how many tokens byte-level BPE with no merges gives for `text`."""
    require_type("text", text, str)
    expected = len(text.encode("utf-8"))
    if isinstance(answer, bool | str):
        print(f"❌ tokens of {text!r}: store a number in the answer, got {answer!r}.")
        return False
    return check_answer(f"tokens of {text!r} with no merges", answer, expected, atol=0)


def _tokens_per_word(tokenizer: BPETokenizer, text: str) -> float:
    return len(tokenizer.encode(text)) / len(text.split())


def _tokens_per_word_context() -> dict[str, Any]:
    emma = load_austen_text(["Emma"])
    toy = BPETokenizer()
    toy.train(emma[:40_000], 420, progress=False)
    return {"tokenizer": toy, "text": emma[100_000:110_000], "vocab_size": 300}


def _tokens_per_word_wrong(tokenizer: BPETokenizer, text: str, vocab_size: int) -> list[Any]:
    small = tokenizer.truncated(vocab_size)
    n_tokens, n_words = len(small.encode(text)), len(text.split())
    return [
        _tokens_per_word(tokenizer, text),  # the full vocabulary, not the truncated one
        n_words / n_tokens,  # words per token
        n_tokens / len(text),  # tokens per character
        n_tokens,  # the count, not the ratio
        _tokens_per_word(tokenizer.truncated(vocab_size - 1), text),  # one merge short
        None,
    ]


@exercise(
    wrong=_tokens_per_word_wrong,
    solution=lambda tokenizer, text, vocab_size: _tokens_per_word(tokenizer.truncated(vocab_size), text),
    context=_tokens_per_word_context,
)
def check_tokens_per_word(answer: Any, tokenizer: BPETokenizer, text: str, vocab_size: int = 512) -> bool:
    """Notebook 01, exercise 3: tokens per word (whitespace-separated) of `text` under `tokenizer` cut to
    `vocab_size` tokens."""
    require_type("tokenizer", tokenizer, BPETokenizer)
    require_type("text", text, str)
    require_type("vocab_size", vocab_size, int)
    if not text.split():
        raise ValueError("`text` must hold at least one word.")
    expected = _tokens_per_word(tokenizer.truncated(vocab_size), text)
    return check_answer(f"tokens per word with {vocab_size} tokens", answer, expected, atol=1e-3)


# ----------------------------------------------------------------------------------------------- notebook 02


def _toy_embedding() -> dict[str, Any]:
    generator = torch.Generator().manual_seed(0)
    return {"weight": torch.randn(10, 4, generator=generator), "token_id": 7}


def _lookup_wrong(weight: torch.Tensor, token_id: int) -> list[Any]:
    one_hot = torch.nn.functional.one_hot(torch.tensor(token_id), num_classes=weight.shape[0]).double()
    # the rows next to it; the sum over all rows; the one-hot vector itself; the whole table
    return [weight[token_id - 1], weight[token_id + 1], weight.sum(dim=0), one_hot, weight, None]


@exercise(wrong=_lookup_wrong, solution=lambda weight, token_id: weight[token_id], context=_toy_embedding)
def check_one_hot_lookup(answer: Any, weight: torch.Tensor, token_id: int) -> bool:
    """Notebook 02, exercise 1: the vector of `token_id` in the embedding matrix `weight` (`[vocab, dim]`)."""
    require_type("weight", weight, torch.Tensor)
    require_type("token_id", token_id, int)
    require_range("token_id", token_id, low=0, high=weight.shape[0] - 1)
    return check_answer(f"the vector of token {token_id}", _tensor(answer), weight[token_id].detach().double())


def _toy_uses() -> dict[str, Any]:
    labels = ["bank (river 1)", "bank (river 2)", "bank (money 1)", "bank (money 2)"]
    similarity = torch.tensor(
        [[1.0, 0.8, 0.7, 0.75], [0.8, 1.0, 0.6, 0.6], [0.7, 0.6, 1.0, 0.85], [0.75, 0.6, 0.85, 1.0]]
    )
    return {"labels": labels, "similarity": similarity, "query": "bank (money 1)"}


def _closest_use(labels: Sequence[str], similarity: torch.Tensor, query: str) -> str:
    """The label, other than `query` itself, whose row of `similarity` is highest in the query's row."""
    require_type("labels", labels, (list, tuple))
    require_type("similarity", similarity, torch.Tensor)
    if query not in labels:
        raise ValueError(f"`query` must be one of `labels`, got {query!r}.")
    if similarity.shape != (len(labels), len(labels)):
        raise ValueError(f"`similarity` must be {len(labels)} x {len(labels)}, got {tuple(similarity.shape)}.")
    row = labels.index(query)
    others = [j for j in range(len(labels)) if j != row]
    return labels[max(others, key=lambda j: similarity[row, j].item())]


def _other_uses(labels: Sequence[str], similarity: torch.Tensor, query: str) -> list[str]:
    """Every wrong answer: the query itself and each label that is not the closest use."""
    return [label for label in labels if label != _closest_use(labels, similarity, query)]


@exercise(wrong=_other_uses, solution=_closest_use, context=_toy_uses)
def check_closest_use(answer: Any, labels: Sequence[str], similarity: torch.Tensor, query: str) -> bool:
    """Notebook 02, exercise 2: which other use of the word has the contextual vector closest to `query`'s."""
    return check_answer(f"the use closest to {query!r}", answer, _closest_use(labels, similarity, query))


def _pe_shift_context() -> dict[str, Any]:
    return {"pe": sinusoidal_positional_encoding(32, 16), "source": 7, "target": 10}


def _pe_shift_wrong(pe: torch.Tensor, source: int, target: int) -> list[Any]:
    back = 2 * source - target  # rotated the wrong way: source - (target - source)
    return [pe[source], pe[back], pe[target - 1], pe[target + 1], None]


@exercise(wrong=_pe_shift_wrong, solution=lambda pe, source, target: pe[target], context=_pe_shift_context)
def check_pe_shift(answer: Any, pe: torch.Tensor, source: int = 7, target: int = 10) -> bool:
    """Notebook 02, exercise 3: the encoding of position `target`, built from that of `source` by a rotation
    (compared with the row of the table `pe`)."""
    require_type("pe", pe, torch.Tensor)
    for name, value in (("source", source), ("target", target)):
        require_type(name, value, int)
        require_range(name, value, low=0, high=pe.shape[0] - 1)
    return check_answer(f"PE[{target}] from PE[{source}]", _tensor(answer), pe[target].double(), atol=1e-4)


def _pe_entry_wrong(position: int, d_model: int) -> list[Any]:
    def encoding(angle_of: Any, first: Any = math.sin, second: Any = math.cos) -> list[float]:
        values = []
        for i in range(d_model // 2):
            angle = angle_of(i)
            values += [first(angle), second(angle)]
        return values

    return [
        encoding(lambda i: position / 10000 ** (2 * i / d_model), math.cos, math.sin),  # sin and cos swapped
        encoding(lambda i: (position - 1) / 10000 ** (2 * i / d_model)),  # off by one position
        encoding(lambda i: position / 10000 ** (4 * i / d_model)),  # the column index 2i used as i
        encoding(lambda i: math.radians(position / 10000 ** (2 * i / d_model))),  # degrees, not radians
        [0.0, 1.0] * (d_model // 2),  # position 0
        None,
    ]


@exercise(
    wrong=_pe_entry_wrong,
    solution=lambda position, d_model: sinusoidal_positional_encoding(position + 1, d_model)[position].tolist(),
    context={"position": 2, "d_model": 4},
)
def check_pe_by_hand(answer: Any, position: int = 2, d_model: int = 4) -> bool:
    """Notebook 02, exercise 4 (by hand): the sinusoidal encoding of `position` for a `d_model`-wide model."""
    require_type("position", position, int)
    require_type("d_model", d_model, int)
    require_range("position", position, low=0)
    expected = sinusoidal_positional_encoding(position + 1, d_model)[position].double()
    return check_answer(f"PE[{position}] with d_model = {d_model}", _tensor(answer), expected, atol=1e-3)


# ----------------------------------------------------------------------------------------------- notebook 03


def _attention_context() -> dict[str, Any]:
    generator = torch.Generator().manual_seed(0)
    return {
        "Q": 2 * torch.randn(8, 4, generator=generator),
        "K": 2 * torch.randn(8, 4, generator=generator),
        "row": 5,
    }


def _attention_row(Q: torch.Tensor, K: torch.Tensor, row: int) -> torch.Tensor:
    return torch.softmax(Q[row] @ K.T / math.sqrt(K.shape[-1]), dim=-1)


def _attention_wrong(Q: torch.Tensor, K: torch.Tensor, row: int) -> list[Any]:
    scores = Q @ K.T / math.sqrt(K.shape[-1])
    return [
        torch.softmax(Q[row] @ K.T, dim=-1),  # not scaled by sqrt(d_k)
        torch.softmax(scores, dim=0)[row],  # softmax over the queries (the wrong axis)
        scores[row],  # the scores, before the softmax
        _attention_row(Q, K, row - 1),  # the row before
        torch.full((K.shape[0],), 1 / K.shape[0]),  # uniform
        None,
    ]


@exercise(wrong=_attention_wrong, solution=_attention_row, context=_attention_context)
def check_attention_row(answer: Any, Q: torch.Tensor, K: torch.Tensor, row: int = 5) -> bool:
    """Notebook 03, exercise 1 (by hand): the attention weights of token `row` over every key (no mask)."""
    require_type("Q", Q, torch.Tensor)
    require_type("K", K, torch.Tensor)
    require_type("row", row, int)
    require_range("row", row, low=0, high=Q.shape[0] - 1)
    expected = _attention_row(Q.double(), K.double(), row)
    return check_answer(f"the attention weights of row {row}", _tensor(answer), expected, atol=1e-4)


def _head_dim_wrong(config: Any) -> list[Any]:
    d, h = config.hidden_size, config.num_attention_heads
    return [d, h, d * h, d // h - 1, d // h + 1, None]


@exercise(
    wrong=_head_dim_wrong,
    solution=lambda config: config.hidden_size // config.num_attention_heads,
    context={"config": SimpleNamespace(hidden_size=384, num_attention_heads=12)},
)
def check_head_dim(answer: Any, config: Any) -> bool:
    """Notebook 03, exercise 2: the dimensions each attention head of a model with this `config` works with
    (`hidden_size` and `num_attention_heads`, as in a transformers config)."""
    for name in ("hidden_size", "num_attention_heads"):
        if not isinstance(getattr(config, name, None), int):
            raise TypeError(f"`config` must have an integer `{name}`, got {type(config).__name__}.")
    return check_answer("the size of one head", answer, config.hidden_size // config.num_attention_heads, atol=0)


#: Notebook 03, exercise 3: why the RNN falls to guessing at long distances while one attention layer does not.
RNN_FORGETTING_CHOICES = {
    "a": "the RNN has far fewer parameters than the attention model",
    "b": "the symbol's signal, and the gradient that should teach the RNN to keep it, must pass through one tanh "
    "update per token and fades, while attention reads position 0 in one step",
    "c": "a hidden state of 48 numbers cannot tell 8 symbols apart",
    "d": "the distractor tokens are drawn from the same ids as the symbols, so the RNN confuses them",
}


@exercise(wrong=["a", "c", "d", "B?", 2, None], solution="b")
def check_rnn_forgetting_reason(answer: Any) -> bool:
    """Notebook 03, exercise 3 (conceptual): the letter of `RNN_FORGETTING_CHOICES` that explains the recall curve."""
    got = answer.strip().lower() if isinstance(answer, str) else answer
    return check_answer("why the RNN forgets", got, "b")


# ----------------------------------------------------------------------------------------------- notebook 04


def _block_parameters(d_model: int, n_heads: int) -> int:
    return sum(p.numel() for p in DecoderBlock(d_model, n_heads).parameters())


def _block_wrong(d_model: int, n_heads: int) -> list[Any]:
    d = d_model
    return [
        12 * d**2,  # the matrices only
        12 * d**2 + 9 * d,  # no LayerNorm vectors
        12 * d**2 + 11 * d,  # one LayerNorm only
        n_heads * (12 * d**2 + 13 * d),  # one set of weights per head
        8 * d**2 + 13 * d,  # the FFN counted as d x d twice
        None,
    ]


@exercise(wrong=_block_wrong, solution=_block_parameters, context={"d_model": 256, "n_heads": 8})
def check_block_parameters(answer: Any, d_model: int = 256, n_heads: int = 8) -> bool:
    """Notebook 04, exercise 1 (by hand): the parameters of one `DecoderBlock(d_model, n_heads)`, biases on."""
    require_type("d_model", d_model, int)
    require_type("n_heads", n_heads, int)
    expected = _block_parameters(d_model, n_heads)
    return check_answer(f"parameters of DecoderBlock({d_model}, {n_heads})", answer, expected, atol=0)


SMOLLM2_CONFIG = LlamaConfig(vocab_size=49152, d_model=576, n_layers=30, n_heads=9, n_kv_heads=3, d_ff=1536)


def _gqa_saving(config: LlamaConfig) -> int:
    full = 2 * config.d_model * config.n_heads * config.head_dim  # k_proj + v_proj with one KV head per query head
    grouped = 2 * config.d_model * config.n_kv_heads * config.head_dim
    return full - grouped


def _gqa_wrong(config: LlamaConfig) -> list[Any]:
    saving = _gqa_saving(config)
    return [
        saving // 2,  # k_proj only
        saving * config.n_layers,  # the whole model, not one layer
        2 * config.d_model * config.n_kv_heads * config.head_dim,  # what GQA keeps, not what it saves
        2 * config.d_model * config.n_heads * config.head_dim,  # what full attention has
        3 * saving // 2,  # queries counted too
        None,
    ]


@exercise(wrong=_gqa_wrong, solution=_gqa_saving, context={"config": SMOLLM2_CONFIG})
def check_gqa_saving(answer: Any, config: LlamaConfig) -> bool:
    """Notebook 04, exercise 2: the weights `k_proj` and `v_proj` of one layer save with grouped-query attention
    against one key/value head per query head."""
    require_type("config", config, LlamaConfig)
    return check_answer("weights saved per layer by GQA", answer, _gqa_saving(config), atol=0)


#: Notebook 04, exercise 3: the three families of the figure.
ARCHITECTURES = ("encoder-only", "decoder-only", "encoder-decoder")
#: Notebook 04, exercise 3: the tasks to give a family each.
ARCHITECTURE_TASKS = {
    "spam": "flag each incoming e-mail as spam or not spam",
    "summary": "rewrite a long news article as a three-line summary",
    "story": "continue a story from its first paragraph",
}
_ARCHITECTURE_OF_TASK = {"spam": "encoder-only", "summary": "encoder-decoder", "story": "decoder-only"}


@exercise(
    wrong=[
        {"spam": "decoder-only", "summary": "decoder-only", "story": "decoder-only"},  # one family for everything
        {"spam": "encoder-only", "summary": "decoder-only", "story": "encoder-decoder"},  # the last two swapped
        {"spam": "encoder-decoder", "summary": "encoder-only", "story": "decoder-only"},
        {"spam": "encoder-only", "summary": "encoder-decoder"},  # a task left out
        "encoder-only",
        None,
    ],
    solution=dict(_ARCHITECTURE_OF_TASK),
)
def check_architecture_choice(answer: Any) -> bool:
    """Notebook 04, exercise 3 (conceptual): a dict giving each task of `ARCHITECTURE_TASKS` the family of
    `ARCHITECTURES` built for it."""
    if not isinstance(answer, Mapping):
        print(f"❌ architectures: store a dict {{task: family}} for {list(ARCHITECTURE_TASKS)}, got {answer!r}.")
        return False
    got = {str(task).strip().lower(): _text(family) for task, family in answer.items()}
    unknown = sorted({family for family in got.values() if family not in ARCHITECTURES}, key=str)
    if unknown:
        print(f"❌ architectures: {unknown} are not among {list(ARCHITECTURES)}.")
        return False
    n_right = sum(got.get(task) == family for task, family in _ARCHITECTURE_OF_TASK.items())
    if n_right == len(ARCHITECTURE_TASKS) and set(got) == set(ARCHITECTURE_TASKS):
        print("✅ architectures: correct.")
        return True
    missing = sorted(set(ARCHITECTURE_TASKS) - set(got))
    hint = f"; no answer for {missing}" if missing else ""
    print(
        f"❌ architectures: not yet ({n_right} of {len(ARCHITECTURE_TASKS)} right{hint}). Look again at what each "
        "family sees and what it was trained to do."
    )
    return False
