"""Pretraining a language model: sliding-window dataset, learning-rate schedule, training loop, checkpoints,
and the course's small Austen GPT (`load_pretrained_gpt`), trained on the fly when it is not cached yet."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ._validation import require_range, require_type
from .gpt import GPT, GPTConfig
from .models import cache_dir
from .tokenization import BPETokenizer

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]

# The recipe shared by notebook 07 and `load_pretrained_gpt` (full mode).
AUSTEN_GPT_RECIPE: dict[str, Any] = {
    "vocab_size": 2048,
    "context_length": 128,
    "d_model": 128,
    "n_heads": 4,
    "n_layers": 4,
    "batch_size": 16,
    "stride": 64,
    "val_fraction": 0.1,
    "steps": 1200,
    "lr": 3e-3,
    "warmup_steps": 60,
    "weight_decay": 0.1,
    "seed": 0,
}
PRETRAINED_NAME = "austen-gpt"


class TokenWindowDataset(Dataset):
    """Windows of `context_length + 1` tokens taken every `stride` tokens from `ids`; item i is `(x, y)` with
    `y` the window shifted by one token (the next-token targets)."""

    def __init__(self, ids: Sequence[int] | torch.Tensor, context_length: int, stride: int | None = None) -> None:
        require_type("ids", ids, (list, tuple, torch.Tensor))
        require_type("context_length", context_length, int)
        require_range("context_length", context_length, low=1)
        stride = context_length if stride is None else stride
        require_type("stride", stride, int)
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


def lr_at(step: int, *, lr: float, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.1) -> float:
    """Learning rate at `step` (0-based): linear warm-up to `lr` over `warmup_steps`, then cosine decay to
    `min_lr_ratio * lr` at `total_steps`."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def next_token_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of `model(x)` logits `(batch, seq, vocab)` against the targets `y` `(batch, seq)`."""
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _device_of(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@torch.no_grad()
def evaluate_loss(
    model: nn.Module, loader: DataLoader, max_batches: int | None = None, *, loss_fn: LossFn = next_token_loss
) -> float:
    """Mean loss of `model` over the first `max_batches` batches of `loader` (all batches when None)."""
    require_type("model", model, nn.Module)
    if max_batches is not None:
        require_type("max_batches", max_batches, int)
        require_range("max_batches", max_batches, low=1)
    device = _device_of(model)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for index, (x, y) in enumerate(loader):
        if max_batches is not None and index >= max_batches:
            break
        total += loss_fn(model, x.to(device), y.to(device)).item()
        count += 1
    model.train(was_training)
    if count == 0:
        raise ValueError("`loader` yielded no batches.")
    return total / count


@dataclass
class TrainingHistory:
    """What `train_language_model` measured: per step the train loss and learning rate; at each evaluation the
    step and validation loss; throughput over the whole run."""

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    tokens_seen: int = 0
    seconds: float = 0.0
    tokens_per_second: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingHistory:
        return cls(**data)


def train_language_model(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None = None,
    *,
    steps: int,
    lr: float,
    warmup_steps: int = 0,
    weight_decay: float = 0.1,
    grad_clip: float | None = 1.0,
    eval_every: int = 100,
    eval_batches: int = 20,
    device: str | torch.device | None = None,
    progress: bool = True,
    loss_fn: LossFn = next_token_loss,
) -> TrainingHistory:
    """Train `model` for `steps` AdamW steps (linear warm-up, cosine decay, gradient clipping), cycling through
    `train_loader`. The validation loss is measured at step 0, every `eval_every` steps and at the end.
    `loss_fn(model, x, y)` defaults to next-token cross-entropy for any model whose forward returns logits."""
    require_type("model", model, nn.Module)
    require_type("train_loader", train_loader, DataLoader)
    if val_loader is not None:
        require_type("val_loader", val_loader, DataLoader)
    for name, value in (("steps", steps), ("eval_every", eval_every), ("eval_batches", eval_batches)):
        require_type(name, value, int)
        require_range(name, value, low=1)
    require_type("warmup_steps", warmup_steps, int)
    require_range("warmup_steps", warmup_steps, low=0, high=steps)
    require_type("lr", lr, (int, float))
    require_range("lr", lr, low=0.0, low_inclusive=False)
    require_type("weight_decay", weight_decay, (int, float))
    require_range("weight_decay", weight_decay, low=0.0)
    if grad_clip is not None:
        require_type("grad_clip", grad_clip, (int, float))
        require_range("grad_clip", grad_clip, low=0.0, low_inclusive=False)
    if len(train_loader) == 0:
        raise ValueError("`train_loader` yields no batches; use more data or a smaller batch size.")
    if device is not None:
        model.to(device)
    device = _device_of(model)

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))
    history = TrainingHistory()

    def validate(step: int) -> None:
        if val_loader is not None:
            history.val_step.append(step)
            history.val_loss.append(evaluate_loss(model, val_loader, eval_batches, loss_fn=loss_fn))

    from tqdm.auto import tqdm

    validate(0)
    model.train()
    batches = iter(train_loader)
    bar = tqdm(range(steps), desc="training", disable=not progress)
    elapsed = 0.0
    for step in bar:
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(train_loader)
            x, y = next(batches)
        start = time.perf_counter()
        current_lr = lr_at(step, lr=lr, warmup_steps=warmup_steps, total_steps=steps)
        for group in optimizer.param_groups:
            group["lr"] = current_lr
        x, y = x.to(device), y.to(device)
        loss = loss_fn(model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        elapsed += time.perf_counter() - start
        history.step.append(step + 1)
        history.train_loss.append(loss.item())
        history.lr.append(current_lr)
        history.tokens_seen += y.numel()
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            validate(step + 1)
        postfix = {"loss": f"{loss.item():.3f}"}
        if history.val_loss:
            postfix["val"] = f"{history.val_loss[-1]:.3f}"
        bar.set_postfix(postfix, refresh=False)
    model.eval()
    history.seconds = elapsed
    history.tokens_per_second = history.tokens_seen / max(elapsed, 1e-9)
    return history


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
    require_type("path", path, (str, os.PathLike))
    require_type("model", model, GPT)
    require_type("tokenizer", tokenizer, BPETokenizer)
    require_type("config", config, GPTConfig)
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
    require_type("path", path, (str, os.PathLike))
    folder = Path(path)
    missing = [n for n in ("model.pt", "tokenizer.json", "config.json") if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"`path` {str(folder)!r} is not a checkpoint (missing {', '.join(missing)}).")
    config = GPTConfig(**json.loads((folder / "config.json").read_text(encoding="utf-8")))
    model = GPT(config)
    model.load_state_dict(torch.load(folder / "model.pt", map_location="cpu", weights_only=True))
    model.eval()
    tokenizer = BPETokenizer.load(folder / "tokenizer.json")
    history_file = folder / "history.json"
    history = json.loads(history_file.read_text(encoding="utf-8")) if history_file.is_file() else {}
    return model, tokenizer, config, history


# ----------------------------------------------------------------------------------------------------------------
# The course's pretrained Austen GPT


def pretrained_gpt_dir() -> Path:
    """Where notebook 07 saves, and `load_pretrained_gpt` looks for, the course's Austen GPT."""
    return cache_dir() / PRETRAINED_NAME


def split_ids(ids: Sequence[int], val_fraction: float) -> tuple[list[int], list[int]]:
    """Split a token sequence into (train, validation): the last `val_fraction` of the tokens are validation."""
    require_type("val_fraction", val_fraction, float)
    require_range("val_fraction", val_fraction, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    cut = int(len(ids) * (1 - val_fraction))
    return list(ids[:cut]), list(ids[cut:])


def train_austen_gpt(recipe: dict[str, Any] | None = None, *, progress: bool = True):
    """Train the course's Austen GPT with `recipe` (default `AUSTEN_GPT_RECIPE`):
    returns `(model, tokenizer, config, history)`."""
    from .data import load_austen_text
    from .reproducibility import set_seed

    r = {**AUSTEN_GPT_RECIPE, **(recipe or {})}
    generator = set_seed(r["seed"])
    text = load_austen_text()
    tokenizer = BPETokenizer()
    tokenizer.train(text, r["vocab_size"], progress=progress)
    train_ids, val_ids = split_ids(tokenizer.encode(text), r["val_fraction"])
    train_set = TokenWindowDataset(train_ids, r["context_length"], r["stride"])
    val_set = TokenWindowDataset(val_ids, r["context_length"], r["context_length"])
    train_loader = DataLoader(train_set, batch_size=r["batch_size"], shuffle=True, drop_last=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=r["batch_size"])
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size,
        context_length=r["context_length"],
        d_model=r["d_model"],
        n_heads=r["n_heads"],
        n_layers=r["n_layers"],
    )
    model = GPT(config)
    history = train_language_model(
        model,
        train_loader,
        val_loader,
        steps=r["steps"],
        lr=r["lr"],
        warmup_steps=r["warmup_steps"],
        weight_decay=r["weight_decay"],
        eval_every=max(1, r["steps"] // 10),
        eval_batches=10,
        progress=progress,
    )
    return model, tokenizer, config, history


def load_pretrained_gpt(train_if_missing: bool = True, progress: bool = True) -> tuple[GPT, BPETokenizer]:
    """The course's small GPT trained on Jane Austen (notebook 07), from `cache_dir()/"austen-gpt"`.

    When it is not there and `train_if_missing` is True, it is trained now with notebook 07's recipe (about four
    minutes on a 2-core laptop CPU, with a progress bar) and saved there. Returns `(model in eval mode, tokenizer)`."""
    require_type("train_if_missing", train_if_missing, bool)
    require_type("progress", progress, bool)
    folder = pretrained_gpt_dir()
    if not (folder / "model.pt").is_file():
        if not train_if_missing:
            raise FileNotFoundError(
                f"No pretrained Austen GPT in {str(folder)!r}; run notebook 07 or call "
                "load_pretrained_gpt(train_if_missing=True)."
            )
        model, tokenizer, config, history = train_austen_gpt(progress=progress)
        save_checkpoint(folder, model, tokenizer, config, history)
    model, tokenizer, _, _ = load_checkpoint(folder)
    return model, tokenizer
