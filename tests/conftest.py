"""Shared fixtures for the notebook tests.

* `repo_root`, `notebooks_dir`, `template_notebook`: paths; `notebook_runner` and `strip`: the two
  scripts `scripts.run_notebooks` and `scripts.strip_notebooks`.
* A test that takes a `numbered_notebook` argument runs once per numbered notebook (notebooks/**/NN-*.ipynb,
  found by glob, sorted; the test id is the path under notebooks/). `any_notebook` adds the template and any
  other notebook under notebooks/. New notebooks are picked up automatically.
* `chat_model` / `tokenizer`: SmolLM2 (the course's chat model) and its tokenizer, loaded once per test session;
  tests that need them skip when the model package is not installed. `encoder_tokenizer`: MiniLM's tokenizer.
  `one_thread`: torch on one thread for a module (`pytestmark = pytest.mark.usefixtures("one_thread")`).
* `run_notebook(path, ...)`: executes a notebook with papermill in smoke mode, in its own folder, and returns
  a `RunResult` (seconds, peak RAM, error, records). The same code runs `scripts/run_notebooks.py`.
* `chromium`: the browser binary for the real-browser tests (JupyterLab, the Q&A app); they skip without one,
  or fail under LLM_COURSE_REQUIRE_BROWSER=1 (as in CI).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from scripts import run_notebooks, strip_notebooks
from utils.assets.models import AssetMissingError, load_chat_model
from utils.assets.packages import asset_path

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
TEMPLATE = NOTEBOOKS_DIR / "_template.ipynb"
SMOKE_BUILD_DIR = REPO_ROOT / "build" / "smoke"
CELL_TIMEOUT_S = 300  # a hung cell fails the test instead of blocking the run forever


runner = run_notebooks


def all_notebooks() -> list[Path]:
    """Every notebook under notebooks/ (numbered ones, the template, anything else), sorted."""
    found = [p for p in NOTEBOOKS_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
    return sorted(found, key=lambda p: p.relative_to(NOTEBOOKS_DIR).as_posix())


def notebook_id(path: Path) -> str:
    return path.relative_to(NOTEBOOKS_DIR).as_posix()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "numbered_notebook" in metafunc.fixturenames:
        found = runner.numbered_notebooks(NOTEBOOKS_DIR)
        metafunc.parametrize("numbered_notebook", found, ids=[notebook_id(p) for p in found])
    if "any_notebook" in metafunc.fixturenames:
        found = all_notebooks()
        metafunc.parametrize("any_notebook", found, ids=[notebook_id(p) for p in found])


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def notebooks_dir() -> Path:
    return NOTEBOOKS_DIR


@pytest.fixture(scope="session")
def notebook_runner() -> ModuleType:
    """scripts/run_notebooks.py as a module: `execute_notebook`, `numbered_notebooks`, `netns_wrapper`, ..."""
    return runner


@pytest.fixture(scope="session")
def strip() -> ModuleType:
    """scripts/strip_notebooks.py as a module: `strip_notebook`, `strip_text`, `keeps_outputs`, ..."""
    return strip_notebooks


@pytest.fixture(scope="session")
def template_notebook() -> Path:
    assert TEMPLATE.is_file(), f"the notebook template {TEMPLATE} is missing"
    return TEMPLATE


@pytest.fixture
def run_notebook(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """Return `run(path, output=None, *, wrapper=None)`: execute a notebook in smoke mode, get a RunResult.

    The kernel inherits this process's environment, so smoke mode is switched on here. The executed copy goes
    to build/smoke/<path under notebooks/> unless `output` is given; `wrapper` (see
    `run_notebooks.netns_wrapper`) runs papermill through another command, e.g. in a namespace with no network.
    """
    monkeypatch.setenv(runner.SMOKE_ENV, "1")

    def run(path: Path, output: Path | None = None, *, wrapper: runner.Wrapper | None = None) -> runner.RunResult:
        output = output or SMOKE_BUILD_DIR / runner.relative_name(path)
        return runner.execute_notebook(path, output, timeout=CELL_TIMEOUT_S, wrapper=wrapper)

    return run


@pytest.fixture(scope="session")
def chat_model() -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct and its tokenizer on the CPU, loaded once per test session (tests must not change
    the model); tests that need it skip when the model package is not installed."""
    try:
        return load_chat_model(device="cpu")
    except AssetMissingError as exc:  # pragma: no cover - the assets are installed by `make setup`
        pytest.skip(f"chat model not installed: {exc}")


@pytest.fixture(scope="session")
def tokenizer(chat_model: tuple[Any, Any]) -> Any:
    """SmolLM2-135M-Instruct's tokenizer (chat template, `<|im_end|>` as end and pad token)."""
    return chat_model[1]


@pytest.fixture(scope="session")
def encoder_tokenizer() -> Any:
    """MiniLM's tokenizer (the course's sentence encoder), loaded once per test session; skips when not installed."""
    from transformers import AutoTokenizer

    try:
        folder = asset_path("encoder")
    except AssetMissingError as exc:  # pragma: no cover - the assets are installed by `make setup`
        pytest.skip(f"encoder not installed: {exc}")
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """torch on one thread for a test module: its small forward passes gain little from two, and on a busy machine
    two threads wait on each other; both sides of each comparison run with the same setting."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------------------------------------------
# The real browser of test_jupyterlab.py and test_qa_app.py

CHROMIUM_ENV = "LLM_COURSE_CHROMIUM"
REQUIRE_BROWSER_ENV = "LLM_COURSE_REQUIRE_BROWSER"
#: Debian's real binary first (/usr/bin/chromium is a wrapper script around it), then Google Chrome (GitHub runners).
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/google-chrome")


def find_chromium() -> str | None:
    """The browser binary to drive: $LLM_COURSE_CHROMIUM, else the first of CHROMIUM_CANDIDATES that exists."""
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        return named
    return next((path for path in CHROMIUM_CANDIDATES if os.access(path, os.X_OK)), None)


def skip_or_fail(reason: str) -> None:
    """Skip with `reason`, or fail under LLM_COURSE_REQUIRE_BROWSER=1 (set by .ci/run, where the browser exists)."""
    if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_BROWSER_ENV}=1 asks for the browser tests to run)")
    pytest.skip(reason)


@pytest.fixture
def chromium() -> str:
    """The browser binary; a browser test skips (or fails, under LLM_COURSE_REQUIRE_BROWSER=1) before any server
    starts when there is no browser or no playwright."""
    path = find_chromium()
    if path is None:
        skip_or_fail(
            f"no Chromium found ({', '.join(CHROMIUM_CANDIDATES)}): install Debian's package "
            f"(`apt-get install chromium`, as .ci/run does) or set {CHROMIUM_ENV} to a Chromium or Chrome binary"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("pip playwright is not installed: run `make setup` (it is pinned in requirements.txt)")
    return path


@contextmanager
def _browser_page(
    chromium: str, viewport: dict[str, int], screenshot: Path, *, full_page: bool = False
) -> Iterator[Any]:
    """A page of a headless `chromium` (playwright) with `viewport`; its screenshot goes to `screenshot` when the
    block ends, also when it fails, and the browser is closed."""
    from playwright.sync_api import sync_playwright

    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport=viewport)
            try:
                yield page
            finally:
                page.screenshot(path=str(screenshot), full_page=full_page)
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: str) -> Callable[..., Any]:
    """`with browser_page(viewport, screenshot, full_page=False) as page:` a page of the real browser (see
    `chromium`: the test skips, or fails in CI, without one), screenshot saved when the block ends."""
    return functools.partial(_browser_page, chromium)
