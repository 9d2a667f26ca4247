"""utils.transformer.positional: sinusoidal encodings against the formula, RoPE against transformers' SmolLM2 code."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import LlamaConfig as HFLlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

from utils.transformer.positional import apply_rope, rope_cos_sin, sinusoidal_positional_encoding


def test_positional_encoding_matches_formula() -> None:
    seq_len, d_model = 12, 10
    pe = sinusoidal_positional_encoding(seq_len, d_model)
    assert pe.shape == (seq_len, d_model) and pe.dtype == torch.float32
    for pos in range(seq_len):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            assert math.isclose(pe[pos, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
            assert math.isclose(pe[pos, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)


def test_positional_encoding_is_unique_per_position() -> None:
    pe = sinusoidal_positional_encoding(512, 64)
    distances = torch.cdist(pe, pe) + torch.eye(512) * 1e9
    assert distances.min() > 1e-2, "two positions share (almost) the same encoding"
    torch.testing.assert_close(pe.norm(dim=1), torch.full((512,), math.sqrt(32)), atol=1e-4, rtol=0)


def test_positional_encoding_needs_an_even_d_model() -> None:
    with pytest.raises(ValueError, match=r"`d_model`.*even"):
        sinusoidal_positional_encoding(4, 7)


@pytest.mark.parametrize("theta", [10000.0, 100000.0])
def test_rope_matches_transformers(theta: float) -> None:
    config = HFLlamaConfig(
        hidden_size=64, num_attention_heads=4, rope_parameters={"rope_type": "default", "rope_theta": theta}
    )
    positions = torch.tensor([[0, 1, 2, 3, 7, 30]])
    q, k = torch.randn(1, 4, 6, 16), torch.randn(1, 2, 6, 16)
    hf_cos, hf_sin = LlamaRotaryEmbedding(config)(q, positions)
    cos, sin = rope_cos_sin(positions, 16, theta)
    torch.testing.assert_close(cos, hf_cos, atol=1e-6, rtol=0)
    q_hf, k_hf = apply_rotary_pos_emb(q, k, hf_cos, hf_sin)
    torch.testing.assert_close(apply_rope(q, cos[:, None], sin[:, None]), q_hf, atol=1e-6, rtol=0)
    torch.testing.assert_close(apply_rope(k, cos[:, None], sin[:, None]), k_hf, atol=1e-6, rtol=0)


def test_rope_scores_depend_only_on_the_offset() -> None:
    q, k = torch.randn(16), torch.randn(16)
    cos, sin = rope_cos_sin(torch.arange(12), 16)
    scores = apply_rope(q.expand(12, 16), cos, sin) @ apply_rope(k.expand(12, 16), cos, sin).T
    for offset in range(-11, 12):
        diagonal = scores.diagonal(offset)
        assert (diagonal.max() - diagonal.min()).item() < 1e-4
