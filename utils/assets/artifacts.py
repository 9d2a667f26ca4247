"""Models the course trains from a recipe, kept in the course cache, one folder per recipe (notebooks 07-15).

A recipe is a frozen dataclass that holds everything deciding one trained model (data sizes, steps, learning rate,
seed, ...). Every trained model of the course is kept the same way:

* `artifact_dir(name, recipe)`: its folder, `cache_dir()/<name>-<digest>`, the digest a hash of the recipe's fields,
  so a model trained with other settings never answers for this one;
* `save_artifact(name, recipe, write, history)`: the files `write(folder)` puts there, plus `INFO_FILE` (the recipe,
  the training history and the library versions), written into a temporary folder that is renamed into place when
  finished (`atomic_directory`), so a half-written folder is never mistaken for a finished one;
* `artifact_info(name, recipe)`: what `INFO_FILE` says;
* `load_or_train(...)`: the finished folder read back, or the model trained (and saved) first when it is missing.

Each trainer keeps a few-line `load_x(recipe=X_RECIPE, *, train_if_missing=True, device=None, progress=True)` on
these: `load_pretrained_gpt`, `load_instruction_tuned`, `load_sentiment_classifier`, `load_token_tagger`,
`load_reward_model`, `load_ppo_policy`, `load_dpo_policy`. The folder of a fine-tuned transformers model (a
`save_pretrained` folder with the tokenizer) is written and read by `save_pretrained_artifact` and
`read_pretrained_artifact`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from ..course.arguments import require_type
from ..course.device import resolve_device
from .packages import installed_version

__all__ = [
    "CACHE_ENV",
    "INFO_FILE",
    "artifact_dir",
    "artifact_info",
    "atomic_directory",
    "cache_dir",
    "is_finished",
    "load_or_train",
    "read_pretrained_artifact",
    "save_artifact",
    "save_pretrained_artifact",
]

CACHE_ENV = "LLM_COURSE_CACHE"
INFO_FILE = "course_recipe.json"
LIBRARIES = ("torch", "transformers", "peft")  # the versions written into INFO_FILE
_STALE_TEMP_S = 3600  # a temp folder this old is left over from a killed run

T = TypeVar("T")


def cache_dir() -> Path:
    """Folder for converted and trained models: `$LLM_COURSE_CACHE`, else `$XDG_CACHE_HOME/llm-course`, else
    `~/.cache/llm-course`. The folder is not created here; the first model saved creates it."""
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "llm-course"


def artifact_dir(name: str, recipe: Any) -> Path:
    """The folder of the model `name` trained from `recipe` (a frozen recipe dataclass): `cache_dir()/<name>-<digest>`,
    the digest a hash of the recipe's class name and fields."""
    if not dataclasses.is_dataclass(recipe) or isinstance(recipe, type):
        raise TypeError(f"`recipe` must be a recipe dataclass instance, not {type(recipe).__name__}.")
    fields = json.dumps(dataclasses.asdict(recipe), sort_keys=True, default=str)
    digest = hashlib.sha256(f"{type(recipe).__name__}:{fields}".encode()).hexdigest()[:12]
    return cache_dir() / f"{name}-{digest}"


# ----------------------------------------------------------------------------------------------------------------
# Writing a folder in one move


def _remove_stale_temps(parent: Path, prefix: str) -> None:
    now = time.time()
    for path in parent.glob(f"{prefix}*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > _STALE_TEMP_S:
                shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: Path, *, is_valid: Callable[[Path], bool], replace: bool = True) -> Iterator[Path]:
    """Yield an empty temp folder next to `target`; when the body finishes, rename it to `target`.

    An existing `target` is replaced (with `replace=False`: only when `is_valid(target)` is False, i.e. an old or
    broken folder). If the body fails or is interrupted, the temp folder is deleted and `target` is untouched; if
    another process renamed its own valid folder into place first, that one is kept. Temp folders left by killed
    runs (older than an hour) are removed on the way.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.tmp-"
    _remove_stale_temps(target.parent, prefix)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the finished folder should look like any other
    try:
        yield tmp
        if target.exists() and (replace or not is_valid(target)):
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if not is_valid(target):  # another process finished first with a valid copy: keep theirs
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------------------------------------------
# The info file, saving and loading


def is_finished(folder: Path, files: Sequence[str] = (INFO_FILE,)) -> bool:
    """True when `folder` holds every file of `files` (by default the info file that `save_artifact` writes last)."""
    return all((folder / name).is_file() for name in files)


def _history_dict(history: Any) -> dict[str, Any]:
    if history is None:
        return {}
    return history.to_dict() if hasattr(history, "to_dict") else dict(history)


def save_artifact(name: str, recipe: Any, write: Callable[[Path], Any], history: Any = None) -> Path:
    """Save a model trained with `recipe` where `load_or_train(name, recipe, ...)` finds it: `write(folder)` puts
    its files into a temporary folder, `INFO_FILE` is added (the recipe, `history` as a dict, the versions of
    torch, transformers and peft), and the folder replaces `artifact_dir(name, recipe)` in one move. Returns it."""
    folder = artifact_dir(name, recipe)
    info = {
        "recipe": dataclasses.asdict(recipe),
        "history": _history_dict(history),
        "versions": {library: installed_version(library) for library in LIBRARIES},
    }
    with atomic_directory(folder, is_valid=is_finished) as tmp:
        write(tmp)
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
    return folder


def artifact_info(name: str, recipe: Any) -> dict[str, Any]:
    """What `save_artifact` stored beside the model: `{"recipe": ..., "history": ..., "versions": ...}` (folders
    written before the course recorded versions have no "versions"); FileNotFoundError when nothing is saved."""
    path = artifact_dir(name, recipe) / INFO_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No trained {name} for this recipe in {str(path.parent)!r} (no {INFO_FILE}).")
    return json.loads(path.read_text(encoding="utf-8"))


def load_or_train(
    name: str,
    recipe: Any,
    *,
    read: Callable[[Path], T],
    train: Callable[[], T],
    train_if_missing: bool,
    hint: str,
    files: Sequence[str] = (INFO_FILE,),
) -> T:
    """`read(folder)` of the finished folder `artifact_dir(name, recipe)` (one that holds every file of `files`).

    When it is missing or incomplete and `train_if_missing` is True, `train()` runs instead: it trains the model,
    saves it (`save_artifact`) and returns what `read` would. Otherwise FileNotFoundError names the folder and says
    what to do (`hint`, e.g. "run notebook 12"); a folder that exists but cannot be read (half-written, or written
    by an older version of the course) is reported with the advice to delete it.
    """
    require_type("train_if_missing", train_if_missing, bool)
    folder = artifact_dir(name, recipe)
    if not is_finished(folder, files):
        if train_if_missing:
            return train()
        if folder.exists():
            missing = [file for file in files if not (folder / file).is_file()]
            raise FileNotFoundError(
                f"The {name} folder {str(folder)!r} is incomplete (no {', '.join(missing)}): delete it, then {hint} "
                "or pass train_if_missing=True."
            )
        raise FileNotFoundError(
            f"No trained {name} for this recipe in {str(folder)!r}: {hint}, or pass train_if_missing=True."
        )
    try:
        return read(folder)
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise RuntimeError(
            f"The {name} folder {str(folder)!r} cannot be read ({err}); it was probably written by an older version "
            "of the course: delete it and load again (it is trained anew)."
        ) from err


# ----------------------------------------------------------------------------------------------------------------
# A fine-tuned transformers model


def save_pretrained_artifact(name: str, recipe: Any, model: nn.Module, tokenizer: Any, history: Any = None) -> Path:
    """`save_artifact` of a transformers model and its tokenizer (`save_pretrained` both)."""

    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return save_artifact(name, recipe, write, history)


def read_pretrained_artifact(
    folder: Path, model_class: Any, device: str | torch.device | None = None
) -> tuple[nn.Module, Any]:
    """`(model in eval mode on the device, tokenizer)` from a `save_pretrained_artifact` folder, the model read with
    `model_class.from_pretrained` (e.g. `AutoModelForSequenceClassification`)."""
    from transformers import AutoTokenizer  # heavy: imported when a model is read

    model = model_class.from_pretrained(folder, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model.to(resolve_device(device)).eval(), tokenizer
