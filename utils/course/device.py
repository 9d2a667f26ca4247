"""Where tensors live: pick the compute device once (CPU here, a GPU on Colab) and find the device of a model."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .arguments import require_choice, require_type

DEVICE_NAMES = ("cuda", "mps", "cpu")


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return True


def _choose(value: str | torch.device | None, argument: str) -> torch.device:
    if value is None:
        value = "auto"
    require_type(argument, value, (str, torch.device))
    text = str(value).strip().lower()
    name, _, index = text.partition(":")
    require_choice(argument, name, (*DEVICE_NAMES, "auto"))
    if index and (not index.isdigit() or name in ("cpu", "mps", "auto")):
        raise ValueError(f"`{argument}` must look like 'cuda', 'cuda:0', 'mps', 'cpu' or 'auto', got {value!r}.")
    if name != "auto":
        if _available(name):
            return torch.device(text)
        warnings.warn(f"Device {value!r} is not available here; using the automatic choice.", stacklevel=3)
    return torch.device(next(name for name in DEVICE_NAMES if _available(name)))


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to compute on: `prefer` when it is available here, else the best of cuda > mps > cpu.

    prefer: None or "auto" (automatic), "cuda", "cuda:1", "mps", "cpu", or a `torch.device`. A device that is
    not available falls back to the automatic choice with a warning, so a notebook written on Colab still runs
    on a laptop.
    """
    return _choose(prefer, "prefer")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """`get_device` for functions whose argument is called `device` (the error messages name it so)."""
    return _choose(device, "device")


def device_of(model: nn.Module) -> torch.device:
    """The device of a model's parameters (the CPU for a model without parameters)."""
    require_type("model", model, nn.Module)
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")
