"""The course's question-answering bot (notebook 15): ask about Debian packages, get an answer from SmolLM2 written
from retrieved package descriptions, streamed token by token, with its sources listed under it.

    python -m apps.qa_bot            # or `make app`: offline, on 127.0.0.1, prints the URL
    python -m apps.qa_bot --help     # port, number of documents, answer length, log folder

How it works: the question is checked (`validate_question`: empty, too long or not valid UTF-8 gets a message,
never an exception), embedded with MiniLM and matched against the package descriptions (`utils.retrieval`'s
`VectorIndex`); the best `k` go into the prompt as numbered sources (`build_rag_messages`), and SmolLM2's greedy
reply is streamed (`utils.generation.streaming`), cut off where it starts repeating a whole line. Small MLOps on the
side: the page shows which model and which index answer (a name and a hash of each), every answer's latency is
appended to `latency.jsonl`, and the thumbs up / down buttons append to `feedback.jsonl`, both in the log folder
(`default_log_dir()`), for notebook 15 to read back as a monitoring table.

`build_app(...)` returns the `gr.Blocks`; its endpoints are named `/answer`, `/feedback_up`, `/feedback_down`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MAX_QUESTION_CHARS = 500
EMPTY_MESSAGE = "Please type a question first: the box is empty."
TOO_LONG_MESSAGE = "Your question is {n} characters long; the limit is {limit}. Please shorten it."
NOT_UTF8_MESSAGE = "Your question contains characters that are not valid UTF-8 text; please retype it."
NOT_TEXT_MESSAGE = "The question must be text, got {kind}."
FEEDBACK_FILE = "feedback.jsonl"
LATENCY_FILE = "latency.jsonl"
LOG_DIR_ENV = "LLM_COURSE_APP_LOGS"
ENDPOINTS = ("/answer", "/feedback_up", "/feedback_down")
EXAMPLE_QUESTIONS = (
    "Which package can I use to convert images between formats?",
    "Is there a tool to monitor network traffic?",
    "How can I read e-mail in a terminal?",
)


# ----------------------------------------------------------------------------------------------------------------
# Input checks


def validate_question(question: Any, *, max_chars: int = MAX_QUESTION_CHARS) -> tuple[str | None, str | None]:
    """`(clean question, None)` when `question` can be answered, else `(None, message for the user)`.

    Refused: anything that is not text; bytes that are not valid UTF-8; text that cannot be written as UTF-8
    (lone surrogates, what a browser sends for half an emoji); empty or whitespace-only text; more than
    `max_chars` characters (after stripping the ends). Accepted bytes are decoded; the result is stripped.
    """
    if isinstance(question, bytes | bytearray):
        try:
            question = bytes(question).decode("utf-8")
        except UnicodeDecodeError:
            return None, NOT_UTF8_MESSAGE
    if not isinstance(question, str):
        return None, NOT_TEXT_MESSAGE.format(kind=type(question).__name__)
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        return None, NOT_UTF8_MESSAGE
    clean = question.strip()
    if not clean:
        return None, EMPTY_MESSAGE
    if len(clean) > max_chars:
        return None, TOO_LONG_MESSAGE.format(n=len(clean), limit=max_chars)
    return clean, None


# ----------------------------------------------------------------------------------------------------------------
# Versions and logs


def index_version(index: Any) -> str:
    """A short SHA-256 of the index's document ids and vectors: two indexes with the same version answer alike."""
    digest = hashlib.sha256()
    for document in index.documents:
        digest.update(document.doc_id.encode("utf-8") + b"\0")
    digest.update(index.vectors.contiguous().numpy().tobytes())
    return f"{len(index.documents)} docs, sha256 {digest.hexdigest()[:12]}"


def model_version(model: Any) -> str:
    """The model's folder name and parameter count, with the first 12 digits of the SHA-256 of all its weights
    (`utils.inference.versioning.weights_hash`: one changed weight gives another version)."""
    from utils.inference.versioning import weights_hash

    name = Path(str(getattr(model.config, "_name_or_path", "") or model.config.model_type)).name
    n_params = sum(p.numel() for p in model.parameters())
    return f"{name}, {n_params / 1e6:.0f}M parameters, sha256 {weights_hash(model)[:12]}"


def default_log_dir() -> Path:
    """Where the app appends its logs: `$LLM_COURSE_APP_LOGS`, else `utils.assets.models.cache_dir()/qa-bot`."""
    override = os.environ.get(LOG_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    from utils.assets.models import cache_dir

    return cache_dir() / "qa-bot"


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON object as a line to `path` (the folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every JSON line of `path` ([] when the file does not exist yet)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------------------------
# The bot


def format_sources(hits: Sequence[Any]) -> str:
    """The retrieved documents as a numbered Markdown list, the numbers the answer cites: title, score, first words."""
    if not hits:
        return ""
    lines = ["**Sources**"]
    for number, hit in enumerate(hits, start=1):
        words = " ".join(hit.document.text.split()[:18])
        lines.append(f"{number}. `{hit.document.title}` (similarity {hit.score:.2f}): {words}...")
    return "\n".join(lines)


@dataclass
class QABot:
    """Retrieval + SmolLM2 + logs: `stream(question)` yields `(answer so far, sources)`; `feedback(...)` logs a
    rating."""

    index: Any
    model: Any
    tokenizer: Any
    k: int = 2
    max_new_tokens: int = 96
    max_context_chars: int = 800
    log_dir: Path | None = None

    def __post_init__(self) -> None:
        self.log_dir = Path(self.log_dir) if self.log_dir is not None else default_log_dir()
        self.model_version = model_version(self.model)
        self.index_version = index_version(self.index)

    @property
    def versions(self) -> dict[str, str]:
        return {"model": self.model_version, "index": self.index_version}

    def stream(self, question: Any) -> Iterator[tuple[str, str]]:
        """Yield `(answer so far, sources as Markdown)`: first the sources with an empty answer, then the answer as
        it grows. A question that `validate_question` refuses yields its message and no sources."""
        from utils.generation.streaming import repeated_line_start, stream_chat_reply
        from utils.retrieval.rag import build_rag_messages

        clean, problem = validate_question(question)
        if problem is not None:
            yield problem, ""
            return
        start = time.perf_counter()
        hits = self.index.search(clean, k=self.k)[0]
        sources = format_sources(hits)
        retrieved = time.perf_counter()
        messages = build_rag_messages(clean, hits, max_context_chars=self.max_context_chars)
        answer, first_token, looped = "", None, False
        yield answer, sources
        for answer in stream_chat_reply(self.model, self.tokenizer, messages, max_new_tokens=self.max_new_tokens):
            first_token = first_token or time.perf_counter()
            cut = repeated_line_start(answer)
            if cut is not None:  # greedy decoding started a loop: stop generating, keep what came before
                answer, looped = answer[:cut].rstrip(), True
                yield answer, sources
                break
            yield answer, sources
        end = time.perf_counter()
        row = {
            "time": _now(),
            "question_chars": len(clean),
            "answer_chars": len(answer),
            "sources": [hit.document.doc_id for hit in hits],
            "retrieval_s": round(retrieved - start, 4),
            "first_token_s": round((first_token or end) - start, 4),
            "total_s": round(end - start, 4),
            "cut_loop": looped,
            **self.versions,
        }
        append_jsonl(self.log_dir / LATENCY_FILE, row)

    def answer(self, question: Any) -> tuple[str, str]:
        """The final `(answer, sources)` of `stream(question)`."""
        *_, last = self.stream(question)
        return last

    def feedback(self, question: Any, answer: Any, rating: str) -> str:
        """Append a thumbs up/down for the shown answer to `feedback.jsonl`; returns a line for the page."""
        if rating not in ("up", "down"):
            raise ValueError(f"`rating` must be one of ['up', 'down'], got {rating!r}.")
        clean, problem = validate_question(question)
        if problem is not None or not isinstance(answer, str) or not answer.strip():
            return "Ask a question first, then rate its answer."
        row = {"time": _now(), "rating": rating, "question": clean, "answer": answer, **self.versions}
        append_jsonl(self.log_dir / FEEDBACK_FILE, row)
        return f"Thank you: your rating ({'helpful' if rating == 'up' else 'not helpful'}) was recorded."


def default_bot(
    n_documents: int | None = None,
    *,
    index: Any = None,
    model: Any = None,
    tokenizer: Any = None,
    k: int = 2,
    max_new_tokens: int = 96,
    max_context_chars: int = 800,
    log_dir: Path | None = None,
) -> QABot:
    """A bot over `index` answered by `model` + `tokenizer`; each missing piece is the default: the Debian package
    descriptions (the first `n_documents` of the train split, None = all; embedded once and cached) and the offline
    SmolLM2-135M-Instruct."""
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both `model` and `tokenizer`, or neither (then SmolLM2 is loaded).")
    if index is None:
        from utils.retrieval.documents import package_documents
        from utils.retrieval.index import VectorIndex

        index = VectorIndex.from_documents(package_documents("train", limit=n_documents))
    if model is None:
        from utils.assets.models import load_chat_model

        model, tokenizer = load_chat_model()
    return QABot(
        index,
        model,
        tokenizer,
        k=k,
        max_new_tokens=max_new_tokens,
        max_context_chars=max_context_chars,
        log_dir=log_dir,
    )


def build_app(
    index: Any = None,
    model: Any = None,
    tokenizer: Any = None,
    *,
    bot: QABot | None = None,
    n_documents: int | None = None,
    k: int = 2,
    max_new_tokens: int = 96,
    max_context_chars: int = 800,
    log_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """The Gradio app (a `gr.Blocks`): question box `#q`, button `#ask`, streamed answer `#a`, sources `#sources`
    under it, feedback buttons `#up` / `#down`, and the model and index versions `#versions`.

    Pass `bot`, or `index` / `model` + `tokenizer` (each missing one is the default: the package descriptions,
    SmolLM2), or nothing at all.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    if bot is None:
        bot = default_bot(
            n_documents,
            index=index,
            model=model,
            tokenizer=tokenizer,
            k=k,
            max_new_tokens=max_new_tokens,
            max_context_chars=max_context_chars,
            log_dir=Path(log_dir) if log_dir is not None else None,
        )

    with gr.Blocks(title="Debian package Q&A", analytics_enabled=False) as app:
        gr.Markdown(
            "## Ask about Debian packages\nSmolLM2-135M answers from the package descriptions it retrieves; the "
            "numbered sources it was given are listed under the answer. A 135M-parameter model: check its answer "
            "against the sources."
        )
        question = gr.Textbox(label="Question", elem_id="q", lines=2, placeholder=EXAMPLE_QUESTIONS[0])
        ask = gr.Button("Ask", elem_id="ask", variant="primary")
        answer = gr.Textbox(label="Answer", elem_id="a", lines=5, interactive=False)
        sources = gr.Markdown(elem_id="sources")
        with gr.Row():
            up = gr.Button("Helpful", elem_id="up", size="sm")
            down = gr.Button("Not helpful", elem_id="down", size="sm")
        thanks = gr.Markdown(elem_id="feedback")
        gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=question)
        gr.Markdown(f"Model: {bot.model_version} · Index: {bot.index_version}", elem_id="versions")

        ask.click(bot.stream, question, [answer, sources], api_name="answer")
        up.click(lambda q, a: bot.feedback(q, a, "up"), [question, answer], thanks, api_name="feedback_up")
        down.click(lambda q, a: bot.feedback(q, a, "down"), [question, answer], thanks, api_name="feedback_down")
    app.bot = bot  # for callers that want the logs and versions
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m apps.qa_bot`: build the app and serve it on 127.0.0.1 until Ctrl+C."""
    parser = argparse.ArgumentParser(prog="python -m apps.qa_bot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=7860, help="port on 127.0.0.1 (default 7860; 0 = any free one)")
    parser.add_argument("--documents", type=int, default=None, help="index only the first N packages (default all)")
    parser.add_argument("--k", type=int, default=2, help="sources per answer (default 2)")
    parser.add_argument("--max-new-tokens", type=int, default=96, help="longest answer in tokens (default 96)")
    parser.add_argument("--log-dir", default=None, help=f"where feedback and latency logs go ({LOG_DIR_ENV})")
    args = parser.parse_args(argv)
    app = build_app(n_documents=args.documents, k=args.k, max_new_tokens=args.max_new_tokens, log_dir=args.log_dir)
    port = args.port or None
    _, url, _ = app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    print(f"Q&A bot running at {url} (offline; Ctrl+C stops it)", flush=True)
    print(f"model: {app.bot.model_version} | index: {app.bot.index_version} | logs: {app.bot.log_dir}", flush=True)
    try:
        app.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        app.close()


if __name__ == "__main__":
    main()
