"""Retrieval-augmented generation: put the retrieved documents into the prompt as numbered sources, ask the model to
answer from them and cite them, and read its citations back. Taught in notebook 16; the Q&A app of notebook 15
uses it.

The messages are a system prompt (the rules) and a user turn (the sources, then the question), the shape every
chat template takes: `chat_reply(model, tokenizer, messages[1]["content"], system=messages[0]["content"])`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..course.arguments import require_range
from .index import Hit

RAG_SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources given by the user. "
    "Cite the sources you use with their numbers in brackets, like [1]. "
    "If the sources do not contain the answer, say that you do not know."
)
MIN_SOURCE_CHARS = 80  # below this a source is too cut to be useful: the budget then holds fewer sources
_CITATION = re.compile(r"\[(\d+)\]")


def _shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with "..." when something was cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 3, 0)]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:") + "..."


def format_sources(hits: Sequence[Hit], *, max_context_chars: int = 1500) -> str:
    """The hits as numbered sources, `[1] title: text`, one per line, best first. Each source gets an equal share
    of `max_context_chars` (texts are cut at a word boundary); sources that would get fewer than
    `MIN_SOURCE_CHARS` characters are left out, so the last kept number says how many the model sees."""
    require_range("max_context_chars", max_context_chars, low=MIN_SOURCE_CHARS)
    if not hits:
        return ""
    n_kept = min(len(hits), max_context_chars // MIN_SOURCE_CHARS)
    share = max_context_chars // n_kept
    lines = []
    for number, hit in enumerate(hits[:n_kept], start=1):
        head = f"[{number}] {hit.document.title}: "
        lines.append(head + _shorten(hit.document.text, max(share - len(head), 1)))
    return "\n".join(lines)


def build_rag_messages(
    question: str,
    hits: Sequence[Hit],
    *,
    max_context_chars: int = 1500,
    system: str = RAG_SYSTEM_PROMPT,
) -> list[dict[str, str]]:
    """Chat messages `[system, user]` that give the model the hits as numbered sources `[1] ... [k]` (see
    `format_sources`, which keeps the sources within `max_context_chars`) and ask `question`, to be answered
    from the sources with citations."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"`question` must be a non-empty string, got {question!r}.")
    sources = format_sources(hits, max_context_chars=max_context_chars)
    if not sources:
        raise ValueError("`hits` is empty: retrieval found no source to put in the prompt.")
    user = f"Sources:\n{sources}\n\nQuestion: {question.strip()}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def cited_sources(answer: str, hits: Sequence[Hit]) -> list[Hit]:
    """The hits an answer cites as `[n]` (1-based, in order of first citation, each once); numbers that point to no
    source are ignored."""
    cited: list[Hit] = []
    for match in _CITATION.finditer(answer):
        number = int(match.group(1))
        if 1 <= number <= len(hits) and hits[number - 1] not in cited:
            cited.append(hits[number - 1])
    return cited
