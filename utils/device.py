"""Pick the compute device once, the same way in every notebook (CPU here, a GPU on Colab)."""

from __future__ import annotations

import torch

from ._validation import require_choice, require_type

DEVICE_NAMES = ("cuda", "mps", "cpu")


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return True


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: cuda > mps > cpu.

    `prefer` ("cuda", "mps", "cpu" or None for automatic) asks for one device; if it is not
    available here, we fall back to the automatic choice with a warning rather than fail, so a
    notebook written on Colab still runs on a laptop.
    """
    if prefer is not None:
        require_type("prefer", prefer, str)
        require_choice("prefer", prefer.lower(), (*DEVICE_NAMES, "auto"))
        prefer = prefer.lower()
        if prefer != "auto":
            if _available(prefer):
                return torch.device(prefer)
            import warnings

            warnings.warn(f"Device {prefer!r} is not available here; using automatic choice.", stacklevel=2)
    for name in DEVICE_NAMES:
        if _available(name):
            return torch.device(name)
    return torch.device("cpu")  # pragma: no cover - cpu is always available
