"""What training and inference need in memory, per parameter, and what sharding saves. Taught in notebook 17.

Training with AdamW keeps, for every parameter: the weight, its gradient, and two optimizer states (the running
mean and the running mean square of the gradient). In fp32 that is 4 + 4 + 4 + 4 = 16 bytes. Mixed precision
(bf16) keeps bf16 weights and gradients (2 + 2) but fp32 "master" weights and fp32 Adam states (4 + 4 + 4):
16 bytes too, the figure of the ZeRO paper (Rajbhandari et al., 2019). Activations come on top and depend on the
batch and sequence length, not on this table.

ZeRO shards these over N data-parallel devices: stage 1 splits the optimizer states (and master weights), stage 2
also the gradients, stage 3 (= FSDP's full sharding) also the weights. `training_memory` spells it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..course.arguments import require_choice, require_range

__all__ = ["MemoryBudget", "inference_memory_bytes", "training_memory"]

WEIGHT_BYTES = {"fp32": 4, "bf16": 2, "int8": 1, "int4": 0.5}


@dataclass(frozen=True)
class MemoryBudget:
    """Bytes per device for the weights, the gradients and the optimizer (its states plus fp32 master weights in
    mixed precision); `total` is their sum (activations not included)."""

    weights: float
    gradients: float
    optimizer: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer

    def gib(self) -> dict[str, float]:
        """The four numbers in GiB (2^30 bytes), for a table."""
        return {name: value / 2**30 for name, value in self._items()}

    def _items(self) -> list[tuple[str, float]]:
        return [
            ("weights", self.weights),
            ("gradients", self.gradients),
            ("optimizer", self.optimizer),
            ("total", self.total),
        ]


def training_memory(n_params: int, *, precision: str = "fp32", zero_stage: int = 0, n_devices: int = 1) -> MemoryBudget:
    """Memory per device to train `n_params` parameters with AdamW, data-parallel over `n_devices`.

    precision: "fp32" (weights, gradients and Adam states in fp32) or "bf16" (mixed precision: bf16 weights and
    gradients, fp32 master weights and Adam states). zero_stage: 0 (plain DDP: every device holds everything),
    1 (optimizer states sharded), 2 (+ gradients), 3 (+ weights; FSDP's full sharding)."""
    require_choice("precision", precision, ["fp32", "bf16"])
    require_choice("zero_stage", zero_stage, [0, 1, 2, 3])
    require_range("n_devices", n_devices, low=1)
    width = WEIGHT_BYTES[precision]
    optimizer = 8 if precision == "fp32" else 12  # m and v (+ fp32 master weights in mixed precision)
    weights, gradients, states = n_params * width, n_params * width, n_params * optimizer
    return MemoryBudget(
        weights=weights / n_devices if zero_stage >= 3 else weights,
        gradients=gradients / n_devices if zero_stage >= 2 else gradients,
        optimizer=states / n_devices if zero_stage >= 1 else states,
    )


def inference_memory_bytes(n_params: int, precision: str = "bf16") -> float:
    """Bytes of the weights alone at `precision` ("fp32", "bf16", "int8" or "int4"): what serving needs before
    the key/value cache and the activations."""
    require_choice("precision", precision, list(WEIGHT_BYTES))
    return n_params * WEIGHT_BYTES[precision]
