"""The repository URL lives in one place (pyproject.toml's [project.urls] Repository): every notebook's Colab badge
and setup cell and every badge in README.md agree with it, and scripts/sync_notebook_links.py rewrites a notebook
that disagrees (touching nothing else)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import sync_notebook_links as links
from scripts.strip_notebooks import read_text

COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+")
FORK = links.Repository("someone-else", "my-llm-course")


def test_pyproject_names_a_github_repository() -> None:
    repo = links.repository()
    assert repo.url.startswith("https://github.com/") and repo.name, repo
    assert repo.colab_url("notebooks/00-start-here.ipynb") == (
        f"https://colab.research.google.com/github/{repo.owner}/{repo.name}/blob/main/notebooks/00-start-here.ipynb"
    )


def test_every_notebook_agrees_with_pyproject(repo_root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scripts.sync_notebook_links", "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=repo_root,
    )
    assert proc.returncode == 0, f"run `python -m scripts.sync_notebook_links`:\n{proc.stdout}{proc.stderr}"


def test_readme_badges_use_the_pyproject_repository(repo_root: Path) -> None:
    prefix = links.repository().colab_prefix
    found = COLAB_LINK.findall((repo_root / "README.md").read_text(encoding="utf-8"))
    assert found, "README.md shows no Colab badge"
    wrong = [url for url in found if not url.startswith(prefix)]
    assert not wrong, f"README.md badges must start with {prefix} (run `make readme`): {wrong}"


def test_no_other_file_hard_codes_the_repository_url(repo_root: Path) -> None:
    """Outside pyproject.toml, the notebooks and README.md (all generated from it), no tracked file names the URL."""
    url = links.repository().url
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], capture_output=True, text=True, check=False, cwd=repo_root
    ).stdout.split("\0")
    if not any(tracked):
        pytest.skip("not a git checkout: cannot list the tracked files")
    generated = {"pyproject.toml", "README.md"}
    offenders = [
        name
        for name in tracked
        if name
        and name not in generated
        and not name.endswith(".ipynb")
        and (repo_root / name).is_file()
        and url in (repo_root / name).read_text(encoding="utf-8", errors="replace")
    ]
    assert not offenders, f"{offenders} name {url}: read it with scripts.sync_notebook_links.repository() instead"


def test_sync_rewrites_badge_and_setup_cell_only(template_notebook: Path, repo_root: Path) -> None:
    original = template_notebook.read_text(encoding="utf-8")
    path = links.repository_path(template_notebook, repo_root)
    synced = links.sync_text(original, path, FORK)
    before, after = read_text(original), read_text(synced)
    assert [c["id"] for c in after.cells] == [c["id"] for c in before.cells], "cell ids must be kept"
    changed = [i for i, (a, b) in enumerate(zip(before.cells, after.cells, strict=True)) if a != b]
    assert changed == [0, 1], changed
    assert FORK.colab_badge(path) in after.cells[0].source
    assert after.cells[0].source.replace(FORK.colab_badge(path), "") == (
        before.cells[0].source.replace(links.repository().colab_badge(path), "")
    ), "only the badge of the title cell may change"
    assert after.cells[1].source == FORK.setup_cell()
    assert "git clone -q --depth 1 https://github.com/someone-else/my-llm-course /content/my-llm-course" in (
        after.cells[1].source
    )
    assert links.sync_text(synced, path, FORK) == synced, "a second run changes nothing"
    assert links.sync_text(original, path, links.repository()) == original, "the template is already in sync"


def test_sync_fixes_a_badge_that_points_elsewhere(template_notebook: Path, repo_root: Path) -> None:
    path = links.repository_path(template_notebook, repo_root)
    repo = links.repository()
    wrong = template_notebook.read_text(encoding="utf-8").replace(
        json.dumps(repo.colab_url(path))[1:-1], FORK.colab_url("notebooks/elsewhere.ipynb")
    )
    assert repo.colab_url(path) not in wrong
    fixed = links.sync_text(wrong, path, repo)
    assert fixed == template_notebook.read_text(encoding="utf-8")


def test_sync_refuses_a_notebook_without_the_layout(template_notebook: Path) -> None:
    nb = read_text(template_notebook.read_text(encoding="utf-8"))
    nb.cells[1]["source"] = "import sys"
    text = json.dumps(nb)
    with pytest.raises(ValueError, match="second cell is not the setup cell"):
        links.sync_text(text, "notebooks/x.ipynb", FORK)
    nb.cells[0]["source"] = "# Title without a badge"
    with pytest.raises(ValueError, match="no Colab badge"):
        links.sync_text(json.dumps(nb), "notebooks/x.ipynb", FORK)


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        ("", "needs `Repository"),
        ('Repository = "https://gitlab.com/a/b"', "must be a GitHub address"),
        ('Repository = "https://github.com/only-owner"', "must be a GitHub address"),
    ],
    ids=["missing", "not-github", "no-name"],
)
def test_repository_errors_are_clear(tmp_path: Path, urls: str, message: str) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f'[project]\nname = "x"\n\n[project.urls]\n{urls}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        links.repository(pyproject)


def test_repository_accepts_git_suffix_and_slash(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    for url in ("https://github.com/a-b/c.d.git", "https://github.com/a-b/c.d/"):
        pyproject.write_text(f'[project.urls]\nRepository = "{url}"\n', encoding="utf-8")
        assert links.repository(pyproject) == links.Repository("a-b", "c.d")


def test_check_mode_reports_without_writing(
    tmp_path: Path, template_notebook: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check lists a notebook that disagrees and exits 1 without writing; without --check it is rewritten."""
    monkeypatch.setattr(links, "REPO_ROOT", tmp_path)  # a stand-in repository, so nothing is written to the real one
    path = tmp_path / "notebooks" / "week9-x" / "99-out-of-sync.ipynb"
    path.parent.mkdir(parents=True)
    relative = "notebooks/week9-x/99-out-of-sync.ipynb"
    stale = links.sync_text(template_notebook.read_text(encoding="utf-8"), relative, FORK)
    path.write_text(stale, encoding="utf-8")
    assert links.main(["--check", str(path.parent)]) == 1
    assert f"disagrees with pyproject.toml: {relative}" in capsys.readouterr().out
    assert path.read_text(encoding="utf-8") == stale
    assert links.main([str(path)]) == 0
    assert f"updated: {relative}" in capsys.readouterr().out
    assert links.repository().colab_badge(relative) in path.read_text(encoding="utf-8")
    assert links.main(["--check", str(path)]) == 0
    path.write_text(stale.replace("# Setup: on Colab", "# Set up"), encoding="utf-8")
    assert links.main(["--check", str(path)]) == 2
    assert "not the setup cell" in capsys.readouterr().err
