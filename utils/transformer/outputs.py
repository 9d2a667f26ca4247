"""The model protocol of the course: every causal language model, ours or a transformers one, is called as
`model(input_ids=..., attention_mask=...)` and returns an object with `.logits` `(batch, seq, vocab)`.

The course's own models (`GPT`, `LlamaDecoder`) return `CausalLMOutput`, so the generation, scoring and training
helpers in `utils` run on them and on SmolLM2 alike. They keep no key/value cache (`past_key_values` is None):
the decoders then feed the whole sequence at every step. Notebook 17 adds the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class CausalLMOutput:
    """What a causal LM returns: next-token `logits` `(batch, seq, vocab)` and its key/value cache (None here)."""

    logits: torch.Tensor
    past_key_values: Any = None


def check_input_ids(input_ids: Any, vocab_size: int) -> None:
    """The check at the door of the course's models: `input_ids` is a `(batch, seq)` tensor of integer ids below
    `vocab_size` (a float tensor, a 1-D prompt or an id from another tokenizer fails here, not deep inside)."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.is_floating_point() or input_ids.ndim != 2:
        raise TypeError(
            "`input_ids` must be an integer tensor of shape (batch, seq_len), got "
            f"{getattr(input_ids, 'dtype', type(input_ids).__name__)} {tuple(getattr(input_ids, 'shape', ()))}."
        )
    if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= vocab_size):
        raise ValueError(f"`input_ids` must be in [0, {vocab_size}), got values outside that range.")


def padding_attention_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """Turn a padding mask `(batch, seq)` (1 = real token, 0 = padding) into a boolean attention mask
    `(batch, 1, seq, seq)`: no query attends to a padding key. A padding query attends to itself only, so its row
    is never fully blocked (which would give NaN); its output is never read. None, or a mask without padding,
    gives None: plain causal attention, the fast path."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    real = attention_mask.bool()
    itself = torch.eye(real.shape[-1], dtype=torch.bool, device=real.device)
    return real[:, None, None, :] | itself


class CausalLM(nn.Module):
    """The protocol, once, for the course's decoders: `forward` checks the arguments, fills in the default positions
    and the padding mask, and wraps `logits(...)`, the one method a model defines. Subclasses set `self.config`
    with a `vocab_size`."""

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: None = None,
        use_cache: bool = False,
    ) -> CausalLMOutput:
        """input_ids: `(batch, seq_len)` token ids. attention_mask: optional `(batch, seq_len)`, 1 = real token,
        0 = padding. position_ids: optional `(batch, seq_len)`, default 0, 1, 2, ... (with left padding, pass the
        number of real tokens before each position, as `utils.generation` does). past_key_values / use_cache: the
        protocol's cache arguments; these models keep no cache and return None. Returns `CausalLMOutput` with
        logits `(batch, seq_len, vocab_size)`."""
        check_input_ids(input_ids, self.config.vocab_size)
        if past_key_values is not None:
            raise ValueError("`past_key_values` must be None: this model keeps no key/value cache (it returns None).")
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)
        return CausalLMOutput(logits=self.logits(input_ids, padding_attention_mask(attention_mask), position_ids))

    def logits(self, input_ids: torch.Tensor, mask: torch.Tensor | None, position_ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits `(batch, seq, vocab)`; `mask` is None or a boolean `(batch, 1, seq, seq)` padding mask."""
        raise NotImplementedError
