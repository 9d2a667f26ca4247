"""The import picture of `utils/`: every subpackage sits on a floor and imports only from its own floor or below,
the subpackages form no cycle, and no module imports another `utils` module inside a function (a local import that
exists to dodge a cycle hides an edge of the picture) unless the line says why with a `# lazy: <reason>` comment
(e.g. the environment report must run before torch is known to import). The code a learner reads never imports the
exercise checkers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parents[1] / "utils"

# Lower numbers are lower floors. utils/__init__.py (the facade with the everyday names) sits above them all.
FLOORS = {
    "course": 1,
    "transformer": 2,
    "assets": 3,
    "generation": 4,
    "retrieval": 4,
    "training": 5,
    "evaluation": 5,
    "agents": 5,
    "alignment": 6,
    "inference": 6,
    "exercises": 7,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(UTILS.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def utils_imports(path: Path, module: str | None = None) -> Iterator[tuple[str, int, bool]]:
    """(imported utils module, line, inside a function?) for every import of a `utils` module in `path` (the module
    `module`, by default named from its place under utils/)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    package = (module or _module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function.update(id(inner) for inner in ast.walk(node) if inner is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = [target]
            if node.module is None or target == "utils" or target.count(".") == 1:
                names = [f"{target}.{alias.name}" for alias in node.names]  # `from . import x`, `from utils import x`
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name == "utils" or name.startswith("utils."):
                lazy = "# lazy:" in lines[node.lineno - 1]
                yield name, node.lineno, id(node) in in_function and not lazy


def _subpackage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FLOORS else None


def _modules() -> list[Path]:
    return [p for p in sorted(UTILS.rglob("*.py")) if p != UTILS / "__init__.py"]


def package_edges() -> dict[str, set[str]]:
    """{subpackage: the other subpackages it imports}, counting imports inside functions too."""
    edges: dict[str, set[str]] = {name: set() for name in FLOORS}
    for path in _modules():
        source = _subpackage(_module_name(path))
        for target, _, _ in utils_imports(path):
            to = _subpackage(target)
            if source and to and to != source:
                edges[source].add(to)
    return edges


def test_every_subpackage_has_a_floor() -> None:
    found = {p.name for p in UTILS.iterdir() if (p / "__init__.py").is_file()}
    assert found == set(FLOORS), f"give each subpackage of utils/ a floor in FLOORS: {sorted(found ^ set(FLOORS))}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _module_name(p))
def test_imports_run_down_or_level(path: Path) -> None:
    source = _subpackage(_module_name(path))
    problems = []
    for target, line, local in utils_imports(path):
        to = _subpackage(target)
        if target == "utils" or (target.count(".") == 1 and to is None):
            problems.append(f"line {line}: imports the package root ({target}); import the module that holds the name")
        elif source and to and FLOORS[to] > FLOORS[source]:
            problems.append(f"line {line}: {source} (floor {FLOORS[source]}) imports {target} (floor {FLOORS[to]})")
        if local:
            problems.append(f"line {line}: imports {target} inside a function; import it at the top of the module")
    assert not problems, "\n".join(problems)


def test_subpackages_form_no_cycle() -> None:
    edges = package_edges()

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in edges[start])

    cycles = sorted(a for a in edges if reaches(a, a, {a}))
    assert not cycles, f"these subpackages import each other in a circle: {cycles}; edges {edges}"


def test_the_picture_sees_the_edges_it_should(tmp_path: Path) -> None:
    """The parser finds relative, absolute and function-local imports (so the tests above can fail)."""
    assert "course" in package_edges()["transformer"]
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from utils.course import runtime\nfrom ..assets.models import cache_dir\n\n"
        "def f():\n    import utils.alignment.reward\n    import utils.course.device  # lazy: a reason\n",
        encoding="utf-8",
    )
    found = sorted(utils_imports(sample, module="utils.transformer.sample"))
    assert found == [
        ("utils.alignment.reward", 5, True),
        ("utils.assets.models", 2, False),
        ("utils.course.device", 6, False),
        ("utils.course.runtime", 1, False),
    ]
