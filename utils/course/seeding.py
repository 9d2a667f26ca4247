"""One place to seed every random number generator the course uses."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from .arguments import require_range, require_type


def set_seed(seed: int, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and all GPUs) and return a seeded `torch.Generator`.

    With `deterministic=True`, torch is asked for deterministic kernels where it has them (`warn_only`, so an op
    without one still runs), so two runs of a notebook give the same numbers. Python's string hashing is seeded
    when the interpreter starts (`PYTHONHASHSEED`) and cannot be changed from here; nothing in the course
    depends on the order of a set of strings.
    """
    require_type("seed", seed, int)
    require_range("seed", seed, low=0, high=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when CUDA starts: before the first matmul
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
    return torch.Generator().manual_seed(seed)
