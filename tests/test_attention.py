"""utils.attention and utils.positional against torch's own attention and the textbook formula."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import MultiHeadAttention, causal_mask, scaled_dot_product_attention, sinusoidal_positional_encoding

ATOL = 1e-5


def _qkv(shape_q, shape_k, d_v, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(*shape_q, generator=gen)
    k = torch.randn(*shape_k, generator=gen)
    v = torch.randn(*shape_k[:-1], d_v, generator=gen)
    return q, k, v


SHAPES = [
    ((5, 4), (5, 4), 4),  # no batch dims
    ((2, 7, 8), (2, 7, 8), 8),  # batch
    ((2, 3, 6, 16), (2, 3, 9, 16), 5),  # batch, heads, cross-length keys, different d_v
    ((1, 4, 1, 32), (1, 4, 12, 32), 32),  # one query
]


@pytest.mark.parametrize(("shape_q", "shape_k", "d_v"), SHAPES)
def test_sdpa_matches_torch_without_mask(shape_q, shape_k, d_v) -> None:
    q, k, v = _qkv(shape_q, shape_k, d_v)
    out, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=ATOL, rtol=0)
    assert weights.shape == (*shape_q[:-1], shape_k[-2])
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=ATOL, rtol=0)


@pytest.mark.parametrize(("shape_q", "shape_k", "d_v"), SHAPES)
def test_sdpa_matches_torch_with_random_mask(shape_q, shape_k, d_v) -> None:
    q, k, v = _qkv(shape_q, shape_k, d_v, seed=1)
    gen = torch.Generator().manual_seed(2)
    mask = torch.rand(shape_q[-2], shape_k[-2], generator=gen) > 0.4
    mask[:, 0] = True  # no row fully blocked
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=ATOL, rtol=0)
    assert torch.all(weights.masked_select(~mask.expand_as(weights)) == 0)


@pytest.mark.parametrize("seq_len", [1, 4, 10])
def test_sdpa_causal_matches_torch(seq_len) -> None:
    q, k, v = _qkv((2, 3, seq_len, 8), (2, 3, seq_len, 8), 8, seed=3)
    out, weights = scaled_dot_product_attention(q, k, v, causal_mask(seq_len))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=ATOL, rtol=0)
    assert torch.all(weights.triu(diagonal=1) == 0)


def test_causal_mask_layout() -> None:
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    with pytest.raises(ValueError, match="`n`"):
        causal_mask(0)
    with pytest.raises(TypeError, match="`n`"):
        causal_mask(2.0)


@pytest.mark.parametrize(
    ("q_shape", "k_shape", "v_shape", "name"),
    [
        ((4, 8), (4, 6), (4, 8), "`k`"),
        ((4, 8), (4, 8), (5, 8), "`v`"),
        ((8,), (4, 8), (4, 8), "`q`"),
        ((2, 4, 8), (3, 4, 8), (3, 4, 8), "broadcast"),
    ],
)
def test_sdpa_shape_errors_name_the_argument(q_shape, k_shape, v_shape, name) -> None:
    with pytest.raises(ValueError, match=name):
        scaled_dot_product_attention(torch.randn(q_shape), torch.randn(k_shape), torch.randn(v_shape))


def test_sdpa_mask_errors() -> None:
    q = k = v = torch.randn(2, 4, 8)
    with pytest.raises(ValueError, match=r"`mask`.*\(2, 4, 4\)"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"`mask`.*boolean"):
        scaled_dot_product_attention(q, k, v, torch.ones(4, 4))
    with pytest.raises(TypeError, match="`q`"):
        scaled_dot_product_attention([[1.0]], k, v)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("d_model", "n_heads", "bias"), [(8, 2, True), (12, 3, False), (16, 1, True)])
def test_multi_head_attention_matches_torch(d_model, n_heads, bias, causal) -> None:
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True).eval()
    ours = MultiHeadAttention.from_torch(reference, causal=causal).eval()
    x = torch.randn(3, 6, d_model)
    blocked = ~causal_mask(6) if causal else None  # torch MHA: True = blocked
    expected, expected_weights = reference(x, x, x, attn_mask=blocked, average_attn_weights=False)
    got, weights = ours(x, return_weights=True)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    torch.testing.assert_close(weights, expected_weights, atol=ATOL, rtol=0)
    torch.testing.assert_close(ours(x), expected, atol=ATOL, rtol=0)


def test_multi_head_attention_load_from_torch_and_errors() -> None:
    torch.manual_seed(1)
    reference = nn.MultiheadAttention(8, 2, batch_first=True)
    ours = MultiHeadAttention(8, 2).load_from_torch(reference)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(ours(x), reference(x, x, x)[0], atol=ATOL, rtol=0)
    with pytest.raises(ValueError, match="`n_heads`"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="`mha`"):
        MultiHeadAttention(8, 4).load_from_torch(reference)
    with pytest.raises(ValueError, match="`mha`"):
        MultiHeadAttention(8, 2, bias=False).load_from_torch(reference)
    with pytest.raises(ValueError, match="`x`"):
        ours(torch.randn(2, 5, 6))
    with pytest.raises(TypeError, match="`mha`"):
        MultiHeadAttention.from_torch(nn.Linear(8, 8))


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


@pytest.mark.parametrize(
    ("args", "error", "name"),
    [((0, 8), ValueError, "`seq_len`"), ((4, 7), ValueError, "`d_model`.*even"), ((4.0, 8), TypeError, "`seq_len`")],
)
def test_positional_encoding_argument_errors(args, error, name) -> None:
    with pytest.raises(error, match=name):
        sinusoidal_positional_encoding(*args)
