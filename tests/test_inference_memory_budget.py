"""Memory per parameter and ZeRO sharding (`utils.inference.memory_budget`)."""

from __future__ import annotations

import pytest

from utils.inference.memory_budget import inference_memory_bytes, training_memory


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_adamw_needs_16_bytes_per_parameter(precision: str) -> None:
    assert training_memory(1000, precision=precision).total == 16_000


def test_zero_stages_shard_states_then_gradients_then_weights() -> None:
    n, k = 1_000_000, 8
    plain = training_memory(n, precision="bf16")
    stages = [training_memory(n, precision="bf16", zero_stage=s, n_devices=k) for s in range(4)]
    assert stages[0] == plain
    assert stages[1].optimizer == plain.optimizer / k and stages[1].gradients == plain.gradients
    assert stages[2].gradients == plain.gradients / k and stages[2].weights == plain.weights
    assert stages[3].total == pytest.approx(plain.total / k)
    assert [s.total for s in stages] == sorted((s.total for s in stages), reverse=True)
    assert plain.gib()["total"] == pytest.approx(16e6 / 2**30)


def test_inference_bytes() -> None:
    assert inference_memory_bytes(10, "int4") == 5
    assert inference_memory_bytes(10) == 20


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"n_params": 10, "precision": "fp16"}, ValueError, "precision"),
        ({"n_params": 10, "zero_stage": 4}, ValueError, "zero_stage"),
        ({"n_params": 10, "n_devices": 0}, ValueError, "n_devices"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs: dict, error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        training_memory(**kwargs)
