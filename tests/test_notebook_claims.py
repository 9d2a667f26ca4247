"""The full-mode claims of scripts/notebook_claims.py: every notebook has some, they name values the notebook
records, and `scripts/run_notebooks.py` fails a full-mode run whose records break one."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from scripts import run_notebooks
from scripts.notebook_claims import FULL_MODE_CLAIMS, check_claims

MIN_CLAIMS = 2


def _recorded_names(notebook: Path) -> set[str]:
    """Names passed to `record(...)` in the notebook's code, literal or f-string prefixes."""
    code = "\n".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code")
    return set(re.findall(r"record\(\s*f?[\"']([^\"']+)[\"']", code))


def test_every_numbered_notebook_states_claims(numbered_notebook: Path) -> None:
    claims = FULL_MODE_CLAIMS.get(numbered_notebook.stem, {})
    assert len(claims) >= MIN_CLAIMS, (
        f"{numbered_notebook.name} has {len(claims)} full-mode claim(s) in scripts/notebook_claims.py: state at "
        f"least {MIN_CLAIMS} of its findings as relations between recorded values."
    )


def test_claims_name_values_the_notebook_records(numbered_notebook: Path) -> None:
    recorded = _recorded_names(numbered_notebook)
    # an f-string name like f"{short[name]}_accuracy" matches any word in place of each {...}
    patterns = [re.compile("[A-Za-z0-9_]+".join(map(re.escape, re.split(r"\{[^}]*\}", name)))) for name in recorded]
    for name in FULL_MODE_CLAIMS.get(numbered_notebook.stem, {}):
        assert any(p.fullmatch(name) for p in patterns), f"{numbered_notebook.name} never records {name!r}"


def _result(records: dict) -> run_notebooks.RunResult:
    return run_notebooks.RunResult("x.ipynb", "build/x.ipynb", 1.0, 10.0, records=records)


def test_a_broken_claim_fails_the_full_mode_run() -> None:
    notebook = Path("notebooks/week4-alignment/12-reward-models.ipynb")
    good = {"accuracy_after": 0.9, "accuracy_after_low": 0.85, "accuracy_before": 0.5, "val_loss_first": 0.7,
            "val_loss_last": 0.3, "trl_loss_difference": 0.0, "forward_max_diff": 0.0, "val_accuracy_after": 0.8,
            "val_accuracy_before": 0.5, "chosen_mean_reward": 1.0, "rejected_mean_reward": -1.0,
            "longest_pair_tokens": 91, "judge_training_overlap": 74, "brilliant_repeated_best_share": 0.88,
            "hacks_above_median_share": 1.0, "reward_spread_ratio": 33.0}  # fmt: skip
    result = _result(good)
    run_notebooks.check_full_mode_claims(result, notebook)
    assert result.ok, result.error

    broken = {**good, "val_loss_last": 0.9, "accuracy_after": 0.7}  # the loss rose and accuracy fell below 0.8
    result = _result(broken)
    run_notebooks.check_full_mode_claims(result, notebook)
    assert not result.ok
    assert result.error.startswith("claim broken: 12-reward-models: accuracy_after = 0.7")
    assert "and 1 more" in result.error and "val_loss_last = 0.9" in result.details


def test_a_missing_record_and_an_unknown_notebook_are_reported() -> None:
    assert any("did not record it" in p for p in check_claims("12-reward-models", {}))
    assert any("FULL_MODE_CLAIMS" in p for p in check_claims("99-unknown", {"x": 1}))


@pytest.mark.parametrize("name", ["_template.ipynb", "notes.ipynb"])
def test_unnumbered_notebooks_carry_no_claims(name: str) -> None:
    result = _result({})
    run_notebooks.check_full_mode_claims(result, Path("notebooks") / name)
    assert result.ok
