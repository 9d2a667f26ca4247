"""utils.course: seeding, device choice, smoke mode, recording, exercise checks and plots."""

from __future__ import annotations

import json
import random

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import utils
from utils.course import device, grading, plotting, runtime
from utils.course.runtime import RECORD_MIME, SMOKE_ENV, plain_json


def _draws() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_set_seed_makes_python_numpy_and_torch_repeat() -> None:
    utils.set_seed(123)
    first = _draws()
    utils.set_seed(123)
    assert _draws() == first
    utils.set_seed(124)
    assert _draws() != first


def test_set_seed_returns_a_seeded_generator() -> None:
    a = torch.rand(4, generator=utils.set_seed(7))
    b = torch.rand(4, generator=utils.set_seed(7))
    assert torch.equal(a, b)


def test_get_device_defaults_to_an_available_device() -> None:
    device = utils.get_device()
    assert device.type in {"cuda", "mps", "cpu"}
    torch.zeros(1, device=device)  # usable
    assert utils.get_device("cpu") == torch.device("cpu")
    assert utils.get_device("CPU") == torch.device("cpu")


def test_get_device_falls_back_with_a_warning_when_cuda_is_missing() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the fallback path cannot be exercised")
    with pytest.warns(UserWarning, match="not available"):
        assert utils.get_device("cuda").type in {"mps", "cpu"}


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("off", False)]
)
def test_smoke_mode_reads_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv(SMOKE_ENV, raw)
    assert utils.smoke_mode() is expected


def test_by_mode_picks_the_value_for_the_current_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SMOKE_ENV, "1")
    assert utils.by_mode(full=500, smoke=5) == 5
    monkeypatch.delenv(SMOKE_ENV)
    assert utils.by_mode(full=500, smoke=5) == 500


def test_record_stores_plain_values() -> None:
    assert plain_json(torch.tensor(1.25)) == 1.25
    assert plain_json({"a": [1, 2.5], "b": np.float64(3.0)}) == {"a": [1, 2.5], "b": 3.0}
    assert utils.record("test_loss", torch.tensor(1.25)) is None, "a cell ending in record(...) must not show Out[n]"


def test_read_records_finds_values_in_an_executed_notebook(tmp_path) -> None:
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": "x", "metadata": {}},
            {
                "cell_type": "code",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "hi"},
                    {"output_type": "display_data", "data": {RECORD_MIME: {"name": "acc", "value": 0.9}}},
                ],
            },
        ]
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    assert runtime.read_records(path) == {"acc": 0.9}


def test_compare_reports_agreement_and_shape_mismatch(capsys: pytest.CaptureFixture[str]) -> None:
    a = torch.tensor([1.0, 2.0])
    assert utils.compare("same", a, a.clone())
    assert "exact: True" in capsys.readouterr().out
    assert utils.compare("close", a, a + 1e-7, atol=1e-6)
    assert not utils.compare("far", a, a + 1.0)
    assert not utils.compare("shape", a, torch.ones(3))
    assert "shape mismatch" in capsys.readouterr().out


def test_check_answer_says_right_or_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    utils.check_answer("ex1", 0.5, 0.5)
    assert "correct" in capsys.readouterr().out
    utils.check_answer("ex2", [1, 2], [1, 3])
    assert "not yet" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("got", "expected", "right"),
    [
        ("the", "the", True),
        ("The", "the", False),
        ({"a": 1}, {"a": 1}, True),
        (None, "task", False),
        (torch.tensor([1.0, 2.0]), [1.0, 2.00001], True),
        ([1, 2], [1, 3], False),
        ([1, 2], [1, 2, 3], False),
        (1, 1, True),
    ],
)
def test_is_correct_compares_like_a_teacher(got, expected, right) -> None:
    assert grading.is_correct(got, expected) is right


def test_plot_helpers_draw_what_they_are_given() -> None:
    ax = plotting.plot_loss_curves({"train": [3.0, 2.0, 1.5], "val": [(0, 3.1), (2, 1.9)]})
    assert [line.get_label() for line in ax.get_lines()] == ["train", "val"]
    ax = plotting.plot_heatmap(torch.eye(3), row_labels=["a", "b", "c"], col_labels=["x", "y", "z"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert ax.texts[0].get_text() == "1.00"
    ax = plotting.plot_heatmap(np.array([[110, 22], [34, 134]]))  # a confusion matrix: counts, not 110.00
    assert [t.get_text() for t in ax.texts] == ["110", "22", "34", "134"]
    _fig, axes = plotting.new_figure(2, 1)
    assert axes.shape == (1, 2)
    plt.close("all")


# Bad input gets a clear error naming the argument (and the allowed values where there is a list).
BAD_CALLS = [
    (lambda: utils.set_seed(-1), ValueError, "seed"),
    (lambda: utils.set_seed(1.5), TypeError, "seed"),
    (lambda: utils.set_seed(True), TypeError, "seed"),
    (lambda: utils.get_device("tpu"), ValueError, "prefer"),
    (lambda: utils.get_device(0), TypeError, "prefer"),
    (lambda: utils.by_mode(full=10, smoke="a"), TypeError, "smoke"),
    (lambda: utils.record("not a name", 1), ValueError, "name"),
    (lambda: utils.record("x", float("nan")), ValueError, "value"),
    (lambda: utils.record("x", object()), TypeError, "value"),
    (lambda: utils.record(3, 1), TypeError, "name"),
    (lambda: runtime.read_records("/nonexistent/nb.ipynb"), FileNotFoundError, "notebook"),
    (lambda: utils.compare("x", [1.0], [1.0], atol=-1), ValueError, "atol"),
    (lambda: utils.compare("x", "abc", [1.0]), TypeError, "got"),
    (lambda: plotting.plot_loss_curves({}), ValueError, "curves"),
    (lambda: plotting.plot_heatmap(torch.ones(2, 2, 2)), ValueError, "matrix"),
    (lambda: plotting.plot_heatmap(torch.ones(2, 3), row_labels=["a"]), ValueError, "row_labels"),
    (lambda: plotting.new_figure(0), ValueError, "n_cols"),
]


@pytest.mark.parametrize(("call", "error", "argument"), BAD_CALLS, ids=[f"bad-{i}" for i in range(len(BAD_CALLS))])
def test_bad_arguments_raise_errors_that_name_the_argument(call, error, argument) -> None:
    with pytest.raises(error, match=argument):
        call()


def test_device_error_lists_the_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"\['cuda', 'mps', 'cpu', 'auto'\]"):
        utils.get_device("gpu")


def test_smoke_mode_rejects_an_unclear_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SMOKE_ENV, "maybe")
    with pytest.raises(ValueError, match=SMOKE_ENV):
        utils.smoke_mode()


def test_device_of_reads_the_parameters_and_resolve_device_names_its_argument() -> None:
    assert device.device_of(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert device.device_of(torch.nn.ReLU()) == torch.device("cpu")  # no parameters: the CPU
    assert device.resolve_device("cpu") == torch.device("cpu")
    assert device.resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="`device`"):
        device.resolve_device("tpu")
    with pytest.raises(TypeError, match="`model`"):
        device.device_of("not a model")


def test_importing_utils_leaves_matplotlib_alone() -> None:
    import subprocess
    import sys

    code = (
        "import matplotlib as mpl; before = dict(mpl.rcParams); import utils, utils.course.plotting, "
        "utils.course.diagrams; assert dict(mpl.rcParams) == before, 'import changed rcParams'; "
        "utils.course.plotting.use_course_style(); assert mpl.rcParams['axes.grid']"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_loading_the_chat_model_prints_no_library_noise() -> None:
    """With torchao installed, every model load used to print its kernel-loading warnings (utils/course/quiet.py)."""
    import subprocess
    import sys

    code = "import utils; from utils.assets.models import load_chat_model; load_chat_model(device='cpu')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    noise = [line for line in out.stderr.splitlines() if "Failed to load" in line or "register_constant" in line]
    assert not noise, "library noise under a model load:\n" + "\n".join(noise)


def test_check_function_runs_the_learners_code_on_hidden_cases(capsys: pytest.CaptureFixture[str]) -> None:
    def reference(x: torch.Tensor, k: float) -> torch.Tensor:
        return x * k

    def in_place(x: torch.Tensor, k: float) -> torch.Tensor:
        return x.mul_(k)  # changes its input: the reference must not see that

    cases = [(torch.arange(3.0), 2.0), (torch.ones(2, 2), -1.0)]
    assert grading.check_function("scale", in_place, reference, cases) is True
    assert "✅ scale" in capsys.readouterr().out
    assert grading.check_function("scale", lambda x, k: x + k, reference, cases) is False
    assert "hidden case 1 of 2 (tensor [3], 2.0)" in capsys.readouterr().out
    assert grading.check_function("scale", lambda x, k: x[5], reference, cases) is False
    assert "raised IndexError" in capsys.readouterr().out
    assert grading.check_function("scale", None, reference, cases) is False
    assert "pass your function itself" in capsys.readouterr().out
