"""The documents a retriever searches, and questions with known answers to measure it. Taught in notebook 16.

The course's document set is the Debian package descriptions of `data/package_summaries`: each package is one
`Document` (id and title = the package name). Each package also has a one-line summary written by its
maintainer, which gives questions whose right source is known: "Which Debian package provides <summary>?" has
that package as its gold source. Index the long descriptions only (`with_summary=False`) and the question is not
a copy of the indexed text, so the retriever has to match meaning, not the same words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..assets.datasets import load_package_summaries
from ..course.arguments import require_choice, require_range

PACKAGE_SOURCE = "Debian package description"
SPLITS = ("train", "test", "all")

#: Paraphrase templates for the questions; `{summary}` is the package's one-line summary (first letter lowered).
QUESTION_TEMPLATES: tuple[str, ...] = (
    "Which Debian package provides {summary}?",
    "I am looking for {summary}. Which package should I install?",
    "What is the name of the package that offers {summary}?",
    "Name the Debian package for this: {summary}.",
)


@dataclass(frozen=True)
class Document:
    """One searchable text: `doc_id` (stable, e.g. the package name), `title` (shown as the source), `text` (what
    is embedded and shown to the model) and `source` (where it came from)."""

    doc_id: str
    title: str
    text: str
    source: str


@dataclass(frozen=True)
class Question:
    """A question whose right source is known: `gold_id` is the `doc_id` of the document that answers it, and
    `answer` the short answer expected (here the package name, which is also the gold document's title)."""

    question: str
    gold_id: str
    answer: str
    summary: str


def _package_rows(split: str, limit: int | None) -> list[dict[str, str]]:
    require_choice("split", split, SPLITS)
    if limit is not None:
        require_range("limit", limit, low=1)
    data = load_package_summaries()
    splits = ("train", "test") if split == "all" else (split,)
    rows = [dict(row) for name in splits for row in data[name]]
    return rows if limit is None else rows[:limit]


def package_document(row: dict[str, str], *, with_summary: bool = True) -> Document:
    """The `Document` of one `load_package_summaries()` row: the summary line then the description, or the
    description alone when `with_summary` is False."""
    text = f"{row['summary']}.\n\n{row['description']}" if with_summary else row["description"]
    return Document(doc_id=row["package"], title=row["package"], text=text, source=PACKAGE_SOURCE)


def package_documents(split: str = "train", limit: int | None = None, *, with_summary: bool = True) -> list[Document]:
    """The Debian package descriptions as documents, in the data file's order (deterministic).

    split: "train", "test" or "all" (train then test). limit: keep the first `limit` packages (None: all).
    with_summary: put the one-line summary in front of the description (False: index the description only, so
    that questions built from the summary by `package_questions` are not copies of the indexed text).
    """
    return [package_document(row, with_summary=with_summary) for row in _package_rows(split, limit)]


def _stable_index(key: str, n: int) -> int:
    """An index in [0, n) from a SHA-256 of `key`: the same on every run (unlike Python's salted `hash`)."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % n


def _lower_first(summary: str) -> str:
    """Lower the first letter unless the first word is an acronym or a name with inner capitals ("GNU", "LaTeX")."""
    summary = summary.strip().rstrip(".")
    first = summary.split(" ", 1)[0]
    if len(first) > 1 and any(c.isupper() for c in first[1:]):
        return summary
    return summary[:1].lower() + summary[1:]


def question_for(package: str, summary: str) -> Question:
    """The question about one package: a paraphrase template (picked by a hash of the package name) around its
    summary; the gold source and the expected answer are the package."""
    template = QUESTION_TEMPLATES[_stable_index(package, len(QUESTION_TEMPLATES))]
    return Question(template.format(summary=_lower_first(summary)), package, package, summary)


def package_questions(split: str = "train", limit: int | None = None) -> list[Question]:
    """One question per package of `split` (same order and `limit` as `package_documents`), built from the
    package's one-line summary; its gold source is the package's document."""
    return [question_for(row["package"], row["summary"]) for row in _package_rows(split, limit)]
