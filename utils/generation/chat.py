"""Ask a chat model one question: wrap it in the model's chat template, generate, decode only the answer.
Taught in notebook 00; notebook 06 explains chat templates."""

from __future__ import annotations

from typing import Any

import torch

from ..course.arguments import require_range
from ..course.device import device_of


def chat_reply(
    model: Any,
    tokenizer: Any,
    message: str,
    *,
    system: str | None = None,
    max_new_tokens: int = 64,
    do_sample: bool = False,
    **generate_kwargs: Any,
) -> str:
    """Return the model's reply to `message` (only the new text, stripped).

    system: an optional system prompt (SmolLM2's template adds its own default one when None).
    do_sample: False for greedy decoding (same answer every time); True to sample, e.g. with temperature=0.7.
    Other keyword arguments go to `model.generate`.
    """
    if not isinstance(message, str) or not message.strip():
        raise ValueError(f"`message` must be a non-empty string, got {message!r}.")
    require_range("max_new_tokens", max_new_tokens, low=1)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("`tokenizer` has no chat template; use an instruction-tuned model (e.g. load_chat_model()).")

    messages = [{"role": "system", "content": system}] if system is not None else []
    messages.append({"role": "user", "content": message})
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    inputs = inputs.to(device_of(model))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    generate_kwargs.setdefault("pad_token_id", pad_id)
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=do_sample, **generate_kwargs)
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    return tokenizer.decode(new_tokens, skip_special_tokens=True).strip()
