"""utils.training.pretraining: sliding windows, the next-token loss, checkpoints and the Austen GPT recipe."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from test_training_loop import tiny_problem

from utils.training import pretraining as training
from utils.training.loop import train_model
from utils.training.pretraining import (
    TokenWindowDataset,
    load_checkpoint,
    load_pretrained_gpt,
    next_token_loss,
    save_checkpoint,
)
from utils.transformer.gpt import GPT
from utils.transformer.tokenizer import BPETokenizer


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


def test_checkpoint_round_trip_gives_identical_logits(tmp_path) -> None:
    model, loader = tiny_problem()
    history = train_model(model, loader, steps=5, lr=1e-3, progress=False, loss_fn=next_token_loss)
    tokenizer = BPETokenizer()
    tokenizer.train("the cat sat on the mat " * 20, 260)
    save_checkpoint(tmp_path / "ckpt", model, tokenizer, model.config, history)
    loaded, tok2, config, hist2 = load_checkpoint(tmp_path / "ckpt")
    x, _ = next(iter(loader))
    model.eval()
    assert torch.equal(model(x).logits, loaded(x).logits)
    assert config == model.config
    assert tok2.encode("the cat") == tokenizer.encode("the cat")
    assert hist2["train_loss"] == history.train_loss
    with pytest.raises(FileNotFoundError, match="`path`"):
        load_checkpoint(tmp_path / "nothing")


def test_load_pretrained_gpt_without_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="notebook 07"):
        load_pretrained_gpt(train_if_missing=False)
    model, _ = tiny_problem()
    tokenizer = BPETokenizer()
    tokenizer.train("the cat sat on the mat " * 20, 260)
    save_checkpoint(training.pretrained_gpt_dir(), model, tokenizer, model.config)
    assert training.pretrained_gpt_dir().parent == tmp_path
    loaded, tok = load_pretrained_gpt(train_if_missing=False)
    assert isinstance(loaded, GPT) and tok.vocab_size == 260


def test_load_pretrained_gpt_trains_and_caches_when_missing(tmp_path, monkeypatch) -> None:
    """The on-the-fly path notebooks 08+ rely on: train with a (tiny) recipe, save, then reload the same."""
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    tiny = {"vocab_size": 300, "context_length": 16, "d_model": 16, "n_heads": 2, "n_layers": 1, "steps": 3}
    recipe = replace(training.AUSTEN_GPT_RECIPE, **tiny, warmup_steps=1)
    model, tokenizer = load_pretrained_gpt(train_if_missing=True, progress=False, recipe=recipe)
    folder = training.pretrained_gpt_dir(recipe)
    assert (folder / "model.pt").is_file() and folder != training.pretrained_gpt_dir()
    assert tokenizer.vocab_size == 300 and model.config.d_model == 16 and not model.training
    history = json.loads((folder / "history.json").read_text())
    assert len(history["train_loss"]) == 3
    again, _ = load_pretrained_gpt(train_if_missing=False, recipe=recipe)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True))
    with pytest.raises(FileNotFoundError, match="notebook 07"):
        load_pretrained_gpt(train_if_missing=False)  # the default recipe has its own folder
    with pytest.raises(TypeError, match="recipe"):
        training.pretrained_gpt_dir({"steps": 3})


def test_next_token_loss_counts_the_predicted_tokens() -> None:
    model, loader = tiny_problem()
    x, y = next(iter(loader))
    loss, n_items = next_token_loss(model, (x, y))
    logits = model(x).logits
    assert n_items == y.numel()
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()))


def test_a_stale_checkpoint_says_what_to_do(tmp_path) -> None:
    model, _ = tiny_problem()
    tokenizer = BPETokenizer()
    tokenizer.train("the cat sat on the mat " * 20, 260)
    save_checkpoint(tmp_path / "old", model, tokenizer, model.config)
    weights = torch.load(tmp_path / "old" / "model.pt")
    weights["blocks.0.ffn.net.0.weight"] = weights.pop("blocks.0.ffn.fc.weight")  # the names before the refactor
    torch.save(weights, tmp_path / "old" / "model.pt")
    with pytest.raises(ValueError, match="delete the folder"):
        load_checkpoint(tmp_path / "old")
