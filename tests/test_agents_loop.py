"""utils.agents.loop: reading a model turn (JSON extraction, schema checks), the loop's bookkeeping with a scripted
model (calls, observations, malformed turns, the step limit), and one real SmolLM2 episode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from utils.agents import loop
from utils.agents.loop import (
    FinalAnswer,
    MalformedCall,
    ToolCall,
    extract_json_object,
    few_shot_messages,
    guided_call_prefix,
    parse_action,
    run_agent,
    tool_system_prompt,
)
from utils.agents.questions import arithmetic_questions, last_number, number_is_right
from utils.agents.tools import WordNetDictionary, calculator_tool, dictionary_tool

ROWS = [{"input": "lamp (noun)", "kind": "definition", "output": "A source of light.", "instruction": "Define."}]
TOOLS = [calculator_tool(), dictionary_tool(WordNetDictionary(ROWS))]


def test_extract_json_object_skips_braces_in_strings() -> None:
    assert extract_json_object('Sure! {"a": "}{", "b": {"c": "\\"}"}} and more') == '{"a": "}{", "b": {"c": "\\"}"}}'
    with pytest.raises(MalformedCall, match="no JSON object"):
        extract_json_object("The answer is 42.")
    with pytest.raises(MalformedCall, match="not closed"):
        extract_json_object('{"answer": "42"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"tool": "calculator", "arguments": {"expression": "2 + 2"}}',
            ToolCall("calculator", {"expression": "2 + 2"}),
        ),
        ('{"answer": "4"}}', FinalAnswer("4")),  # a stray closing brace after the object is ignored
        ('{"answer": 4}', FinalAnswer("4")),
    ],
)
def test_parse_action_reads_calls_and_answers(text: str, expected: object) -> None:
    assert parse_action(text, TOOLS) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("four", "no JSON object"),
        ("{'tool': 'calculator'}", "invalid JSON"),
        ('{"tool": "search", "arguments": {}}', "must be one of"),
        ('{"tool": "dictionary", "arguments": {"expression": "lamp"}}', "required field 'word'"),
        ('{"tool": "calculator", "arguments": "2 + 2"}', "must be of type object"),
        ('{"answer": "4", "confidence": 1}', "unexpected field"),
        ('{"answer": ["4"]}', "must be of type string or number"),
    ],
)
def test_parse_action_names_what_is_malformed(text: str, match: str) -> None:
    with pytest.raises(MalformedCall, match=match):
        parse_action(text, TOOLS)


def test_prompts_and_examples() -> None:
    prompt = tool_system_prompt(TOOLS)
    assert "- calculator:" in prompt and "- dictionary:" in prompt and '{"answer":' in prompt
    shots = few_shot_messages(TOOLS, [("What is 6 * 7?", "calculator", {"expression": "6 * 7"})])
    assert [m["role"] for m in shots] == ["user", "assistant", "user", "assistant"]
    assert shots[2]["content"] == "Observation: 42" and shots[3]["content"] == '{"answer": "42"}'
    lamp = few_shot_messages(TOOLS, [("Define lamp.", "dictionary", {"word": "lamp"})])
    assert lamp[3]["content"] == '{"answer": "A source of light."}'
    assert guided_call_prefix(TOOLS[0]) == '{"tool": "calculator", "arguments": {"expression": "'


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Replace the model: `generate_reply` returns the next scripted turn (after the prefix it was given)."""
    script: list[str] = []  # the test fills it

    def fake_reply(model: Any, tokenizer: Any, messages: list, *, prefix: str = "", **kwargs: Any) -> str:
        return prefix + script.pop(0)

    monkeypatch.setattr(loop, "generate_reply", fake_reply)
    monkeypatch.setattr(loop, "choose_tool", lambda model, tokenizer, messages, tools: tools[0])
    yield script


def test_loop_calls_a_tool_then_answers(scripted: list[str]) -> None:
    scripted += ['{"tool": "calculator", "arguments": {"expression": "6 * 7"}}', '{"answer": "42"}']
    run = run_agent(None, None, "What is 6 * 7?", TOOLS)
    assert run.answer == "42" and run.finished
    assert run.n_tool_calls == 1 and run.n_malformed == 0 and run.steps[0].feedback == "42"
    assert "observation: 42" in run.transcript()


def test_loop_counts_malformed_turns_and_tool_errors(scripted: list[str]) -> None:
    scripted += [
        "It is 42.",
        '{"tool": "calculator", "arguments": {"expression": "6 / 0"}}',
        '{"tool": "dictionary", "arguments": {"word": "zebra"}}',
        '{"answer": "I do not know"}',
    ]
    run = run_agent(None, None, "What is 6 / 0?", TOOLS, max_steps=5)
    assert run.n_malformed == 1 and run.n_tool_errors == 2 and run.n_tool_calls == 2
    assert run.steps[0].feedback == "no JSON object found"
    assert run.steps[1].feedback.startswith("Error: division by zero")
    assert run.answer == "I do not know"


def test_loop_stops_at_max_steps(scripted: list[str]) -> None:
    scripted += ['{"tool": "calculator", "arguments": {"expression": "1"}}'] * 2
    run = run_agent(None, None, "Loop forever?", TOOLS, max_steps=2)
    assert run.answer is None and not run.finished and len(run.steps) == 2


def test_guided_turn_starts_with_the_call(scripted: list[str]) -> None:
    scripted += ['6 * 7"}}', 'answer": "42"}']
    run = run_agent(None, None, "What is 6 * 7?", TOOLS, tool_choice="guided")
    assert run.steps[0].output == '{"tool": "calculator", "arguments": {"expression": "6 * 7"}}'
    assert run.steps[1].output == '{"answer": "42"}' and run.answer == "42"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tool_choice": "always"}, ValueError, "tool_choice"),
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"tools": ["calculator"]}, TypeError, r"tools\[0\]"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, error: type, match: str) -> None:
    arguments = {"tools": TOOLS, **kwargs}
    with pytest.raises(error, match=match):
        run_agent(None, None, "What?", **arguments)


def test_questions_and_scoring() -> None:
    questions = arithmetic_questions(8, seed=3)
    assert questions == arithmetic_questions(8, seed=3) and len({q.question for q in questions}) == 8
    assert all(q.kind == "calculator" and q.answer == last_number(q.answer) for q in questions)
    assert last_number("347 * 29 = 10,063.") == "10063" and last_number("no number") is None
    assert number_is_right("The answer is 42.0", "42") and not number_is_right("4 * 2 = 8", "42")
    assert not number_is_right(None, "42")


@pytest.mark.slow
def test_real_model_guided_episode() -> None:
    from utils.assets.models import load_chat_model

    model, tokenizer = load_chat_model()
    run = run_agent(model, tokenizer, "What is 6 * 7?", TOOLS, tool_choice="guided", max_steps=2)
    assert isinstance(run.steps[0].action, ToolCall) and run.steps[0].action.tool == "calculator"
    assert run.steps[0].feedback == "42"
