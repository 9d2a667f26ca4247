"""The checkers of notebook 00's exercises (the layered cake, the encoder and the chat model's context window) and
of the notebook template's example exercise (a loss by hand). Each computes the expected answer itself, with the
course's own models, so the notebook never shows it; it prints right or wrong and returns it (a learner's `None` is
simply wrong)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..assets.models import load_chat_model, load_encoder
from ..course.arguments import require_type
from ..course.grading import as_number, check_answer, exercise, within
from ..transformer.embeddings import cosine_similarity, embed_sentences

__all__ = ["CAKE_LAYERS", "check_cake_layer", "check_closest_sentence", "check_completion_room", "check_mse_by_hand"]

#: Notebook 00, exercise 1: the layers of the cake, bottom to top.
CAKE_LAYERS = ("foundation", "task", "preference")


@exercise(wrong=["foundation", "preference", "fine-tuning", None], solution="task")
def check_cake_layer(answer: Any) -> bool:
    """Notebook 00, exercise 1 (conceptual): the layer of the cake that sorting labelled e-mails into three classes
    belongs to."""
    got = answer.strip().lower() if isinstance(answer, str) else answer
    if isinstance(got, str) and got not in CAKE_LAYERS:
        print(f"❌ the layer for the e-mails: {answer!r} is not one of {list(CAKE_LAYERS)}.")
        return False
    # Labelled examples of one job fine-tune a foundation model for that job.
    return check_answer("the layer for the e-mails", got, CAKE_LAYERS[1])


EXERCISE_QUERY = "I really enjoyed this film."  #: notebook 00, exercise 2
EXERCISE_CANDIDATES = ("The weather is cold today.", "What a wonderful movie, I loved it.", "The film was long.")


def _closest_sentence(query: str, candidates: Sequence[str], encoder: Any = None, tokenizer: Any = None) -> int:
    if encoder is None:
        encoder, tokenizer = load_encoder()
    require_type("query", query, str)
    require_type("candidates", candidates, (list, tuple))
    if not candidates:
        raise ValueError("`candidates` must hold at least one sentence.")
    scores = cosine_similarity(
        embed_sentences([query], encoder, tokenizer), embed_sentences(list(candidates), encoder, tokenizer)
    )
    return int(scores.argmax())


def _other_sentences(query: str, candidates: Sequence[str], encoder: Any = None, tokenizer: Any = None) -> list[Any]:
    best = _closest_sentence(query, candidates, encoder, tokenizer)
    others: list[Any] = [i for i in range(len(candidates)) if i != best]
    return [*others, len(candidates), candidates[best], None]  # a wrong index; the sentence, not its index


@exercise(
    wrong=_other_sentences,
    solution=_closest_sentence,
    context={"query": EXERCISE_QUERY, "candidates": list(EXERCISE_CANDIDATES)},
)
def check_closest_sentence(
    answer: Any, query: str, candidates: Sequence[str], encoder: Any = None, tokenizer: Any = None
) -> bool:
    """Notebook 00, exercise 2: the index in `candidates` of the sentence whose embedding (by `encoder` and
    `tokenizer`, from `load_encoder()`; None for the offline MiniLM) is closest to `query`'s."""
    if isinstance(answer, bool | str):
        print(f"❌ the closest sentence: store its index in the list (an int), got {answer!r}.")
        return False
    expected = _closest_sentence(query, candidates, encoder, tokenizer)
    return check_answer("the sentence closest in meaning", answer, expected, atol=0)


def _prompt_tokens(tokenizer: Any, prompt: str) -> int:
    """Tokens of `prompt` as `chat_reply` sends it: in the chat template, with the assistant's turn opened."""
    messages = [{"role": "user", "content": prompt}]
    return len(tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"])


def _completion_room(tokenizer: Any, prompt: str, context_window: int) -> int:
    return context_window - _prompt_tokens(tokenizer, prompt)


def _chat_context() -> dict[str, Any]:
    model, tokenizer = load_chat_model(device="cpu")
    return {
        "tokenizer": tokenizer,
        "prompt": "In one sentence, what is a large language model?",
        "context_window": model.config.max_position_embeddings,
    }


def _completion_room_wrong(tokenizer: Any, prompt: str, context_window: int) -> list[Any]:
    bare = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    return [
        context_window - bare,  # the prompt without the chat template
        context_window,  # the prompt forgotten
        context_window - len(prompt.split()),  # words, not tokens
        _prompt_tokens(tokenizer, prompt),  # the prompt's tokens, not what is left
        _completion_room(tokenizer, prompt, context_window) + 1,  # off by one
        None,
    ]


@exercise(wrong=_completion_room_wrong, solution=_completion_room, context=_chat_context)
def check_completion_room(answer: Any, tokenizer: Any, prompt: str, context_window: int) -> bool:
    """Notebook 00, exercise 3: how many tokens the completion may have at most when `prompt` is sent through the
    chat template of `tokenizer` to a model that attends to `context_window` tokens."""
    require_type("prompt", prompt, str)
    require_type("context_window", context_window, int)
    if not callable(getattr(tokenizer, "apply_chat_template", None)):
        raise TypeError(f"`tokenizer` must be a transformers tokenizer with a chat template, got {type(tokenizer)}.")
    expected = _completion_room(tokenizer, prompt, context_window)
    return check_answer("tokens left for the completion", answer, expected, atol=0)


# ------------------------------------------------------------------------------------- the notebook template


def _template_batch() -> dict[str, torch.Tensor]:
    return {"predictions": torch.tensor([1.0, 2.0, 3.0]), "targets": torch.tensor([2.0, 4.0, 6.0])}


def _mse_mistakes(predictions: torch.Tensor, targets: torch.Tensor) -> list[Any]:
    """The sum instead of the mean, the mean error unsquared, its absolute value, the root of the mean."""
    diff = predictions - targets
    return [
        (diff**2).sum().item(),
        diff.mean().item(),
        diff.abs().mean().item(),
        (diff**2).mean().sqrt().item(),
        None,
    ]


@exercise(
    wrong=_mse_mistakes,
    solution=lambda predictions, targets: torch.nn.functional.mse_loss(predictions, targets).item(),
    context=_template_batch,
)
def check_mse_by_hand(answer: Any, predictions: torch.Tensor, targets: torch.Tensor) -> bool:
    """The notebook template's example exercise: the mean squared error of `predictions` against `targets`."""
    expected = torch.nn.functional.mse_loss(predictions, targets).item()
    return check_answer("mean squared error by hand", within(as_number(answer), expected, 1e-4), expected)
