"""A key/value cache for the course's own decoders, from scratch. Taught in notebook 17.

Without a cache, a decoder fed `t` tokens recomputes the keys and values of all `t` positions at every step, so
generating `n` tokens costs about `n^2 / 2` token-passes. The keys and values of a past position never change
(causal attention: position i only sees positions <= i), so they can be kept: each new step then runs the network
on **one** token, whose query attends to the stored keys and values plus its own.

`CachedDecoder(model)` wraps a course `GPT` or `LlamaDecoder` and speaks the course's model protocol
(`utils.transformer.outputs`) *with* a cache: it returns `CausalLMOutput(logits, past_key_values=KVCache)` and
accepts that cache back with only the new tokens. `utils.generation.decoding.greedy_decode` already feeds a model
that returns a cache one token per step, so `greedy_decode(CachedDecoder(model), ...)` is cached decoding and
`greedy_decode(model, ...)` the plain one: the models themselves are unchanged and keep no cache by default.
`tests/test_inference_kv_cache.py` checks that both give the same tokens, and on SmolLM2 the tokens of
transformers' `generate(do_sample=False)`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..course.arguments import require_type
from ..transformer.attention import merge_heads, split_heads
from ..transformer.gpt import GPT
from ..transformer.llama import LlamaDecoder
from ..transformer.outputs import CausalLMOutput, check_input_ids
from ..transformer.positional import apply_rope, rope_cos_sin

__all__ = ["CachedDecoder", "KVCache", "kv_cache_bytes"]


class KVCache:
    """Per layer, the keys and values of every position seen so far, each `(batch, kv_heads, seq, head_dim)`."""

    def __init__(self, n_layers: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers

    def update(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new positions' keys and values to layer `layer`; return that layer's keys and values so far."""
        if self.keys[layer] is None:
            self.keys[layer], self.values[layer] = keys, values
        else:
            self.keys[layer] = torch.cat([self.keys[layer], keys], dim=-2)
            self.values[layer] = torch.cat([self.values[layer], values], dim=-2)
        return self.keys[layer], self.values[layer]

    def get_seq_length(self) -> int:
        """How many positions are stored (0 for an empty cache); the name transformers' caches use."""
        return 0 if self.keys[0] is None else self.keys[0].shape[-2]

    @property
    def nbytes(self) -> int:
        """Memory held by the stored keys and values, in bytes."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values if t is not None)


def kv_cache_bytes(
    n_layers: int, n_kv_heads: int, head_dim: int, n_tokens: int, *, batch_size: int = 1, bytes_per_value: int = 4
) -> int:
    """Size of a full cache: keys and values (2) x layers x kv heads x head_dim x tokens x batch x bytes."""
    return 2 * n_layers * n_kv_heads * head_dim * n_tokens * batch_size * bytes_per_value


def _attention_mask(
    attention_mask: torch.Tensor | None, past: int, n_new: int, device: torch.device
) -> tuple[torch.Tensor | None, bool]:
    """The mask of the new queries over all keys: `(mask or None, is_causal)` for torch's SDPA.

    Query q (absolute position past + q) may attend key k when k <= past + q and k is a real token; a padding
    query attends to itself too, so its row is never empty (its output is never read)."""
    no_padding = attention_mask is None or bool(attention_mask.all())
    if no_padding and n_new == 1:
        return None, False  # one new token sees every stored position
    if no_padding and past == 0:
        return None, True  # the prompt: plain causal attention, the fast path
    total = past + n_new
    query_pos = torch.arange(past, total, device=device)[:, None]
    key_pos = torch.arange(total, device=device)[None, :]
    allowed = key_pos <= query_pos  # (n_new, total)
    if not no_padding:
        real = attention_mask.to(device).bool()[:, None, None, :]  # (batch, 1, 1, total)
        allowed = (allowed & real) | (key_pos == query_pos)
    return allowed, False


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, causal: bool) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)


class CachedDecoder(nn.Module):
    """A course decoder (`GPT` or `LlamaDecoder`) run with a key/value cache; the wrapped model's weights are used
    as they are (nothing is copied). Call it like the model; pass `past_key_values=` the `KVCache` it returned
    and only the new tokens (with the full `attention_mask`, as transformers does)."""

    def __init__(self, model: GPT | LlamaDecoder) -> None:
        super().__init__()
        require_type("model", model, (GPT, LlamaDecoder))
        self.model = model
        self.config = model.config

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = True,
    ) -> CausalLMOutput:
        """input_ids: `(batch, n_new)`, the tokens not yet in the cache. attention_mask: optional
        `(batch, past + n_new)`, 1 = real token, 0 = padding. position_ids: `(batch, n_new)`, default past,
        past + 1, ... past_key_values: the `KVCache` of the earlier tokens, or None to start one. Returns
        `CausalLMOutput` with the new positions' logits and the updated cache (None when `use_cache=False`)."""
        check_input_ids(input_ids, self.config.vocab_size)
        if past_key_values is None:
            past_key_values = KVCache(self.config.n_layers)
        past, n_new = past_key_values.get_seq_length(), input_ids.shape[1]
        if position_ids is None:
            position_ids = torch.arange(past, past + n_new, device=input_ids.device)
        mask, causal = _attention_mask(attention_mask, past, n_new, input_ids.device)
        run = self._gpt if isinstance(self.model, GPT) else self._llama
        logits = run(input_ids, position_ids, past_key_values, mask, causal)
        return CausalLMOutput(logits=logits, past_key_values=past_key_values if use_cache else None)

    def _gpt(
        self, input_ids: torch.Tensor, positions: torch.Tensor, cache: KVCache, mask: Any, causal: bool
    ) -> torch.Tensor:
        model = self.model
        if int(positions.max()) >= model.config.context_length:
            raise ValueError(
                f"position {int(positions.max())} is past the GPT's context_length {model.config.context_length}: "
                "its learned position embeddings stop there."
            )
        x = model.drop(model.tok_emb(input_ids) + model.pos_emb(positions))
        for i, block in enumerate(model.blocks):
            attn = block.attn
            q, k, v = (split_heads(t, attn.n_heads) for t in attn.in_proj(block.ln1(x)).chunk(3, dim=-1))
            k, v = cache.update(i, k, v)
            x = x + block.drop(attn.out_proj(merge_heads(_sdpa(q, k, v, mask, causal))))
            x = x + block.ffn(block.ln2(x))
        return model.lm_head(model.ln_f(x))

    def _llama(
        self, input_ids: torch.Tensor, positions: torch.Tensor, cache: KVCache, mask: Any, causal: bool
    ) -> torch.Tensor:
        model, config = self.model, self.model.config
        cos, sin = rope_cos_sin(positions, config.head_dim, config.rope_theta)
        if cos.ndim == 3:  # one row of positions per sequence: broadcast over the heads
            cos, sin = cos[:, None], sin[:, None]
        x = model.model.embed_tokens(input_ids)
        for i, layer in enumerate(model.model.layers):
            attn = layer.self_attn
            h = layer.input_layernorm(x)
            q = apply_rope(split_heads(attn.q_proj(h), attn.n_heads), cos, sin)
            k = apply_rope(split_heads(attn.k_proj(h), attn.n_kv_heads), cos, sin)
            k, v = cache.update(i, k, split_heads(attn.v_proj(h), attn.n_kv_heads))  # stored before the repeat
            group = attn.n_heads // attn.n_kv_heads
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
            x = x + attn.o_proj(merge_heads(_sdpa(q, k, v, mask, causal)))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return model.lm_head(model.model.norm(x))
