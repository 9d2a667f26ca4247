"""Tiny random transformers models (a Llama, a BERT config), for unit tests that compare the course's code with a
reference library."""

from __future__ import annotations

from typing import Any

import torch
from transformers import BertConfig, LlamaConfig, LlamaForCausalLM


def tiny_llama(vocab_size: int, *, seed: int = 0, **config: Any) -> LlamaForCausalLM:
    """A 2-layer Llama with 32-d hidden states in eval mode, seeded; `config` overrides any LlamaConfig field."""
    torch.manual_seed(seed)
    settings = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 64,
    }
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, **(settings | config))).eval()


def tiny_bert_config(vocab_size: int, **config: Any) -> BertConfig:
    """A 2-layer BERT config with 16-d hidden states (MiniLM's shape, shrunk); `config` overrides any field."""
    settings = {
        "hidden_size": 16,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 32,
        "max_position_embeddings": 64,
    }
    return BertConfig(vocab_size=vocab_size, **(settings | config))
