"""utils.course.memory: the peak extra memory of a block of code (sampled RSS on a CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.course.memory import PeakMemory, release_freed_memory


def test_a_large_temporary_buffer_shows_up_in_the_peak() -> None:
    with PeakMemory("cpu") as idle:
        pass
    with PeakMemory("cpu") as busy:
        buffer = np.ones(64 * 2**20 // 8)  # 64 MiB, touched so that it is resident
        assert buffer.sum() > 0
        del buffer
    assert busy.mib > 48, busy.mib
    assert idle.mib < busy.mib
    assert busy.peak >= busy.start


def test_release_freed_memory_runs_anywhere() -> None:
    release_freed_memory()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="device"):
        PeakMemory(0)
    with pytest.raises(ValueError, match="interval"):
        PeakMemory("cpu", interval=0.0)
    with pytest.raises(TypeError, match="interval"):
        PeakMemory(torch.device("cpu"), interval=1)
