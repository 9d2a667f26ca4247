"""Run every numbered notebook (and the template) in smoke mode and check what it records.

Each notebook must finish, take under MAX_SECONDS (design target: TARGET_SECONDS), record at least one value
with `record(...)`, and satisfy its entry in tests/notebook_expectations.py. Executed copies are kept under
build/smoke/ for inspection. Run one notebook with e.g. `pytest tests/test_notebooks.py -k 01-tokenization`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_expectations import check_records, greater_than

MAX_SECONDS = 90.0
TARGET_SECONDS = 60.0


def _check_smoke_run(result, stem: str) -> None:
    assert result.ok, result.explain()
    assert result.seconds < MAX_SECONDS, (
        f"{result.notebook} took {result.seconds:.1f} s in smoke mode: the limit is {MAX_SECONDS:.0f} s and the "
        f"target {TARGET_SECONDS:.0f} s; shrink the smoke values of its by_mode(...) size knobs."
    )
    assert result.records, (
        f"{result.notebook} recorded no value: store the results it claims with record('name', value) "
        "and list them in tests/notebook_expectations.py."
    )
    problems = check_records(stem, result.records)
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_notebook_runs_in_smoke_mode(numbered_notebook: Path, run_notebook) -> None:
    result = run_notebook(numbered_notebook)
    print(f"{result.notebook}: {result.seconds:.1f} s, peak RAM {result.peak_mib:.0f} MiB, records {result.records}")
    _check_smoke_run(result, numbered_notebook.stem)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_template_runs_in_smoke_mode(template_notebook: Path, run_notebook) -> None:
    result = run_notebook(template_notebook)
    print(f"{result.notebook}: {result.seconds:.1f} s, peak RAM {result.peak_mib:.0f} MiB, records {result.records}")
    _check_smoke_run(result, template_notebook.stem)


# --- the harness itself -------------------------------------------------------------------------------------


def _tiny_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_runner_reports_records_and_failures(tmp_path: Path, repo_root: Path) -> None:
    """scripts/run_notebooks.py: smoke flag, cwd = notebook folder, records, FAILED rows, exit code, reports."""
    (tmp_path / "data.txt").write_text("42", encoding="utf-8")
    _tiny_notebook(
        tmp_path / "01-good.ipynb",
        "from utils import record, smoke_mode",
        "record('answer', int(open('data.txt').read()))\nrecord('smoke', smoke_mode())",
    )
    _tiny_notebook(tmp_path / "02-bad.ipynb", "x = 1", "1 / 0", "never = 'reached'")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "run_notebooks.py"), "--smoke", "--out", str(out), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, f"one notebook failed, so the exit status must be 1\n{proc.stdout}\n{proc.stderr}"
    report = json.loads((out / "run-report.json").read_text(encoding="utf-8"))
    assert report["mode"] == "smoke"
    rows = {Path(row["notebook"]).name: row for row in report["rows"]}
    assert list(rows) == ["01-good.ipynb", "02-bad.ipynb"], rows
    assert rows["01-good.ipynb"]["status"] == "ok"
    assert rows["01-good.ipynb"]["records"] == {"answer": 42, "smoke": True}
    assert rows["01-good.ipynb"]["peak_mib"] > 10, "the kernel's memory should have been sampled"
    assert rows["02-bad.ipynb"]["status"].startswith("FAILED: ZeroDivisionError"), rows["02-bad.ipynb"]
    assert "FAILED: ZeroDivisionError" in proc.stdout and "peak RAM (MiB)" in proc.stdout, proc.stdout
    assert "| 02-bad.ipynb |" in (out / "run-report.md").read_text(encoding="utf-8")
    executed = json.loads(next(out.rglob("01-good.ipynb")).read_text(encoding="utf-8"))
    shown = [o.get("output_type") for cell in executed["cells"] for o in cell.get("outputs", [])]
    assert "execute_result" not in shown, "a cell ending in record(...) must show its value once, not as Out[n] too"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_runner_kernel_logs_no_tcp_warning(tmp_path: Path, notebook_runner, capfd: pytest.CaptureFixture[str]) -> None:
    """The kernel of execute_notebook uses socket files in a private temp folder: no "running over TCP without
    encryption" line on the terminal (once per notebook in `make run` before), nothing left beside the notebook."""
    zmq = pytest.importorskip("zmq")
    if not zmq.has("ipc"):
        pytest.skip("this ZeroMQ has no ipc transport (Windows): the kernel uses TCP and logs the warning")
    notebook = _tiny_notebook(tmp_path / "01-quiet.ipynb", "print('quiet')")
    result = notebook_runner.execute_notebook(notebook, tmp_path / "out" / "01-quiet.ipynb", timeout=120)
    assert result.ok, result.explain()
    err = capfd.readouterr().err
    assert "without encryption" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["01-quiet.ipynb", "out"]
    with notebook_runner.kernel_transport() as transport:
        folder = Path(transport["config"].KernelManager.ip).parent
        assert folder.is_dir() and folder.stat().st_mode & 0o077 == 0, "the socket folder must be private"
    assert not folder.exists(), "the socket folder is removed afterwards"


def test_numbered_notebooks_are_found_by_glob(tmp_path: Path, notebook_runner) -> None:
    for rel in ("00-start-here.ipynb", "week1-x/01-a.ipynb", "week1-x/_draft.ipynb", "week2-y/10-b.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}", encoding="utf-8")
    (tmp_path / "week1-x" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "week1-x" / ".ipynb_checkpoints" / "01-a-checkpoint.ipynb").write_text("{}", encoding="utf-8")
    found = [p.relative_to(tmp_path).as_posix() for p in notebook_runner.numbered_notebooks(tmp_path)]
    assert found == ["00-start-here.ipynb", "week1-x/01-a.ipynb", "week2-y/10-b.ipynb"]


def test_expectation_checks() -> None:
    stem = "_template"
    good = {"final_loss": 0.01, "learned_slope": 2.0, "extra": "fine"}
    assert check_records(stem, good) == []
    assert any("learned_slope = 3.0" in p for p in check_records(stem, {**good, "learned_slope": 3.0}))
    assert any("did not record it" in p for p in check_records(stem, {"final_loss": 0.01}))
    assert any("notebook_expectations.py" in p for p in check_records("99-unknown", good))
    rule = greater_than("b", margin=0.1)
    assert rule(1.0, {"b": 0.5}) and not rule(0.55, {"b": 0.5})
