"""Positional encodings: give each position in a sequence its own vector, so order-blind attention can see order.
Taught in notebook 02: the sinusoidal encodings of the original transformer, and rotary embeddings (RoPE), which
SmolLM2 and `utils.transformer.llama` use."""

from __future__ import annotations

import torch


def sinusoidal_positional_encoding(seq_len: int, d_model: int, *, base: float = 10000.0) -> torch.Tensor:
    """The fixed sine/cosine encodings of "Attention Is All You Need", shape `[seq_len, d_model]` (float32).

    PE(pos, 2i) = sin(pos / base^(2i / d_model)) and PE(pos, 2i + 1) = cos(pos / base^(2i / d_model)):
    each pair of columns is a clock turning at its own speed, from one turn per ~6 positions to very slow.
    seq_len: number of positions (>= 1). d_model: vector size, even (>= 2), so columns come in sin/cos pairs.
    """
    if d_model % 2:
        raise ValueError(f"`d_model` must be even (sin/cos columns come in pairs), got {d_model}.")
    positions = torch.arange(seq_len, dtype=torch.float64).unsqueeze(1)  # [seq_len, 1]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # 0, 2, 4, ...
    angles = positions / (float(base) ** (two_i / d_model))  # [seq_len, d_model / 2]
    encoding = torch.empty(seq_len, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles)
    return encoding.float()


def rope_cos_sin(positions: torch.Tensor, head_dim: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The cos and sin tables of rotary position embeddings for `positions` (`[seq]` or `[batch, seq]`):
    each of shape `positions.shape + (head_dim,)`. Dim pair (i, i + head_dim/2) turns by the angle
    position * base^(-2i / head_dim), the layout of SmolLM2 / Llama."""
    speeds = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim)
    angles = positions.float()[..., None] * speeds  # [..., seq, head_dim / 2]
    angles = torch.cat([angles, angles], dim=-1)  # the same angle for dim i and dim i + head_dim / 2
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x` `(..., seq, head_dim)` by the tables of `rope_cos_sin` (broadcast against x): the pair
    (x_i, x_{i + head_dim/2}) becomes (x_i cos - x_{i+h} sin, x_{i+h} cos + x_i sin)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)
