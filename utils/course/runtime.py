"""Run-time switches and result recording shared by notebooks, their tests and `scripts/run_notebooks.py`.
Used by every notebook (the template shows how).

* `smoke_mode()` is true when the environment variable `LLM_COURSE_SMOKE` is set to 1/true/yes.
  Tests set it so each notebook shrinks its size knobs and runs in under a minute.
* `by_mode(full, smoke)` picks the value for the current mode, for the `parameters` cell.
* `record(name, value)` stores a result a notebook claims (a loss, an accuracy, a time) in the
  executed notebook itself, under a custom MIME type, so tests can read it back with
  `read_records(notebook_path)` and assert it loosely.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, TypeVar

from .arguments import require_type

SMOKE_ENV = "LLM_COURSE_SMOKE"
RECORD_MIME = "application/vnd.llm-course.record+json"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


def smoke_mode() -> bool:
    """True when `LLM_COURSE_SMOKE` asks for the tiny, fast version of every notebook."""
    raw = os.environ.get(SMOKE_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"Environment variable {SMOKE_ENV} must be one of 1/0/true/false/yes/no, got {raw!r}.")


def by_mode(full: T, smoke: T) -> T:
    """Return `smoke` in smoke mode and `full` otherwise (both must have the same type)."""
    if type(full) is not type(smoke):
        raise TypeError(
            f"`full` and `smoke` must have the same type, got {type(full).__name__} and {type(smoke).__name__}."
        )
    return smoke if smoke_mode() else full


def plain_json(value: Any) -> Any:
    """Convert numbers from numpy/torch and nested containers to plain JSON types."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"`value` must be a finite number, got {value!r}.")
        return value
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    raise TypeError(
        f"`value` must be a number, string, bool, None, or a list/dict of those, got {type(value).__name__}."
    )


def record(name: str, value: Any) -> None:
    """Record a result under `name` in the notebook's output (as plain JSON data, see `plain_json`).

    The cell shows `name = value` once; the machine-readable copy sits beside it in the cell output, where
    `read_records` (and the tests) find it. It returns nothing, so a cell ending in `record(...)` shows no second
    `Out[n]:` copy. Outside a notebook nothing is displayed.
    """
    require_type("name", name, str)
    if not name.isidentifier():
        raise ValueError(f"`name` must be a valid Python identifier (e.g. 'val_loss'), got {name!r}.")
    clean = plain_json(value)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is always installed with the course
        return
    if get_ipython() is not None:
        shown = f"{clean:.4g}" if isinstance(clean, float) else repr(clean)
        display({"text/plain": f"{name} = {shown}", RECORD_MIME: {"name": name, "value": clean}}, raw=True)


def read_records(notebook: str | os.PathLike[str]) -> dict[str, Any]:
    """Read every value that `record` stored in an executed notebook file."""
    path = Path(notebook)
    if not path.is_file():
        raise FileNotFoundError(f"`notebook` {str(path)!r} does not exist; execute it first (e.g. with papermill).")
    nb = json.loads(path.read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            payload = out.get("data", {}).get(RECORD_MIME)
            if payload is not None:
                found[payload["name"]] = payload["value"]
    return found
