"""Weight-only quantisation from scratch: symmetric per-output-channel int8, group-wise int4. Taught in notebook 17.

A weight row `w` (one output channel) is stored as small integers `q = round(w / s)` with one float scale
`s = max|w| / q_max` per row (int8: q_max = 127) or per group of `group_size` consecutive weights of a row (int4:
q_max = 7; two int4 values are packed into one byte). `QuantizedLinear` keeps only `q` and the scales and
dequantises on the fly, `w ~ q * s`, in its forward: the memory shrinks 4x (int8) or about 7x (int4), the
activations stay in float, which is why weight-only quantisation keeps a model's quality where the dynamic
quantisation of activations (`activation_absmax` shows the outlier channels) does not.

`tests/test_inference_quantization.py` checks the int8 codes against `torch.quantize_per_channel` with the same
scales and the dequantised layers against torchao's `Int8WeightOnlyConfig`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..course.arguments import require_choice, require_range

__all__ = [
    "QuantizedLinear",
    "activation_absmax",
    "dequantize_weight",
    "model_size_bytes",
    "quantize_linears",
    "quantize_weight",
]

Q_MAX = {8: 127, 4: 7}


def _groups(weight: torch.Tensor, group_size: int | None) -> torch.Tensor:
    """`(out, in)` -> `(out, n_groups, group)`: one scale per group (a whole row when group_size is None)."""
    out_features, in_features = weight.shape
    size = in_features if group_size is None else group_size
    if in_features % size:
        raise ValueError(f"`group_size` must divide the input width {in_features}, got {group_size}.")
    return weight.reshape(out_features, in_features // size, size)


def quantize_weight(
    weight: torch.Tensor, bits: int = 8, group_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric quantisation of a `(out, in)` weight: `(codes int8 (out, in), scales float (out, n_groups))`,
    codes in [-q_max, q_max] (q_max = 127 for 8 bits, 7 for 4), scale = max |w| / q_max per row or per group."""
    require_choice("bits", bits, sorted(Q_MAX))
    if group_size is not None:
        require_range("group_size", group_size, low=1)
    grouped = _groups(weight.detach().float(), group_size)
    scales = grouped.abs().amax(dim=-1, keepdim=True).clamp(min=1e-12) / Q_MAX[bits]
    codes = torch.round(grouped / scales).clamp(-Q_MAX[bits], Q_MAX[bits]).to(torch.int8)
    return codes.reshape(weight.shape), scales.squeeze(-1)


def dequantize_weight(codes: torch.Tensor, scales: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """codes * scale, group by group: the float weight that `quantize_weight`'s output stands for."""
    grouped = codes.reshape(codes.shape[0], scales.shape[1], -1).to(dtype)
    return (grouped * scales.to(dtype)[..., None]).reshape(codes.shape)


def _pack_int4(codes: torch.Tensor) -> torch.Tensor:
    """Two 4-bit codes in [-8, 7] per byte: `(out, in)` int8 -> `(out, in / 2)` uint8."""
    nibbles = (codes.to(torch.int16) & 0xF).to(torch.uint8)
    return nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)


def _unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    both = torch.stack([packed & 0xF, packed >> 4], dim=-1).reshape(packed.shape[0], -1).to(torch.int8)
    return (both ^ 8) - 8  # 4-bit two's complement back to signed: 0..7 stay, 8..15 become -8..-1


class QuantizedLinear(nn.Module):
    """A `nn.Linear` whose weight is stored as int8 codes (or packed int4) and float scales, dequantised in every
    forward; the bias (if any) stays float. Build it with `QuantizedLinear.from_linear(linear, bits, group_size)`."""

    def __init__(
        self, codes: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None, bits: int, in_features: int
    ) -> None:
        super().__init__()
        self.bits, self.in_features, self.out_features = bits, in_features, codes.shape[0]
        self.register_buffer("codes", _pack_int4(codes) if bits == 4 else codes)
        self.register_buffer("scales", scales)
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)

    @classmethod
    @torch.no_grad()
    def from_linear(cls, linear: nn.Linear, bits: int = 8, group_size: int | None = None) -> QuantizedLinear:
        """Quantise `linear`'s weight (see `quantize_weight`); 4 bits need an even input width."""
        if bits == 4 and linear.in_features % 2:
            raise ValueError(f"4-bit packing needs an even input width, `linear` has {linear.in_features}.")
        codes, scales = quantize_weight(linear.weight, bits, group_size)
        return cls(codes, scales.to(linear.weight.dtype), linear.bias, bits, linear.in_features)

    def weight(self) -> torch.Tensor:
        """The dequantised float weight `(out, in)`."""
        codes = _unpack_int4(self.codes) if self.bits == 4 else self.codes
        return dequantize_weight(codes, self.scales, self.scales.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight().to(x.dtype), None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        groups = self.scales.shape[1]
        return f"in={self.in_features}, out={self.out_features}, bits={self.bits}, groups per row={groups}"


def quantize_linears(
    module: nn.Module, bits: int = 8, group_size: int | None = None, *, skip: Iterable[str] = ()
) -> nn.Module:
    """Replace every `nn.Linear` inside `module` (in place) by a `QuantizedLinear`; names containing one of `skip`
    are left as they are. Returns `module`. Pass e.g. `model.model.layers` to keep a tied embedding/head in float."""
    skip = tuple(skip)
    targets = [
        (name, child)
        for name, child in module.named_modules()
        if isinstance(child, nn.Linear) and not any(s in name for s in skip)
    ]
    for name, linear in targets:
        parent_name, _, attribute = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        setattr(parent, attribute, QuantizedLinear.from_linear(linear, bits, group_size))
    return module


def _tensor_bytes(value: Any) -> int:
    """Bytes of a state-dict value: a tensor, a tensor subclass that keeps its data in inner tensors (torchao's
    quantised weights), or a tuple of them (torch.ao's packed dynamic-quantised weights); anything else is 0."""
    if isinstance(value, tuple | list):
        return sum(_tensor_bytes(v) for v in value)
    if not isinstance(value, torch.Tensor):
        return 0
    if type(value) not in (torch.Tensor, nn.Parameter) and hasattr(value, "__tensor_flatten__"):
        names, _ = value.__tensor_flatten__()
        return sum(_tensor_bytes(getattr(value, name)) for name in names)
    return value.numel() * value.element_size()


def model_size_bytes(model: nn.Module) -> int:
    """Bytes of everything in the model's state dict (a tied weight counts once), quantised formats included:
    int8/int4 codes and scales, torchao's tensor subclasses, torch.ao's packed dynamic-quantised weights."""
    seen: set[int] = set()
    total = 0
    for value in model.state_dict(keep_vars=True).values():
        if id(value) in seen:
            continue
        seen.add(id(value))
        total += _tensor_bytes(value)
    return total


@torch.no_grad()
def activation_absmax(
    model: nn.Module, layers: Mapping[str, nn.Module], **inputs: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Run `model(**inputs)` once and return, for each named layer of `layers` (e.g. Linears inside `model`), the
    largest |activation| each of its input channels received over all tokens: the range a per-tensor activation
    quantiser must cover with its one scale."""
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in layers}

    def hook_for(name: str) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], None]:
        def hook(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            seen[name].append(args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(dim=0))

        return hook

    handles = []
    for name, layer in layers.items():
        handles.append(layer.register_forward_pre_hook(hook_for(name)))
    try:
        model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name, values in seen.items() if not values]
    if missing:
        raise ValueError(f"`layers` {missing} were not called during the forward pass: pass modules inside `model`.")
    return {name: torch.stack(values).amax(dim=0) for name, values in seen.items()}
