"""The checkers of the exercises of week 3: notebooks 08 (classification: F1, heads), 09 and 10 (instruction
tuning, LoRA) and 11 (evaluation: ROUGE, BLEU's brevity penalty, benchmark size). Each computes the expected answer
itself with the course's own functions and metrics, so the notebook never shows it; it prints right or wrong and
returns it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ..course.grading import as_number, check_answer, exercise
from ..course.seeding import set_seed
from ..evaluation.classification_metrics import classification_metrics
from ..evaluation.likelihood import wilson_interval
from ..evaluation.overlap_metrics import bleu_breakdown, rouge_n
from ..generation.scoring import sequence_log_probs
from ..training.classification import count_trainable
from ..training.instruction import format_alpaca, sft_loss
from ..training.lora import LoRALinear
from ..transformer.gpt import GPT, GPTConfig

__all__ = [
    "LOSS_MASK_CHOICES",
    "METHOD_CHOICES",
    "check_alpaca_prompt",
    "check_benchmark_size",
    "check_brevity_penalty",
    "check_f1_by_hand",
    "check_head_parameters",
    "check_lora_parameter_count",
    "check_loss_mask_reason",
    "check_merged_weight",
    "check_method_choice",
    "check_response_only_loss",
    "check_rouge2",
    "check_zero_start_gradient",
]

_ROW = {"instruction": "Summarise the package description in one line.", "input": "A tool.", "output": "Tools."}


def _letter(answer: Any) -> Any:
    """A multiple-choice answer as a lower-case letter without spaces; anything else unchanged."""
    return answer.strip().lower() if isinstance(answer, str) else answer


# ----------------------------------------------------------------------------------------------- notebook 08


def _filter_metrics(flagged: int, correct: int, positives: int, total: int) -> dict[str, float]:
    """The metrics of a filter that flags `flagged` of `total` items, `correct` of them among the `positives`."""
    if not 0 <= correct <= min(flagged, positives) or max(flagged, positives) > total:
        raise ValueError(
            f"need 0 <= correct <= flagged, positives <= total; got correct={correct}, flagged={flagged}, "
            f"positives={positives}, total={total}."
        )
    y_true = np.zeros(total, dtype=int)
    y_pred = np.zeros(total, dtype=int)
    y_true[:positives] = 1  # the first `correct` positives are flagged, and `flagged - correct` negatives after them
    y_pred[:correct] = 1
    y_pred[positives : positives + flagged - correct] = 1
    return classification_metrics(y_true, y_pred)


_SPAM = {"flagged": 40, "correct": 30, "positives": 50, "total": 200}


def _f1_wrong(flagged: int, correct: int, positives: int, total: int) -> list[float | None]:
    metrics = _filter_metrics(flagged, correct, positives, total)
    return [
        metrics["precision"],
        metrics["recall"],
        (metrics["precision"] + metrics["recall"]) / 2,  # the arithmetic mean, not the harmonic one
        correct / (flagged + positives - correct),  # TP / (TP + FP + FN): the Jaccard index
        None,
    ]


@exercise(wrong=_f1_wrong, solution=lambda **counts: _filter_metrics(**counts)["f1"], context=_SPAM)
def check_f1_by_hand(answer: Any, flagged: int = 40, correct: int = 30, positives: int = 50, total: int = 200) -> bool:
    """Notebook 08, exercise 1: the F1 of the class *spam* for a filter that flags `flagged` e-mails, `correct` of
    them spam, when `positives` of the `total` e-mails are spam."""
    return check_answer("F1 of the spam filter", answer, _filter_metrics(flagged, correct, positives, total)["f1"])


@exercise(
    wrong=[384 * 3, 384 * 3 + 384, 384 * 2 + 2, 385 * 4, None],  # no biases; a bias per input; two classes; +1 class
    solution=384 * 3 + 3,
    context={"d_in": 384, "n_classes": 3},
)
def check_head_parameters(answer: Any, d_in: int = 384, n_classes: int = 3) -> bool:
    """Notebook 08, exercise 2: the trainable numbers (weights and biases) of a linear head from `d_in` features to
    `n_classes` classes."""
    expected = count_trainable(nn.Linear(d_in, n_classes))
    return check_answer(f"parameters of a {n_classes}-class head", as_number(answer), expected, atol=0)


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
    return check_answer("response-only loss", as_number(answer), expected, atol=1e-4)


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
    return check_answer("gradient reaching A and B when both start at zero", as_number(answer), 0.0, atol=1e-8)


# ----------------------------------------------------------------------------------------------- notebook 11


@exercise(wrong=[4 / 5, 3 / 6, 1.0, 0.0], solution=3 / 5)  # unigrams; wrong count of bigrams; identical; none
def check_rouge2(answer: Any) -> bool:
    """Notebook 11, exercise 1: ROUGE-2 F of "the cat sat on the mat" against "the cat lay on the mat"."""
    return check_answer("ROUGE-2 F by hand", answer, rouge_n("the cat sat on the mat", "the cat lay on the mat", 2))


@exercise(wrong=[0.9, 1.0, 0.8948 + 0.01, 1.1052], solution=0.8948)  # the length ratio; none; off; exp(0.1)
def check_brevity_penalty(answer: Any) -> bool:
    """Notebook 11, exercise 2: BLEU's brevity penalty for 90 hypothesis tokens against 100 reference tokens."""
    expected = bleu_breakdown(["x " * 90], ["x " * 100]).brevity_penalty
    return check_answer("brevity penalty, 90 vs 100 tokens", answer, expected, atol=1e-3)


def _smallest_benchmark(width: float) -> int:
    """The fewest questions whose 95% Wilson interval at half right is at most `width` wide."""
    n = 1
    while True:
        low, high = wilson_interval(n // 2, n)
        if high - low <= width:
            return n
        n += 1


@exercise(wrong=[100, 400, 1000, 385], solution=lambda: _smallest_benchmark(0.1))
def check_benchmark_size(answer: Any) -> bool:
    """Notebook 11, exercise 3: the smallest number of questions for a 95% Wilson interval at most 0.1 wide when
    about half the answers are right."""
    return check_answer("questions for a ±0.05 interval", answer, _smallest_benchmark(0.1), atol=0)
