"""utils.training.loop: the learning-rate schedule, the one training loop (any loss_fn, items counted, errors
named), and evaluation weighted by items."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from utils.training.loop import evaluate, lr_at, require_training_recipe, to_device, train_model, train_with_recipe
from utils.training.pretraining import TokenWindowDataset, next_token_loss
from utils.transformer.gpt import GPT, GPTConfig


def test_lr_schedule_warms_up_then_decays() -> None:
    lrs = [lr_at(s, lr=1.0, warmup_steps=10, total_steps=100) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1)
    assert all(a < b for a, b in itertools.pairwise(lrs[:10]))  # rising warm-up
    assert lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))  # monotone decay
    middle = 10 + 45
    assert lrs[middle] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))  # cosine shape
    assert lr_at(100, lr=1.0, warmup_steps=10, total_steps=100) == pytest.approx(0.1)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models train faster on one thread (and do not fight other jobs for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_problem(seed: int = 0) -> tuple[GPT, DataLoader]:
    torch.manual_seed(seed)
    ids = torch.randint(0, 16, (40,)).tolist() * 4  # a repeated random sequence: memorisable
    loader = DataLoader(TokenWindowDataset(ids, 8, 4), batch_size=8, shuffle=True)
    model = GPT(GPTConfig(vocab_size=16, context_length=8, d_model=32, n_heads=2, n_layers=1))
    return model, loader


def test_loss_falls_on_tiny_overfit_problem() -> None:
    model, loader = tiny_problem()
    history = train_model(
        model,
        loader,
        loader,
        steps=90,
        lr=3e-3,
        warmup_steps=10,
        eval_every=30,
        eval_batches=4,
        progress=False,
        loss_fn=next_token_loss,
    )
    assert len(history.step) == len(history.train_loss) == len(history.lr) == 90
    assert history.val_step == [0, 30, 60, 90]
    assert history.val_loss[0] > 2.5  # about ln(16) = 2.77 at the start
    assert history.val_loss[-1] < 0.5 * history.val_loss[0]
    assert history.items_per_second > 0
    sizes = [len(x) for x, _ in loader]  # windows per batch, the last batch smaller
    assert history.items_seen == sum(sizes[i % len(sizes)] for i in range(90)) * 8, "one item per predicted token"
    assert max(history.lr) == pytest.approx(3e-3)
    fixed = DataLoader(loader.dataset, batch_size=8)
    assert evaluate(model, fixed, next_token_loss, 2) == pytest.approx(evaluate(model, fixed, next_token_loss, 2))


def test_custom_loss_fn_is_used() -> None:
    model, loader = tiny_problem()
    calls = []

    def loss_fn(m, batch):
        calls.append(1)
        x, y = batch
        logits = m(x).logits
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()), len(x)

    train_model(model, loader, steps=3, lr=1e-3, eval_every=10, progress=False, loss_fn=loss_fn)
    assert len(calls) == 3


def test_on_validate_runs_at_each_validation_point_in_eval_mode_without_gradients() -> None:
    model, loader = tiny_problem()
    seen = []

    def probe(step, m):
        seen.append((step, m.training, torch.is_grad_enabled()))

    train_model(
        model,
        loader,
        loader,
        steps=6,
        lr=1e-3,
        eval_every=2,
        progress=False,
        loss_fn=next_token_loss,
        on_validate=probe,
    )
    assert seen == [(step, False, False) for step in (0, 2, 4, 6)]
    with pytest.raises(TypeError, match="`on_validate`"):
        train_model(model, loader, steps=1, lr=1e-3, loss_fn=next_token_loss, on_validate="probe")


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"warmup_steps": 20}, ValueError, "warmup_steps"),
        ({"eval_every": 0}, ValueError, "eval_every"),
    ],
)
def test_training_errors_name_the_argument(kwargs: dict, error: type, name: str) -> None:
    model, loader = tiny_problem()
    args = {"steps": 10, "lr": 1e-3, "progress": False, "loss_fn": next_token_loss, **kwargs}
    with pytest.raises(error, match=f"`{name}`"):
        train_model(model, loader, **args)
    with pytest.raises(TypeError, match="`loss_fn`"):
        train_model(model, loader, steps=1, lr=1e-3, loss_fn=None)


def test_evaluate_weights_each_batch_by_its_items() -> None:
    """A last, smaller batch counts by its size: the mean over items, not over batches."""
    values = torch.tensor([1.0, 1.0, 1.0, 4.0])
    loader = DataLoader(TensorDataset(values), batch_size=3)  # batches [1, 1, 1] and [4]

    def mean_value(model, batch):
        (x,) = batch
        return x.mean(), len(x)

    assert evaluate(torch.nn.Linear(1, 1), loader, mean_value) == pytest.approx(7 / 4)
    assert evaluate(torch.nn.Linear(1, 1), loader, mean_value, max_batches=1) == pytest.approx(1.0)


def test_to_device_moves_nested_batches() -> None:
    batch = {"ids": torch.ones(2), "pair": (torch.zeros(1), [torch.ones(1)]), "name": "kept"}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["name"] == "kept" and isinstance(moved["pair"], tuple) and torch.equal(moved["ids"], batch["ids"])


def test_require_training_recipe_checks_the_shared_fields() -> None:
    @dataclass
    class Recipe:
        n_train: int = 8
        steps: int = 4
        batch_size: int = 2
        warmup_steps: int = 1
        lr: float = 1e-3
        weight_decay: float = 0.0
        max_length: int = 16
        seed: int = 0

    require_training_recipe(Recipe(), counts=("n_train",))
    for field, bad, error in [
        ("n_train", 0, ValueError),
        ("steps", 2.0, TypeError),
        ("batch_size", 0, ValueError),
        ("warmup_steps", 5, ValueError),  # more warm-up than steps
        ("lr", 0.0, ValueError),
        ("weight_decay", -0.1, ValueError),
        ("max_length", 1, ValueError),
        ("seed", True, TypeError),
    ]:
        with pytest.raises(error, match=field):
            require_training_recipe(Recipe(**{field: bad}), counts=("n_train",))


def test_train_with_recipe_is_train_model_with_the_recipe_schedule() -> None:
    @dataclass(frozen=True)
    class Schedule:
        steps: int = 12
        lr: float = 3e-3
        warmup_steps: int = 2
        weight_decay: float = 0.05

    torch.manual_seed(1)
    model, loader = tiny_problem()
    by_recipe = train_with_recipe(model, loader, loader, next_token_loss, Schedule(), eval_every=4, progress=False)
    torch.manual_seed(1)
    reference, loader = tiny_problem()
    by_hand = train_model(
        reference, loader, loader, loss_fn=next_token_loss, steps=12, lr=3e-3, warmup_steps=2, weight_decay=0.05,
        eval_every=4, eval_batches=len(loader), progress=False,
    )  # fmt: skip
    assert by_recipe.val_step == by_hand.val_step == [0, 4, 8, 12]
    assert by_recipe.train_loss == by_hand.train_loss and by_recipe.val_loss == by_hand.val_loss
    for a, b in zip(model.parameters(), reference.parameters(), strict=True):
        assert torch.equal(a, b)


def test_train_with_recipe_caps_the_warm_up_and_runs_without_validation() -> None:
    @dataclass(frozen=True)
    class Schedule:
        steps: int = 6
        lr: float = 3e-3
        warmup_steps: int = 20  # more than steps: capped at steps
        weight_decay: float = 0.0

    model, loader = tiny_problem()
    history = train_with_recipe(model, loader, None, next_token_loss, Schedule(), eval_every=2, progress=False)
    assert history.val_loss == [] and len(history.train_loss) == 6
    assert history.lr == [lr_at(s, lr=3e-3, warmup_steps=6, total_steps=6) for s in range(6)]
