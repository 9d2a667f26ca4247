"""Transformer blocks and a small GPT, built from `utils.attention`.

* `FeedForward`: Linear(d, 4d) -> GELU -> Linear(4d, d).
* `EncoderBlock`: pre-LayerNorm self-attention (sees every position) + feed-forward, each with a residual.
* `DecoderBlock`: the same with causal self-attention; with `cross_attention=True` it also attends to an encoder's
  output (the encoder-decoder / T5 layout).
* `GPTConfig` + `GPT`: token and learned position embeddings, `n_layers` decoder blocks, a final LayerNorm and a
  language-model head (tied to the token embedding by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ._validation import require_range, require_type
from .attention import MultiHeadAttention, scaled_dot_product_attention


class FeedForward(nn.Module):
    """Position-wise MLP: Linear(d_model, 4 d_model) -> GELU -> Linear(4 d_model, d_model) -> dropout."""

    def __init__(self, d_model: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, 4 * d_model, bias=bias),
            nn.GELU(),
            nn.Linear(4 * d_model, d_model, bias=bias),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CrossAttention(nn.Module):
    """Multi-head attention whose queries come from `x` and keys/values from `memory` (an encoder's output)."""

    def __init__(self, d_model: int, n_heads: int, bias: bool = True) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"`n_heads` must divide `d_model`, got d_model={d_model}, n_heads={n_heads}.")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.kv_proj = nn.Linear(d_model, 2 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq_len, _ = x.shape
        return x.view(batch, seq_len, self.n_heads, self.d_head).transpose(1, 2)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q = self._split(self.q_proj(x))
        k, v = (self._split(t) for t in self.kv_proj(memory).chunk(2, dim=-1))
        heads, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.out_proj(heads.transpose(1, 2).reshape(x.shape))


def _check_block_args(d_model: int, n_heads: int, dropout: float, bias: bool) -> None:
    require_type("d_model", d_model, int)
    require_type("n_heads", n_heads, int)
    require_type("dropout", dropout, (int, float))
    require_type("bias", bias, bool)
    require_range("d_model", d_model, low=1)
    require_range("n_heads", n_heads, low=1)
    require_range("dropout", dropout, low=0.0, high=1.0, high_inclusive=False)


class EncoderBlock(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(LN(x)), then x + FFN(LN(x)). Every position sees every other."""

    causal = False

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        _check_block_args(d_model, n_heads, dropout, bias)
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
        _check_block_args(d_model, n_heads, dropout, bias)
        require_type("cross_attention", cross_attention, bool)
        self.ln1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_heads, causal=True, bias=bias)
        self.cross: CrossAttention | None = None
        if cross_attention:
            self.ln_cross = nn.LayerNorm(d_model, bias=bias)
            self.cross = CrossAttention(d_model, n_heads, bias=bias)
        self.ln2 = nn.LayerNorm(d_model, bias=bias)
        self.ffn = FeedForward(d_model, dropout, bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        """x: `(batch, seq_len, d_model)`; memory: the encoder's output `(batch, src_len, d_model)`, required
        exactly when the block has cross-attention. Returns the same shape as x."""
        x = x + self.drop(self.attn(self.ln1(x)))
        if self.cross is not None:
            if memory is None:
                raise ValueError("`memory` (the encoder's output) is required: this block has cross-attention.")
            x = x + self.drop(self.cross(self.ln_cross(x), memory))
        elif memory is not None:
            raise ValueError("`memory` must be None: this block was built with cross_attention=False.")
        return x + self.ffn(self.ln2(x))


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


class GPT(nn.Module):
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
        # GPT-2: scale the residual projections by 1/sqrt(2 n_layers) so the residual stream does not grow
        for name, param in self.named_parameters():
            if name.endswith(("out_proj.weight", "net.2.weight")):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layers))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def _check_ids(self, ids: torch.Tensor) -> None:
        require_type("ids", ids, torch.Tensor)
        if ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"`ids` must be an integer tensor (torch.long), got dtype {ids.dtype}.")
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"`ids` must have shape (batch, seq_len) with seq_len >= 1, got {tuple(ids.shape)}.")
        if ids.shape[1] > self.config.context_length:
            raise ValueError(
                f"`ids` has {ids.shape[1]} positions but context_length is {self.config.context_length}; "
                "crop the input to the last context_length tokens."
            )
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.config.vocab_size):
            raise ValueError(f"`ids` must be in [0, {self.config.vocab_size}), got values outside that range.")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids: `(batch, seq_len)` token ids, seq_len <= context_length. Returns logits `(batch, seq_len, vocab)`."""
        self._check_ids(ids)
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.drop(self.tok_emb(ids) + self.pos_emb(positions))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))

    @torch.no_grad()
    def generate(
        self,
        ids: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Append `max_new_tokens` sampled tokens to `ids` `(batch, seq_len)` and return the longer tensor.

        temperature: > 0 divides the logits (0 = greedy); top_k: sample only among the k most likely tokens;
        generator: a seeded `torch.Generator` makes sampling reproducible. The context is cropped to the last
        context_length tokens."""
        self._check_ids(ids)
        require_type("max_new_tokens", max_new_tokens, int)
        require_range("max_new_tokens", max_new_tokens, low=0)
        require_type("temperature", temperature, (int, float))
        require_range("temperature", temperature, low=0.0)
        if top_k is not None:
            require_type("top_k", top_k, int)
            require_range("top_k", top_k, low=1, high=self.config.vocab_size)
        if generator is not None:
            require_type("generator", generator, torch.Generator)
        was_training = self.training
        self.eval()
        for _ in range(max_new_tokens):
            logits = self(ids[:, -self.config.context_length :])[:, -1, :]
            if temperature == 0:
                next_id = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = torch.softmax(logits, dim=-1)
                next_id = torch.multinomial(probs.cpu(), 1, generator=generator).to(ids.device)
            ids = torch.cat([ids, next_id.to(ids.dtype)], dim=1)
        self.train(was_training)
        return ids

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
        require_type("config", config, GPTConfig)
        d, v, t, n = config.d_model, config.vocab_size, config.context_length, config.n_layers
        b = config.bias
        per_block = 12 * d * d + (13 * d if b else 2 * d)
        total = n * per_block + (v + t) * d + (2 * d if b else d)
        if not config.tie_weights:
            total += v * d
        return total
