"""utils.retrieval.documents: the Debian package documents and the questions with known sources built from them."""

from __future__ import annotations

import pytest

from utils.retrieval.documents import (
    PACKAGE_SOURCE,
    QUESTION_TEMPLATES,
    Document,
    package_documents,
    package_questions,
    question_for,
)


def test_package_documents_are_deterministic_and_limited() -> None:
    first = package_documents("train", limit=5)
    assert first == package_documents("train", limit=5)
    assert len(first) == 5
    assert all(isinstance(d, Document) and d.source == PACKAGE_SOURCE for d in first)
    assert all(d.doc_id == d.title for d in first)
    assert len({d.doc_id for d in package_documents("all")}) == len(package_documents("all"))


def test_with_summary_only_adds_the_summary_line() -> None:
    with_summary = package_documents("test", limit=3)
    without = package_documents("test", limit=3, with_summary=False)
    questions = package_questions("test", limit=3)
    for a, b, q in zip(with_summary, without, questions, strict=True):
        assert a.text.endswith(b.text) and a.text.startswith(q.summary)
        assert q.summary not in b.text or len(q.summary) < 20  # the summary is not (usually) in the description
        assert q.gold_id == b.doc_id == q.answer


def test_all_is_train_then_test() -> None:
    train, test, both = package_documents("train"), package_documents("test"), package_documents("all")
    assert both == train + test


def test_questions_paraphrase_the_summary_with_a_stable_template() -> None:
    q = question_for("liblinear-tools", "Standalone applications for LIBLINEAR")
    assert "standalone applications for LIBLINEAR" in q.question
    assert q == question_for("liblinear-tools", "Standalone applications for LIBLINEAR")
    assert question_for("x", "GNU tools").question.count("GNU tools") == 1  # acronyms keep their capitals
    used = {question_for(f"pkg{i}", "a thing").question for i in range(40)}
    assert len(used) == len(QUESTION_TEMPLATES)  # every template is used


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"split": "dev"}, ValueError, "split"),
        ({"split": "train", "limit": 0}, ValueError, "limit"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        package_documents(**kwargs)
