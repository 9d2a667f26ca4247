"""A Llama-style decoder from scratch (the architecture of SmolLM2): RMSNorm, rotary position embeddings (RoPE),
grouped-query attention, a SwiGLU MLP and tied input/output embeddings. Taught in notebook 04.

The modules carry transformers' names (`model.layers[i].self_attn.q_proj`, `input_layernorm`, `mlp.gate_proj`,
...), so `LlamaDecoder.from_hf(model)` is a plain `load_state_dict` of a transformers `LlamaForCausalLM` (e.g. the
model of `utils.assets.models.load_chat_model()`), and a LoRA adapter targets the same names on both models.
It follows the course's model protocol (`utils.transformer.outputs.CausalLM`): `model(input_ids, attention_mask)`
returns `CausalLMOutput`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..course.arguments import require_range
from .attention import attend, merge_heads, split_heads
from .outputs import CausalLM
from .positional import apply_rope, rope_cos_sin


@dataclass
class LlamaConfig:
    """Sizes of a Llama-style decoder (SmolLM2-135M: 49152, 576, 30, 9, 3, 1536)."""

    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    head_dim: int | None = None
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    tie_weights: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "n_kv_heads", "d_ff"):
            require_range(name, getattr(self, name), low=1)
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"`n_kv_heads` must divide `n_heads`, got {self.n_kv_heads} and {self.n_heads}.")
        if self.head_dim is None:
            if self.d_model % self.n_heads:
                raise ValueError(f"`n_heads` must divide `d_model`, got {self.d_model} and {self.n_heads}.")
            self.head_dim = self.d_model // self.n_heads
        if self.head_dim % 2:
            raise ValueError(f"`head_dim` must be even (RoPE rotates pairs of dims), got {self.head_dim}.")

    @classmethod
    def from_hf(cls, hf_config: Any) -> LlamaConfig:
        """The sizes of a transformers `LlamaConfig` (only the default RoPE is implemented here)."""
        rope = getattr(hf_config, "rope_parameters", None) or {}
        rope_type = rope.get("rope_type", "default")
        if rope_type != "default":
            raise ValueError(f"only the default RoPE is implemented, the model uses rope_type={rope_type!r}.")
        return cls(
            vocab_size=hf_config.vocab_size,
            d_model=hf_config.hidden_size,
            n_layers=hf_config.num_hidden_layers,
            n_heads=hf_config.num_attention_heads,
            n_kv_heads=hf_config.num_key_value_heads,
            d_ff=hf_config.intermediate_size,
            head_dim=getattr(hf_config, "head_dim", None),
            rope_theta=float(rope.get("rope_theta", getattr(hf_config, "rope_theta", 10000.0))),
            rms_norm_eps=float(hf_config.rms_norm_eps),
            tie_weights=bool(getattr(hf_config, "tie_word_embeddings", False)),
        )


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight: LayerNorm without centring and without bias."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.to(x.dtype)


class GroupedQueryAttention(nn.Module):
    """Causal attention with n_heads query heads sharing n_kv_heads key/value heads; RoPE on q and k."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        c = config
        self.n_heads, self.n_kv_heads = c.n_heads, c.n_kv_heads
        self.q_proj = nn.Linear(c.d_model, c.n_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.d_model, c.n_kv_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.d_model, c.n_kv_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.n_heads * c.head_dim, c.d_model, bias=False)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        q = apply_rope(split_heads(self.q_proj(x), self.n_heads), cos, sin)
        k = apply_rope(split_heads(self.k_proj(x), self.n_kv_heads), cos, sin)
        v = split_heads(self.v_proj(x), self.n_kv_heads)
        group = self.n_heads // self.n_kv_heads  # each KV head is repeated for its group of query heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        heads, _ = attend(q, k, v, mask, causal=True)
        return self.o_proj(merge_heads(heads))


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x))."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(d_model, d_ff, bias=False)
        self.up_proj = nn.Linear(d_model, d_ff, bias=False)
        self.down_proj = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    """x + self_attn(RMSNorm(x)), then x + mlp(RMSNorm(x))."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.d_model, config.rms_norm_eps)
        self.self_attn = GroupedQueryAttention(config)
        self.post_attention_layernorm = RMSNorm(config.d_model, config.rms_norm_eps)
        self.mlp = SwiGLU(config.d_model, config.d_ff)

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    """The decoder stack without the head: token embedding -> n_layers x LlamaBlock -> RMSNorm."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.layers = nn.ModuleList(LlamaBlock(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model, config.rms_norm_eps)


class LlamaDecoder(CausalLM):
    """`model` (embedding, blocks, final norm) -> `lm_head` (tied to the embedding by default)."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.config = config
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.model.embed_tokens.weight

    def logits(self, input_ids: torch.Tensor, mask: torch.Tensor | None, position_ids: torch.Tensor) -> torch.Tensor:
        """Called by `forward` (the protocol, in `utils.transformer.outputs.CausalLM`): embed, rotate queries and keys
        by their positions inside every layer, normalise, project to the vocabulary."""
        cos, sin = rope_cos_sin(position_ids, self.config.head_dim, self.config.rope_theta)
        if cos.ndim == 3:  # one row of positions per sequence: broadcast over the heads
            cos, sin = cos[:, None], sin[:, None]
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        return self.lm_head(self.model.norm(x))

    def num_parameters(self) -> int:
        """Number of distinct parameters (a tied head counts once)."""
        return sum(p.numel() for p in self.parameters())

    @classmethod
    @torch.no_grad()
    def from_hf(cls, hf_model: Any) -> LlamaDecoder:
        """A new decoder with the config and weights of a transformers `LlamaForCausalLM` (e.g. SmolLM2)."""
        hf_config = getattr(hf_model, "config", None)
        if getattr(hf_config, "model_type", None) != "llama":
            raise TypeError(f"`hf_model` must be a transformers LlamaForCausalLM, got {type(hf_model).__name__}.")
        config = LlamaConfig.from_hf(hf_config)
        reference = next(hf_model.parameters())
        with torch.device("meta"):  # no random init: every weight is copied from hf_model below
            model = cls(config)
        model = model.to_empty(device=reference.device).to(reference.dtype)
        if config.tie_weights:
            model.lm_head.weight = model.model.embed_tokens.weight
        model.load_state_dict(hf_model.state_dict(), strict=True)  # the same names: a plain state-dict load
        return model.eval()
