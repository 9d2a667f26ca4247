"""utils.retrieval.rag: numbered sources within the character budget, the chat messages, citations read back."""

from __future__ import annotations

import pytest

from utils.retrieval.documents import Document
from utils.retrieval.index import Hit
from utils.retrieval.rag import (
    MIN_SOURCE_CHARS,
    RAG_SYSTEM_PROMPT,
    build_rag_messages,
    cited_sources,
    format_sources,
)


def _hit(title: str, text: str, rank: int) -> Hit:
    return Hit(Document(title, title, text, "test"), 0.5, rank)


HITS = [_hit("python3-numpy", "Fast array computing for Python. " * 30, 1), _hit("gimp", "An image editor.", 2)]


def test_messages_are_system_then_user_with_numbered_sources() -> None:
    messages = build_rag_messages("Which package edits images?", HITS, max_context_chars=400)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == RAG_SYSTEM_PROMPT
    user = messages[1]["content"]
    assert "[1] python3-numpy: Fast array" in user and "[2] gimp: An image editor." in user
    assert user.rstrip().endswith("Question: Which package edits images?")


def test_sources_stay_within_the_budget() -> None:
    for budget in (MIN_SOURCE_CHARS, 200, 400, 1500):
        text = format_sources(HITS * 5, max_context_chars=budget)
        assert len(text) <= budget + 10  # newlines between sources
        assert text.startswith("[1] python3-numpy")
    assert format_sources(HITS * 5, max_context_chars=MIN_SOURCE_CHARS).count("\n") == 0  # room for one source
    assert "..." in format_sources(HITS, max_context_chars=200)


def test_cited_sources_reads_numbers_in_order_once() -> None:
    assert cited_sources("It is gimp [2], see also [2] and [1].", HITS) == [HITS[1], HITS[0]]
    assert cited_sources("No citation, or a wrong one [7] [0].", HITS) == []


@pytest.mark.parametrize(
    ("question", "hits", "kwargs", "error", "match"),
    [
        ("", HITS, {}, ValueError, "question"),
        ("Which?", [], {}, ValueError, "hits"),
        ("Which?", HITS, {"max_context_chars": 10}, ValueError, "max_context_chars"),
        (3, HITS, {}, ValueError, "question"),
    ],
)
def test_bad_arguments_are_named(question: object, hits: list, kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        build_rag_messages(question, hits, **kwargs)  # type: ignore[arg-type]
