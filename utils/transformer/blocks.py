"""Transformer blocks built from `utils.transformer.attention`. Taught in notebook 04.

* `FeedForward`: Linear(d, 4d) -> GELU -> Linear(4d, d).
* `EncoderBlock`: pre-LayerNorm self-attention (sees every position) + feed-forward, each with a residual.
* `DecoderBlock`: the same with causal self-attention; with `cross_attention=True` it also attends to an encoder's
  output (the encoder-decoder / T5 layout).
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import CrossAttention, MultiHeadAttention


class FeedForward(nn.Module):
    """Position-wise MLP: `fc` (d_model -> 4 d_model) -> GELU -> `proj` (4 d_model -> d_model) -> dropout."""

    def __init__(self, d_model: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model, bias=bias)
        self.act = nn.GELU()
        self.proj = nn.Linear(4 * d_model, d_model, bias=bias)  # writes back into the residual stream
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(self.act(self.fc(x))))


class EncoderBlock(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(LN(x)), then x + FFN(LN(x)). Every position sees every other."""

    causal = False

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_heads, causal=self.causal, bias=bias)
        self.ln2 = nn.LayerNorm(d_model, bias=bias)
        self.ffn = FeedForward(d_model, dropout, bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: `(batch, seq_len, d_model)`; mask: optional boolean, True = may attend. Returns the same shape."""
        x = x + self.drop(self.attn(self.ln1(x), mask))
        return x + self.ffn(self.ln2(x))


class DecoderBlock(nn.Module):
    """Pre-LayerNorm block with causal self-attention; with `cross_attention=True` a cross-attention sub-layer
    (queries from the decoder, keys/values from the encoder's output) sits between self-attention and the FFN."""

    def __init__(
        self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True, cross_attention: bool = False
    ) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_heads, causal=True, bias=bias)
        self.cross: CrossAttention | None = None
        if cross_attention:
            self.ln_cross = nn.LayerNorm(d_model, bias=bias)
            self.cross = CrossAttention(d_model, n_heads, bias=bias)
        self.ln2 = nn.LayerNorm(d_model, bias=bias)
        self.ffn = FeedForward(d_model, dropout, bias)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x: `(batch, seq_len, d_model)`; memory: the encoder's output `(batch, src_len, d_model)`, required
        exactly when the block has cross-attention; mask: optional boolean self-attention mask (True = may attend),
        combined with the causal mask. Returns the same shape as x."""
        assert (memory is None) == (self.cross is None), "`memory` is needed exactly when the block has cross-attention"
        x = x + self.drop(self.attn(self.ln1(x), mask))
        if self.cross is not None:
            x = x + self.drop(self.cross(self.ln_cross(x), memory))
        return x + self.ffn(self.ln2(x))
