"""The checkers of the exercises of the notebook template (a loss by hand), notebooks 07 (pretraining), 08
(classification heads), 09 and 10 (instruction tuning, LoRA) and 15 (token classification). Each computes the
expected answer itself with the course's own functions, so the notebook never shows it; it prints right or wrong and
returns it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

import torch
from torch import nn

from ..course.grading import check_answer, exercise
from ..course.seeding import set_seed
from ..generation.scoring import sequence_log_probs
from ..transformer.gpt import GPT, GPTConfig
from .classification import count_trainable
from .instruction import format_alpaca, sft_loss
from .lora import LoRALinear
from .pretraining import TokenWindowDataset

__all__ = [
    "LOSS_MASK_CHOICES",
    "METHOD_CHOICES",
    "check_aligned_labels",
    "check_alpaca_prompt",
    "check_bio_tags",
    "check_entity_f1",
    "check_generalisation_evidence",
    "check_head_parameters",
    "check_lora_parameter_count",
    "check_loss_mask_reason",
    "check_merged_weight",
    "check_method_choice",
    "check_mse_by_hand",
    "check_perplexity",
    "check_response_only_loss",
    "check_training_flops",
    "check_window_count",
    "check_zero_start_gradient",
]

_ROW = {"instruction": "Summarise the package description in one line.", "input": "A tool.", "output": "Tools."}


def _as_number(answer: Any) -> Any:
    """A one-element tensor as a float, so `loss` and `loss.item()` are both accepted; anything else unchanged."""
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        return answer.item()
    return answer


def _letter(answer: Any) -> Any:
    """A multiple-choice answer as a lower-case letter without spaces; anything else unchanged."""
    return answer.strip().lower() if isinstance(answer, str) else answer


def _within(answer: Any, expected: float, rel: float) -> Any:
    """`expected` when `answer` is a number within `rel` of it (relative), else `answer` unchanged, so that
    `check_answer` accepts a rounded answer and prints the learner's own value when it is wrong."""
    answer = _as_number(answer)
    if isinstance(answer, Real) and not isinstance(answer, bool) and math.isclose(answer, expected, rel_tol=rel):
        return expected
    return answer


# ----------------------------------------------------------------------------------------------- notebook 07


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
    return check_answer("mean squared error by hand", _within(_as_number(answer), expected, 1e-4), expected)


@exercise(
    wrong=[3.2, 2**3.2, math.exp(-3.2), math.log(3.2), None],  # the loss; base 2; 1 / perplexity; log, not exp
    solution=math.exp(3.2),
    context={"loss": 3.2},
)
def check_perplexity(answer: Any, loss: float = 3.2) -> bool:
    """Notebook 07, exercise 1: the perplexity of a model whose validation loss is `loss` nats per token."""
    return check_answer(f"perplexity at a loss of {loss}", _within(answer, math.exp(loss), 1e-3), math.exp(loss))


def _training_flops(n_params: float, tokens_per_param: float) -> float:
    return 6 * n_params * (tokens_per_param * n_params)


@exercise(
    # D taken as 20 tokens; the forward pass only (2ND); the 6 forgotten; D = N
    wrong=[6 * 1e9 * 20, 2 * 1e9 * 20e9, 1e9 * 20e9, 6 * 1e9 * 1e9, None],
    solution=_training_flops(1e9, 20),
    context={"n_params": 1e9, "tokens_per_param": 20},
)
def check_training_flops(answer: Any, n_params: float = 1e9, tokens_per_param: float = 20) -> bool:
    """Notebook 07, exercise 2: the training FLOPs, C = 6ND, of `n_params` parameters trained on `tokens_per_param`
    tokens per parameter."""
    expected = _training_flops(n_params, tokens_per_param)
    return check_answer("training FLOPs (6ND)", _within(answer, expected, 1e-3), expected)


@exercise(
    # starts counted to the end; no +1; stride 1; non-overlapping windows of T + 1; windows of T tokens
    wrong=[5, 3, 7, 2, None],
    solution=4,
    context={"n_ids": 10, "context_length": 3, "stride": 2},
)
def check_window_count(answer: Any, n_ids: int = 10, context_length: int = 3, stride: int = 2) -> bool:
    """Notebook 07, exercise 3: how many windows `TokenWindowDataset` cuts from `n_ids` tokens."""
    expected = len(TokenWindowDataset(list(range(n_ids)), context_length, stride))
    return check_answer("number of windows", _as_number(answer), expected, atol=0)


# ----------------------------------------------------------------------------------------------- notebook 08


@exercise(
    wrong=[384 * 3, 384 * 3 + 384, 384 * 2 + 2, 385 * 4, None],  # no biases; a bias per input; two classes; +1 class
    solution=384 * 3 + 3,
    context={"d_in": 384, "n_classes": 3},
)
def check_head_parameters(answer: Any, d_in: int = 384, n_classes: int = 3) -> bool:
    """Notebook 08, exercise 2: the trainable numbers (weights and biases) of a linear head from `d_in` features to
    `n_classes` classes."""
    expected = count_trainable(nn.Linear(d_in, n_classes))
    return check_answer(f"parameters of a {n_classes}-class head", _as_number(answer), expected, atol=0)


#: Notebook 08, exercise 3: where to start for a private, CPU-only classifier with 2,000 labelled examples.
METHOD_CHOICES = {
    "a": "send each e-mail with a zero-shot prompt to a large hosted chat model",
    "b": "fine-tune a small pretrained encoder (like MiniLM) with a new 5-class head on the labelled e-mails",
    "c": "pretrain a GPT from scratch on the 2,000 e-mails (notebook 07) and put a 5-class head on its last token",
    "d": "always answer the most frequent department: it needs no model at all",
}


@exercise(wrong=["a", "c", "d", " A ", None], solution="b")
def check_method_choice(answer: Any) -> bool:
    """Notebook 08, exercise 3 (conceptual): the letter of `METHOD_CHOICES` to start from for routing e-mails into
    five departments with 2,000 labelled e-mails, one CPU server, and no e-mail leaving the company."""
    return check_answer("where to start", _letter(answer), "b")


# ----------------------------------------------------------------------------------------------- notebook 09


def _alpaca_wrong(row: Mapping[str, str]) -> list[Any]:
    prompt = format_alpaca(row)[0]
    return [
        prompt.replace("### Input:\n" + row["input"] + "\n\n", ""),  # the input dropped
        prompt.rstrip("\n"),  # no newline after "### Response:"
        prompt + row["output"],  # the response included: that is the training text, not the prompt
        None,
    ]


@exercise(wrong=_alpaca_wrong, solution=lambda row: format_alpaca(row)[0], context={"row": _ROW})
def check_alpaca_prompt(answer: Any, row: Mapping[str, str]) -> bool:
    """Notebook 09, exercise 1: the Alpaca-style prompt of `row` (instruction, input, the response heading)."""
    return check_answer("Alpaca prompt", answer, format_alpaca(row)[0])


def _tiny_sft_batch() -> dict[str, Any]:
    """A tiny random GPT and a batch of two rows whose last tokens are the response."""
    set_seed(0)
    model = GPT(GPTConfig(vocab_size=32, context_length=16, d_model=16, n_heads=2, n_layers=1)).eval()
    input_ids = torch.randint(0, 32, (2, 8))
    attention_mask = torch.ones(2, 8, dtype=torch.long)
    attention_mask[1, 6:] = 0  # right padding
    completion_mask = torch.zeros(2, 8, dtype=torch.long)
    completion_mask[0, 5:] = 1
    completion_mask[1, 4:6] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "completion_mask": completion_mask}
    return {"model": model, "batch": batch}


def _loss_over(model: nn.Module, batch: Mapping[str, torch.Tensor], mask: torch.Tensor) -> float:
    with torch.no_grad():
        log_probs = sequence_log_probs(model, batch["input_ids"], batch["attention_mask"], mask)
    return (-log_probs.total.sum() / mask[:, 1:].sum()).item()


def _response_loss_wrong(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> list[Any]:
    every_token = batch["attention_mask"].clone()  # prompt tokens counted too (all but the first, which has no logits)
    every_token[:, 0] = 0
    return [_loss_over(model, batch, every_token), 0.0, None]


@exercise(
    wrong=_response_loss_wrong,
    solution=lambda model, batch: sft_loss(model, batch)[0].item(),
    context=_tiny_sft_batch,
)
def check_response_only_loss(answer: Any, model: nn.Module, batch: Mapping[str, torch.Tensor]) -> bool:
    """Notebook 09, exercise 2: the mean cross-entropy over the response tokens of `batch` under `model`."""
    with torch.no_grad():
        expected = sft_loss(model, batch)[0].item()
    return check_answer("response-only loss", _as_number(answer), expected, atol=1e-4)


#: Notebook 09, exercise 3: what goes wrong if the package-summary rows were trained on every token.
LOSS_MASK_CHOICES = {
    "a": "nothing: the prompt is only context, so its tokens cannot change the weights",
    "b": "most scored tokens would be the long package descriptions (section 3 counted them), so the average loss "
    "and its gradient would mostly teach the model to predict text it never has to write; the short synopses "
    "would barely move the weights",
    "c": "the loss would come out lower, which means the model answers better",
    "d": "training would fail: the cross-entropy is not defined on prompt tokens",
}


@exercise(wrong=["a", "c", "d", "B?", None], solution="b")
def check_loss_mask_reason(answer: Any) -> bool:
    """Notebook 09, exercise 3 (conceptual): the letter of `LOSS_MASK_CHOICES` that says what scoring every token
    of a long prompt and a short response would do."""
    return check_answer("why the loss counts only the response", _letter(answer), "b")


# ----------------------------------------------------------------------------------------------- notebook 10


def _adaptable_linears(model: nn.Module, targets: tuple[str, ...]) -> list[nn.Linear]:
    """The linear layers named like `targets` (the base layer where LoRA already wraps one)."""
    found = []
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in targets:
            base = module.base if isinstance(module, LoRALinear) else module
            if isinstance(base, nn.Linear):
                found.append(base)
    return found


def _two_layer_model() -> dict[str, Any]:
    layers = nn.ModuleList(
        nn.ModuleDict({"q_proj": nn.Linear(16, 16), "k_proj": nn.Linear(16, 8), "v_proj": nn.Linear(16, 8)})
        for _ in range(2)
    )
    return {"model": nn.ModuleDict({"layers": layers})}


@exercise(
    # r * d_in * d_out; one layer only; q, k and v adapted
    wrong=[2 * (8 * 16 * 16 + 8 * 16 * 8), 8 * (32 + 24), 2 * 8 * (32 + 24 + 24)],
    solution=2 * 8 * ((16 + 16) + (16 + 8)),
    context=_two_layer_model,
)
def check_lora_parameter_count(
    answer: Any, model: nn.Module, r: int = 8, targets: tuple[str, ...] = ("q_proj", "v_proj")
) -> bool:
    """Notebook 10, exercise 1: how many numbers LoRA of rank `r` on the `targets` layers of `model` trains."""
    expected = sum(r * (linear.in_features + linear.out_features) for linear in _adaptable_linears(model, targets))
    return check_answer(f"LoRA r = {r} on {' and '.join(targets)}", answer, expected, atol=0)


def _lora_layer() -> dict[str, Any]:
    set_seed(0)
    layer = LoRALinear(nn.Linear(8, 5), r=2, alpha=6)
    with torch.no_grad():
        layer.B.normal_()
    return {"layer": layer}


def _merge_wrong(layer: LoRALinear) -> list[Any]:
    with torch.no_grad():
        weight, update = layer.base.weight, layer.B @ layer.A
        return [weight.clone(), weight + update, weight + layer.alpha * update]  # no update; alpha/r forgotten


@exercise(
    wrong=_merge_wrong,
    solution=lambda layer: layer.merged().weight.detach(),
    context=_lora_layer,
)
def check_merged_weight(answer: Any, layer: LoRALinear) -> bool:
    """Notebook 10, exercise 2: the weight of the plain linear layer that computes what `layer` (LoRA) computes."""
    return check_answer("merged weight", answer, layer.merged().weight.detach())


@exercise(wrong=[1.0, 0.5, None], solution=0.0)
def check_zero_start_gradient(answer: Any) -> bool:
    """Notebook 10, exercise 3: the gradient norm reaching A and B when both start at zero (none: each factor's
    gradient is proportional to the other, so training could never leave zero)."""
    return check_answer("gradient reaching A and B when both start at zero", _as_number(answer), 0.0, atol=1e-8)


# ----------------------------------------------------------------------------------------------- notebook 15

_NAME_WORDS = ["Captain", "Frederick", "Wentworth", "wrote", "to", "Anne", "Elliot", "."]


def _as_list(answer: Any) -> Any:
    """A tuple, tensor or array as a plain list, so every sequence type compares alike; anything else unchanged."""
    if isinstance(answer, torch.Tensor):
        return answer.tolist()
    if isinstance(answer, tuple) or hasattr(answer, "tolist"):
        return list(answer.tolist() if hasattr(answer, "tolist") else answer)
    return answer


@exercise(
    wrong=[
        ["O", "B-PER", "B-PER", "O", "O", "B-PER", "B-PER", "O"],  # every name word starts its own entity
        ["B-PER", "I-PER", "I-PER", "O", "O", "B-PER", "I-PER", "O"],  # the title tagged as part of the name
        ["O"] * 8,
        None,
    ],
    solution=["O", "B-PER", "I-PER", "O", "O", "B-PER", "I-PER", "O"],
    context={"words": _NAME_WORDS},
)
def check_bio_tags(answer: Any, words: list[str]) -> bool:
    """Notebook 15, exercise 1: the BIO tags of `words` (names from the course's list; titles are not names)."""
    from .token_classification import bio_tags

    return check_answer("BIO tags", _as_list(answer), bio_tags(words))


@exercise(
    wrong=[
        [-100, 0, 1, 1, 1, 0, -100],  # the word's label on every piece
        [0, 0, 1, -100, -100, 0, 0],  # the special tokens labelled
        [0, 1, 0],  # one label per word, not per token
    ],
    solution=[-100, 0, 1, -100, -100, 0, -100],
    context={"word_ids": [None, 0, 1, 1, 1, 2, None], "word_labels": [0, 1, 0]},
)
def check_aligned_labels(answer: Any, word_ids: list[int | None], word_labels: list[int]) -> bool:
    """Notebook 15, exercise 2: the token labels for a tokenizer's `word_ids` and one label per word."""
    from .token_classification import align_labels

    return check_answer("labels per word piece", _as_list(answer), align_labels(word_ids, word_labels))


_GOLD = [["B-PER", "I-PER", "O", "O", "B-PER"], ["O", "B-PER", "O"], ["B-PER", "O", "O"]]
_PREDICTED = [["B-PER", "O", "O", "O", "B-PER"], ["O", "B-PER", "O"], ["O", "O", "B-PER"]]


@exercise(
    wrong=[0.8, 2 / 3, 0.75, None],  # tag accuracy of the name words; precision alone; a half-right span as right
    solution=0.5,
    context={"gold": _GOLD, "predicted": _PREDICTED},
)
def check_entity_f1(answer: Any, gold: list[list[str]], predicted: list[list[str]]) -> bool:
    """Notebook 15, exercise 3: the entity-level F1 of `predicted` against `gold` (exact spans only)."""
    from .token_classification import entity_scores

    return check_answer("entity-level F1", _as_number(answer), entity_scores(gold, predicted).f1, atol=1e-3)


@exercise(wrong=["a", "c", "d", None], solution="b")
def check_generalisation_evidence(answer: Any) -> bool:
    """Notebook 15, exercise 4 (conceptual): which number shows that the tagger learned what a name looks like
    rather than a list of names: (b) its recall on names held out of training."""
    return check_answer(
        "evidence of generalisation", answer.strip().lower() if isinstance(answer, str) else answer, "b"
    )
