"""The ReAct-style tool loop: the model either calls a tool with one JSON object or gives the final answer; the code
parses and validates the call, runs the tool, and shows the model the result (the "observation") in the next turn,
until an answer comes or the step limit is reached. Taught in notebook 16.

Each model turn must be exactly one JSON object, one of

    {"tool": "<tool name>", "arguments": {...}}     a call: the arguments are checked against the tool's schema
    {"answer": "<the final answer>"}                 the end

Whatever else the model writes (prose, broken JSON, an unknown tool, wrong arguments) is a **malformed call**: it is
counted, and the model is told what was wrong in the next turn, the same way a tool's own error is reported.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..course.arguments import require_choice, require_range, require_type
from ..course.device import device_of
from ..generation.scoring import sequence_log_probs
from .schema import schema_errors
from .tools import Tool, ToolError

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": ["string", "number"]}},
    "required": ["answer"],
    "additionalProperties": False,
}
#: How `run_agent` steers the start of a model turn ("auto" and "required" are the names OpenAI-style APIs use):
#: "auto" not at all; "json" opens a JSON object (the model still picks "tool" or "answer"); "required" opens a tool
#: call on the first turn (later turns as "json"); "guided" also picks the first turn's tool by the model's own
#: log-probabilities among the valid names and writes the argument's key, so only the value is free text
#: (schema-guided decoding in miniature; later turns as "json").
TOOL_CHOICES = ("auto", "json", "required", "guided")
JSON_PREFIX = '{"'
CALL_PREFIX = '{"tool": "'


def call_schema(tools: Sequence[Tool]) -> dict[str, Any]:
    """The JSON Schema of a tool call for these tools: {"tool": one of their names, "arguments": an object}."""
    return {
        "type": "object",
        "properties": {"tool": {"type": "string", "enum": [t.name for t in tools]}, "arguments": {"type": "object"}},
        "required": ["tool", "arguments"],
        "additionalProperties": False,
    }


class MalformedCall(ValueError):
    """The model's turn is not a valid call or answer; the message says why (and is shown to the model)."""


@dataclass(frozen=True)
class ToolCall:
    tool: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class FinalAnswer:
    text: str


def extract_json_object(text: str) -> str:
    """The first balanced `{...}` in `text` (braces inside JSON strings are skipped); `MalformedCall` if none."""
    start = text.find("{")
    if start < 0:
        raise MalformedCall("no JSON object found")
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        char = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    raise MalformedCall("the JSON object is not closed")


def parse_action(text: str, tools: Sequence[Tool]) -> ToolCall | FinalAnswer:
    """Read one model turn as a `ToolCall` (name and arguments checked against the tools' schemas) or a
    `FinalAnswer`; anything else raises `MalformedCall` saying what is wrong."""
    snippet = extract_json_object(text)
    try:
        value = json.loads(snippet)
    except json.JSONDecodeError as err:
        raise MalformedCall(f"invalid JSON ({err.msg})") from err
    if isinstance(value, dict) and "answer" in value:
        errors = schema_errors(value, ANSWER_SCHEMA)
        if errors:
            raise MalformedCall("; ".join(errors))
        return FinalAnswer(str(value["answer"]).strip())
    errors = schema_errors(value, call_schema(tools))
    if errors:
        raise MalformedCall("; ".join(errors))
    tool = next(t for t in tools if t.name == value["tool"])
    errors = schema_errors(value["arguments"], tool.parameters, "$.arguments")
    if errors:
        raise MalformedCall("; ".join(errors))
    return ToolCall(tool.name, value["arguments"])


def tool_system_prompt(tools: Sequence[Tool]) -> str:
    """The system prompt that tells the model its tools and the two JSON shapes it may reply with."""
    lines = [
        "You can use tools. To use a tool, reply with only one JSON object: "
        '{"tool": "<tool name>", "arguments": {...}}.',
        "You will then see the result as an observation. When you know the answer, reply with only: "
        '{"answer": "<your answer>"}.',
        "Tools:",
    ]
    lines += [f"- {tool.name}: {tool.description}" for tool in tools]
    return "\n".join(lines)


def observation_message(text: str) -> dict[str, str]:
    """The turn that shows the model a tool's result (as the user: SmolLM2 has no separate tool role)."""
    return {"role": "user", "content": f"Observation: {text}"}


def error_message(reason: str) -> dict[str, str]:
    """The turn that tells the model its last reply was not a valid call or answer."""
    return {"role": "user", "content": f"Error: {reason}. Reply with one JSON object, a tool call or an answer."}


def few_shot_messages(
    tools: Sequence[Tool], examples: Sequence[tuple[str, str, dict[str, Any]]]
) -> list[dict[str, str]]:
    """Worked examples as earlier chat turns: for each (question, tool name, arguments), the question, the call,
    the REAL observation (the tool is run here) and the answer copied from it (its first line, without a
    dictionary entry's leading "word (part of speech): ")."""
    by_name = {tool.name: tool for tool in tools}
    messages: list[dict[str, str]] = []
    for question, name, arguments in examples:
        observation = by_name[name].run(arguments)
        answer = observation.split("\n")[0].split("): ", 1)[-1]  # a dictionary entry's first definition line
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": json.dumps({"tool": name, "arguments": arguments})},
            observation_message(observation),
            {"role": "assistant", "content": json.dumps({"answer": answer})},
        ]
    return messages


def chat_prompt(tokenizer: Any, messages: Sequence[dict[str, str]], prefix: str = "") -> str:
    """The conversation in the model's chat template, ready for the model's turn, which starts with `prefix`."""
    return tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False) + prefix


def choose_tool(model: Any, tokenizer: Any, messages: Sequence[dict[str, str]], tools: Sequence[Tool]) -> Tool:
    """The tool whose name the model finds most likely right after '{"tool": "' (the sum of the log-probabilities
    of the name's tokens): a choice restricted to the schema's `enum` of names."""
    prompt_ids = tokenizer(chat_prompt(tokenizer, messages, CALL_PREFIX), add_special_tokens=False)["input_ids"]
    rows = [prompt_ids + tokenizer(tool.name, add_special_tokens=False)["input_ids"] for tool in tools]
    width = max(map(len, rows))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.tensor([row + [pad_id] * (width - len(row)) for row in rows])
    attention = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows])
    completion = attention.clone()
    completion[:, : len(prompt_ids)] = 0
    device = device_of(model)
    with torch.no_grad():
        scores = sequence_log_probs(model, input_ids.to(device), attention.to(device), completion.to(device)).total
    return tools[int(scores.argmax())]


def guided_call_prefix(tool: Tool) -> str:
    """The start of a call to `tool` up to the opening quote of its first required argument's value:
    '{"tool": "calculator", "arguments": {"expression": "'."""
    required = tool.parameters.get("required", [])
    if not required:
        return f'{CALL_PREFIX}{tool.name}", "arguments": {{'
    return f'{CALL_PREFIX}{tool.name}", "arguments": {{"{required[0]}": "'


class _StopAfterJsonObject:
    """A `generate` stopping criterion: stop once the new text holds a complete JSON object (saves the tokens a
    model would spend after its call)."""

    def __init__(self, tokenizer: Any, prompt_length: int, prefix: str) -> None:
        self.tokenizer, self.prompt_length, self.prefix = tokenizer, prompt_length, prefix

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        text = self.prefix + self.tokenizer.decode(input_ids[0, self.prompt_length :], skip_special_tokens=True)
        try:
            extract_json_object(text)
            done = True
        except MalformedCall:
            done = False
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


def generate_reply(
    model: Any,
    tokenizer: Any,
    messages: Sequence[dict[str, str]],
    *,
    prefix: str = "",
    max_new_tokens: int = 48,
    stop_after_json: bool = True,
) -> str:
    """Greedy reply of a chat model to a conversation. `prefix` is written at the start of the model's turn (the
    model continues it, and the returned text includes it); `stop_after_json` ends generation once the reply holds a
    complete JSON object."""
    from transformers import StoppingCriteriaList  # heavy: imported when a reply is generated, not with the module

    prompt = chat_prompt(tokenizer, messages, prefix)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(device_of(model))
    length = inputs["input_ids"].shape[1]
    stops = StoppingCriteriaList([_StopAfterJsonObject(tokenizer, length, prefix)]) if stop_after_json else None
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.no_grad():
        output = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id, stopping_criteria=stops
        )
    return prefix + tokenizer.decode(output[0, length:], skip_special_tokens=True).strip()


@dataclass
class Step:
    """One model turn: what it wrote, how it was read (a call, an answer, or None if malformed), and what it was
    told back (the observation, or the error message)."""

    output: str
    action: ToolCall | FinalAnswer | None
    feedback: str = ""
    malformed: bool = False
    tool_error: bool = False


@dataclass
class AgentRun:
    """A whole episode: the question, every step, the final answer (None if the step limit came first)."""

    question: str
    steps: list[Step] = field(default_factory=list)
    answer: str | None = None

    @property
    def n_malformed(self) -> int:
        return sum(step.malformed for step in self.steps)

    @property
    def n_tool_calls(self) -> int:
        return sum(isinstance(step.action, ToolCall) for step in self.steps)

    @property
    def n_tool_errors(self) -> int:
        return sum(step.tool_error for step in self.steps)

    @property
    def finished(self) -> bool:
        return self.answer is not None

    def transcript(self) -> str:
        """The episode as text, one line per turn."""
        lines = [f"question: {self.question}"]
        for i, step in enumerate(self.steps, start=1):
            lines.append(f"  step {i} model: {step.output}")
            if step.feedback:
                lines.append(f"  step {i} {'error' if step.malformed else 'observation'}: {step.feedback}")
        lines.append(f"  answer: {self.answer}")
        return "\n".join(lines)


def run_agent(
    model: Any,
    tokenizer: Any,
    question: str,
    tools: Sequence[Tool],
    *,
    examples: Sequence[dict[str, str]] = (),
    tool_choice: str = "auto",
    max_steps: int = 4,
    max_new_tokens: int = 48,
) -> AgentRun:
    """Run the tool loop on one question, greedily (the same run every time).

    examples: earlier turns shown before the question (`few_shot_messages`), empty for zero-shot.
    tool_choice: "auto" (the model writes what it likes), "json" (each turn starts with '{"', so it is a JSON object),
    "required" (the first turn starts with '{"tool": "', a call) or "guided" (the first turn's tool is chosen among
    the valid names by log-probability, `choose_tool`, and its argument key is written, `guided_call_prefix`); after
    the first turn "required" and "guided" continue as "json". See `TOOL_CHOICES`.
    max_steps: the most model turns; an episode without an answer by then ends with `answer=None`.
    """
    require_type("question", question, str)
    for i, tool in enumerate(tools):
        require_type(f"tools[{i}]", tool, Tool)
    require_choice("tool_choice", tool_choice, TOOL_CHOICES)
    require_range("max_steps", max_steps, low=1)
    messages = [{"role": "system", "content": tool_system_prompt(tools)}, *examples]
    messages.append({"role": "user", "content": question})
    run = AgentRun(question)
    by_name = {tool.name: tool for tool in tools}
    for step in range(max_steps):
        if tool_choice == "auto":
            prefix = ""
        elif step > 0 or tool_choice == "json":
            prefix = JSON_PREFIX
        elif tool_choice == "required":
            prefix = CALL_PREFIX
        else:
            prefix = guided_call_prefix(choose_tool(model, tokenizer, messages, tools))
        output = generate_reply(model, tokenizer, messages, prefix=prefix, max_new_tokens=max_new_tokens)
        messages.append({"role": "assistant", "content": output})
        try:
            action = parse_action(output, tools)
        except MalformedCall as err:
            run.steps.append(Step(output, None, str(err), malformed=True))
            messages.append(error_message(str(err)))
            continue
        if isinstance(action, FinalAnswer):
            run.steps.append(Step(output, action))
            run.answer = action.text
            break
        try:
            observation, failed = by_name[action.tool].run(action.arguments), False
        except ToolError as err:
            observation, failed = f"Error: {err}", True
        run.steps.append(Step(output, action, observation, tool_error=failed))
        messages.append(observation_message(observation))
    return run
