"""Pretraining a language model: sliding token windows, the next-token loss, checkpoints, and the course's small
Austen GPT (`load_pretrained_gpt`), trained on the fly from its recipe when it is not cached yet
(`AUSTEN_GPT_RECIPE` in full mode, `AUSTEN_GPT_RECIPE.smoke()` for the few-second smoke runs).
Taught in notebook 07; the loop itself is `utils.training.loop`."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..assets.artifacts import artifact_dir, load_or_train, save_artifact
from ..assets.datasets import load_austen_text
from ..course.arguments import require_range, require_type
from ..course.device import resolve_device
from ..course.seeding import set_seed
from ..transformer.gpt import GPT, GPTConfig
from ..transformer.tokenizer import BPETokenizer
from .loop import TrainingHistory, require_training_recipe, train_with_recipe


@dataclass(frozen=True)
class AustenGPTRecipe:
    """Everything that decides the course's Austen GPT: notebook 07 reads its full-mode parameters from here, and
    `load_pretrained_gpt` trains with it when the model is not cached."""

    vocab_size: int = 2048
    context_length: int = 128
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    batch_size: int = 16
    stride: int = 64
    val_fraction: float = 0.1
    steps: int = 1200
    lr: float = 3e-3
    warmup_steps: int = 60
    weight_decay: float = 0.1
    seed: int = 0
    max_chars: int | None = None  # None = the whole corpus; else its first characters only

    def __post_init__(self) -> None:
        require_training_recipe(
            self,
            counts=("vocab_size", "context_length", "d_model", "n_heads", "n_layers", "stride"),
            positive=("val_fraction",),
        )
        require_range("val_fraction", self.val_fraction, high=1.0, high_inclusive=False)

    def smoke(self) -> AustenGPTRecipe:
        """The tiny model notebook 07 trains in smoke mode, which later notebooks load in smoke mode (seconds)."""
        return replace(
            self,
            vocab_size=512,
            context_length=64,
            d_model=64,
            n_layers=2,
            batch_size=8,
            stride=64,
            steps=25,
            warmup_steps=5,
            max_chars=200_000,
        )


AUSTEN_GPT_RECIPE = AustenGPTRecipe()
PRETRAINED_NAME = "austen-gpt"
CHECKPOINT_FILES = ("model.pt", "tokenizer.json", "config.json")


class TokenWindowDataset(Dataset):
    """Windows of `context_length + 1` tokens taken every `stride` tokens from `ids`; item i is `(x, y)` with
    `y` the window shifted by one token (the next-token targets)."""

    def __init__(self, ids: Sequence[int] | torch.Tensor, context_length: int, stride: int | None = None) -> None:
        stride = context_length if stride is None else stride
        require_range("context_length", context_length, low=1)
        require_range("stride", stride, low=1)
        tensor = (
            ids.detach().to("cpu", torch.long) if isinstance(ids, torch.Tensor) else torch.tensor(ids, dtype=torch.long)
        )
        if tensor.ndim != 1:
            raise ValueError(f"`ids` must be one flat sequence of token ids, got shape {tuple(tensor.shape)}.")
        if len(tensor) < context_length + 1:
            raise ValueError(
                f"`ids` must hold at least context_length + 1 = {context_length + 1} tokens, got {len(tensor)}."
            )
        self.ids, self.context_length, self.stride = tensor, context_length, stride

    def __len__(self) -> int:
        return (len(self.ids) - self.context_length - 1) // self.stride + 1

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"`index` must be in [0, {len(self)}), got {index}.")
        start = (index % len(self)) * self.stride
        window = self.ids[start : start + self.context_length + 1]
        return window[:-1], window[1:]


def next_token_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy of the model's logits for inputs `x` `(batch, seq)` against the next tokens `y`, and the
    number of predicted tokens: the `loss_fn` of `train_model` for a language model."""
    x, y = batch
    logits = model(input_ids=x).logits
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)), y.numel()


# ----------------------------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(
    path: str | os.PathLike[str],
    model: GPT,
    tokenizer: BPETokenizer,
    config: GPTConfig,
    history: TrainingHistory | dict[str, Any] | None = None,
) -> Path:
    """Write a folder with `model.pt` (weights), `tokenizer.json`, `config.json` and `history.json`."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, folder / "model.pt")
    tokenizer.save(folder / "tokenizer.json")
    (folder / "config.json").write_text(json.dumps(asdict(config), indent=2), encoding="utf-8")
    if isinstance(history, TrainingHistory):
        history = history.to_dict()
    (folder / "history.json").write_text(json.dumps(history or {}), encoding="utf-8")
    return folder


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[GPT, BPETokenizer, GPTConfig, dict[str, Any]]:
    """Read a folder written by `save_checkpoint`: `(model in eval mode on the CPU, tokenizer, config, history)`."""
    folder = Path(path)
    missing = [n for n in CHECKPOINT_FILES if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"`path` {str(folder)!r} is not a checkpoint (missing {', '.join(missing)}).")
    config = GPTConfig(**json.loads((folder / "config.json").read_text(encoding="utf-8")))
    model = GPT(config)
    try:
        model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu", weights_only=True))
    except RuntimeError as err:
        raise ValueError(
            f"`path` {str(folder)!r} holds weights that do not fit today's `utils.transformer.gpt.GPT` (written by "
            "an older version of the course?): delete the folder and save the model again."
        ) from err
    model.eval()
    tokenizer = BPETokenizer.load(folder / "tokenizer.json")
    history_file = folder / "history.json"
    history = json.loads(history_file.read_text(encoding="utf-8")) if history_file.is_file() else {}
    return model, tokenizer, config, history


# ----------------------------------------------------------------------------------------------------------------
# The course's pretrained Austen GPT


def pretrained_gpt_dir(recipe: AustenGPTRecipe = AUSTEN_GPT_RECIPE) -> Path:
    """Where notebook 07 saves, and `load_pretrained_gpt` looks for, the Austen GPT trained with `recipe`
    (one folder per recipe in the course cache)."""
    return artifact_dir(PRETRAINED_NAME, recipe)


def split_ids(ids: Sequence[int], val_fraction: float) -> tuple[list[int], list[int]]:
    """Split a token sequence into (train, validation): the last `val_fraction` of the tokens are validation."""
    require_range("val_fraction", val_fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    cut = int(len(ids) * (1 - val_fraction))
    return list(ids[:cut]), list(ids[cut:])


def train_austen_gpt(
    recipe: AustenGPTRecipe = AUSTEN_GPT_RECIPE, *, progress: bool = True
) -> tuple[GPT, BPETokenizer, GPTConfig, TrainingHistory]:
    """Train the course's Austen GPT with `recipe` (the same steps as notebook 07):
    returns `(model, tokenizer, config, history)`."""
    require_type("recipe", recipe, AustenGPTRecipe)
    r = recipe
    generator = set_seed(r.seed)
    text = load_austen_text()
    if r.max_chars is not None:
        text = text[: r.max_chars]
    tokenizer = BPETokenizer()
    tokenizer.train(text, r.vocab_size, progress=progress)
    train_ids, val_ids = split_ids(tokenizer.encode(text), r.val_fraction)
    train_set = TokenWindowDataset(train_ids, r.context_length, r.stride)
    val_set = TokenWindowDataset(val_ids, r.context_length, r.context_length)
    train_loader = DataLoader(train_set, batch_size=r.batch_size, shuffle=True, drop_last=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=r.batch_size)
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size,
        context_length=r.context_length,
        d_model=r.d_model,
        n_heads=r.n_heads,
        n_layers=r.n_layers,
    )
    model = GPT(config)
    every = max(1, r.steps // 10)
    history = train_with_recipe(
        model, train_loader, val_loader, next_token_loss, r, eval_every=every, eval_batches=10, progress=progress
    )
    return model, tokenizer, config, history


def load_pretrained_gpt(
    recipe: AustenGPTRecipe = AUSTEN_GPT_RECIPE,
    *,
    train_if_missing: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[GPT, BPETokenizer]:
    """The course's small GPT trained on Jane Austen with `recipe` (notebook 07), from `pretrained_gpt_dir(recipe)`:
    `(model in eval mode on `device`, tokenizer)`.

    When it is not there and `train_if_missing` is True, it is trained now (`AUSTEN_GPT_RECIPE`: about four minutes
    on a 2-core laptop CPU, with a progress bar; `AUSTEN_GPT_RECIPE.smoke()`: seconds) and saved there."""

    def read(folder: Path) -> tuple[GPT, BPETokenizer]:
        model, tokenizer, _, _ = load_checkpoint(folder)
        return model.to(resolve_device(device)), tokenizer

    def train() -> tuple[GPT, BPETokenizer]:
        model, tokenizer, config, history = train_austen_gpt(recipe, progress=progress)
        write = functools.partial(save_checkpoint, model=model, tokenizer=tokenizer, config=config, history=history)
        return read(save_artifact(PRETRAINED_NAME, recipe, write, history))

    return load_or_train(
        PRETRAINED_NAME,
        recipe,
        read=read,
        train=train,
        train_if_missing=train_if_missing,
        hint="run notebook 07",
        files=CHECKPOINT_FILES,
    )
