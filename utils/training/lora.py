"""LoRA (low-rank adaptation) from scratch: a frozen `nn.Linear` plus a trainable low-rank update, injected into any
model by module name, merged back into plain weights, saved as a small adapter and switched on one base model.
Taught in notebook 10; notebook 09's `method="lora"` recipe and the preference notebooks (12-14) use it.

A LoRA layer computes `base(x) + (alpha / r) * (x @ A.T) @ B.T`: `A` is `r x in_features` (random, as
`nn.Linear` initialises its weight), `B` is `out_features x r` (zeros), so a freshly injected layer changes
nothing, and only `r * (in_features + out_features)` numbers per layer are trained. The layout, initialisation and
scaling are those of Hugging Face `peft` (`lora_A.weight` = `A`, `lora_B.weight` = `B`, no dropout), so with the same
weights both give the same outputs.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from ..course.arguments import require_range

__all__ = [
    "LoRALinear",
    "add_lora",
    "disable_lora",
    "linear_names",
    "load_lora",
    "load_lora_state_dict",
    "lora_layers",
    "lora_state_dict",
    "merge_lora",
    "remove_lora",
    "reset_lora",
    "save_lora",
]


def _check_rank_and_alpha(r: int, alpha: float) -> None:
    require_range("r", r, low=1)
    require_range("alpha", alpha, low=0.0, low_inclusive=False)


class LoRALinear(nn.Module):
    """A frozen linear layer plus a trainable low-rank update: `base(x) + (alpha / r) * (x @ A.T) @ B.T`.
    Taught in notebook 10.

    base: the `nn.Linear` to adapt (its parameters are frozen here). r: the rank of the update (>= 1, at most
    min(in, out) to save anything). alpha: the scale numerator; the update is multiplied by `alpha / r`, so changing
    `r` does not change how large the update starts out.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float) -> None:
        super().__init__()
        _check_rank_and_alpha(r, alpha)
        self.base = base.requires_grad_(False)
        self.r = r
        self.alpha = float(alpha)
        self.scaling = self.alpha / r
        self.enabled = True  # False: the layer returns base(x) only (see `disable_lora`)
        weight = base.weight
        self.A = nn.Parameter(torch.empty(r, base.in_features, device=weight.device, dtype=weight.dtype))
        self.B = nn.Parameter(torch.empty(base.out_features, r, device=weight.device, dtype=weight.dtype))
        self.reset_parameters()

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def reset_parameters(self) -> None:
        """A random like an `nn.Linear` weight (Kaiming-uniform, a = sqrt(5)), B = 0: the update starts at zero."""
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        nn.init.zeros_(self.B)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if not self.enabled:
            return out
        return out + self.scaling * (x.to(self.A.dtype) @ self.A.T) @ self.B.T

    def delta_weight(self) -> torch.Tensor:
        """The update as a full matrix, `(alpha / r) * B @ A` (`out_features x in_features`), of rank <= r."""
        return self.scaling * self.B @ self.A

    @torch.no_grad()
    def merged(self) -> nn.Linear:
        """A plain `nn.Linear` computing the same function: weight `W + (alpha / r) B @ A`, the base's bias."""
        base = self.base
        layer = nn.Linear(
            base.in_features,
            base.out_features,
            bias=base.bias is not None,
            device=base.weight.device,
            dtype=base.weight.dtype,
        )
        layer.weight.copy_(base.weight + self.delta_weight().to(base.weight.dtype))
        if base.bias is not None:
            layer.bias.copy_(base.bias)
        return layer.requires_grad_(base.weight.requires_grad)

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, scaling={self.scaling:g}, enabled={self.enabled}"


def _matches(name: str, targets: Sequence[str]) -> bool:
    """`name` is a target, or ends with `.target` (peft's rule: "q_proj" matches "model.layers.0.self_attn.q_proj")."""
    return any(name == target or name.endswith("." + target) for target in targets)


def linear_names(model: nn.Module) -> list[str]:
    """Qualified names of every linear layer of `model`: each `nn.Linear`, and each `LoRALinear` under its own name
    (not its frozen `.base`)."""
    inside_lora = {f"{name}.base" for name, module in model.named_modules() if isinstance(module, LoRALinear)}
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear | LoRALinear) and name not in inside_lora
    ]


def _short_names(names: Sequence[str]) -> list[str]:
    """The distinct last parts of `names` ("q_proj", "lm_head", ...), in first-seen order."""
    return list(dict.fromkeys(name.rsplit(".", 1)[-1] for name in names))


def add_lora(model: nn.Module, *, r: int, alpha: float, target_modules: Sequence[str]) -> list[str]:
    """Freeze every parameter of `model`, then replace each `nn.Linear` whose qualified name ends with one of
    `target_modules` (e.g. `["q_proj", "v_proj"]`) by a `LoRALinear` of rank `r` and scale `alpha / r`, in place.
    Returns the replaced names. Taught in notebook 10."""
    _check_rank_and_alpha(r, alpha)
    if isinstance(target_modules, str):
        raise TypeError(f"`target_modules` must be a list of module names, e.g. [{target_modules!r}], not a string.")
    if lora_layers(model):
        raise ValueError("`model` already has LoRA layers: merge them (`merge_lora`) or start from a fresh model.")
    available = linear_names(model)  # no LoRA layer among them (checked above)
    chosen = [name for name in available if _matches(name, target_modules)]
    if not chosen:
        raise ValueError(
            f"`target_modules` {list(target_modules)} matches no nn.Linear of the model; "
            f"its Linear layers are named {_short_names(available)}."
        )
    model.requires_grad_(False)
    for name in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(getattr(parent, child), r, alpha))
    return chosen


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """Every `LoRALinear` of `model`, by qualified name."""
    return {name: module for name, module in model.named_modules() if isinstance(module, LoRALinear)}


def _require_lora(model: nn.Module) -> dict[str, LoRALinear]:
    layers = lora_layers(model)
    if not layers:
        raise ValueError("`model` has no LoRA layers: call `add_lora(model, r=..., alpha=..., target_modules=...)`.")
    return layers


@torch.no_grad()
def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every `LoRALinear` of `model` by its merged `nn.Linear` (W + (alpha / r) B A), in place; returns
    `model`, now a plain model with the same outputs and no extra cost at inference. Taught in notebook 10."""
    for name, layer in _require_lora(model).items():
        parent_name, _, child = name.rpartition(".")
        merged = layer.merged()
        if not layer.enabled:  # a disabled adapter contributes nothing: keep the base weights
            merged.weight.copy_(layer.base.weight)
        setattr(model.get_submodule(parent_name), child, merged)
    return model


def remove_lora(model: nn.Module) -> nn.Module:
    """Put every `LoRALinear`'s frozen base layer back in its place, in place, dropping the adapters (peft's
    `unload`); returns `model`, the original model again (its parameters stay frozen)."""
    for name, layer in _require_lora(model).items():
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, layer.base)
    return model


@torch.no_grad()
def reset_lora(model: nn.Module) -> None:
    """Start every adapter of `model` afresh (A random, B = 0): the model computes its base output again."""
    for layer in _require_lora(model).values():
        layer.reset_parameters()


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter alone: a copy of every `A` and `B`, keyed `"<layer name>.A"` / `"<layer name>.B"`. The base
    weights are not in it, so it is a small fraction of the model's size."""
    state = {}
    for name, layer in _require_lora(model).items():
        state[f"{name}.A"] = layer.A.detach().clone()
        state[f"{name}.B"] = layer.B.detach().clone()
    return state


@torch.no_grad()
def load_lora_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Put an adapter saved with `lora_state_dict` into `model`'s LoRA layers (in place): switching adapters on
    one base model. The keys and shapes must match the model's layers exactly."""
    layers = _require_lora(model)
    expected = {f"{name}.{part}" for name in layers for part in ("A", "B")}
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(
            f"`state` does not fit the model's LoRA layers: missing {missing[:4]}{' ...' if len(missing) > 4 else ''}, "
            f"unexpected {unexpected[:4]}{' ...' if len(unexpected) > 4 else ''}."
        )
    for name, layer in layers.items():
        for part in ("A", "B"):
            target, value = getattr(layer, part), state[f"{name}.{part}"]
            if value.shape != target.shape:
                raise ValueError(
                    f"`state[{name + '.' + part!r}]` has shape {tuple(value.shape)}, the layer needs "
                    f"{tuple(target.shape)} (was the adapter trained with another rank?)."
                )
            target.copy_(value)


def save_lora(model: nn.Module, path: str | Path) -> Path:
    """Write the adapter of `model` (`lora_state_dict`) to a safetensors file; returns its path."""
    from safetensors.torch import save_file  # imported when an adapter is saved

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: value.contiguous() for key, value in lora_state_dict(model).items()}, str(path))
    return path


def load_lora(model: nn.Module, path: str | Path) -> None:
    """Read an adapter written by `save_lora` into `model`'s LoRA layers (see `load_lora_state_dict`)."""
    from safetensors.torch import load_file  # imported when an adapter is read

    if not Path(path).is_file():
        raise FileNotFoundError(f"`path` {str(path)!r} is not a file; write one with save_lora(model, path).")
    load_lora_state_dict(model, load_file(str(path)))


@contextlib.contextmanager
def disable_lora(model: nn.Module) -> Iterator[nn.Module]:
    """Inside `with disable_lora(model):` every LoRA layer returns its base output, so `model` is the frozen base
    model (e.g. the reference model of DPO); the adapters come back on exit."""
    layers = _require_lora(model)
    before = {name: layer.enabled for name, layer in layers.items()}
    for layer in layers.values():
        layer.enabled = False
    try:
        yield model
    finally:
        for name, layer in layers.items():
            layer.enabled = before[name]
