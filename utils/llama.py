"""A Llama-style decoder from scratch (the architecture of SmolLM2): RMSNorm, rotary position embeddings (RoPE),
grouped-query attention, a SwiGLU MLP and tied input/output embeddings.

`LlamaDecoder.from_hf(model)` copies the weights of a transformers `LlamaForCausalLM` (e.g. the model returned by
`utils.load_chat_model()`), so the from-scratch code can be checked against the library logit for logit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._validation import require_range, require_type
from .attention import causal_mask, scaled_dot_product_attention


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
            require_type(name, getattr(self, name), int)
            require_range(name, getattr(self, name), low=1)
        if self.n_heads % self.n_kv_heads:
            raise ValueError(
                f"`n_kv_heads` must divide `n_heads` (each KV head serves a group of query heads), "
                f"got n_heads={self.n_heads}, n_kv_heads={self.n_kv_heads}."
            )
        if self.head_dim is None:
            if self.d_model % self.n_heads:
                raise ValueError(f"`n_heads` must divide `d_model`, got {self.d_model} and {self.n_heads}.")
            self.head_dim = self.d_model // self.n_heads
        require_type("head_dim", self.head_dim, int)
        if self.head_dim % 2:
            raise ValueError(f"`head_dim` must be even (RoPE rotates pairs of dims), got {self.head_dim}.")
        require_range("rope_theta", self.rope_theta, low=0.0, low_inclusive=False)
        require_range("rms_norm_eps", self.rms_norm_eps, low=0.0, low_inclusive=False)


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


def rope_cos_sin(
    seq_len: int, head_dim: int, theta: float, device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables `(seq_len, head_dim)` for RoPE: pair (i, i + head_dim/2) turns by angle
    position * theta^(-2i/head_dim)."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim)
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32, device=device), inv_freq)
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x` `(..., seq_len, head_dim)`: the first half of the dims pairs with the second half."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)


class GroupedQueryAttention(nn.Module):
    """Causal attention with n_heads query heads sharing n_kv_heads key/value heads; RoPE on q and k."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        c = config
        self.n_heads, self.n_kv_heads, self.head_dim = c.n_heads, c.n_kv_heads, c.head_dim
        self.q_proj = nn.Linear(c.d_model, c.n_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.d_model, c.n_kv_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.d_model, c.n_kv_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.n_heads * c.head_dim, c.d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        batch, seq_len, _ = x.shape
        q = self.q_proj(x).view(batch, seq_len, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(batch, seq_len, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(batch, seq_len, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        group = self.n_heads // self.n_kv_heads  # each KV head is repeated for its group of query heads
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        heads, _ = scaled_dot_product_attention(q, k, v, causal_mask(seq_len, device=x.device))
        return self.o_proj(heads.transpose(1, 2).reshape(batch, seq_len, -1))


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
    """x + attn(RMSNorm(x)), then x + SwiGLU(RMSNorm(x))."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.input_norm = RMSNorm(config.d_model, config.rms_norm_eps)
        self.attn = GroupedQueryAttention(config)
        self.mlp_norm = RMSNorm(config.d_model, config.rms_norm_eps)
        self.mlp = SwiGLU(config.d_model, config.d_ff)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.input_norm(x), cos, sin)
        return x + self.mlp(self.mlp_norm(x))


class LlamaDecoder(nn.Module):
    """Token embedding -> n_layers x LlamaBlock -> RMSNorm -> LM head (tied to the embedding by default)."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        require_type("config", config, LlamaConfig)
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(LlamaBlock(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model, config.rms_norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids: `(batch, seq_len)` token ids. Returns logits `(batch, seq_len, vocab_size)`."""
        require_type("ids", ids, torch.Tensor)
        if ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"`ids` must be an integer tensor (torch.long), got dtype {ids.dtype}.")
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"`ids` must have shape (batch, seq_len) with seq_len >= 1, got {tuple(ids.shape)}.")
        x = self.embed(ids)
        cos, sin = rope_cos_sin(ids.shape[1], self.config.head_dim, self.config.rope_theta, device=ids.device)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.lm_head(self.norm(x))

    def num_parameters(self) -> int:
        """Number of distinct parameters (a tied head counts once)."""
        return sum(p.numel() for p in self.parameters())

    @classmethod
    @torch.no_grad()
    def from_hf(cls, hf_model: Any) -> LlamaDecoder:
        """A new decoder with the config and weights of a transformers `LlamaForCausalLM` (e.g. SmolLM2)."""
        hf_config = getattr(hf_model, "config", None)
        if getattr(hf_config, "model_type", None) != "llama":
            raise TypeError(
                f"`hf_model` must be a transformers LlamaForCausalLM (config.model_type 'llama'), "
                f"got {type(hf_model).__name__}."
            )
        rope = getattr(hf_config, "rope_parameters", None) or {}
        rope_type = rope.get("rope_type", "default")
        if rope_type != "default":
            raise ValueError(f"only the default RoPE is implemented, `hf_model` uses rope_type={rope_type!r}.")
        theta = rope.get("rope_theta", getattr(hf_config, "rope_theta", 10000.0))
        config = LlamaConfig(
            vocab_size=hf_config.vocab_size,
            d_model=hf_config.hidden_size,
            n_layers=hf_config.num_hidden_layers,
            n_heads=hf_config.num_attention_heads,
            n_kv_heads=hf_config.num_key_value_heads,
            d_ff=hf_config.intermediate_size,
            head_dim=getattr(hf_config, "head_dim", None),
            rope_theta=float(theta),
            rms_norm_eps=float(hf_config.rms_norm_eps),
            tie_weights=bool(getattr(hf_config, "tie_word_embeddings", False)),
        )
        ref = next(hf_model.parameters())
        with torch.device("meta"):  # no random init: every weight is overwritten below
            model = cls(config)
        model = model.to_empty(device=ref.device).to(ref.dtype)
        if config.tie_weights:
            model.lm_head.weight = model.embed.weight
        inner = hf_model.model
        model.embed.weight.copy_(inner.embed_tokens.weight)
        for ours, theirs in zip(model.blocks, inner.layers, strict=True):
            ours.input_norm.weight.copy_(theirs.input_layernorm.weight)
            ours.mlp_norm.weight.copy_(theirs.post_attention_layernorm.weight)
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                getattr(ours.attn, name).weight.copy_(getattr(theirs.self_attn, name).weight)
            for name in ("gate_proj", "up_proj", "down_proj"):
                getattr(ours.mlp, name).weight.copy_(getattr(theirs.mlp, name).weight)
        model.norm.weight.copy_(inner.norm.weight)
        if not config.tie_weights:
            model.lm_head.weight.copy_(hf_model.lm_head.weight)
        return model.eval()
