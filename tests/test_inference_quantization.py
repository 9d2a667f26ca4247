"""Weight-only quantisation from scratch (`utils.inference.quantization`) against torch's per-channel fake
quantisation and torchao's int8 weight-only layers."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from torch import nn

from utils.inference.quantization import (
    QuantizedLinear,
    activation_absmax,
    dequantize_weight,
    model_size_bytes,
    quantize_linears,
    quantize_weight,
)


def _linear(in_features: int = 64, out_features: int = 24, bias: bool = True) -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(in_features, out_features, bias=bias)


def test_int8_codes_match_torch_per_channel_fake_quantisation() -> None:
    weight = _linear().weight.detach()
    codes, scales = quantize_weight(weight, bits=8)
    assert codes.dtype == torch.int8 and scales.shape == (24, 1)
    expected = torch.fake_quantize_per_channel_affine(
        weight, scales[:, 0], torch.zeros(24, dtype=torch.int32), axis=0, quant_min=-127, quant_max=127
    )
    difference = (dequantize_weight(codes, scales) - expected).abs()
    # torch multiplies by 1 / scale, we divide by the scale: a weight exactly between two levels may round apart
    assert (difference < 1e-7).float().mean() > 0.99
    assert bool((difference <= scales + 1e-7).all())
    assert int(codes.abs().max()) == 127  # the largest weight of every row lands on the last level


def test_int4_packing_round_trips_and_groups_lower_the_error() -> None:
    linear = _linear()
    weight = linear.weight.detach()
    errors = {}
    for group in (None, 16):
        layer = QuantizedLinear.from_linear(linear, bits=4, group_size=group)
        assert layer.codes.dtype == torch.uint8 and layer.codes.shape == (24, 32)  # two codes per byte
        codes, scales = quantize_weight(weight, bits=4, group_size=group)
        assert int(codes.min()) >= -7 and int(codes.max()) <= 7
        torch.testing.assert_close(layer.weight(), dequantize_weight(codes, scales))
        errors[group] = (layer.weight() - weight).abs().mean().item()
    assert errors[16] < errors[None]


@pytest.mark.parametrize(("bits", "group"), [(8, None), (4, 32)])
def test_quantized_linear_computes_with_the_dequantised_weight(bits: int, group: int | None) -> None:
    linear = _linear()
    layer = QuantizedLinear.from_linear(linear, bits=bits, group_size=group)
    x = torch.randn(3, 5, 64)
    torch.testing.assert_close(layer(x), nn.functional.linear(x, layer.weight(), linear.bias))
    relative = (layer(x) - linear(x)).norm() / linear(x).norm()
    assert relative < (0.01 if bits == 8 else 0.15)


def test_int8_layers_agree_with_torchao_weight_only() -> None:
    quantization = pytest.importorskip("torchao.quantization")
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 32))
    ours = quantize_linears(copy.deepcopy(model), bits=8)
    theirs = copy.deepcopy(model)
    quantization.quantize_(theirs, quantization.Int8WeightOnlyConfig())
    x = torch.randn(4, 64)
    with torch.no_grad():
        reference, a, b = model(x), ours(x), theirs(x)
    # both are int8 per-channel weight-only: each is close to fp32, and they are closer to each other
    assert (a - reference).norm() / reference.norm() < 0.01
    assert (b - reference).norm() / reference.norm() < 0.01
    assert (a - b).norm() / reference.norm() < 0.01
    assert model_size_bytes(ours) < 0.3 * model_size_bytes(model)
    assert abs(model_size_bytes(ours) - model_size_bytes(theirs)) < 0.05 * model_size_bytes(model)


def test_quantize_linears_skips_by_name_and_counts_sizes() -> None:
    model = nn.Sequential(nn.Linear(64, 32, bias=False), nn.Linear(32, 8, bias=False))
    quantize_linears(model, bits=8, skip=["1"])
    assert isinstance(model[0], QuantizedLinear) and isinstance(model[1], nn.Linear)
    assert model_size_bytes(model) == 32 * 64 * 1 + 32 * 4 + 8 * 32 * 4  # codes + fp32 scales + the float layer


def test_dynamic_quantisation_is_measured_through_its_packed_weights() -> None:
    model = nn.Sequential(nn.Linear(64, 32), nn.Linear(32, 8, bias=False))
    dynamic = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    int8_weights, bias, scales_and_zero_points = 32 * 64 + 8 * 32, 32 * 4, 2 * (4 + 8)
    assert model_size_bytes(dynamic) == int8_weights + bias + scales_and_zero_points


def test_tied_weights_count_once() -> None:
    embedding = nn.Embedding(10, 4)
    head = nn.Linear(4, 10, bias=False)
    head.weight = embedding.weight
    assert model_size_bytes(nn.ModuleList([embedding, head])) == 10 * 4 * 4


def test_activation_absmax_is_the_per_channel_maximum() -> None:
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x = torch.randn(2, 7, 6)
    expected = model[1](model[0](x)).abs().reshape(-1, 5).amax(dim=0)
    ranges = activation_absmax(model, {"second": model[2]}, input=x)
    torch.testing.assert_close(ranges["second"], expected)


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: quantize_weight(torch.ones(3, 4), bits=3), ValueError, "bits"),
        (lambda: quantize_weight(torch.ones(3, 4), group_size=3), ValueError, "group_size"),
        (lambda: QuantizedLinear.from_linear(nn.Linear(3, 2), bits=4), ValueError, "even"),
        (
            lambda: activation_absmax(nn.Linear(2, 2), {"x": nn.Linear(2, 2)}, input=torch.ones(1, 2)),
            ValueError,
            "layers",
        ),
    ],
)
def test_bad_arguments_raise_naming_the_argument(call: Any, error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        call()
