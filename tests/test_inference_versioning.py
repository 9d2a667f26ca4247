"""Model fingerprints and the timing helper (`utils.inference.versioning`), and notebook 17's exercise checkers
(`utils.exercises.week5`)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from utils.exercises import week5
from utils.inference.versioning import best_seconds, model_fingerprint, weights_hash


def test_fingerprint_changes_with_one_weight_and_with_the_recipe() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    first = model_fingerprint(model, {"base": "x", "bits": 8})
    assert first == model_fingerprint(model, {"bits": 8, "base": "x"})  # key order does not matter
    assert first["version"] != model_fingerprint(model, {"base": "x", "bits": 4})["version"]
    with torch.no_grad():
        model.weight[0, 0] += 1e-6
    assert weights_hash(model) != first["weights"]


def test_best_seconds_is_the_fastest_repeat() -> None:
    assert best_seconds(lambda: None, repeats=3) >= 0.0
    with pytest.raises(ValueError, match="repeats"):
        best_seconds(lambda: None, repeats=0)


def test_exercise_checkers_are_registered() -> None:
    from utils.course.grading import EXERCISES

    names = [n for n in week5.__all__ if n.startswith("check_")]
    assert all(f"utils.exercises.week5.{n}" in EXERCISES for n in names)
    assert week5.check_kv_cache_mib(2 * 30 * 3 * 64 * 2048 * 8 * 2 / 2**20)
    assert not week5.check_kv_cache_mib(2 * 30 * 3 * 64 * 2048 * 2 / 2**20)  # one sequence only
