"""The course runs with no network at all.

Notebooks run inside a fresh Linux network namespace (`unshare -n`, or `unshare -rn` without root) where only
the loopback interface exists, so any download attempt fails. The tests skip, saying why, where the sandbox
forbids namespaces or `unshare`/`ip` are missing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NAMESPACE_PREFIXES = (("unshare", "-n"), ("unshare", "-rn"))  # root; unprivileged user namespace


def _namespace_prefix() -> tuple[tuple[str, ...] | None, str]:
    """A working command prefix for a network namespace with loopback up, or None and the reason."""
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return None, f"`{tool}` is not installed, so a network namespace cannot be made"
    reasons = []
    for prefix in NAMESPACE_PREFIXES:
        try:
            proc = subprocess.run(
                [*prefix, "sh", "-c", "ip link set lo up"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            reasons.append(f"{' '.join(prefix)}: {err}")
            continue
        if proc.returncode == 0:
            return prefix, ""
        reasons.append(f"{' '.join(prefix)}: {proc.stderr.strip() or f'exit status {proc.returncode}'}")
    return None, "this sandbox forbids network namespaces (" + "; ".join(reasons) + ")"


@pytest.fixture(scope="module")
def offline(notebook_runner):
    """A wrapper that runs a command in a network namespace with no network (skip if none can be made)."""
    prefix, reason = _namespace_prefix()
    if prefix is None:
        pytest.skip(reason)
    return notebook_runner.netns_wrapper(prefix)


NETWORK_PROBE = """
import socket, sys
for host in ("pypi.org", "151.101.0.223"):  # by name, and by one of pypi.org's addresses (no DNS needed)
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError as err:
        print(f"BLOCKED {host}: {type(err).__name__}: {err}")
    else:
        print(f"CONNECTED {host}")
        sys.exit(1)
"""


def test_namespace_really_has_no_network(offline) -> None:
    proc = subprocess.run(offline([sys.executable, "-c", NETWORK_PROBE]), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.count("BLOCKED") == 2, (
        f"the network was reachable inside the namespace, so running there proves nothing:\n{proc.stdout}{proc.stderr}"
    )


def _run_offline(path: Path, tmp_path: Path, run_notebook, offline) -> None:
    result = run_notebook(path, tmp_path / path.name, wrapper=offline)
    assert result.ok, "the notebook needs the network (or failed for another reason):\n" + result.explain()
    assert result.records, f"{result.notebook} ran offline but recorded nothing"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_start_here_runs_offline(notebooks_dir: Path, tmp_path: Path, run_notebook, offline) -> None:
    notebook = notebooks_dir / "00-start-here.ipynb"
    if not notebook.is_file():
        pytest.skip("notebooks/00-start-here.ipynb does not exist yet; the template test proves the mechanism")
    _run_offline(notebook, tmp_path, run_notebook, offline)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_template_runs_offline(template_notebook: Path, tmp_path: Path, run_notebook, offline) -> None:
    _run_offline(template_notebook, tmp_path, run_notebook, offline)
