"""The one training loop of the course: AdamW, warm-up + cosine learning rate, gradient clipping, a progress bar and
a history of what was measured. Taught in notebook 07; pretraining, classification, instruction tuning and
preference training all call it with their own loss.

The contract is `loss_fn(model, batch) -> (loss, n_items)`: the mean loss over the batch, and how many items it
averaged (tokens for a language model, examples for a classifier), so throughput counts what is trained on and
evaluation can weight each batch by its size.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..course.arguments import require_choice, require_range, require_type
from ..course.device import device_of

LossFn = Callable[[nn.Module, Any], tuple[torch.Tensor, int]]


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in `batch` (a tensor, or a tuple / list / dict of them) to `device`."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(value, device) for value in batch)
    return batch


def lr_at(step: int, *, lr: float, warmup_steps: int, total_steps: int, min_lr_ratio: float = 0.1) -> float:
    """Learning rate at `step` (0-based): linear warm-up to `lr` over `warmup_steps`, then cosine decay to
    `min_lr_ratio * lr` at `total_steps`."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def require_training_recipe(
    recipe: Any,
    *,
    counts: Iterable[str] = (),
    positive: Iterable[str] = (),
    non_negative: Iterable[str] = (),
    fractions: Iterable[str] = (),
    choices: Mapping[str, Sequence[Any]] | None = None,
) -> None:
    """Check a training recipe (a dataclass) once, in its `__post_init__`, so the functions it is passed to need not.

    The fields it shares with `train_model`, where it has them: `steps` and `batch_size` ints >= 1, `warmup_steps` an
    int in [0, steps], `lr` > 0, `weight_decay` >= 0, `max_length` an int >= 2, `seed` an int >= 0; a field whose
    default is a tuple (e.g. `lora_targets`) must be a tuple. Then the fields named in `counts` (ints >= 1, e.g. data
    sizes), `positive` (numbers > 0), `non_negative` (numbers >= 0), `fractions` (numbers in [0, 1]) and `choices`
    (`{field: allowed values}`)."""
    fields = {f.name: f for f in dataclasses.fields(recipe)}
    values = {name: getattr(recipe, name) for name in fields}
    lowest = {"steps": 1, "batch_size": 1, **dict.fromkeys(counts, 1), "warmup_steps": 0, "max_length": 2, "seed": 0}
    for name, low in lowest.items():
        if name in values:
            require_type(name, values[name], int)
            require_range(name, values[name], low=low, high=values["steps"] if name == "warmup_steps" else None)
    ranges = {"lr": (False, None), "weight_decay": (True, None)} | dict.fromkeys(positive, (False, None))
    ranges |= dict.fromkeys(non_negative, (True, None)) | dict.fromkeys(fractions, (True, 1.0))
    for name, (zero_allowed, high) in ranges.items():
        if name in values:
            require_type(name, values[name], (int, float))
            require_range(name, values[name], low=0.0, low_inclusive=zero_allowed, high=high)
    for name, allowed in (choices or {}).items():
        require_choice(name, values[name], allowed)
    for name, f in fields.items():
        if isinstance(f.default, tuple):
            require_type(name, values[name], tuple)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Any], loss_fn: LossFn, max_batches: int | None = None) -> float:
    """Mean loss per item of `model` over the first `max_batches` batches (all when None), in eval mode (the mode
    is restored afterwards)."""
    device = device_of(model)
    was_training = model.training
    model.eval()
    total, items = 0.0, 0
    for index, batch in enumerate(batches):
        if max_batches is not None and index >= max_batches:
            break
        loss, n_items = loss_fn(model, to_device(batch, device))
        total += loss.item() * n_items
        items += n_items
    model.train(was_training)
    if items == 0:
        raise ValueError("`batches` yielded no items.")
    return total / items


@dataclass
class TrainingHistory:
    """What `train_model` measured: per step the train loss and learning rate; at each evaluation the step and
    validation loss; the items trained on (tokens, examples) and the training time, evaluations excluded."""

    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    items_seen: int = 0
    seconds: float = 0.0

    @property
    def items_per_second(self) -> float:
        return self.items_seen / max(self.seconds, 1e-9)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "items_per_second": self.items_per_second}


def train_model(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None = None,
    *,
    loss_fn: LossFn,
    steps: int,
    lr: float,
    warmup_steps: int = 0,
    weight_decay: float = 0.1,
    grad_clip: float | None = 1.0,
    eval_every: int = 100,
    eval_batches: int = 20,
    device: str | torch.device | None = None,
    progress: bool = True,
    on_validate: Callable[[int, nn.Module], None] | None = None,
) -> TrainingHistory:
    """Train `model` for `steps` AdamW steps (linear warm-up, cosine decay, gradient clipping), cycling through
    `train_loader`; `loss_fn(model, batch) -> (mean loss, n_items)`. Only parameters with `requires_grad` are
    trained; weight decay skips biases and norms (1-D parameters). The validation loss (`evaluate`, at most
    `eval_batches` batches) is measured at step 0, every `eval_every` steps and at the end; at each of those
    points `on_validate(step, model)` runs too, if given (in eval mode, without gradients: e.g. a probe of another
    skill, for a curve over training)."""
    if not callable(loss_fn):
        raise TypeError(
            f"`loss_fn` must be a function (model, batch) -> (loss, n_items), not {type(loss_fn).__name__}."
        )
    if on_validate is not None and not callable(on_validate):
        raise TypeError(f"`on_validate` must be a function (step, model) -> None, not {type(on_validate).__name__}.")
    for name, value in (("steps", steps), ("eval_every", eval_every), ("eval_batches", eval_batches)):
        require_range(name, value, low=1)
    require_range("warmup_steps", warmup_steps, low=0, high=steps)
    if len(train_loader) == 0:
        raise ValueError("`train_loader` yields no batches; use more data or a smaller batch size.")
    if device is not None:
        model.to(device)
    device = device_of(model)

    trained = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in trained if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in trained if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))
    history = TrainingHistory()

    def validate(step: int) -> None:
        if val_loader is not None:
            history.val_step.append(step)
            history.val_loss.append(evaluate(model, val_loader, loss_fn, eval_batches))
        if on_validate is not None:
            was_training = model.training
            model.eval()
            with torch.no_grad():
                on_validate(step, model)
            model.train(was_training)

    validate(0)
    model.train()
    batches = iter(train_loader)
    bar = tqdm(range(steps), desc="training", disable=not progress)
    for step in bar:
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(train_loader)
            batch = next(batches)
        start = time.perf_counter()
        current_lr = lr_at(step, lr=lr, warmup_steps=warmup_steps, total_steps=steps)
        for group in optimizer.param_groups:
            group["lr"] = current_lr
        loss, n_items = loss_fn(model, to_device(batch, device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(trained, grad_clip)
        optimizer.step()
        history.seconds += time.perf_counter() - start
        history.step.append(step + 1)
        history.train_loss.append(loss.item())
        history.lr.append(current_lr)
        history.items_seen += n_items
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            validate(step + 1)
        postfix = {"loss": f"{history.train_loss[-1]:.3f}"}
        if history.val_loss:
            postfix["val"] = f"{history.val_loss[-1]:.3f}"
        bar.set_postfix(postfix, refresh=False)
    model.eval()
    return history


def train_with_recipe(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    loss_fn: LossFn,
    recipe: Any,
    *,
    eval_every: int,
    eval_batches: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    on_validate: Callable[[int, nn.Module], None] | None = None,
) -> TrainingHistory:
    """`train_model` with the schedule a recipe dataclass holds (`steps`, `lr`, `warmup_steps` capped at `steps`,
    `weight_decay`; see `require_training_recipe`), scoring `eval_batches` validation batches (None: all of them)
    every `eval_every` steps; `val_loader` may be None (no validation)."""
    if eval_batches is None:
        eval_batches = len(val_loader) if val_loader is not None else 1
    return train_model(
        model,
        train_loader,
        val_loader,
        loss_fn=loss_fn,
        steps=recipe.steps,
        lr=recipe.lr,
        warmup_steps=min(recipe.warmup_steps, recipe.steps),
        weight_decay=recipe.weight_decay,
        eval_every=eval_every,
        eval_batches=eval_batches,
        device=device,
        progress=progress,
        on_validate=on_validate,
    )
