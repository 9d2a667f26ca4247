"""JupyterLab as a learner uses it: notebook 00 opened in a real (headless) browser and run from the Run menu.

The test starts JupyterLab as `make lab` does (localhost, a token) on a temporary copy of notebook 00, so nothing is
written into the repository, with the kernel in smoke mode. Chromium, driven by pip `playwright`, opens the
notebook, waits for the idle kernel, clicks Run > Run All Cells, and waits until no cell is queued or running. Then
no output may show a traceback, every code cell must have run, the set-up check must print its success line, the
tokenizer line and the four figures must be there. A screenshot goes to build/jupyterlab-00-start-here.png, also
when the test fails.

The browser is Debian's Chromium (`apt-get install chromium`; `.ci/run` installs it), or Chrome, or the binary named
by $LLM_COURSE_CHROMIUM. Without one the test skips and says so, unless LLM_COURSE_REQUIRE_BROWSER=1 (set by
`.ci/run` in CI), where it fails instead.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO_ROOT / "notebooks" / "00-start-here.ipynb"
SCREENSHOT = REPO_ROOT / "build" / "jupyterlab-00-start-here.png"
SERVER_START_S = 90.0
KERNEL_IDLE_MS = 120_000
RUN_ALL_S = 300.0
SUCCESS_LINE = "All checks passed: this machine can run the course offline."
TOKENIZER_LINE = "words -> "  # the NBVAL_CHECK_OUTPUT cell: "8 words -> 10 tokens: [...]"
FIGURES = 4  # the three stages of building an LLM, the lifecycle, the layered cake and the similarity heatmap
#: Test-only JupyterLab user settings: render every cell (no windowing, so all of them can be counted) and never ask
#: about Jupyter news (its toast would cover the notebook).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the server and the kernels it started (its own process group, see start_new_session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):  # AttributeError: no killpg (Windows)
        process.kill()
    process.wait(timeout=10)


@dataclass
class LabServer:
    """A running JupyterLab server, its token, the folder it serves and its log file."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    root: Path
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def request(self, path: str, method: str = "GET") -> int:
        """HTTP status of an authenticated request to the server's REST API."""
        req = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"JupyterLab exited with status {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.request("/api/status") == 200:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        pytest.fail(f"JupyterLab did not answer within {SERVER_START_S:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """POST /api/shutdown (stops the kernels too), then make sure the process is gone."""
        if self.process.poll() is None:
            try:
                self.request("/api/shutdown", method="POST")
                self.process.wait(timeout=30)
            except (urllib.error.URLError, ConnectionError, TimeoutError, subprocess.TimeoutExpired):
                _kill_group(self.process)


@pytest.fixture
def lab_server(tmp_path: Path) -> Iterator[LabServer]:
    """JupyterLab on 127.0.0.1 with a random token, serving a temporary folder with a copy of notebook 00.

    Its settings, workspaces, runtime files and config are in tmp_path too, so neither the repository nor the
    user's own Jupyter set-up is touched or read; the kernel runs in smoke mode.
    """
    root, settings = tmp_path / "course", tmp_path / "settings"
    root.mkdir()
    shutil.copy2(NOTEBOOK, root / NOTEBOOK.name)
    for name, values in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values), encoding="utf-8")
    token, port = secrets.token_hex(16), _free_port()
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", "--port", str(port)]
    argv += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    argv += [f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # CI containers run as root; JupyterLab refuses that by default
        argv.append("--allow-root")
    env = {
        **os.environ,
        "LLM_COURSE_SMOKE": "1",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    log = tmp_path / "jupyterlab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = LabServer(process, f"http://127.0.0.1:{port}", token, root, log)
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()


def _code_cells(path: Path) -> int:
    return sum(cell["cell_type"] == "code" for cell in json.loads(path.read_text(encoding="utf-8"))["cells"])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_notebook_00_runs_in_jupyterlab(browser_page: Any, lab_server: LabServer) -> None:
    before = NOTEBOOK.read_bytes()
    n_code = _code_cells(NOTEBOOK)
    url = f"{lab_server.url}/lab/workspaces/course-test/tree/{NOTEBOOK.name}?reset&token={lab_server.token}"
    timings: dict[str, float] = {}
    start = time.monotonic()
    with browser_page({"width": 1400, "height": 900}, SCREENSHOT, full_page=False) as page:
        page.goto(url)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=KERNEL_IDLE_MS)
        timings["page and kernel ready"] = time.monotonic() - start
        cells = page.locator(".jp-CodeCell").count()
        assert cells == n_code, f"JupyterLab shows {cells} code cells, the notebook has {n_code}"

        page.get_by_role("menuitem", name="Run").click()
        page.get_by_text("Run All Cells", exact=True).click()
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt")
        busy, ran = prompts.filter(has_text="[*]"), prompts.filter(has_text=re.compile(r"\[\d+\]"))
        deadline = time.monotonic() + RUN_ALL_S
        # The status bar says Idle between cells while the rest are still queued: wait on the prompts instead.
        while busy.count() or not ran.count():
            assert time.monotonic() < deadline, f"cells still queued or running after {RUN_ALL_S:.0f} s"
            page.wait_for_timeout(500)
        timings["run all cells"] = time.monotonic() - start - timings["page and kernel ready"]

        tracebacks = page.locator(".jp-OutputArea-output pre:has-text('Traceback')")
        shown = "\n\n".join(text[-1500:] for text in tracebacks.all_inner_texts())
        assert tracebacks.count() == 0, f"{tracebacks.count()} cell(s) show a traceback:\n{shown}"
        shown = " ".join(prompts.all_inner_texts())
        assert ran.count() == n_code, f"only {ran.count()} of {n_code} code cells ran; prompts: {shown}"
        outputs = page.locator(".jp-OutputArea-output")
        assert outputs.filter(has_text=SUCCESS_LINE).count() == 1, "the set-up check did not pass"
        assert outputs.filter(has_text=TOKENIZER_LINE).count() == 1, "the tokenizer cell shows no result"
        figures = page.locator(".jp-OutputArea-output img")
        assert figures.count() == FIGURES, f"{figures.count()} figures shown, expected {FIGURES}"
        figures.last.scroll_into_view_if_needed()
    print(", ".join(f"{name}: {seconds:.1f} s" for name, seconds in timings.items()), f"screenshot: {SCREENSHOT}")
    assert NOTEBOOK.read_bytes() == before, "the repository's notebook must not change"
