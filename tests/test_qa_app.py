"""apps.qa_bot, the Q&A app of notebook 15, tested as a user and as a program would use it.

* `validate_question` on its own: empty, whitespace-only, too long, undecodable bytes, lone surrogates, not text.
* The app served on 127.0.0.1 (a 24-document index of Debian package descriptions and the offline SmolLM2, short
  answers, logs in a temporary folder):
  - `gradio_client`: exactly the named endpoints `/answer`, `/feedback_up`, `/feedback_down`; an answer with its
    sources; the refusal messages; feedback and latency written to the JSONL logs with the versions;
  - a real headless Chromium (pip `playwright` driving Debian's Chromium, as tests/test_jupyterlab.py does): type
    a question, see the answer stream in with a source under it, get the message for each bad input, rate the
    answer; the page may request nothing outside the app's own address. The times are printed.
  The browser test skips when no Chromium is installed, and fails instead under LLM_COURSE_REQUIRE_BROWSER=1.
* `python -m apps.qa_bot` (what `make app` runs) starts, prints its URL and serves the page.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.qa_bot import (
    EMPTY_MESSAGE,
    ENDPOINTS,
    FEEDBACK_FILE,
    LATENCY_FILE,
    MAX_QUESTION_CHARS,
    NOT_UTF8_MESSAGE,
    QABot,
    build_app,
    default_bot,
    read_jsonl,
    validate_question,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO_ROOT / "build" / "qa-app.png"
N_DOCUMENTS = 24
MAX_NEW_TOKENS = 32
QUESTION = "Which package renders SVG images?"
TOO_LONG = "Why? " * (MAX_QUESTION_CHARS // 5 + 1)


# --- the validator ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("  What is fetchmail?  ", "What is fetchmail?"),
        ("x" * MAX_QUESTION_CHARS, "x" * MAX_QUESTION_CHARS),
        ("Qu'est-ce que « fetchmail » ? ✓", "Qu'est-ce que « fetchmail » ? ✓"),
        (b"What is fetchmail?", "What is fetchmail?"),
    ],
)
def test_validator_accepts_and_strips(question: Any, expected: str) -> None:
    assert validate_question(question) == (expected, None)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", EMPTY_MESSAGE),
        (" \n\t ", EMPTY_MESSAGE),
        (
            "x" * (MAX_QUESTION_CHARS + 1),
            f"{MAX_QUESTION_CHARS + 1} characters long; the limit is {MAX_QUESTION_CHARS}",
        ),
        ("half an emoji \ud83d", NOT_UTF8_MESSAGE),
        (b"caf\xe9 au lait", NOT_UTF8_MESSAGE),  # Latin-1, not UTF-8
        (None, "must be text, got NoneType"),
        (42, "must be text, got int"),
    ],
)
def test_validator_refuses_with_a_message(question: Any, message: str) -> None:
    clean, problem = validate_question(question)
    assert clean is None
    assert message in problem


def test_validator_limit_is_adjustable() -> None:
    assert validate_question("abcdef", max_chars=5)[0] is None
    assert validate_question("abcde", max_chars=5) == ("abcde", None)


# --- the served app ---------------------------------------------------------------------------------------------


class ServedApp:
    """The app running on 127.0.0.1: its URL, its bot and where its logs go."""

    def __init__(self, app: Any, url: str, log_dir: Path) -> None:
        self.app, self.url, self.log_dir = app, url.rstrip("/"), log_dir
        self.bot: QABot = app.bot

    def log(self, name: str) -> list[dict[str, Any]]:
        return read_jsonl(self.log_dir / name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    from utils.assets.models import AssetMissingError, load_chat_model
    from utils.retrieval.documents import package_documents
    from utils.retrieval.index import VectorIndex

    try:
        model, tokenizer = load_chat_model(device="cpu")
    except AssetMissingError as exc:  # pragma: no cover - the assets are installed by `make setup`
        pytest.skip(f"chat model not installed: {exc}")
    index = VectorIndex.from_documents(package_documents("train", limit=N_DOCUMENTS), progress=False)
    log_dir = tmp_path_factory.mktemp("qa-logs")
    app = build_app(index, model, tokenizer, max_new_tokens=MAX_NEW_TOKENS, log_dir=log_dir)
    _, url, _ = app.launch(server_name="127.0.0.1", server_port=_free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield ServedApp(app, url, log_dir)
    finally:
        app.close()


def _raw_answer(url: str, question: str) -> str:
    """Call /answer over plain HTTP with an ASCII JSON body, which can carry a lone surrogate (\\ud83d) that
    gradio_client's UTF-8 encoder refuses to send; return the last answer of the event stream."""
    body = json.dumps({"data": [question]}).encode("ascii")
    request = urllib.request.Request(
        f"{url}/gradio_api/call/answer", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}/gradio_api/call/answer/{event_id}", timeout=60) as response:
        events = response.read().decode("utf-8")
    data = [json.loads(line[len("data: ") :]) for line in events.splitlines() if line.startswith("data: ")]
    return [d for d in data if isinstance(d, list)][-1][0]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_api_through_gradio_client(served: ServedApp) -> None:
    from gradio_client import Client

    client = Client(served.url, verbose=False)
    api = client.view_api(return_format="dict", print_info=False)
    assert sorted(api["named_endpoints"]) == sorted(ENDPOINTS)
    assert not api["unnamed_endpoints"], f"unnamed endpoints: {list(api['unnamed_endpoints'])}"

    n_before = len(served.log(LATENCY_FILE))
    answer, sources = client.predict(QUESTION, api_name="/answer")
    assert answer.strip() and answer not in (EMPTY_MESSAGE, NOT_UTF8_MESSAGE)
    titles = [document.title for document in served.bot.index.documents]
    assert sources.startswith("**Sources**") and any(f"`{title}`" in sources for title in titles), sources
    assert answer == served.bot.answer(QUESTION)[0], "the app's streamed answer is the bot's greedy answer"

    assert client.predict("   ", api_name="/answer") == (EMPTY_MESSAGE, "")
    long_answer, long_sources = client.predict(TOO_LONG, api_name="/answer")
    assert "the limit is" in long_answer and not long_sources
    assert _raw_answer(served.url, "half an emoji \ud83d") == NOT_UTF8_MESSAGE

    latency = served.log(LATENCY_FILE)
    assert len(latency) == n_before + 2, "a latency row each for the app's and bot.answer's answers, none for refusals"
    row = latency[-1]
    assert row["model"] == served.bot.model_version and row["index"] == served.bot.index_version
    assert 0 <= row["retrieval_s"] <= row["first_token_s"] <= row["total_s"]
    assert isinstance(row["cut_loop"], bool)
    assert "sha256" in row["model"] and f"{N_DOCUMENTS} docs" in row["index"]

    n_feedback = len(served.log(FEEDBACK_FILE))
    thanks = client.predict(QUESTION, answer, api_name="/feedback_down")
    assert "recorded" in thanks
    rows = served.log(FEEDBACK_FILE)
    assert len(rows) == n_feedback + 1
    assert rows[-1]["rating"] == "down" and rows[-1]["answer"] == answer and rows[-1]["question"] == QUESTION
    assert "Ask a question first" in client.predict("", "", api_name="/feedback_up")
    assert len(served.log(FEEDBACK_FILE)) == n_feedback + 1, "nothing to rate: nothing logged"


def _ask(page: Any, question: str | None, *, surrogate: bool = False) -> None:
    """Put `question` in the box (through the page's own JavaScript for a lone surrogate, which cannot be typed)
    and press Ask."""
    box = page.locator("#q textarea")
    if surrogate:
        box.evaluate(
            "(el) => { el.value = 'half an emoji \\ud83d'; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
    else:
        box.fill(question)
    page.locator("#ask").click()


def _wait_for_answer(page: Any, expected: str, timeout_ms: int = 30_000) -> None:
    page.wait_for_function(
        "(text) => document.querySelector('#a textarea').value.includes(text)", arg=expected, timeout=timeout_ms
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_app_in_a_real_browser(browser_page: Any, served: ServedApp) -> None:
    outside: list[str] = []
    timings: dict[str, float] = {}
    start = time.monotonic()
    with browser_page({"width": 1100, "height": 1000}, SCREENSHOT, full_page=True) as page:
        local = re.compile(rf"^({re.escape(served.url)}|data:|blob:|about:)")
        page.on("request", lambda request: None if local.match(request.url) else outside.append(request.url))
        page.goto(served.url)
        page.locator("#q textarea").wait_for(timeout=30_000)
        assert served.bot.model_version in page.locator("#versions").inner_text()
        assert served.bot.index_version in page.locator("#versions").inner_text()
        timings["page ready"] = time.monotonic() - start

        # A question: the answer streams in (several growing values), the sources appear under it.
        n_timed = len(served.log(LATENCY_FILE))
        _ask(page, QUESTION)
        seen: list[str] = []
        deadline = time.monotonic() + 120
        while len(served.log(LATENCY_FILE)) == n_timed:  # the server logs the latency when it is done
            assert time.monotonic() < deadline, "no answer within 120 s"
            value = page.locator("#a textarea").input_value()
            if value and (not seen or value != seen[-1]):
                seen.append(value)
            page.wait_for_timeout(50)
        page.wait_for_timeout(300)  # the last streamed value reaches the page after the log line
        final = page.locator("#a textarea").input_value()
        timings["question answered"] = time.monotonic() - start - timings["page ready"]
        assert final.strip(), "the answer box stayed empty"
        # growing values; the last may be shorter when the app cut a loop (a repeated line) off
        grows = all(final.startswith(v) or v.startswith(final) for v in seen)
        assert len(seen) >= 2 and grows, f"not streamed: {seen}"
        sources = page.locator("#sources").inner_text()
        titles = [document.title for document in served.bot.index.documents]
        assert "Sources" in sources and any(title in sources for title in titles), sources

        # Feedback on that answer.
        n_feedback = len(served.log(FEEDBACK_FILE))
        page.locator("#up").click()
        page.wait_for_function("() => document.querySelector('#feedback').innerText.includes('recorded')")
        assert served.log(FEEDBACK_FILE)[-1]["rating"] == "up"
        assert len(served.log(FEEDBACK_FILE)) == n_feedback + 1

        # Bad input: a clear message in the answer box, no sources, and the page still works.
        for label, question, message in (
            ("empty", "", EMPTY_MESSAGE),  # each message differs from the one before it
            ("too long", TOO_LONG, "the limit is"),
            ("spaces only", "   \n  ", EMPTY_MESSAGE),
            ("not UTF-8", None, NOT_UTF8_MESSAGE),
        ):
            _ask(page, question, surrogate=question is None)
            try:
                _wait_for_answer(page, message)
            except Exception as err:
                shown = page.locator("#a textarea").input_value()
                raise AssertionError(f"{label}: expected {message!r}, the page shows {shown!r}") from err
            assert "Sources" not in page.locator("#sources").inner_text(), f"{label}: sources shown"
        timings["bad inputs refused"] = time.monotonic() - start - sum(timings.values())
    timings["total"] = time.monotonic() - start
    print(", ".join(f"{name}: {seconds:.1f} s" for name, seconds in timings.items()), f"screenshot: {SCREENSHOT}")
    assert not outside, f"the page made requests outside the app: {outside}"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_module_entry_point_serves_on_localhost(tmp_path: Path) -> None:
    """`python -m apps.qa_bot` (`make app`) prints its URL on 127.0.0.1 and serves the page there."""
    port = _free_port()
    argv = [sys.executable, "-m", "apps.qa_bot", "--port", str(port), "--documents", "8", "--max-new-tokens", "8"]
    argv += ["--log-dir", str(tmp_path / "logs")]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen(
        argv, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        url = None
        assert process.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"running at (http://127\.0\.0\.1:\d+/?)", line)
            url = found.group(1) if found else None
        output = "".join(lines)
        assert url is not None, f"no URL printed; output:\n{output}"
        assert url.rstrip("/").endswith(f":{port}")
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
            assert "gradio" in response.read().decode("utf-8", errors="replace").lower()
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_a_model_without_its_tokenizer_is_refused_before_anything_loads() -> None:
    for pieces in ({"model": object()}, {"tokenizer": object()}):
        with pytest.raises(ValueError, match="`model` and `tokenizer`"):
            default_bot(**pieces)
        with pytest.raises(ValueError, match="`model` and `tokenizer`"):
            build_app(**pieces)
