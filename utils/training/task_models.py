"""A fine-tuned transformers model kept in the course cache, one folder per recipe (notebook 15).

`save_task_model` writes the model, its tokenizer, the recipe and the training history with `save_pretrained`;
`task_model_info` reads the recipe and history back; `load_or_train_task_model` reloads such a folder and trains
and saves the model first when it is missing (the sentiment classifier and the name tagger both load this way).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..course.arguments import require_type
from .loop import TrainingHistory

__all__ = ["INFO_FILE", "load_or_train_task_model", "save_task_model", "task_model_info"]

INFO_FILE = "course_recipe.json"


def save_task_model(
    model: nn.Module, tokenizer: Any, folder: Path, recipe: Any, history: TrainingHistory | None = None
) -> Path:
    """`save_pretrained` the model and tokenizer into `folder` with the recipe and history (`INFO_FILE`); written
    into a temporary folder first and moved into place, so a half-written folder is never found."""
    require_type("folder", folder, Path)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".tmp-", dir=folder.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        info = {"recipe": asdict(recipe), "history": history.to_dict() if history is not None else {}}
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def task_model_info(folder: Path) -> dict[str, Any]:
    """What `save_task_model` stored next to the weights: `{"recipe": ..., "history": ...}`."""
    require_type("folder", folder, Path)
    if not (folder / INFO_FILE).is_file():
        raise FileNotFoundError(f"No trained model in {str(folder)!r} (its {INFO_FILE} is missing).")
    return json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))


def load_or_train_task_model(
    folder: Path,
    model_class: Any,
    train: Callable[[], tuple[nn.Module, Any, TrainingHistory]],
    recipe: Any,
    *,
    train_if_missing: bool,
    missing_hint: str,
    device: str | torch.device | None = None,
) -> tuple[nn.Module, Any]:
    """`(model in eval mode on the device, tokenizer)` reloaded from `folder` with `model_class.from_pretrained`.
    When the folder holds no trained model, `train()` runs and its result is saved first if `train_if_missing`;
    otherwise FileNotFoundError says what to do (`missing_hint`)."""
    from transformers import AutoTokenizer

    from ..course.device import resolve_device

    require_type("folder", folder, Path)
    require_type("train_if_missing", train_if_missing, bool)
    if not (folder / INFO_FILE).is_file():
        if not train_if_missing:
            raise FileNotFoundError(f"No trained model for this recipe in {str(folder)!r}: {missing_hint}")
        model, tokenizer, history = train()
        save_task_model(model, tokenizer, folder, recipe, history)
    model = model_class.from_pretrained(folder, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model.to(resolve_device(device)).eval(), tokenizer
