"""Silence library messages that say nothing to a learner, once, when `utils` is imported.

With torchao installed (notebook 17 uses it), transformers imports it whenever a model loads, and torchao then
logs a warning for each compiled kernel library it cannot load on this machine (CUDA and MX kernels on a CPU
build), while torch logs a deprecation note about how torchao registers its enums. Neither changes a result; both
would show up under every SmolLM2 load in every notebook. Only these two loggers are turned down, and only below
ERROR: real errors still show.
"""

from __future__ import annotations

import logging

#: logger name -> why its warnings are noise here
NOISY_LOGGERS = {
    "torchao": "'Failed to load .../_C_*.so': GPU kernel libraries that a CPU build cannot load",
    "torch.utils._pytree": "'register_constant() on Enum subclasses is deprecated': raised by torchao's import",
}


def quiet_known_library_noise() -> None:
    """Raise the level of the loggers in `NOISY_LOGGERS` to ERROR."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
