"""The checkers of the exercises of week 5: notebooks 15 (token classification), 16 (retrieval and tool use) and
17 (inference and scale-out). Each computes or holds the expected answer itself with the course's own functions, so
the notebook never shows it; it prints right or wrong and returns it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..agents.loop import MalformedCall, parse_action
from ..agents.schema import schema_errors
from ..agents.tools import calculator_tool
from ..course.grading import as_number, check_answer, exercise
from ..inference.kv_cache import kv_cache_bytes
from ..inference.memory_budget import training_memory
from ..training.token_classification import align_labels, bio_tags, entity_scores

__all__ = [
    "DYNAMIC_QUANTIZATION_CHOICES",
    "check_aligned_labels",
    "check_bio_tags",
    "check_dynamic_quantization_reason",
    "check_entity_f1",
    "check_generalisation_evidence",
    "check_guided_failure",
    "check_int4_bytes",
    "check_kv_cache_mib",
    "check_malformed_count",
    "check_recall_at_3",
    "check_temperature_schema",
    "check_zero3_gib",
]


# ----------------------------------------------------------------------------------------------- notebook 15

_NAME_WORDS = ["Captain", "Frederick", "Wentworth", "wrote", "to", "Anne", "Elliot", "."]


def _as_list(answer: Any) -> Any:
    """A tuple, tensor or array as a plain list, so every sequence type compares alike; anything else unchanged."""
    if isinstance(answer, torch.Tensor):
        return answer.tolist()
    if isinstance(answer, tuple) or hasattr(answer, "tolist"):
        return list(answer.tolist() if hasattr(answer, "tolist") else answer)
    return answer


@exercise(
    wrong=[
        ["O", "B-PER", "B-PER", "O", "O", "B-PER", "B-PER", "O"],  # every name word starts its own entity
        ["B-PER", "I-PER", "I-PER", "O", "O", "B-PER", "I-PER", "O"],  # the title tagged as part of the name
        ["O"] * 8,
        None,
    ],
    solution=["O", "B-PER", "I-PER", "O", "O", "B-PER", "I-PER", "O"],
    context={"words": _NAME_WORDS},
)
def check_bio_tags(answer: Any, words: list[str]) -> bool:
    """Notebook 15, exercise 1: the BIO tags of `words` (names from the course's list; titles are not names)."""

    return check_answer("BIO tags", _as_list(answer), bio_tags(words))


@exercise(
    wrong=[
        [-100, 0, 1, 1, 1, 0, -100],  # the word's label on every piece
        [0, 0, 1, -100, -100, 0, 0],  # the special tokens labelled
        [0, 1, 0],  # one label per word, not per token
    ],
    solution=[-100, 0, 1, -100, -100, 0, -100],
    context={"word_ids": [None, 0, 1, 1, 1, 2, None], "word_labels": [0, 1, 0]},
)
def check_aligned_labels(answer: Any, word_ids: list[int | None], word_labels: list[int]) -> bool:
    """Notebook 15, exercise 2: the token labels for a tokenizer's `word_ids` and one label per word."""

    return check_answer("labels per word piece", _as_list(answer), align_labels(word_ids, word_labels))


_GOLD = [["B-PER", "I-PER", "O", "O", "B-PER"], ["O", "B-PER", "O"], ["B-PER", "O", "O"]]
_PREDICTED = [["B-PER", "O", "O", "O", "B-PER"], ["O", "B-PER", "O"], ["O", "O", "B-PER"]]


@exercise(
    wrong=[0.8, 2 / 3, 0.75, None],  # tag accuracy of the name words; precision alone; a half-right span as right
    solution=0.5,
    context={"gold": _GOLD, "predicted": _PREDICTED},
)
def check_entity_f1(answer: Any, gold: list[list[str]], predicted: list[list[str]]) -> bool:
    """Notebook 15, exercise 3: the entity-level F1 of `predicted` against `gold` (exact spans only)."""

    return check_answer("entity-level F1", as_number(answer), entity_scores(gold, predicted).f1, atol=1e-3)


@exercise(wrong=["a", "c", "d", None], solution="b")
def check_generalisation_evidence(answer: Any) -> bool:
    """Notebook 15, exercise 4 (conceptual): which number shows that the tagger learned what a name looks like
    rather than a list of names: (b) its recall on names held out of training."""
    return check_answer(
        "evidence of generalisation", answer.strip().lower() if isinstance(answer, str) else answer, "b"
    )


# ----------------------------------------------------------------------------------------------- notebook 16


@exercise(
    wrong=[0.2, 0.6, 3, 1.0, None],  # recall@1; recall@5 (rank 4 counted); a count, not a share; all; nothing
    solution=0.4,
    context={"ranks": [1, 4, None, 3, 6]},
)
def check_recall_at_3(answer: Any, ranks: Sequence[int | None]) -> bool:
    """Notebook 16, exercise 1: recall@3 from the gold document's rank per question (None = not retrieved)."""
    expected = sum(rank is not None and rank <= 3 for rank in ranks) / len(ranks)
    return check_answer("recall@3", answer, expected)


#: Arguments a `convert_temperature` tool must accept (True) or refuse (False): one required number "celsius".
_TEMPERATURE_CASES: tuple[tuple[Any, bool], ...] = (
    ({"celsius": 21.5}, True),
    ({"celsius": -40}, True),
    ({"celsius": "21.5"}, False),
    ({}, False),
    ({"celsius": 20, "unit": "F"}, False),
    ({"fahrenheit": 70}, False),
    ([21.5], False),
    ({"celsius": True}, False),
)
_SOLUTION_SCHEMA = {
    "type": "object",
    "properties": {"celsius": {"type": "number"}},
    "required": ["celsius"],
    "additionalProperties": False,
}


@exercise(
    wrong=[
        {"type": "object"},  # accepts anything shaped like an object
        {"type": "object", "properties": {"celsius": {"type": "number"}}},  # "celsius" not required, extras allowed
        {**_SOLUTION_SCHEMA, "properties": {"celsius": {"type": "string"}}},  # the wrong type
        "celsius: number",
        None,
    ],
    solution=_SOLUTION_SCHEMA,
)
def check_temperature_schema(answer: Any) -> bool:
    """Notebook 16, exercise 2: a JSON Schema for the arguments of a `convert_temperature` tool, one required number
    `celsius` and nothing else. Checked by the verdicts it gives on a set of argument objects."""
    if not isinstance(answer, dict):
        return check_answer("temperature schema", answer, "a dict (a JSON Schema)")
    try:
        verdicts = [not schema_errors(arguments, answer) for arguments, _ in _TEMPERATURE_CASES]
    except (ValueError, TypeError, KeyError) as err:
        print(f"❌ temperature schema: the validator could not use it ({err}).")
        return False
    expected = [ok for _, ok in _TEMPERATURE_CASES]
    wrong = [
        arguments for (arguments, _), got, ok in zip(_TEMPERATURE_CASES, verdicts, expected, strict=True) if got != ok
    ]
    if wrong:
        print(f"❌ temperature schema: not yet. It gives the wrong verdict on {wrong!r}.")
        return False
    print("✅ temperature schema: correct.")
    return True


@exercise(
    wrong=[0, 5, 2, None],
    solution=3,
    context={
        "outputs": [
            '{"tool": "calculator", "arguments": {"expression": "3 * 4"}}',
            "The answer is 12.",
            '{"tool": "calculator", "arguments": {"expr": "3 * 4"}}',
            '{"answer": "12"}',
            "{'answer': '12'}",
        ]
    },
)
def check_malformed_count(answer: Any, outputs: Sequence[str]) -> bool:
    """Notebook 16, exercise 3: how many of `outputs` the loop counts as malformed (with the calculator as the only
    tool)."""
    tools = [calculator_tool()]
    expected = 0
    for output in outputs:
        try:
            parse_action(output, tools)
        except MalformedCall:
            expected += 1
    return check_answer("malformed turns", answer, expected)


@exercise(wrong=["a", "b", "d", "A and C", None], solution="c")
def check_guided_failure(answer: Any) -> bool:
    """Notebook 16, exercise 4 (conceptual): in guided mode, which failure is still possible?"""
    given = answer.strip().lower().strip("() .") if isinstance(answer, str) else answer
    return check_answer("what guided decoding leaves to the model", given, "c")


# ----------------------------------------------------------------------------------------------- notebook 17

# SmolLM2-135M's attention sizes: 30 layers, 3 key/value heads of 64 dims.
SMOLLM2_KV = {"n_layers": 30, "n_kv_heads": 3, "head_dim": 64}


@exercise(wrong=[45.0, 1080.0, 720.0, None], solution=360.0)  # one sequence; 9 KV heads; fp32
def check_kv_cache_mib(answer: Any) -> bool:
    """Notebook 17, exercise 1: the MiB (2^20 bytes) of SmolLM2's key/value cache for 8 sequences of 2048 tokens
    in bf16."""
    expected = kv_cache_bytes(**SMOLLM2_KV, n_tokens=2048, batch_size=8, bytes_per_value=2) / 2**20
    return check_answer("KV cache of SmolLM2, 8 x 2048 tokens, bf16 (MiB)", answer, expected, atol=0.5)


@exercise(wrong=[442_368, 884_736, 3_538_944, None], solution=552_960)  # codes only; unpacked codes; fp32
def check_int4_bytes(answer: Any) -> bool:
    """Notebook 17, exercise 2: the bytes of a 1536 -> 576 Linear (SmolLM2's down_proj) in int4 with groups of 32
    weights and one fp32 scale per group (packed codes plus scales, no bias)."""
    out_features, in_features, group = 576, 1536, 32
    expected = out_features * in_features // 2 + out_features * (in_features // group) * 4
    return check_answer("bytes of an int4 down_proj (group 32)", answer, expected, atol=0.5)


@exercise(wrong=[104.31, 1.63, 26.08, None], solution=13.04)  # no sharding; the weights only; 32 bytes per parameter
def check_zero3_gib(answer: Any) -> bool:
    """Notebook 17, exercise 3: GiB per GPU for the weights, gradients and AdamW states of a 7e9-parameter model
    trained in bf16 mixed precision with ZeRO stage 3 over 8 GPUs (activations not counted)."""
    expected = training_memory(7_000_000_000, precision="bf16", zero_stage=3, n_devices=8).total / 2**30
    return check_answer("7B, bf16 + AdamW, ZeRO-3 over 8 GPUs (GiB per GPU)", answer, expected, atol=0.05)


DYNAMIC_QUANTIZATION_CHOICES = {
    "a": "int8 matrix products overflow on long sequences",
    "b": "a few activation channels are far larger than the rest, so the one scale of the activation tensor "
    "rounds every other channel to a handful of levels",
    "c": "the weights of SmolLM2 have outliers that per-channel scales cannot handle",
    "d": "dynamic quantisation skips the attention layers, so only the MLPs are quantised",
}


@exercise(wrong=["a", "c", "d", None], solution=" B ")
def check_dynamic_quantization_reason(answer: Any) -> bool:
    """Notebook 17, exercise 4 (conceptual): which letter of `DYNAMIC_QUANTIZATION_CHOICES` explains why dynamic
    int8 quantisation hurts SmolLM2's perplexity while weight-only int8 does not."""
    got = answer.strip().lower() if isinstance(answer, str) else answer
    return check_answer("why dynamic quantisation hurts", got, "b")
