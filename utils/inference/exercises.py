"""The checkers of notebook 17's exercises. Each computes the expected answer itself with the course's own
functions, so the notebook never shows it; it prints right or wrong and returns it."""

from __future__ import annotations

from typing import Any

from ..course.grading import check_answer, exercise
from .kv_cache import kv_cache_bytes
from .memory_budget import training_memory

__all__ = [
    "DYNAMIC_QUANTIZATION_CHOICES",
    "check_dynamic_quantization_reason",
    "check_int4_bytes",
    "check_kv_cache_mib",
    "check_zero3_gib",
]

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
