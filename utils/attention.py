"""Attention from scratch: scaled dot-product attention, the causal mask and multi-head attention.

Mask convention (the same as `torch.nn.functional.scaled_dot_product_attention` with a boolean `attn_mask`):
**True means "may attend", False means "blocked"**. Beware: `torch.nn.MultiheadAttention` uses the opposite
convention for its boolean `attn_mask` (True = blocked), so pass it `~mask`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._validation import require_range, require_type


def causal_mask(n: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean `[n, n]` mask, True on and below the diagonal: position i may attend to positions 0..i only."""
    require_type("n", n, int)
    require_range("n", n, low=1)
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        require_type(name, tensor, torch.Tensor)
        if tensor.ndim < 2:
            raise ValueError(
                f"`{name}` must have at least 2 dims (..., seq_len, dim), got shape {tuple(tensor.shape)}."
            )
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"`k` must have the same last dim as `q` (d_k = {q.shape[-1]}): expected shape (..., seq_len_k, "
            f"{q.shape[-1]}), got {tuple(k.shape)}."
        )
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"`v` must have one row per key (seq_len_k = {k.shape[-2]}): expected shape (..., {k.shape[-2]}, d_v), "
            f"got {tuple(v.shape)}."
        )
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError as err:
        raise ValueError(
            f"the leading (batch/head) dims of `q` {tuple(q.shape)}, `k` {tuple(k.shape)} and `v` "
            f"{tuple(v.shape)} must broadcast together."
        ) from err


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d_k)) v over the last two dims; returns `(output, weights)`.

    q: `(..., seq_len_q, d_k)`, k: `(..., seq_len_k, d_k)`, v: `(..., seq_len_k, d_v)`; leading batch/head dims
    broadcast. mask: optional boolean tensor broadcastable to the scores `(..., seq_len_q, seq_len_k)`, True =
    may attend, False = blocked (torch SDPA's boolean `attn_mask` convention). A row with every key blocked gives
    NaN, as in torch. output: `(..., seq_len_q, d_v)`; weights: `(..., seq_len_q, seq_len_k)`, rows sum to 1.
    """
    _check_qkv(q, k, v)
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        require_type("mask", mask, torch.Tensor)
        if mask.dtype != torch.bool:
            raise TypeError(f"`mask` must be a boolean tensor (True = may attend), got dtype {mask.dtype}.")
        try:
            fits = torch.broadcast_shapes(mask.shape, scores.shape) == scores.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"`mask` must broadcast to the scores' shape {tuple(scores.shape)} "
                f"(..., seq_len_q, seq_len_k), got {tuple(mask.shape)}."
            )
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def _check_torch_mha(mha: nn.MultiheadAttention) -> None:
    require_type("mha", mha, nn.MultiheadAttention)
    if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
        raise ValueError("`mha` must use plain self-attention (no kdim/vdim, add_bias_kv or add_zero_attn).")


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention, written to be read: project, split into heads, attend, merge, project.

    d_model: size of each token vector; n_heads: number of heads (must divide d_model, each head gets
    d_model // n_heads dims); causal: block attention to later positions; bias: biases in the projections.
    The q/k/v projections are fused into one `in_proj` layer (d_model -> 3 * d_model), laid out like
    `torch.nn.MultiheadAttention.in_proj_weight`, so `from_torch` can copy its weights.
    """

    def __init__(self, d_model: int, n_heads: int, causal: bool = False, bias: bool = True) -> None:
        super().__init__()
        require_type("d_model", d_model, int)
        require_type("n_heads", n_heads, int)
        require_type("causal", causal, bool)
        require_type("bias", bias, bool)
        require_range("d_model", d_model, low=1)
        require_range("n_heads", n_heads, low=1)
        if d_model % n_heads:
            raise ValueError(
                f"`n_heads` must divide `d_model` (each head gets d_model / n_heads dims), got d_model={d_model}, "
                f"n_heads={n_heads}."
            )
        self.d_model, self.n_heads, self.d_head, self.causal = d_model, n_heads, d_model // n_heads, causal
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)  # rows: W_q, then W_k, then W_v
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq_len, _ = x.shape  # (batch, seq, d_model) -> (batch, heads, seq, d_head)
        return x.view(batch, seq_len, self.n_heads, self.d_head).transpose(1, 2)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, return_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """x: `(batch, seq_len, d_model)`. mask: optional boolean, True = may attend, broadcastable to
        `(batch, n_heads, seq_len, seq_len)` (combined with the causal mask when `causal=True`).
        Returns the output `(batch, seq_len, d_model)`, and with `return_weights=True` also the attention
        weights per head `(batch, n_heads, seq_len, seq_len)`."""
        require_type("x", x, torch.Tensor)
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"`x` must have shape (batch, seq_len, {self.d_model}), got {tuple(x.shape)}.")
        q, k, v = self.in_proj(x).chunk(3, dim=-1)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)
        if self.causal:
            causal = causal_mask(x.shape[1], device=x.device)
            mask = causal if mask is None else mask & causal
        heads, weights = scaled_dot_product_attention(q, k, v, mask)
        merged = heads.transpose(1, 2).reshape(x.shape)  # (batch, heads, seq, d_head) -> (batch, seq, d_model)
        output = self.out_proj(merged)
        return (output, weights) if return_weights else output

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a `torch.nn.MultiheadAttention` with the same sizes into this module; returns self."""
        _check_torch_mha(mha)
        if (mha.embed_dim, mha.num_heads) != (self.d_model, self.n_heads):
            raise ValueError(
                f"`mha` must have embed_dim={self.d_model} and num_heads={self.n_heads}, "
                f"got {mha.embed_dim} and {mha.num_heads}."
            )
        has_bias = mha.in_proj_bias is not None
        if has_bias != (self.in_proj.bias is not None):
            raise ValueError(f"`mha` has bias={has_bias} but this module has bias={self.in_proj.bias is not None}.")
        self.in_proj.weight.copy_(mha.in_proj_weight)
        self.out_proj.weight.copy_(mha.out_proj.weight)
        if has_bias:
            self.in_proj.bias.copy_(mha.in_proj_bias)
            self.out_proj.bias.copy_(mha.out_proj.bias)
        return self

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention, *, causal: bool = False) -> MultiHeadAttention:
        """A new module with the weights of `mha` (a `torch.nn.MultiheadAttention`)."""
        _check_torch_mha(mha)
        module = cls(mha.embed_dim, mha.num_heads, causal=causal, bias=mha.in_proj_bias is not None)
        return module.to(mha.in_proj_weight.device, mha.in_proj_weight.dtype).load_from_torch(mha)
