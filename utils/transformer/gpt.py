"""A small GPT: token and learned position embeddings, a stack of decoder blocks, a final LayerNorm and a
language-model head (tied to the token embedding by default). Taught in notebooks 04 and 07.

It follows the course's model protocol (`utils.transformer.outputs.CausalLM`): `model(input_ids, attention_mask)`
returns `CausalLMOutput(logits=...)`, so `utils.generation` decodes from it and scores with it exactly as with SmolLM2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..course.arguments import require_range, require_type
from .blocks import DecoderBlock
from .outputs import CausalLM


@dataclass
class GPTConfig:
    """Sizes of a GPT. vocab_size: number of token ids; context_length: longest input; d_model: vector size;
    n_heads: attention heads (must divide d_model); n_layers: decoder blocks; dropout: in [0, 1); bias: biases
    in linear layers and LayerNorms; tie_weights: share the token embedding with the LM head."""

    vocab_size: int
    context_length: int
    d_model: int
    n_heads: int
    n_layers: int
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "d_model", "n_heads", "n_layers"):
            require_type(name, getattr(self, name), int)
            require_range(name, getattr(self, name), low=1)
        require_type("dropout", self.dropout, (int, float))
        require_range("dropout", self.dropout, low=0.0, high=1.0, high_inclusive=False)
        require_type("bias", self.bias, bool)
        require_type("tie_weights", self.tie_weights, bool)
        if self.d_model % self.n_heads:
            raise ValueError(f"`n_heads` must divide `d_model`, got d_model={self.d_model}, n_heads={self.n_heads}.")


class GPT(CausalLM):
    """Decoder-only transformer: embeddings -> n_layers x DecoderBlock -> LayerNorm -> LM head."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        require_type("config", config, GPTConfig)
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_emb = nn.Embedding(c.context_length, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(DecoderBlock(c.d_model, c.n_heads, c.dropout, c.bias) for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(c.d_model, bias=c.bias)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.apply(self._init_weights)
        if c.tie_weights:
            self.lm_head.weight = self.tok_emb.weight
        # GPT-2: the layers that write into the residual stream start smaller, std 0.02 / sqrt(2 n_layers), so the
        # sum over 2 n_layers residual branches does not grow with depth.
        for block in self.blocks:
            for residual_out in (block.attn.out_proj, block.ffn.proj):
                nn.init.normal_(residual_out.weight, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def logits(self, input_ids: torch.Tensor, mask: torch.Tensor | None, position_ids: torch.Tensor) -> torch.Tensor:
        """Called by `forward` (the protocol, in `utils.transformer.outputs.CausalLM`): embed tokens and positions, run
        the blocks, normalise, project to the vocabulary. At most `context_length` positions."""
        if input_ids.shape[1] > self.config.context_length:
            raise ValueError(
                f"`input_ids` has {input_ids.shape[1]} positions but context_length is {self.config.context_length}; "
                "crop the input to the last context_length tokens."
            )
        x = self.drop(self.tok_emb(input_ids) + self.pos_emb(position_ids))
        for block in self.blocks:
            x = block(x, mask=mask)
        return self.lm_head(self.ln_f(x))

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Number of distinct parameters (a tied LM head counts once); optionally without the embeddings."""
        total = sum(p.numel() for p in self.parameters())
        if exclude_embeddings:
            total -= self.tok_emb.weight.numel() + self.pos_emb.weight.numel()
        return total

    @staticmethod
    def count_parameters(config: GPTConfig) -> int:
        """The exact parameter count of `GPT(config)` from the formula (no model built).

        Per block: attention 4 d^2 (+ 4 d biases), FFN 8 d^2 (+ 5 d biases), two LayerNorms 2 d (+ 2 d biases),
        i.e. 12 d^2 + 13 d with biases; plus embeddings (V + T) d, final LayerNorm, and an untied head V d."""
        d, v, t, n = config.d_model, config.vocab_size, config.context_length, config.n_layers
        per_block = 12 * d * d + (13 * d if config.bias else 2 * d)
        total = n * per_block + (v + t) * d + (2 * d if config.bias else d)
        if not config.tie_weights:
            total += v * d
        return total
