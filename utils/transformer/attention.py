"""Attention from scratch: scaled dot-product attention, the causal mask, heads, multi-head and cross-attention.
Taught in notebook 03.

Mask convention (the same as `torch.nn.functional.scaled_dot_product_attention` with a boolean `attn_mask`):
**True means "may attend", False means "blocked"**. Beware: `torch.nn.MultiheadAttention` uses the opposite
convention for its boolean `attn_mask` (True = blocked), so pass it `~mask`.

Two paths compute the same thing: `scaled_dot_product_attention` below spells out softmax(q k^T / sqrt(d_k)) v and
returns the weights, for teaching and plotting; `attend` uses torch's fused kernel, which never materialises the
weights and is what the models train with. `tests/test_transformer_attention.py` checks that they agree.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_mask(n: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean `[n, n]` mask, True on and below the diagonal: position i may attend to positions 0..i only."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """`(batch, seq, n_heads * d_head)` -> `(batch, n_heads, seq, d_head)`: each head gets its own slice."""
    batch, seq_len, width = x.shape
    return x.view(batch, seq_len, n_heads, width // n_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """`(batch, n_heads, seq, d_head)` -> `(batch, seq, n_heads * d_head)`: the inverse of `split_heads`."""
    batch, n_heads, seq_len, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, seq_len, n_heads * d_head)


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d_k)) v over the last two dims; returns `(output, weights)`.

    q: `(..., seq_len_q, d_k)`, k: `(..., seq_len_k, d_k)`, v: `(..., seq_len_k, d_v)`; leading batch/head dims
    broadcast. mask: optional boolean tensor broadcastable to the scores `(..., seq_len_q, seq_len_k)`, True =
    may attend, False = blocked (torch SDPA's boolean `attn_mask` convention). A row with every key blocked gives
    NaN, as in torch. output: `(..., seq_len_q, d_v)`; weights: `(..., seq_len_q, seq_len_k)`, rows sum to 1.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    causal: bool = False,
    return_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Attention inside the models: `(output, weights or None)`. `causal` adds the causal mask to `mask`.

    With `return_weights=True` it runs the from-scratch `scaled_dot_product_attention` (the weights are needed);
    otherwise torch's fused kernel, which computes the same output without storing the weights (faster, less
    memory)."""
    if causal and mask is None and not return_weights:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True), None
    if causal:
        causal_part = causal_mask(q.shape[-2], device=q.device)
        mask = causal_part if mask is None else mask & causal_part
    if return_weights:
        return scaled_dot_product_attention(q, k, v, mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention, written to be read: project, split into heads, attend, merge, project.

    d_model: size of each token vector; n_heads: number of heads (must divide d_model, each head gets
    d_model // n_heads dims); causal: block attention to later positions; bias: biases in the projections.
    The q/k/v projections are fused into one `in_proj` layer (d_model -> 3 * d_model), laid out like
    `torch.nn.MultiheadAttention.in_proj_weight`, so `from_torch` can copy its weights.
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = False, bias: bool = True) -> None:
        super().__init__()
        if n_heads < 1 or d_model % n_heads:
            raise ValueError(
                f"`n_heads` must divide `d_model` (each head gets d_model / n_heads dims), got d_model={d_model}, "
                f"n_heads={n_heads}."
            )
        self.d_model, self.n_heads, self.d_head, self.causal = d_model, n_heads, d_model // n_heads, causal
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)  # rows: W_q, then W_k, then W_v
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, return_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """x: `(batch, seq_len, d_model)`. mask: optional boolean, True = may attend, broadcastable to
        `(batch, n_heads, seq_len, seq_len)` (combined with the causal mask when `causal=True`).
        Returns the output `(batch, seq_len, d_model)`, and with `return_weights=True` also the attention
        weights per head `(batch, n_heads, seq_len, seq_len)`."""
        q, k, v = (split_heads(t, self.n_heads) for t in self.in_proj(x).chunk(3, dim=-1))
        heads, weights = attend(q, k, v, mask, causal=self.causal, return_weights=return_weights)
        output = self.out_proj(merge_heads(heads))
        return (output, weights) if return_weights else output

    @classmethod
    @torch.no_grad()
    def from_torch(cls, mha: nn.MultiheadAttention, *, causal: bool = False) -> MultiHeadAttention:
        """A new module with the sizes and weights of `mha` (a `torch.nn.MultiheadAttention`)."""
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("`mha` must use plain self-attention (no kdim/vdim, add_bias_kv or add_zero_attn).")
        has_bias = mha.in_proj_bias is not None
        module = cls(mha.embed_dim, mha.num_heads, causal=causal, bias=has_bias)
        module = module.to(mha.in_proj_weight.device, mha.in_proj_weight.dtype)
        module.in_proj.weight.copy_(mha.in_proj_weight)
        module.out_proj.weight.copy_(mha.out_proj.weight)
        if has_bias:
            module.in_proj.bias.copy_(mha.in_proj_bias)
            module.out_proj.bias.copy_(mha.out_proj.bias)
        return module


class CrossAttention(nn.Module):
    """Multi-head attention whose queries come from `x` and keys/values from `memory` (an encoder's output)."""

    def __init__(self, d_model: int, n_heads: int, bias: bool = True) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.kv_proj = nn.Linear(d_model, 2 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q = split_heads(self.q_proj(x), self.n_heads)
        k, v = (split_heads(t, self.n_heads) for t in self.kv_proj(memory).chunk(2, dim=-1))
        heads, _ = attend(q, k, v, mask)
        return self.out_proj(merge_heads(heads))
