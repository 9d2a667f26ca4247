"""Positional encodings: give each position in a sequence its own vector, so order-blind attention can see order."""

from __future__ import annotations

import torch

from ._validation import require_range, require_type


def sinusoidal_positional_encoding(seq_len: int, d_model: int, *, base: float = 10000.0) -> torch.Tensor:
    """The fixed sine/cosine encodings of "Attention Is All You Need", shape `[seq_len, d_model]` (float32).

    PE(pos, 2i) = sin(pos / base^(2i / d_model)) and PE(pos, 2i + 1) = cos(pos / base^(2i / d_model)):
    each pair of columns is a clock turning at its own speed, from one turn per ~6 positions to very slow.
    seq_len: number of positions (>= 1). d_model: vector size, even (>= 2), so columns come in sin/cos pairs.
    """
    require_type("seq_len", seq_len, int)
    require_type("d_model", d_model, int)
    require_type("base", base, (float, int))
    require_range("seq_len", seq_len, low=1)
    require_range("d_model", d_model, low=2)
    require_range("base", base, low=1, low_inclusive=False)
    if d_model % 2:
        raise ValueError(f"`d_model` must be even (sin/cos columns come in pairs), got {d_model}.")
    positions = torch.arange(seq_len, dtype=torch.float64).unsqueeze(1)  # [seq_len, 1]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # 0, 2, 4, ...
    angles = positions / (float(base) ** (two_i / d_model))  # [seq_len, d_model / 2]
    encoding = torch.empty(seq_len, d_model, dtype=torch.float64)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles)
    return encoding.float()
