"""utils.assets.artifacts: one folder per recipe (the key of every course recipe pinned, so a cache trained before a
refactor still loads), the atomic write (an interrupted write leaves nothing, stale temp folders are swept), the info
file, and load_or_train (trains when missing, reads when finished, says what to do with a missing, half-written or
unreadable folder)."""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch

from utils.alignment.dpo import DPO_RECIPE
from utils.alignment.ppo_training import PPO_RECIPE
from utils.alignment.reward import REWARD_RECIPE
from utils.assets import artifacts
from utils.assets.artifacts import (
    INFO_FILE,
    artifact_dir,
    artifact_info,
    atomic_directory,
    load_or_train,
    save_artifact,
    save_pretrained_artifact,
)
from utils.training.instruction import INSTRUCTION_RECIPE, LORA_RECIPE
from utils.training.pretraining import AUSTEN_GPT_RECIPE
from utils.training.sentiment_classifier import SENTIMENT_RECIPE
from utils.training.token_classification import TOKEN_TAGGER_RECIPE


@dataclass(frozen=True)
class Recipe:
    steps: int = 3
    lr: float = 0.1
    targets: tuple[str, ...] = ("a", "b")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LLM_COURSE_CACHE", str(tmp_path))
    return tmp_path


# The folders of the course's recipes, as the caches on learners' disks name them: a change here retrains them all.
PINNED = {
    ("reward-model", REWARD_RECIPE): "d9cd7ffd0a18",  # with_prompt, max_length 96: retrained on purpose
    ("reward-model", REWARD_RECIPE.smoke()): "1c3922f7f484",
    ("ppo-policy", PPO_RECIPE): "fc85c5190ca2",
    ("ppo-policy", PPO_RECIPE.smoke()): "c5e20159ca20",
    ("dpo-policy", DPO_RECIPE): "6e6b5dd2f5a1",
    ("dpo-policy", DPO_RECIPE.smoke()): "5a8f73eb456e",
    ("smollm2-instruct-tuned", INSTRUCTION_RECIPE): "6380085bcb29",  # n_replay, loss_on: retrained on purpose
    ("smollm2-instruct-tuned", INSTRUCTION_RECIPE.smoke()): "dc8efa147902",
    ("smollm2-instruct-tuned", LORA_RECIPE): "318623d8d856",
    ("smollm2-instruct-tuned", LORA_RECIPE.smoke()): "bddda10650a1",
    ("minilm-sentiment", SENTIMENT_RECIPE): "989c8164f36b",
    ("minilm-sentiment", SENTIMENT_RECIPE.smoke()): "791028a66f83",
    ("minilm-austen-names", TOKEN_TAGGER_RECIPE): "b9965e21ffb2",
    ("minilm-austen-names", TOKEN_TAGGER_RECIPE.smoke()): "0b81dda7d26a",
    ("austen-gpt", AUSTEN_GPT_RECIPE): "46eecd80ab8d",
    ("austen-gpt", AUSTEN_GPT_RECIPE.smoke()): "4b76267c78f3",
}


@pytest.mark.parametrize(("name", "recipe"), list(PINNED), ids=lambda v: v if isinstance(v, str) else "")
def test_the_course_recipes_keep_their_folders(cache: Path, name: str, recipe: object) -> None:
    assert artifact_dir(name, recipe) == cache / f"{name}-{PINNED[name, recipe]}"


def test_one_folder_per_recipe(cache: Path) -> None:
    assert artifact_dir("m", Recipe()) == artifact_dir("m", Recipe()) == artifact_dir("m", replace(Recipe()))
    assert artifact_dir("m", Recipe()) != artifact_dir("m", Recipe(steps=4)) != artifact_dir("other", Recipe(steps=4))
    assert artifact_dir("m", Recipe()).parent == cache
    for bad in ({"steps": 3}, Recipe):
        with pytest.raises(TypeError, match="recipe"):
            artifact_dir("m", bad)


def test_save_artifact_writes_the_files_and_the_info_in_one_move(cache: Path) -> None:
    history = {"train_loss": [2.0, 1.0]}
    folder = save_artifact("m", Recipe(), lambda f: (f / "weights.bin").write_bytes(b"w"), history)
    assert folder == artifact_dir("m", Recipe()) and (folder / "weights.bin").read_bytes() == b"w"
    info = artifact_info("m", Recipe())
    assert info["recipe"] == {"steps": 3, "lr": 0.1, "targets": ["a", "b"]} and info["history"] == history
    assert info["versions"]["torch"] == torch.__version__
    again = save_artifact("m", Recipe(), lambda f: (f / "other.bin").write_bytes(b"o"))  # replaces the folder
    assert again == folder and not (folder / "weights.bin").exists() and artifact_info("m", Recipe())["history"] == {}
    assert sorted(p.name for p in cache.iterdir()) == [folder.name], "no temp folder is left behind"
    with pytest.raises(FileNotFoundError, match="m-"):
        artifact_info("m", Recipe(steps=9))


def test_an_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "model"
    with pytest.raises(KeyboardInterrupt), atomic_directory(target, is_valid=lambda p: True) as tmp:
        (tmp / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temp folder is left behind


def test_stale_temp_folders_are_swept_and_a_valid_folder_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "model"
    stale, fresh = tmp_path / ".model.tmp-old", tmp_path / ".model.tmp-running"
    for folder in (stale, fresh):
        folder.mkdir()
    hours_ago = time.time() - 2 * 3600
    os.utime(stale, (hours_ago, hours_ago))
    target.mkdir()
    (target / "keep.txt").write_text("valid")
    with atomic_directory(target, is_valid=lambda p: (p / "keep.txt").is_file(), replace=False) as tmp:
        (tmp / "new.txt").write_text("new")
    assert not stale.exists() and fresh.exists(), "only temp folders older than an hour are removed"
    assert (target / "keep.txt").is_file() and not (target / "new.txt").exists()


def test_load_or_train_trains_once_then_reads(cache: Path) -> None:
    calls = []

    def read(folder: Path) -> str:
        calls.append("read")
        return (folder / "weights.bin").read_text()

    def train() -> str:
        calls.append("train")
        save_artifact("m", Recipe(), lambda f: (f / "weights.bin").write_text("trained"))
        return "fresh"

    settings = {"read": read, "train": train, "hint": "run notebook 99", "files": ("weights.bin", INFO_FILE)}
    with pytest.raises(FileNotFoundError, match=r"m-.*run notebook 99.*train_if_missing=True"):
        load_or_train("m", Recipe(), train_if_missing=False, **settings)
    assert load_or_train("m", Recipe(), train_if_missing=True, **settings) == "fresh"
    assert load_or_train("m", Recipe(), train_if_missing=False, **settings) == "trained"
    assert calls == ["train", "read"]
    with pytest.raises(TypeError, match="train_if_missing"):
        load_or_train("m", Recipe(), train_if_missing="no", **settings)


def test_a_half_written_or_unreadable_folder_says_delete_it(cache: Path) -> None:
    def train() -> None:
        raise AssertionError("train() must not run when train_if_missing is False")

    def read(folder: Path) -> None:
        raise ValueError("weights of another shape")

    folder = artifact_dir("m", Recipe())
    folder.mkdir()
    (folder / INFO_FILE).write_text("{}")  # written by an old, non-atomic save that was killed before the weights
    settings = {"read": read, "train": train, "hint": "run notebook 99", "files": ("weights.bin", INFO_FILE)}
    with pytest.raises(FileNotFoundError, match=r"incomplete \(no weights.bin\): delete it"):
        load_or_train("m", Recipe(), train_if_missing=False, **settings)
    (folder / "weights.bin").write_text("old")
    with pytest.raises(RuntimeError, match=r"another shape.*delete it"):
        load_or_train("m", Recipe(), train_if_missing=False, **settings)


def test_save_pretrained_artifact_saves_model_and_tokenizer(cache: Path) -> None:
    class Saver:
        def __init__(self, name: str) -> None:
            self.name = name

        def save_pretrained(self, folder: Path) -> None:
            (Path(folder) / self.name).write_bytes(b"w")

    folder = save_pretrained_artifact("m", Recipe(), Saver("model.bin"), Saver("tokenizer.json"))
    assert (folder / "model.bin").is_file() and (folder / "tokenizer.json").is_file()
    assert artifacts.artifact_info("m", Recipe())["recipe"] == dataclasses.asdict(Recipe()) | {"targets": ["a", "b"]}
