"""Soft-prompt (prompt) tuning from scratch: a frozen causal LM reads `n` trainable "virtual token" vectors before
every input, and only those `n x d_model` numbers are trained. Taught in notebook 10, as the second family of
parameter-efficient fine-tuning next to LoRA (`utils.training.lora`).

`SoftPromptModel` speaks the course's model protocol: `model(input_ids=..., attention_mask=...)` returns
`.logits` for the real tokens only (the virtual tokens' positions are cut off), so `sequence_log_probs`, the
instruction-tuning loss and `train_model` run on it unchanged, and `greedy_decode` / `sample_decode` generate
with it (with the wrapped model's key/value cache). The initialisation from a text and the layout (virtual tokens
first, attention mask extended with ones, positions 0, 1, 2, ... over both) follow Hugging Face `peft`'s
`PromptTuningConfig`, so with the same prompt vectors both give the same logits.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..course.arguments import require_range
from ..generation.decoding import greedy_decode
from ..transformer.outputs import CausalLMOutput

__all__ = ["SoftPromptModel", "init_token_ids", "nearest_tokens"]


def init_token_ids(tokenizer: Any, text: str, n_virtual_tokens: int) -> list[int]:
    """The token ids whose embeddings start a soft prompt: `text`'s ids, cut or repeated to `n_virtual_tokens`
    (peft's `prompt_tuning_init="TEXT"` rule)."""
    require_range("n_virtual_tokens", n_virtual_tokens, low=1)
    ids = list(tokenizer(text)["input_ids"])
    if not ids:
        raise ValueError(f"`text` must contain at least one token, got {text!r}.")
    return (ids * math.ceil(n_virtual_tokens / len(ids)))[:n_virtual_tokens]


class SoftPromptModel(nn.Module):
    """A frozen causal LM (a transformers model) with `n_virtual_tokens` trainable input vectors in front of every
    sequence. Taught in notebook 10.

    model: a transformers causal LM (it must accept `inputs_embeds`); all its parameters are frozen here.
    prompt: the starting vectors `[n_virtual_tokens, d_model]` (copied into a float32 parameter, as peft does);
    `SoftPromptModel.from_text` takes them from the embeddings of a text's tokens.
    """

    def __init__(self, model: nn.Module, prompt: torch.Tensor) -> None:
        super().__init__()
        embeddings = model.get_input_embeddings()
        d_model = embeddings.weight.shape[1]
        if prompt.ndim != 2 or prompt.shape[0] < 1 or prompt.shape[1] != d_model:
            raise ValueError(
                f"`prompt` must have shape (n_virtual_tokens >= 1, {d_model}) for this model, "
                f"got {tuple(prompt.shape)}."
            )
        self.model = model.requires_grad_(False)
        self.prompt = nn.Parameter(prompt.detach().to(embeddings.weight.device, torch.float32).clone())

    @classmethod
    def from_text(cls, model: nn.Module, tokenizer: Any, text: str, n_virtual_tokens: int) -> SoftPromptModel:
        """Start the soft prompt at the embeddings of `text`'s tokens (cut or repeated to `n_virtual_tokens`): a
        better start than random vectors, e.g. a description of the task."""
        ids = torch.tensor(init_token_ids(tokenizer, text, n_virtual_tokens))
        embeddings = model.get_input_embeddings()
        with torch.no_grad():
            prompt = embeddings(ids.to(embeddings.weight.device))
        return cls(model, prompt)

    @property
    def n_virtual_tokens(self) -> int:
        return self.prompt.shape[0]

    @property
    def config(self) -> Any:
        """The wrapped model's config (the decoders read it)."""
        return self.model.config

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Any = None,
        use_cache: bool = False,
    ) -> CausalLMOutput:
        """input_ids `[batch, seq]`, attention_mask `[batch, seq]` (1 = real token; None = no padding). Returns
        `CausalLMOutput` whose logits `[batch, seq, vocab]` cover the real tokens only.

        position_ids: optional `[batch, seq]` positions of the real tokens counted from 0 (the decoders pass them
        for left-padded batches); the virtual tokens take positions 0..n-1 and the real ones are shifted by n.
        past_key_values / use_cache: the wrapped model's cache. With a cache, `input_ids` are only the new tokens
        (the virtual tokens are in the cache already) and `attention_mask` covers every real token so far."""
        batch, n = input_ids.shape[0], self.n_virtual_tokens
        embeds = self.model.get_input_embeddings()(input_ids)
        if attention_mask is None:
            past_length = 0 if past_key_values is None else past_key_values.get_seq_length() - n
            attention_mask = torch.ones(batch, past_length + input_ids.shape[1], device=input_ids.device)
        attention_mask = torch.cat([attention_mask.new_ones(batch, n), attention_mask], dim=1)
        if position_ids is not None:
            position_ids = position_ids + n
        if past_key_values is None:  # the whole input: the virtual tokens go first
            prompt = self.prompt.to(embeds.dtype).expand(batch, -1, -1)
            embeds = torch.cat([prompt, embeds], dim=1)
            if position_ids is not None:
                virtual = torch.arange(n, device=position_ids.device).expand(position_ids.shape[0], n)
                position_ids = torch.cat([virtual, position_ids], dim=1)
        out = self.model(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
        )
        logits = out.logits if past_key_values is not None else out.logits[:, n:]
        return CausalLMOutput(logits=logits, past_key_values=out.past_key_values if use_cache else None)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        max_new_tokens: int = 20,
        do_sample: bool = False,
        eos_token_id: int | None = None,
        pad_token_id: int | None = None,
    ) -> torch.Tensor:
        """Greedy generation in the shape of transformers' `generate`: prompt + new tokens `[batch, seq + new]`
        (pad on the left for a batch), so helpers written for `model.generate` (e.g.
        `utils.generation.prompting.generate_completions`) work unchanged. Stops at `eos_token_id` (default: the
        wrapped model's); `pad_token_id` is accepted for compatibility (finished rows are filled with the EOS)."""
        if do_sample:
            raise ValueError("`do_sample` must be False: SoftPromptModel.generate decodes greedily.")
        if eos_token_id is None:
            eos_token_id = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
            if isinstance(eos_token_id, list | tuple):
                eos_token_id = eos_token_id[0] if eos_token_id else None
        return greedy_decode(self, input_ids, max_new_tokens, eos_token_id=eos_token_id, attention_mask=attention_mask)


@torch.no_grad()
def nearest_tokens(model: SoftPromptModel, tokenizer: Any) -> list[str]:
    """For each virtual token, the vocabulary token whose embedding is closest in cosine similarity: a (partial)
    reading of what the trained soft prompt became. Trained vectors usually sit between words."""
    vocab = model.model.get_input_embeddings().weight.float()
    prompt = model.prompt.float()
    similarity = torch.nn.functional.normalize(prompt, dim=-1) @ torch.nn.functional.normalize(vocab, dim=-1).T
    return [tokenizer.decode([int(i)]) for i in similarity.argmax(dim=-1)]
