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

from ..assets.models import load_chat_model
from ..course.grading import as_number, check_answer, check_function, exercise
from ..evaluation.classification_metrics import classification_metrics
from ..evaluation.likelihood import wilson_interval
from ..evaluation.overlap_metrics import bleu_breakdown, rouge_l, rouge_n, rouge_tokenize
from ..training.classification import count_trainable
from ..training.instruction import SUMMARY_INSTRUCTION, format_alpaca, tokenize_example
from ..training.lora import LoRALinear
from ..transformer.embeddings import mean_pool

__all__ = [
    "METHOD_CHOICES",
    "check_alpaca_example",
    "check_benchmark_size",
    "check_brevity_penalty",
    "check_f1_by_hand",
    "check_head_parameters",
    "check_last_real_token",
    "check_lora_forward",
    "check_lora_parameter_count",
    "check_method_choice",
    "check_response_share",
    "check_rouge2",
    "check_rouge_l_function",
    "check_row_mean_loss",
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


def _last_real_token(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The vector `[batch, dim]` of each row's last real token (mask 1), whatever the padding side: the largest
    position index where the mask is 1 (the rule of transformers' `...ForSequenceClassification`)."""
    positions = torch.arange(mask.shape[1], device=mask.device)  # [T]
    last = (mask.long() * positions).argmax(dim=1)  # [B]
    return hidden[torch.arange(len(hidden)), last]


def _padded_mask(lengths: list[int], width: int, side: str) -> torch.Tensor:
    """A `[len(lengths), width]` attention mask with `lengths` real tokens per row, padded on `side`."""
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, length in enumerate(lengths):
        if side == "right":
            mask[row, :length] = 1
        else:
            mask[row, width - length :] = 1
    return mask


def _last_token_cases() -> list[tuple]:
    generator = torch.Generator().manual_seed(8)
    shapes = [([5, 2, 7, 1], 7, "right"), ([3, 6, 1], 6, "left"), ([4, 4], 4, "right"), ([2, 9, 5, 9, 1], 9, "left")]
    return [
        (torch.randn(len(lengths), width, 3, generator=generator), _padded_mask(lengths, width, side))
        for lengths, width, side in shapes
    ]


@exercise(
    wrong=lambda: [
        lambda hidden, mask: hidden[torch.arange(len(hidden)), mask.sum(dim=1) - 1],  # right padding only
        lambda hidden, mask: hidden[:, -1],  # the last position, padding or not
        lambda hidden, mask: _last_real_token(torch.roll(hidden, 1, dims=1), mask),  # off by one: the token before
        lambda hidden, mask: hidden.mean(dim=1),  # the mean over every position, padding too
        lambda hidden, mask: mean_pool(hidden, mask),  # the mean over the real tokens: an encoder's pooling
        None,
    ],
    solution=lambda: _last_real_token,
)
def check_last_real_token(answer: Any) -> bool:
    """Notebook 08, exercise 3 (code): the learner's `f(hidden, mask)` -> `[batch, dim]`, the vector of each row's
    last real token, for batches padded on the right *or* on the left, run on hidden batches against the course's
    reference (transformers' rule)."""
    return check_function("your last-real-token gather", answer, _last_real_token, _last_token_cases())


#: Notebook 08, exercise 4: where to start for a private, CPU-only classifier with 2,000 labelled examples.
METHOD_CHOICES = {
    "a": "send each e-mail with a zero-shot prompt to a large hosted chat model",
    "b": "fine-tune a small pretrained encoder (like MiniLM) with a new 5-class head on the labelled e-mails",
    "c": "pretrain a GPT from scratch on the 2,000 e-mails (notebook 07) and put a 5-class head on its last token",
    "d": "deploy a rule that always answers the most frequent department: it needs no model at all",
    "e": "a linear probe: a 5-class logistic regression on frozen MiniLM sentence embeddings of the e-mails",
}


def _letters(answer: Any) -> Any:
    """An answer of several letters as one lower-case string without spaces, commas or arrows; anything else
    unchanged."""
    if not isinstance(answer, str):
        return answer
    return "".join(ch for ch in answer.lower() if ch not in " ,;>-")


@exercise(wrong=["b", "e", "be", "ab", "ec", "eb d", None], solution="eb")
def check_method_choice(answer: Any) -> bool:
    """Notebook 08, exercise 4 (conceptual): the letters of `METHOD_CHOICES` to train first and next for routing
    e-mails into five departments with 2,000 labelled e-mails, one CPU server, and no e-mail leaving the company."""
    return check_answer("which plan first, which next", _letters(answer), "eb")


# ----------------------------------------------------------------------------------------------- notebook 09


def _alpaca_rows() -> list[dict[str, str]]:
    """Hidden rows for exercise 1: with and without an input, and one long enough to be cut."""
    return [
        {"instruction": "Define the word.", "input": "lantern (noun)", "output": "A light in a transparent case."},
        {"instruction": "Give a synonym of the word.", "input": "", "output": "swift"},
        {"instruction": SUMMARY_INSTRUCTION, "input": "A small tool " * 30, "output": "Command-line tool."},
    ]


def _alpaca_cases(tokenizer: Any) -> list[tuple]:
    return [(tokenizer, row, 256) for row in _alpaca_rows()] + [(tokenizer, _alpaca_rows()[0], 20)]


def _alpaca_reference(tokenizer: Any, row: Mapping[str, str], max_length: int) -> dict[str, list[int]]:
    return tokenize_example(tokenizer, row, template="alpaca", max_length=max_length)


def _alpaca_no_eos(tokenizer: Any, row: Mapping[str, str], max_length: int) -> dict[str, list[int]]:
    prompt, response = format_alpaca(row)
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    return {
        "input_ids": (p_ids + r_ids)[:max_length],
        "completion_mask": ([0] * len(p_ids) + [1] * len(r_ids))[:max_length],
    }


def _alpaca_joined(tokenizer: Any, row: Mapping[str, str], max_length: int) -> dict[str, list[int]]:
    """Wrong: no mask at all (the prompt scored too)."""
    good = _alpaca_reference(tokenizer, row, max_length)
    return {"input_ids": good["input_ids"], "completion_mask": [1] * len(good["input_ids"])}


def _alpaca_mask_shifted(tokenizer: Any, row: Mapping[str, str], max_length: int) -> dict[str, list[int]]:
    good = _alpaca_reference(tokenizer, row, max_length)
    return {"input_ids": good["input_ids"], "completion_mask": [*good["completion_mask"][1:], 1][:max_length]}


def _alpaca_not_cut(tokenizer: Any, row: Mapping[str, str], max_length: int) -> dict[str, list[int]]:
    return _alpaca_reference(tokenizer, row, 10_000)


def _alpaca_context() -> dict[str, Any]:
    return {"tokenizer": load_chat_model()[1]}  # SmolLM2's tokenizer: loaded only when a test asks


@exercise(
    wrong=lambda tokenizer: [_alpaca_no_eos, _alpaca_joined, _alpaca_mask_shifted, _alpaca_not_cut, None],
    solution=lambda tokenizer: _alpaca_reference,
    context=_alpaca_context,
)
def check_alpaca_example(answer: Any, tokenizer: Any) -> bool:
    """Notebook 09, exercise 1 (code): the learner's `f(tokenizer, row, max_length)` giving the Alpaca-format
    `{"input_ids", "completion_mask"}` of a row, run on hidden rows (one cut short) against `tokenize_example`."""
    return check_function("your Alpaca tokenization", answer, _alpaca_reference, _alpaca_cases(tokenizer))


def _row_mean_cases() -> list[tuple]:
    generator = torch.Generator().manual_seed(9)
    cases = []
    for batch, length, vocab in ((1, 5, 7), (3, 9, 11), (4, 12, 50)):
        logits = 3 * torch.randn(batch, length, vocab, generator=generator)
        ids = torch.randint(0, vocab, (batch, length), generator=generator)
        mask = torch.zeros(batch, length, dtype=torch.long)
        for row in range(batch):
            start = int(torch.randint(1, length - 1, (1,), generator=generator))
            stop = int(torch.randint(start + 1, length + 1, (1,), generator=generator))
            mask[row, start:stop] = 1  # rows of different lengths: the two averages differ
        cases.append((logits, ids, mask))
    return cases


def _picked(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:, None])[..., 0]  # [B, T-1]


def _row_mean_loss(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    counted = mask[:, 1:].float()
    return (-(_picked(logits, ids) * counted).sum(dim=1) / counted.sum(dim=1)).mean()


def _token_mean_loss(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    counted = mask[:, 1:].float()
    return -(_picked(logits, ids) * counted).sum() / counted.sum()


def _unshifted_row_mean(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    picked = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[..., None])[..., 0]
    counted = mask.float()
    return (-(picked * counted).sum(dim=1) / counted.sum(dim=1)).mean()


@exercise(
    wrong=lambda: [
        _token_mean_loss,  # the token mean of `response_loss`
        _unshifted_row_mean,  # no shift: each position scores its own token
        lambda logits, ids, mask: -(_picked(logits, ids) * mask[:, 1:]).sum(dim=1).mean(),  # row sums, not means
        lambda logits, ids, mask: -_picked(logits, ids).mean(dim=1).mean(),  # every position counted
        None,
    ],
    solution=lambda: _row_mean_loss,
)
def check_row_mean_loss(answer: Any) -> bool:
    """Notebook 09, exercise 2 (code): the learner's `f(logits, input_ids, completion_mask)`, the mean over rows of
    each row's mean next-token loss on its marked tokens, run on hidden random batches."""
    return check_function("your row-mean loss", answer, _row_mean_loss, _row_mean_cases())


def _share_batch() -> dict[str, Any]:
    attention_mask = torch.tensor([[1] * 10 + [0] * 2, [1] * 12])
    completion_mask = torch.tensor([[0] * 7 + [1] * 3 + [0] * 2, [0] * 10 + [1] * 2])
    return {"batch": {"attention_mask": attention_mask, "completion_mask": completion_mask}}


def _response_share(batch: Mapping[str, torch.Tensor]) -> float:
    scored = batch["attention_mask"][:, 1:]  # every token but the first of each row has a prediction
    response = (batch["completion_mask"] * batch["attention_mask"])[:, 1:]
    return float(response.sum() / scored.sum())


@exercise(
    wrong=lambda batch: [
        float((batch["completion_mask"] * batch["attention_mask"]).sum() / batch["attention_mask"].numel()),
        1 - _response_share(batch),
        float(batch["attention_mask"][:, 1:].sum() / (batch["completion_mask"] * batch["attention_mask"])[:, 1:].sum()),
        None,
    ],
    solution=lambda batch: _response_share(batch),
    context=_share_batch,
)
def check_response_share(answer: Any, batch: Mapping[str, torch.Tensor]) -> bool:
    """Notebook 09, exercise 3: the share of the tokens an every-token loss scores on `batch` that are response
    tokens (n_response / n_all of section 3)."""
    return check_answer("response share of the scored tokens", as_number(answer), _response_share(batch), atol=5e-3)


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


def _lora_forward_reference(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    A: torch.Tensor,
    B: torch.Tensor,
    alpha: float,
    r: int,
) -> torch.Tensor:
    """The course's `LoRALinear` with these weights, run on `x`."""
    base = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    layer = LoRALinear(base, r=r, alpha=alpha)
    with torch.no_grad():
        base.weight.copy_(weight)
        if bias is not None:
            base.bias.copy_(bias)
        layer.A.copy_(A)
        layer.B.copy_(B)
        return layer(x)


def _lora_forward_cases() -> list[tuple]:
    """Hidden layers: (x shape, d_out, bias?, r, alpha); square and not, 2-D and 3-D inputs, with and without bias."""
    generator = torch.Generator().manual_seed(10)
    cases = []
    for x_shape, d_out, with_bias, r, alpha in [
        ((3, 6), 4, True, 2, 4.0),
        ((2, 5, 8), 8, False, 4, 16.0),
        ((7, 12), 12, True, 1, 3.0),
        ((2, 3, 10), 6, True, 8, 8.0),
    ]:
        d_in = x_shape[-1]
        x, weight = torch.randn(x_shape, generator=generator), torch.randn(d_out, d_in, generator=generator)
        bias = torch.randn(d_out, generator=generator) if with_bias else None
        A, B = torch.randn(r, d_in, generator=generator), torch.randn(d_out, r, generator=generator)
        cases.append((x, weight, bias, A, B, alpha, r))
    return cases


def _base_output(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return x @ weight.T + (0 if bias is None else bias)


@exercise(
    wrong=lambda: [
        lambda x, w, b, A, B, alpha, r: _lora_forward_reference(x, w, b, A, B, alpha * r, r),  # scale alpha, not /r
        lambda x, w, b, A, B, alpha, r: _lora_forward_reference(x, w, b, A, B, alpha * r**0.5, r),  # alpha/sqrt(r)
        lambda x, w, b, A, B, alpha, r: _base_output(x, w, b) + alpha / r * x @ (B @ A),  # B A transposed
        lambda x, w, b, A, B, alpha, r: alpha / r * (x @ A.T) @ B.T,  # the frozen layer's output forgotten
        lambda x, w, b, A, B, alpha, r: x @ w.T + alpha / r * (x @ A.T) @ B.T,  # the bias forgotten
        lambda x, w, b, A, B, alpha, r: _base_output(x, w, b),  # no update at all
        None,
    ],
    solution=lambda: _lora_forward_reference,
)
def check_lora_forward(answer: Any) -> bool:
    """Notebook 10, exercise 2 (code): the learner's `f(x, weight, bias, A, B, alpha, r)`, a LoRA layer's output
    `x W^T + b + (alpha / r) (x A^T) B^T` from plain tensors, run on hidden layers against the course's
    `LoRALinear`."""
    return check_function("your LoRA forward", answer, _lora_forward_reference, _lora_forward_cases())


@exercise(wrong=[1.0, 0.5, None], solution=0.0)
def check_zero_start_gradient(answer: Any) -> bool:
    """Notebook 10, exercise 3: the gradient norm reaching A and B when both start at zero (none: each factor's
    gradient is proportional to the other, so training could never leave zero)."""
    return check_answer("gradient reaching A and B when both start at zero", as_number(answer), 0.0, atol=1e-8)


# ----------------------------------------------------------------------------------------------- notebook 11


_ROUGE2_PAIR = ("the cat sat on the mat and the cat slept", "the cat sat on the red mat")


# unclipped (5 matches); ROUGE-1; precision; recall; section 2's pair; identical; none
@exercise(wrong=[2 / 3, 5 / 7, 4 / 9, 4 / 6, 3 / 5, 1.0, 0.0, None], solution=8 / 15)
def check_rouge2(answer: Any) -> bool:
    """Notebook 11, exercise 1: ROUGE-2 F of "the cat sat on the mat and the cat slept" against "the cat sat on the
    red mat" (a repeated bigram, so clipping matters)."""
    return check_answer("ROUGE-2 F by hand", as_number(answer), rouge_n(*_ROUGE2_PAIR, 2))


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


# Hidden pairs: reordered words, repeats, capitals and punctuation, no shared word, an empty prediction.
_ROUGE_L_CASES = [
    ("The cat sat on the mat.", "the mat the cat sat on"),
    ("police killed the gunman", "the gunman police kill"),
    ("A fast, free PDF viewer for GNOME", "PDF viewer for the GNOME desktop (fast)"),
    ("b a b a b", "a b a b b a"),
    ("library for reading JPEG-2000 images", "JPEG 2000 image library: reading and writing"),
    ("tools to convert images", "image conversion utilities"),
    ("...", "anything at all"),
]


def _lcs_words(a: list[str], b: list[str], contiguous: bool) -> int:
    best, previous = 0, [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            if contiguous:
                current.append(previous[j] + 1 if x == y else 0)
            else:
                current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        best, previous = max(best, *current), current
    return best if contiguous else previous[-1]


def _rouge_l_variant(words: Any, contiguous: bool = False, score: str = "f") -> Any:
    """ROUGE-L built from `words(text)` and an LCS (or longest common substring); "f", "p" or "r"."""

    def fn(prediction: str, reference: str) -> float:
        pred, ref = words(prediction), words(reference)
        lcs = _lcs_words(pred, ref, contiguous)
        if lcs == 0:
            return 0.0
        p, r = lcs / len(pred), lcs / len(ref)
        return {"p": p, "r": r, "f": 2 * p * r / (p + r)}[score]

    return fn


@exercise(
    wrong=lambda: [
        lambda prediction, reference: rouge_n(prediction, reference, 1),  # shared words in any order: ROUGE-1
        _rouge_l_variant(rouge_tokenize, contiguous=True),  # adjacent words only: longest common substring
        _rouge_l_variant(rouge_tokenize, score="r"),  # recall only
        _rouge_l_variant(str.split),  # no lowercasing, punctuation kept
        None,
    ],
    solution=lambda: _rouge_l_variant(rouge_tokenize),
)
def check_rouge_l_function(answer: Any) -> bool:
    """Notebook 11, exercise 4 (code): the learner's `f(prediction, reference)` -> ROUGE-L F, run on hidden pairs
    against the course's `rouge_l` (equal to rouge_score)."""
    return check_function("your ROUGE-L", answer, rouge_l, _ROUGE_L_CASES)
