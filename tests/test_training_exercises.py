"""The tolerance of notebook 07's numeric checkers (utils.exercises.week2): a rounded answer or a one-element
tensor is right; a far one, a bool or a string is wrong. (Registered wrong answers: tests/test_course_exercises.py.)"""

from __future__ import annotations

import math

import pytest
import torch

from utils.exercises.week2 import check_perplexity, check_training_flops, check_window_count


@pytest.mark.parametrize("answer", [24.53, math.exp(3.2), torch.tensor(math.exp(3.2))])
def test_perplexity_accepts_a_rounded_answer_or_a_tensor(answer: object) -> None:
    assert check_perplexity(answer, loss=3.2) is True


@pytest.mark.parametrize("answer", [24.0, True, "24.5", torch.tensor([24.53, 1.0])])
def test_perplexity_rejects_a_far_answer_and_other_types(answer: object) -> None:
    assert check_perplexity(answer, loss=3.2) is False


def test_training_flops_compares_relative_to_the_size() -> None:
    assert check_training_flops(1.2e20) is True
    assert check_training_flops(1.2e20 * 1.01) is False  # 1% off is a wrong budget, however large the number
    assert check_training_flops(6e9 * 2e9, n_params=1e9, tokens_per_param=2) is True


def test_window_count_follows_the_dataset() -> None:
    assert check_window_count(torch.tensor(4)) is True
    assert check_window_count(4.5) is False
    assert check_window_count(9, n_ids=10, context_length=1, stride=1) is True
