"""utils.training: sliding windows, the learning-rate schedule, the training loop, checkpoints."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
from torch.utils.data import DataLoader

from utils import (
    GPT,
    BPETokenizer,
    GPTConfig,
    TokenWindowDataset,
    evaluate_loss,
    load_checkpoint,
    load_pretrained_gpt,
    lr_at,
    save_checkpoint,
    train_language_model,
    training,
)


def test_windows_are_shifted_by_one() -> None:
    ids = list(range(20))
    data = TokenWindowDataset(ids, context_length=4, stride=3)
    assert len(data) == (20 - 5) // 3 + 1
    for i in range(len(data)):
        x, y = data[i]
        assert x.tolist() == ids[3 * i : 3 * i + 4]
        assert y.tolist() == ids[3 * i + 1 : 3 * i + 5]
    x, y = data[-1]
    assert y[-1].item() <= 19
    assert TokenWindowDataset(torch.arange(9), 4).__len__() == 2  # stride defaults to context_length
    with pytest.raises(IndexError):
        data[len(data)]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"ids": [1, 2, 3], "context_length": 4, "stride": 1}, "ids"),
        ({"ids": list(range(10)), "context_length": 0, "stride": 1}, "context_length"),
        ({"ids": list(range(10)), "context_length": 4, "stride": 0}, "stride"),
        ({"ids": torch.zeros(2, 10, dtype=torch.long), "context_length": 4, "stride": 1}, "ids"),
    ],
)
def test_window_errors_name_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"`{name}`"):
        TokenWindowDataset(**kwargs)
    with pytest.raises(TypeError, match="`ids`"):
        TokenWindowDataset("abc", 2, 1)


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


def _tiny_problem(seed: int = 0) -> tuple[GPT, DataLoader]:
    torch.manual_seed(seed)
    ids = torch.randint(0, 16, (40,)).tolist() * 4  # a repeated random sequence: memorisable
    loader = DataLoader(TokenWindowDataset(ids, 8, 4), batch_size=8, shuffle=True)
    model = GPT(GPTConfig(vocab_size=16, context_length=8, d_model=32, n_heads=2, n_layers=1))
    return model, loader


def test_loss_falls_on_tiny_overfit_problem() -> None:
    model, loader = _tiny_problem()
    history = train_language_model(
        model, loader, loader, steps=90, lr=3e-3, warmup_steps=10, eval_every=30, eval_batches=4, progress=False
    )
    assert len(history.step) == len(history.train_loss) == len(history.lr) == 90
    assert history.val_step == [0, 30, 60, 90]
    assert history.val_loss[0] > 2.5  # about ln(16) = 2.77 at the start
    assert history.val_loss[-1] < 0.5 * history.val_loss[0]
    assert history.tokens_per_second > 0
    assert max(history.lr) == pytest.approx(3e-3)
    fixed = DataLoader(loader.dataset, batch_size=8)
    assert evaluate_loss(model, fixed, 2) == pytest.approx(evaluate_loss(model, fixed, 2))


def test_custom_loss_fn_is_used() -> None:
    model, loader = _tiny_problem()
    calls = []

    def loss_fn(m, x, y):
        calls.append(1)
        logits = m(x)
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())

    train_language_model(model, loader, steps=3, lr=1e-3, eval_every=10, progress=False, loss_fn=loss_fn)
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"warmup_steps": 20}, ValueError, "warmup_steps"),
        ({"grad_clip": -1.0}, ValueError, "grad_clip"),
        ({"eval_every": 0}, ValueError, "eval_every"),
        ({"steps": 2.5}, TypeError, "steps"),
    ],
)
def test_training_errors_name_the_argument(kwargs: dict, error: type, name: str) -> None:
    model, loader = _tiny_problem()
    args = {"steps": 10, "lr": 1e-3, "progress": False, **kwargs}
    with pytest.raises(error, match=f"`{name}`"):
        train_language_model(model, loader, **args)
    with pytest.raises(TypeError, match="`train_loader`"):
        train_language_model(model, [1, 2], steps=1, lr=1e-3)


def test_checkpoint_round_trip_gives_identical_logits(tmp_path) -> None:
    model, loader = _tiny_problem()
    history = train_language_model(model, loader, steps=5, lr=1e-3, progress=False)
    tokenizer = BPETokenizer()
    tokenizer.train("the cat sat on the mat " * 20, 260)
    save_checkpoint(tmp_path / "ckpt", model, tokenizer, model.config, history)
    loaded, tok2, config, hist2 = load_checkpoint(tmp_path / "ckpt")
    x, _ = next(iter(loader))
    model.eval()
    assert torch.equal(model(x), loaded(x))
    assert config == model.config
    assert tok2.encode("the cat") == tokenizer.encode("the cat")
    assert hist2["train_loss"] == history.train_loss
    with pytest.raises(FileNotFoundError, match="`path`"):
        load_checkpoint(tmp_path / "nothing")


def test_load_pretrained_gpt_without_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="notebook 07"):
        load_pretrained_gpt(train_if_missing=False)
    model, _ = _tiny_problem()
    tokenizer = BPETokenizer()
    tokenizer.train("the cat sat on the mat " * 20, 260)
    save_checkpoint(tmp_path / "austen-gpt", model, tokenizer, model.config)
    loaded, tok = load_pretrained_gpt(train_if_missing=False)
    assert isinstance(loaded, GPT) and tok.vocab_size == 260


def test_load_pretrained_gpt_trains_and_caches_when_missing(tmp_path, monkeypatch) -> None:
    """The on-the-fly path notebooks 08+ rely on: train with the (here shrunk) recipe, save, then reload the same."""
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    tiny = {"vocab_size": 300, "context_length": 16, "d_model": 16, "n_heads": 2, "n_layers": 1, "steps": 3}
    for key, value in tiny.items():
        monkeypatch.setitem(training.AUSTEN_GPT_RECIPE, key, value)
    monkeypatch.setitem(training.AUSTEN_GPT_RECIPE, "warmup_steps", 1)
    model, tokenizer = load_pretrained_gpt(train_if_missing=True, progress=False)
    assert (tmp_path / "austen-gpt" / "model.pt").is_file()
    assert tokenizer.vocab_size == 300 and model.config.d_model == 16 and not model.training
    history = json.loads((tmp_path / "austen-gpt" / "history.json").read_text())
    assert len(history["train_loss"]) == 3
    again, _ = load_pretrained_gpt(train_if_missing=False)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
