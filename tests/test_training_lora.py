"""utils.training.lora: a from-scratch LoRA equal to Hugging Face peft's with the same weights (layer, whole model,
merged), its initialisation, what it trains, adapters saved / switched / disabled, and clear errors.
Everything runs on a tiny random Llama (transformers' LlamaConfig), in well under a second per test."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from tiny_models import tiny_llama as shared_tiny_llama
from torch import nn
from transformers import LlamaForCausalLM

from utils.training.classification import count_trainable
from utils.training.lora import (
    LoRALinear,
    add_lora,
    disable_lora,
    linear_names,
    load_lora,
    load_lora_state_dict,
    lora_layers,
    lora_state_dict,
    merge_lora,
    remove_lora,
    reset_lora,
    save_lora,
)

# peft reads a deprecated transformers property when it wraps a model
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")

R, ALPHA, TARGETS = 4, 8.0, ["q_proj", "v_proj"]


def tiny_llama() -> LlamaForCausalLM:
    return shared_tiny_llama(97, intermediate_size=48)


def batch() -> dict[str, torch.Tensor]:
    ids = torch.randint(0, 97, (3, 11), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0  # right padding in one row
    return {"input_ids": ids, "attention_mask": mask}


@torch.no_grad()
def randomise_b(model: nn.Module, seed: int = 2) -> None:
    """A trained-looking adapter: B != 0 (at initialisation B = 0 and LoRA changes nothing)."""
    generator = torch.Generator().manual_seed(seed)
    for layer in lora_layers(model).values():
        layer.B.copy_(0.1 * torch.randn(layer.B.shape, generator=generator))


def ours_and_peft() -> tuple[nn.Module, nn.Module]:
    """The same tiny model with our LoRA and with peft's, holding the same A and B."""
    base = tiny_llama()
    ours = copy.deepcopy(base)
    add_lora(ours, r=R, alpha=ALPHA, target_modules=TARGETS)
    randomise_b(ours)
    peft_model = get_peft_model(base, LoraConfig(r=R, lora_alpha=ALPHA, target_modules=TARGETS, lora_dropout=0.0))
    modules = dict(peft_model.named_modules())
    with torch.no_grad():
        for name, layer in lora_layers(ours).items():
            peft_layer = modules[f"base_model.model.{name}"]
            peft_layer.lora_A["default"].weight.copy_(layer.A)
            peft_layer.lora_B["default"].weight.copy_(layer.B)
    return ours.eval(), peft_model.eval()


def test_layer_equals_formula_and_peft_layer() -> None:
    ours, peft_model = ours_and_peft()
    name, layer = next(iter(lora_layers(ours).items()))
    peft_layer = dict(peft_model.named_modules())[f"base_model.model.{name}"]
    x = torch.randn(2, 5, layer.in_features)
    with torch.no_grad():
        expected = x @ layer.base.weight.T + (ALPHA / R) * (x @ layer.A.T) @ layer.B.T
        assert (layer(x) - expected).abs().max() < 1e-6
        assert (layer(x) - peft_layer(x)).abs().max() < 1e-5


def test_model_equals_get_peft_model() -> None:
    ours, peft_model = ours_and_peft()
    with torch.no_grad():
        ours_logits = ours(**batch()).logits
        peft_logits = peft_model(**batch()).logits
        base_logits = tiny_llama()(**batch()).logits
    assert (ours_logits - peft_logits).abs().max() < 1e-5
    assert (ours_logits - base_logits).abs().max() > 1e-3  # the adapter does change the output


def test_replaced_names_and_trainable_count_equal_peft() -> None:
    base = tiny_llama()
    ours = copy.deepcopy(base)
    names = add_lora(ours, r=R, alpha=ALPHA, target_modules=TARGETS)
    assert names == [f"model.layers.{i}.self_attn.{t}" for i in range(2) for t in TARGETS]
    peft_model = get_peft_model(base, LoraConfig(r=R, lora_alpha=ALPHA, target_modules=TARGETS))
    trainable, total = peft_model.get_nb_trainable_parameters()
    assert count_trainable(ours) == trainable == 2 * R * ((32 + 32) + (32 + 16))  # 2 layers; v: 32 -> 16 (2 kv heads)
    assert sum(p.numel() for p in ours.parameters()) == total
    assert {n for n, p in ours.named_parameters() if p.requires_grad} == {f"{n}.{p}" for n in names for p in "AB"}


def test_count_for_every_linear_equals_peft() -> None:
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    base = tiny_llama()
    ours = copy.deepcopy(base)
    add_lora(ours, r=2, alpha=4, target_modules=targets)
    peft_model = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=targets))
    assert count_trainable(ours) == peft_model.get_nb_trainable_parameters()[0]


def test_fresh_adapter_changes_nothing() -> None:
    base = tiny_llama()
    model = copy.deepcopy(base)
    add_lora(model, r=R, alpha=ALPHA, target_modules=TARGETS)
    for layer in lora_layers(model).values():
        assert torch.count_nonzero(layer.B) == 0
        bound = 1 / math.sqrt(layer.in_features)  # Kaiming-uniform with a = sqrt(5), as nn.Linear and peft
        assert layer.A.abs().max() <= bound and layer.A.std() > bound / 4
    with torch.no_grad():
        assert torch.equal(model(**batch()).logits, base(**batch()).logits)


def test_first_gradient_reaches_b_only_and_base_stays_frozen() -> None:
    model = tiny_llama()
    add_lora(model, r=R, alpha=ALPHA, target_modules=TARGETS)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model(**batch()).logits.square().mean().backward()
    layer = next(iter(lora_layers(model).values()))
    assert torch.count_nonzero(layer.A.grad) == 0  # dL/dA is proportional to B, which is 0
    assert layer.B.grad.abs().max() > 0
    optimizer.step()
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if not p.requires_grad)


def test_merge_equals_unmerged_and_peft_merge_and_unload() -> None:
    ours, peft_model = ours_and_peft()
    with torch.no_grad():
        unmerged = ours(**batch()).logits
        merged_model = merge_lora(ours)
        merged = merged_model(**batch()).logits
        peft_merged = peft_model.merge_and_unload()(**batch()).logits
    assert merged_model is ours and not lora_layers(ours)
    assert set(ours.state_dict()) == set(tiny_llama().state_dict())  # a plain model again
    assert (merged - unmerged).abs().max() < 1e-5
    assert (merged - peft_merged).abs().max() < 1e-5


def test_merged_layer_is_plain_linear_with_rank_r_update() -> None:
    layer = LoRALinear(nn.Linear(12, 10), r=3, alpha=6)
    nn.init.normal_(layer.B)
    merged = layer.merged()
    assert type(merged) is nn.Linear and torch.equal(merged.bias, layer.base.bias)
    assert torch.linalg.matrix_rank(merged.weight - layer.base.weight) == 3
    x = torch.randn(4, 12)
    with torch.no_grad():
        assert (merged(x) - layer(x)).abs().max() < 1e-5


def test_disable_gives_base_output_and_peft_agrees() -> None:
    ours, peft_model = ours_and_peft()
    with torch.no_grad():
        adapted = ours(**batch()).logits
        with disable_lora(ours):
            disabled = ours(**batch()).logits
        with peft_model.disable_adapter():
            peft_disabled = peft_model(**batch()).logits
        assert torch.equal(ours(**batch()).logits, adapted)  # back on after the block
        base = tiny_llama()(**batch()).logits
    assert torch.equal(disabled, base)
    assert (peft_disabled - base).abs().max() < 1e-6


def test_two_adapters_switch_and_round_trip_through_a_file(tmp_path: Path) -> None:
    model = tiny_llama()
    add_lora(model, r=R, alpha=ALPHA, target_modules=TARGETS)
    randomise_b(model, seed=3)
    first = lora_state_dict(model)
    with torch.no_grad():
        first_logits = model(**batch()).logits
    reset_lora(model)
    randomise_b(model, seed=4)
    second = lora_state_dict(model)
    with torch.no_grad():
        second_logits = model(**batch()).logits
    assert (first_logits - second_logits).abs().max() > 1e-3
    assert set(first) == {f"{n}.{p}" for n in lora_layers(model) for p in "AB"}
    load_lora_state_dict(model, first)
    with torch.no_grad():
        assert torch.equal(model(**batch()).logits, first_logits)
    path = save_lora(model, tmp_path / "adapter.safetensors")
    load_lora_state_dict(model, second)
    load_lora(model, path)
    with torch.no_grad():
        assert torch.equal(model(**batch()).logits, first_logits)
    assert path.stat().st_size < 4 * sum(p.numel() for p in model.parameters()) / 10  # a small file


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="`r`"):
        LoRALinear(nn.Linear(4, 4), r=0, alpha=2)
    with pytest.raises(ValueError, match="`alpha`"):
        add_lora(tiny_llama(), r=2, alpha=0, target_modules=TARGETS)
    with pytest.raises(TypeError, match=r"`target_modules`.*not a string"):
        add_lora(tiny_llama(), r=2, alpha=2, target_modules="q_proj")
    with pytest.raises(ValueError, match=r"`target_modules`.*'q_proj'.*'lm_head'"):
        add_lora(tiny_llama(), r=2, alpha=2, target_modules=["query"])
    with pytest.raises(ValueError, match="`target_modules`"):
        add_lora(tiny_llama(), r=2, alpha=2, target_modules=[])
    model = tiny_llama()
    add_lora(model, r=2, alpha=2, target_modules=TARGETS)
    with pytest.raises(ValueError, match="already has LoRA"):
        add_lora(model, r=2, alpha=2, target_modules=["k_proj"])
    other = tiny_llama()
    add_lora(other, r=3, alpha=2, target_modules=TARGETS)
    with pytest.raises(ValueError, match="another rank"):
        load_lora_state_dict(model, lora_state_dict(other))
    with pytest.raises(ValueError, match="missing"):
        load_lora_state_dict(model, {})
    with pytest.raises(ValueError, match="no LoRA layers"):
        merge_lora(tiny_llama())
    with pytest.raises(ValueError, match="no LoRA layers"), disable_lora(tiny_llama()):
        pass


def test_remove_gives_the_original_model_back() -> None:
    model = tiny_llama()
    add_lora(model, r=R, alpha=ALPHA, target_modules=TARGETS)
    randomise_b(model)
    assert remove_lora(model) is model and not lora_layers(model)
    with torch.no_grad():
        assert torch.equal(model(**batch()).logits, tiny_llama()(**batch()).logits)
    assert set(model.state_dict()) == set(tiny_llama().state_dict())
    add_lora(model, r=2, alpha=4, target_modules=["k_proj"])  # a new adapter of another rank fits now


def test_linear_names_skip_lora_bases() -> None:
    model = tiny_llama()
    before = linear_names(model)
    add_lora(model, r=2, alpha=2, target_modules=TARGETS)
    assert linear_names(model) == before
