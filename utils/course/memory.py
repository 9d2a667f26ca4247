"""How much extra memory a block of code needs at its peak: CUDA's allocator counter on a GPU, the process's sampled
resident memory (RSS) on a CPU. Used to compare training methods in notebooks 10 (LoRA vs full) and 14 (DPO vs PPO).

On a CPU there is no exact counter: a background thread reads the RSS every few milliseconds, so a spike shorter
than that can be missed, and memory the allocator kept from earlier work can hide part of the growth. Before
measuring, freed memory is handed back to the operating system where the C library allows it (glibc's
`malloc_trim`), which makes the second problem smaller.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
import time
from types import TracebackType
from typing import Any

import torch

from .arguments import require_range, require_type

__all__ = ["PeakMemory", "release_freed_memory"]


def release_freed_memory() -> None:
    """Collect garbage and ask the C library to return freed heap memory to the system (Linux/glibc; elsewhere a
    no-op beyond the garbage collection)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakMemory:
    """`with PeakMemory(device) as memory: ...` then `memory.mib`: the peak memory during the block minus the memory
    at its start, in MiB. On CUDA: `torch.cuda.max_memory_allocated` (exact, tensors only). Elsewhere: the RSS of
    this process, sampled every `interval` seconds from a background thread."""

    def __init__(self, device: str | torch.device = "cpu", *, interval: float = 0.002) -> None:
        require_type("device", device, (str, torch.device))
        require_type("interval", interval, float)
        require_range("interval", interval, low=0.0, low_inclusive=False)
        self.cuda = torch.device(device).type == "cuda"
        self.interval = interval
        self.start = self.peak = 0
        self.mib = float("nan")
        self._running = False

    def __enter__(self) -> PeakMemory:
        release_freed_memory()
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = self.peak = torch.cuda.memory_allocated()
        else:
            import psutil

            self._process: Any = psutil.Process()
            self.start = self.peak = self._process.memory_info().rss
            self._running = True
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def _watch(self) -> None:
        while self._running:
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            self.peak = max(self.peak, torch.cuda.max_memory_allocated())
        else:
            self._running = False
            self._thread.join()
            self.peak = max(self.peak, self._process.memory_info().rss)
        self.mib = (self.peak - self.start) / 2**20
