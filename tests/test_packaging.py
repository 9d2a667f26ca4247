"""The install files agree with each other, and CI runs the command the README documents."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
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
        assert link in table, f"README.md has no row for {link}; run `make readme`"


def _notebook_imports(path: Path) -> set[str]:
    """Top-level module names imported by the code cells of a notebook (shell and magic lines skipped)."""
    names: set[str] = set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("!", "%")))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _normalise(distribution: str) -> str:
    """PEP 503 name: `rouge_score`, `Rouge.Score` and `rouge-score` are the same distribution."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def test_notebook_imports_are_declared_in_pyproject() -> None:
    """Colab installs only `pip install -e .`, so every package a notebook imports must be a declared dependency."""
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M)
    assert block, "pyproject.toml has no [project] dependencies list"
    names = (re.split(r"[<>=!~\[ ]", dep, maxsplit=1)[0] for dep in re.findall(r'"([^"]+)"', block[1]))
    declared = {_normalise(name) for name in names}
    distributions = importlib.metadata.packages_distributions()
    for notebook in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        # the course's own packages (utils, apps: pyproject's packages.find), and IPython, which every kernel has
        provided = set(sys.stdlib_module_names) | {"utils", "apps", "IPython"}
        for module in _notebook_imports(notebook) - provided:
            dists = {_normalise(d) for d in distributions.get(module, [module])}
            assert dists & declared, f"{notebook.name} imports {module!r}: add {sorted(dists)} to pyproject.toml"


def test_scripts_import_as_a_package() -> None:
    """scripts/ imports as `scripts.X` (no sys.path or sys.modules tricks), as the tests and `make readme` use it."""
    import importlib

    for name in ("build_data", "run_notebooks", "strip_notebooks", "update_readme", "bench_gpt", "sync_notebook_links"):
        assert importlib.import_module(f"scripts.{name}").__doc__


def test_readme_table_keeps_shown_numbers_of_notebooks_without_a_new_report() -> None:
    from scripts.update_readme import build_table, shown_numbers

    current = shown_numbers((ROOT / "README.md").read_text())
    assert len(current) >= 12, "the README table's rows should parse"
    first = next(iter(current))
    kept = shown_numbers(build_table({}, {}, current))
    assert kept[first] == current[first]
    fresh = shown_numbers(build_table({first: {"seconds": 12.3, "peak_mib": 2048}}, {}, current))
    assert fresh[first] == ("12 s", current[first][1], "2.0 GiB")
    assert shown_numbers(build_table({}, {}, {}))[first] == ("-", "-", "-")


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_colab_installs_the_tested_pins_of_every_dependency() -> None:
    """On Colab the setup cell installs the course with requirements.txt (torch's line removed) as constraints, so
    every run-time dependency gets the tested version, not whatever Colab has preinstalled within pyproject's range."""
    import tomllib

    from scripts.sync_notebook_links import repository

    cell = repository().setup_cell()
    assert "!grep -v '^torch==' " in cell and "-c /tmp/course-pins.txt" in cell, cell
    pins = _requirement_lines(ROOT / "requirements.txt")
    kept = [line for line in pins if not line.startswith("torch==")]
    assert [_name(line) for line in pins if line not in kept] == ["torch"], "the filter must drop torch only"
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    unpinned = sorted({_name(dep) for dep in dependencies} - {_name(line) for line in kept} - {"torch"})
    assert not unpinned, f"pin these run-time dependencies in requirements.txt (and environment.yml): {unpinned}"
