"""Check that this machine can run the course: packages, versions, device, offline model and data assets.
Used in notebook 00."""

from __future__ import annotations

import importlib.metadata as metadata
import platform
import re
from collections.abc import Iterable
from pathlib import Path

#: Packages every notebook needs (import name -> distribution name).
CORE_PACKAGES: dict[str, str] = {
    "torch": "torch",
    "transformers": "transformers",
    "tokenizers": "tokenizers",
    "datasets": "datasets",
    "safetensors": "safetensors",
    "gguf": "gguf",
    "numpy": "numpy",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "tqdm": "tqdm",
}

REQUIREMENTS_FILE = Path(__file__).resolve().parents[2] / "requirements.txt"


def pinned_versions(requirements: Path = REQUIREMENTS_FILE) -> dict[str, str]:
    """The exact pins of requirements.txt as {distribution: version}; empty if the file is not there."""
    if not requirements.is_file():
        return {}
    pins: dict[str, str] = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def package_report(packages: Iterable[str] | None = None) -> list[dict[str, str]]:
    """One row per distribution in `packages` (default: the core set): installed version, pin, status and fix.

    A version that differs from the pin is a warning, not an error: Colab keeps its own torch, for example.
    """
    pins = pinned_versions()
    rows = []
    for name in packages or CORE_PACKAGES.values():
        pin = pins.get(name.lower(), "")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            fix = f"pip install {name}=={pin}" if pin else f"pip install {name}"
            rows.append({"check": name, "found": "missing", "expected": pin, "status": "MISSING", "fix": fix})
            continue
        same = not pin or installed.split("+")[0] == pin.split("+")[0]
        rows.append(
            {
                "check": name,
                "found": installed,
                "expected": pin,
                "status": "ok" if same else "differs from pin (usually fine)",
                "fix": "" if same else "make setup (or: pip install -r requirements.txt)",
            }
        )
    return rows


def system_summary() -> dict[str, str]:
    """Python version, OS, CPU count and the device `get_device()` picks."""
    import os

    from .device import get_device  # lazy: the package report runs without importing torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu_cores": str(os.cpu_count()),
        "device": str(get_device()),
    }
