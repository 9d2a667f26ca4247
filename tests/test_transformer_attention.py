"""utils.attention and utils.positional against torch's own attention and the textbook formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.transformer.attention import (
    MultiHeadAttention,
    attend,
    causal_mask,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)

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


def test_multi_head_attention_from_torch_and_errors() -> None:
    torch.manual_seed(1)
    reference = nn.MultiheadAttention(8, 2, batch_first=True)
    ours = MultiHeadAttention.from_torch(reference)
    assert (ours.d_model, ours.n_heads, ours.in_proj.bias is not None) == (8, 2, True)
    assert torch.equal(ours.in_proj.weight, reference.in_proj_weight)
    assert ours.in_proj.weight.data_ptr() != reference.in_proj_weight.data_ptr(), "a copy, not shared storage"
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(ours(x), reference(x, x, x)[0], atol=ATOL, rtol=0)
    no_bias = MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, bias=False, batch_first=True))
    assert no_bias.in_proj.bias is None
    with pytest.raises(ValueError, match="`n_heads`"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="`mha`"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, kdim=4, vdim=4, batch_first=True))


def test_split_and_merge_heads_are_inverse() -> None:
    x = torch.randn(2, 5, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    assert torch.equal(heads[:, 1], x[..., 4:8])  # head 1 owns dims 4..7
    assert torch.equal(merge_heads(heads), x)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
def test_fused_attention_equals_the_from_scratch_path(causal: bool, with_mask: bool) -> None:
    """`attend` without weights runs torch's fused kernel; with weights, our scaled_dot_product_attention."""
    torch.manual_seed(2)
    q, k, v = torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 5)
    mask = torch.rand(2, 1, 6, 6) > 0.3 if with_mask else None
    if mask is not None:
        mask |= torch.eye(6, dtype=torch.bool)  # no fully blocked row
    fused, none = attend(q, k, v, mask, causal=causal)
    scratch, weights = attend(q, k, v, mask, causal=causal, return_weights=True)
    assert none is None and weights.shape == (2, 3, 6, 6)
    torch.testing.assert_close(fused, scratch, atol=ATOL, rtol=0)
