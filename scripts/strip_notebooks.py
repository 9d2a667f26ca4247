"""Strip outputs, execution counts and transient metadata from notebooks before they are committed.

Usage:
    python scripts/strip_notebooks.py [PATH ...]          # rewrite notebooks in place
    python scripts/strip_notebooks.py --check [PATH ...]  # list offenders, exit 1, write nothing

PATH is a notebook or a folder (searched recursively); the default is every notebook under notebooks/.

What a committed notebook keeps:
* cell sources, cell ids, attachments and the cell metadata key `tags` when not empty (papermill's
  `parameters` tag);
* the outputs of cells whose source contains `# NBVAL_CHECK_OUTPUT` (nbval compares them). Their
  execution counts become the constant 1: nbval refuses a cell that has outputs but a null count
  ("Unrun reference cell has outputs"), and a constant keeps diffs quiet. Every other count is null;
* the notebook metadata `kernelspec` and `language_info` (without the Python version).
Everything else (outputs, execution counts, papermill/Colab/VS Code metadata, widget state) goes.

The file is written the way Jupyter writes it (sorted keys, indent 1, a trailing newline), so running
the script twice changes nothing and a notebook saved by Jupyter and stripped gives a small diff.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat
from nbformat.v4 import nbjson

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
CHECK_OUTPUT_MARK = "# NBVAL_CHECK_OUTPUT"
CHECKED_EXECUTION_COUNT = 1  # nbval only compares cells that look executed
KEEP_CELL_METADATA = ("tags",)
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info")
DROP_LANGUAGE_INFO = ("version",)


def keeps_outputs(cell: dict) -> bool:
    """True for a code cell whose outputs are committed and compared by nbval."""
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(source)
    return cell.get("cell_type") == "code" and CHECK_OUTPUT_MARK in source


def _stable_id(index: int, source: str, taken: set[str]) -> str:
    """A cell id derived from the cell's position and text, so stripping is deterministic."""
    salt = 0
    while True:
        cell_id = hashlib.sha1(f"{index}:{salt}:{source}".encode()).hexdigest()[:8]
        if cell_id not in taken:
            return cell_id
        salt += 1


def strip_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return a stripped copy of `nb` (the input is left untouched)."""
    nb = copy.deepcopy(nb)
    metadata = nb.get("metadata", {})
    nb.metadata = nbformat.from_dict({k: metadata[k] for k in KEEP_NOTEBOOK_METADATA if k in metadata})
    if "language_info" in nb.metadata:
        for key in DROP_LANGUAGE_INFO:
            nb.metadata.language_info.pop(key, None)
    needs_ids = (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    taken = {cell["id"] for cell in nb.cells if "id" in cell}
    for index, cell in enumerate(nb.cells):
        metadata = cell.get("metadata", {})
        cell.metadata = nbformat.from_dict({k: metadata[k] for k in KEEP_CELL_METADATA if metadata.get(k)})
        if needs_ids and "id" not in cell:
            cell["id"] = _stable_id(index, cell.source, taken)
            taken.add(cell["id"])
        if cell.cell_type != "code":
            continue
        if keeps_outputs(cell):
            cell.execution_count = CHECKED_EXECUTION_COUNT
            for output in cell.outputs:
                if "execution_count" in output:
                    output["execution_count"] = CHECKED_EXECUTION_COUNT
                output.pop("transient", None)
        else:
            cell.execution_count = None
            cell.outputs = []
    return nb


def read_text(text: str) -> nbformat.NotebookNode:
    """Parse notebook JSON without validation or normalisation (which could invent random cell ids)."""
    nb = nbjson.reads(text)
    if nb.get("nbformat") != 4:
        raise ValueError(f"only nbformat 4 notebooks are supported, got nbformat {nb.get('nbformat')!r}.")
    return nb


def write_text(nb: nbformat.NotebookNode) -> str:
    """Serialise like Jupyter: sorted keys, indent 1, sources split in lines, trailing newline."""
    return nbjson.writes(nb) + "\n"


def strip_text(text: str) -> str:
    """The stripped file contents for notebook JSON `text`."""
    return write_text(strip_notebook(read_text(text)))


def find_notebooks(paths: Iterable[Path]) -> list[Path]:
    """Notebooks named directly, plus every notebook under the folders named (checkpoints skipped)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += [p for p in sorted(path.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts]
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path} is neither a notebook (.ipynb) nor a folder.")
    return found


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks or folders (default: notebooks/)")
    parser.add_argument("--check", action="store_true", help="only report notebooks that need stripping")
    args = parser.parse_args(argv)
    try:
        notebooks = find_notebooks(args.paths or [NOTEBOOKS_DIR])
    except FileNotFoundError as err:
        parser.error(str(err))
    offenders = []
    for path in notebooks:
        original = path.read_text(encoding="utf-8")
        try:
            stripped = strip_text(original)
        except ValueError as err:  # json.JSONDecodeError is a ValueError too
            print(f"{_display(path)}: cannot read notebook: {err}", file=sys.stderr)
            return 2
        if stripped == original:
            continue
        offenders.append(path)
        if not args.check:
            path.write_text(stripped, encoding="utf-8")
    verb = "needs stripping" if args.check else "stripped"
    for path in offenders:
        print(f"{verb}: {_display(path)}")
    if args.check and offenders:
        print(f"{len(offenders)} notebook(s) carry outputs or metadata; run `python scripts/strip_notebooks.py`.")
        return 1
    if not offenders:
        print(f"{len(notebooks)} notebook(s) already clean.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
