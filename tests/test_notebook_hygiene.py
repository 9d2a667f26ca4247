"""Fast checks on the notebook files themselves (nothing is executed).

Every notebook under notebooks/ (the template included) must be valid nbformat 4 with the python3 kernel and be
committed stripped: no execution counts and no outputs, except cells marked `# NBVAL_CHECK_OUTPUT`, whose
outputs nbval compares. Numbered notebooks must also follow the course layout: a title cell with a Colab badge
pointing at the notebook itself, the standard setup cell second (both name the repository given in pyproject.toml's
[project.urls]), a `parameters` cell defining SEED and DEVICE, at least three exercises whose check cells call
distinct checkers registered with `@exercise` (so the expected answers stay out of the notebook), a hidden solution,
and a Summary.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from scripts import sync_notebook_links
from utils.course.grading import EXERCISES
from utils.exercises import import_checker_modules

import_checker_modules()  # registers every exercise checker of utils

REPOSITORY = sync_notebook_links.repository()  # pyproject.toml's [project.urls] Repository
SETUP_CELL = REPOSITORY.setup_cell()
COLAB_BADGE = re.compile(
    r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
    rf"\({re.escape(REPOSITORY.colab_prefix)}(?P<path>[^)\s]+)\)"
)
SOLUTION_BLOCK = re.compile(r"<details>\s*<summary>\s*Solution\s*</summary>.*?</details>", re.DOTALL | re.IGNORECASE)
SUMMARY_HEADING = re.compile(r"^#{1,3}\s+.*\bSummary\b", re.MULTILINE | re.IGNORECASE)


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _markdown(nb: nbformat.NotebookNode) -> str:
    return "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def _assigned_names(source: str) -> set[str]:
    """Names assigned at top level of a code cell (IPython magics are dropped before parsing)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    names: set[str] = set()
    for node in ast.parse("\n".join(lines)).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


# --- every notebook, the template included ------------------------------------------------------------------


def test_valid_nbformat_4_with_python3_kernel(any_notebook: Path) -> None:
    nb = _read(any_notebook)
    assert nb.nbformat == 4, f"{any_notebook.name}: nbformat {nb.nbformat}, expected 4"
    nbformat.validate(nb)
    kernelspec = nb.metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "python3", f"{any_notebook.name}: kernelspec {kernelspec!r}, expected python3"


def test_committed_without_outputs(any_notebook: Path, strip) -> None:
    nb = _read(any_notebook)
    problems = []
    for index, cell in enumerate(_code_cells(nb)):
        if strip.keeps_outputs(cell):
            if cell.execution_count != strip.CHECKED_EXECUTION_COUNT:
                problems.append(f"code cell {index} (NBVAL_CHECK_OUTPUT): execution_count {cell.execution_count}")
            if not cell.outputs:
                problems.append(f"code cell {index} is marked NBVAL_CHECK_OUTPUT but has no stored output to compare")
        else:
            if cell.execution_count is not None:
                problems.append(f"code cell {index}: execution_count {cell.execution_count}")
            if cell.outputs:
                problems.append(f"code cell {index}: {len(cell.outputs)} output(s)")
    assert not problems, (
        f"{any_notebook.name} is not stripped ({'; '.join(problems)}); run `python scripts/strip_notebooks.py`."
    )


# --- numbered (course) notebooks ----------------------------------------------------------------------------


def test_title_cell_with_colab_badge(numbered_notebook: Path, repo_root: Path) -> None:
    _title_cell_with_colab_badge(numbered_notebook, repo_root)


def _title_cell_with_colab_badge(path: Path, repo_root: Path) -> None:
    nb = _read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown", "the first cell must be markdown: title, promise, badge, what you learn"
    assert re.match(r"#\s+\S", first.source.lstrip()), "the first cell must start with a `# Title`"
    badge = COLAB_BADGE.search(first.source)
    assert badge, (
        f"the first cell needs the Colab badge of {REPOSITORY.url} (copy it from notebooks/_template.ipynb, "
        "or run `python -m scripts.sync_notebook_links`)"
    )
    own_path = path.relative_to(repo_root).as_posix()
    assert badge["path"] == own_path, f"the Colab badge points at {badge['path']}, not at this notebook {own_path}"
    assert re.search(r"what you will learn", first.source, re.IGNORECASE), "the first cell lists What you will learn"


def test_setup_cell_is_second(numbered_notebook: Path) -> None:
    _setup_cell_is_second(numbered_notebook)


def _setup_cell_is_second(path: Path) -> None:
    nb = _read(path)
    assert len(nb.cells) > 1 and nb.cells[1].cell_type == "code", "the second cell must be the setup code cell"
    assert nb.cells[1].source.strip() == SETUP_CELL, (
        "the second cell must be exactly the standard setup cell (copy it from notebooks/_template.ipynb, "
        "or run `python -m scripts.sync_notebook_links`)"
    )


def test_parameters_cell_defines_seed_and_device(numbered_notebook: Path) -> None:
    _parameters_cell_defines_seed_and_device(numbered_notebook)


def _parameters_cell_defines_seed_and_device(path: Path) -> None:
    nb = _read(path)
    tagged = [cell for cell in _code_cells(nb) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected one code cell tagged `parameters` (papermill), found {len(tagged)}"
    names = _assigned_names(tagged[0].source)
    missing = {"SEED", "DEVICE"} - names
    assert not missing, f"the parameters cell must define {sorted(missing)} (it defines {sorted(names)})"


def test_exercise_with_check_and_solution(numbered_notebook: Path) -> None:
    _exercise_with_check_and_solution(numbered_notebook)


def _exercise_checks(nb: nbformat.NotebookNode) -> list[str]:
    """The exercise checks the notebook calls: `check_answer(` or a checker registered with `@exercise`."""
    checkers = {"check_answer"} | {name.rsplit(".", 1)[-1] for name in EXERCISES}
    calls = re.findall(r"(?<![\w.])(check_\w+)\(", "\n".join(cell.source for cell in _code_cells(nb)))
    return [call for call in calls if call in checkers]


def _exercise_with_check_and_solution(path: Path) -> None:
    nb = _read(path)
    assert _exercise_checks(nb), (
        "an exercise needs a code cell calling its checker: a function registered with @exercise in a "
        "utils/exercises/week<N>.py module (or check_answer(...))"
    )
    assert SOLUTION_BLOCK.search(_markdown(nb)), (
        "an exercise needs its solution in a markdown `<details><summary>Solution</summary> ... </details>` block"
    )


#: Exercises per numbered notebook whose check calls a registered checker (CONTRIBUTING.md, "Adding a notebook").
MIN_REGISTERED_CHECKERS = 3


def _registered_checks(nb: nbformat.NotebookNode) -> set[str]:
    """The distinct checkers registered with `@exercise` that the notebook calls. A bare `check_answer(...)` does not
    count: its cell shows the expected answer, and no test proves that it rejects a wrong one."""
    registered = {name.rsplit(".", 1)[-1] for name in EXERCISES}
    return {call for call in _exercise_checks(nb) if call in registered}


def test_three_registered_exercise_checkers(numbered_notebook: Path) -> None:
    checks = _registered_checks(_read(numbered_notebook))
    assert len(checks) >= MIN_REGISTERED_CHECKERS, (
        f"{numbered_notebook.name} calls {len(checks)} registered exercise checker(s) {sorted(checks)}; it needs at "
        f"least {MIN_REGISTERED_CHECKERS}: write each in the utils/exercises/week<N>.py of its week and register it "
        "with @exercise(wrong=[...], solution=...), so tests/test_course_exercises.py proves it rejects wrong answers"
    )


def test_registered_checks_ignore_bare_check_answer() -> None:
    cell = nbformat.v4.new_code_cell('check_answer("x", answer, 1)\ncheck_pair_count(answer)\ncheck_pair_count(other)')
    assert _registered_checks(nbformat.v4.new_notebook(cells=[cell])) == {"check_pair_count"}


def test_has_summary(numbered_notebook: Path) -> None:
    _has_summary(numbered_notebook)


def _has_summary(path: Path) -> None:
    assert SUMMARY_HEADING.search(_markdown(_read(path))), "the notebook needs a `## Summary` heading"


def test_numbered_notebook_names_are_unique(notebook_runner) -> None:
    stems = [p.stem for p in notebook_runner.numbered_notebooks()]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    assert not duplicates, f"notebook names must be unique (tests key expectations by name): {duplicates}"


def test_template_follows_the_layout(template_notebook: Path, repo_root: Path, strip) -> None:
    """The template passes the numbered-notebook checks, so a copy of it starts out compliant."""
    _title_cell_with_colab_badge(template_notebook, repo_root)
    _setup_cell_is_second(template_notebook)
    _parameters_cell_defines_seed_and_device(template_notebook)
    _exercise_with_check_and_solution(template_notebook)
    _has_summary(template_notebook)
    assert any(strip.keeps_outputs(cell) for cell in _code_cells(_read(template_notebook))), (
        "the template shows the NBVAL_CHECK_OUTPUT pattern"
    )


# --- scripts/strip_notebooks.py -----------------------------------------------------------------------------


def test_repository_notebooks_are_stripped(repo_root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(repo_root / "scripts" / "strip_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=repo_root,
    )
    assert proc.returncode == 0, f"run `python scripts/strip_notebooks.py`:\n{proc.stdout}{proc.stderr}"


def _executed_notebook() -> nbformat.NotebookNode:
    v4 = nbformat.v4
    plain = v4.new_code_cell(
        "x = 1\nx",
        execution_count=3,
        outputs=[v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=3)],
        metadata={"tags": ["parameters"], "scrolled": True, "execution": {"iopub.status.busy": "2024-01-01"}},
    )
    checked = v4.new_code_cell(
        "# NBVAL_CHECK_OUTPUT\nprint(2 + 2)",
        execution_count=4,
        outputs=[v4.new_output("stream", name="stdout", text="4\n")],
        metadata={"papermill": {"duration": 0.1}, "tags": []},
    )
    image = v4.new_code_cell(
        "plot()", execution_count=5, outputs=[v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    )
    nb = v4.new_notebook(
        cells=[v4.new_markdown_cell("# Title", metadata={"colab": {"id": "x"}}), plain, checked, image]
    )
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": "3.11.7"},
        "papermill": {"duration": 1.0},
        "widgets": {"state": {}},
    }
    return nb


def test_strip_keeps_checked_outputs_only(strip) -> None:
    nb = _executed_notebook()
    stripped = strip.strip_notebook(nb)
    markdown, plain, checked, image = stripped.cells
    assert (plain.execution_count, plain.outputs, dict(plain.metadata)) == (None, [], {"tags": ["parameters"]})
    assert (image.execution_count, image.outputs) == (None, [])
    assert checked.execution_count == strip.CHECKED_EXECUTION_COUNT
    assert [o.text for o in checked.outputs] == ["4\n"] and dict(checked.metadata) == {}
    assert dict(markdown.metadata) == {}
    assert set(stripped.metadata) == {"kernelspec", "language_info"}
    assert "version" not in stripped.metadata.language_info
    assert nb.cells[1].outputs, "strip_notebook must not modify its input"
    nbformat.validate(stripped)


def test_strip_is_deterministic_and_idempotent(strip) -> None:
    text = nbformat.writes(_executed_notebook())
    once = strip.strip_text(text)
    assert once.endswith("}\n") and once.startswith('{\n "cells": [')
    assert strip.strip_text(once) == once
    assert strip.strip_text(text) == once


def test_strip_gives_missing_cell_ids_stable_values(strip) -> None:
    nb = _executed_notebook()
    for cell in nb.cells:
        del cell["id"]
    text = nbformat.v4.nbjson.writes(nb)
    assert strip.strip_text(text) == strip.strip_text(text)
    nbformat.validate(strip.read_text(strip.strip_text(text)))


def test_strip_check_mode_reports_without_writing(tmp_path: Path, repo_root: Path) -> None:
    dirty = tmp_path / "01-dirty.ipynb"
    nbformat.write(_executed_notebook(), dirty)
    before = dirty.read_text(encoding="utf-8")
    script = str(repo_root / "scripts" / "strip_notebooks.py")
    proc = subprocess.run([sys.executable, script, "--check", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 1 and "01-dirty.ipynb" in proc.stdout, proc.stdout + proc.stderr
    assert dirty.read_text(encoding="utf-8") == before
    proc = subprocess.run([sys.executable, script, str(dirty)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert dirty.read_text(encoding="utf-8") != before
    proc = subprocess.run([sys.executable, script, "--check", str(dirty)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- tests/nbval_sanitize.cfg -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("noisy", "masked"),
    [
        ("training took 1.23 s", "DURATION"),
        ("epoch done in 12.3s", "DURATION"),
        ("100%|██████████| 10/10 [00:01<00:00,  9.52it/s]", "PROGRESS-BAR"),
        ("speed: 35.2 tok/s", "RATE"),
        ("<function f at 0x7f3a2b4c5d60>", "0xADDRESS"),
        ("saved to /tmp/pytest-of-root/run/x.json", "ABSOLUTE-PATH"),
        ("/home/runner/work/llm-course/x.py", "ABSOLUTE-PATH"),
        ("/usr/lib/python3.11/site-packages/torch/nn.py", "SITE-PACKAGES-PATH"),
        ("Wall time: 850 ms", "DURATION"),
    ],
    ids=["took", "in", "tqdm", "rate", "address", "tmp", "home", "site-packages", "wall-time"],
)
def test_nbval_sanitizers_mask_noise(noisy: str, masked: str, repo_root: Path) -> None:
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((repo_root / "tests" / "nbval_sanitize.cfg").read_text(encoding="utf-8"))
    assert len(patterns) >= 8
    text = noisy
    for regex, replace in patterns:
        text = re.sub(regex, replace, text)
    assert masked in text and not re.search(r"\d\.\d|0x7f|/tmp/|/home/", text), f"{noisy!r} -> {text!r}"
    stable = "targets for x = 1, 2, 3: [2.0, 4.0, 6.0]"
    for regex, replace in patterns:
        assert re.sub(regex, replace, stable) == stable, f"{regex!r} would mask a real result"
