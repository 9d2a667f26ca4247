"""Model versions and A/B numbers, the MLOps part of notebook 17 (the app of notebook 15 shows the rest).

A model version is *what it computes*: the hash of its weights (every tensor's name, dtype, shape and bytes, in a
fixed order) together with the hash of the recipe that produced it (a JSON dict with sorted keys). Two files with
the same fingerprint give the same outputs; a one-bit change in any weight gives another fingerprint.
`best_seconds` times a call the way the notebook times everything: the fastest of a few repeats, the one least
disturbed by other work on the machine.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..course.arguments import require_range

__all__ = ["best_seconds", "model_fingerprint", "weights_hash"]


def weights_hash(model: nn.Module) -> str:
    """SHA-256 of the state dict: names, dtypes, shapes and raw bytes of every tensor, sorted by name."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{flat.dtype}|{tuple(flat.shape)}|".encode())
        digest.update(flat.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_fingerprint(model: nn.Module, recipe: dict[str, Any]) -> dict[str, str]:
    """`{"weights": sha256, "recipe": sha256, "version": first 12 hex digits of both combined}`; `recipe` is any
    JSON-serialisable dict (base model, training settings, quantisation, ...)."""
    weights = weights_hash(model)
    recipe_hash = hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()
    version = hashlib.sha256(f"{weights}:{recipe_hash}".encode()).hexdigest()[:12]
    return {"weights": weights, "recipe": recipe_hash, "version": version}


def best_seconds(call: Callable[[], Any], repeats: int = 3) -> float:
    """The fastest wall-clock time of `repeats` calls of `call()` (seconds)."""
    require_range("repeats", repeats, low=1)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)
