"""Instruction fine-tuning (supervised fine-tuning, SFT): instruction/response pairs, the two prompt formats
(an Alpaca-style template and a chat template), a collator that marks the response tokens, the loss on those
tokens only, and the course's instruction-tuned SmolLM2 (`load_instruction_tuned`), trained from a recipe when it
is not cached. Taught in notebook 09; notebook 10 trains the same task with LoRA, notebook 11 evaluates both."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..assets.artifacts import (
    artifact_dir,
    artifact_info,
    load_or_train,
    read_pretrained_artifact,
    save_pretrained_artifact,
)
from ..assets.datasets import (
    SENTIMENT_LABELS,
    load_austen_text,
    load_package_summaries,
    load_rotten_tomatoes,
    load_wordnet_instructions,
)
from ..assets.models import load_chat_model
from ..course.arguments import require_choice, require_type
from ..course.seeding import set_seed
from ..generation.prompting import generate_completions
from ..generation.scoring import sequence_log_probs
from ..transformer.padding import pad_examples, pad_id_of, tokenize_chat
from .loop import TrainingHistory, require_training_recipe, train_with_recipe
from .lora import add_lora, merge_lora

TEMPLATES = ("chat", "alpaca")
TASKS = ("wordnet", "summary", "sentiment")
SUMMARY_INSTRUCTION = "Summarize this software package description in one line."
SENTIMENT_INSTRUCTION = "Is this movie review positive or negative? Answer with one word."
ALPACA_TEMPLATE = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_TEMPLATE_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)


# ----------------------------------------------------------------------------------------------------------------
# The data: instruction / input / output rows


def _first_words(text: str, n: int) -> str:
    words = text.split()
    return " ".join(words[:n]) + (" ..." if len(words) > n else "")


def instruction_rows(
    split: str,
    *,
    n_wordnet: int,
    n_summaries: int,
    n_sentiment: int = 0,
    max_input_words: int = 60,
    seed: int = 0,
) -> list[dict[str, str]]:
    """A shuffled mix of instruction rows `{"instruction", "input", "output", "task"}` from the course's data:
    `n_wordnet` WordNet rows (define / use in a sentence / give synonyms), `n_summaries` Debian package descriptions
    to summarise in one line (the description cut to `max_input_words` words) and `n_sentiment` Rotten Tomatoes
    snippets to label positive or negative (split "train" or "test"; sentiment uses its "test" split for "test").
    The same arguments always give the same rows."""
    require_choice("split", split, ("train", "test"))
    if n_wordnet + n_summaries + n_sentiment == 0:
        raise ValueError("ask for at least one row: n_wordnet + n_summaries + n_sentiment must be > 0.")

    def take(dataset: Any, n: int) -> Any:
        if n > len(dataset):
            raise ValueError(f"asked for {n} rows of a {split!r} split that has {len(dataset)}.")
        return dataset.shuffle(seed=seed).select(range(n))

    rows: list[dict[str, str]] = []
    if n_wordnet:
        for r in take(load_wordnet_instructions()[split], n_wordnet):
            rows.append(
                {"instruction": r["instruction"], "input": r["input"], "output": r["output"], "task": "wordnet"}
            )
    if n_summaries:
        for r in take(load_package_summaries()[split], n_summaries):
            text = _first_words(r["description"], max_input_words)
            rows.append({"instruction": SUMMARY_INSTRUCTION, "input": text, "output": r["summary"], "task": "summary"})
    if n_sentiment:
        for r in take(load_rotten_tomatoes()[split], n_sentiment):
            label = SENTIMENT_LABELS[r["label"]]
            rows.append(
                {"instruction": SENTIMENT_INSTRUCTION, "input": r["text"], "output": label, "task": "sentiment"}
            )
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
    return [rows[i] for i in order]


REPLAY_INSTRUCTION = "Continue this passage from a novel."
REPLAY_NOVEL = "Emma"  # not the novel notebook 09's continued pretraining reads (Persuasion)


def replay_rows(
    model: nn.Module, tokenizer: Any, n: int, *, seed: int = 0, max_input_words: int = 40, max_new_tokens: int = 32
) -> list[dict[str, str]]:
    """`n` replay rows `{"instruction", "input", "output", "task": "replay"}`: the opening words of paragraphs of
    Austen's *Emma* to continue, answered by `model` itself (greedy). Mixed into fine-tuning, they ask the tuned model
    to keep answering a general request the way it did before: a remedy for forgetting that trains on neither the
    new tasks nor the skill a forgetting probe measures."""
    require_type("n", n, int)
    if n < 1:
        raise ValueError(f"`n` must be at least 1 replay row, got {n}.")
    paragraphs = [p for p in load_austen_text([REPLAY_NOVEL]).split("\n\n") if len(p.split()) >= 2 * max_input_words]
    if n > len(paragraphs):
        raise ValueError(f"asked for {n} replay rows; {REPLAY_NOVEL} has {len(paragraphs)} long paragraphs.")
    order = torch.randperm(len(paragraphs), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    rows = [
        {"instruction": REPLAY_INSTRUCTION, "input": _first_words(" ".join(paragraphs[i].split()), max_input_words)}
        for i in order
    ]
    for row in rows:
        row["output"], row["task"] = "", "replay"
    answers = generate_responses(model, tokenizer, rows, max_new_tokens=max_new_tokens)
    return [{**row, "output": answer} for row, answer in zip(rows, answers, strict=True)]


def user_message(row: Mapping[str, str]) -> str:
    """What the user says in the chat format: the instruction, then the input (if any) after a blank line."""
    return f"{row['instruction']}\n\n{row['input']}" if row["input"] else row["instruction"]


def format_alpaca(row: Mapping[str, str]) -> tuple[str, str]:
    """`(prompt, response)` in the Alpaca-style plain-text template (no chat tokens); the tokenizer's EOS token
    is appended to the response when it is tokenized."""
    template = ALPACA_TEMPLATE if row["input"] else ALPACA_TEMPLATE_NO_INPUT
    return template.format(instruction=row["instruction"], input=row["input"]), row["output"]


def chat_messages(row: Mapping[str, str]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """`(prompt messages, completion messages)`: one user turn and one assistant turn, the shape TRL's SFTTrainer
    calls a conversational prompt-completion example."""
    return [{"role": "user", "content": user_message(row)}], [{"role": "assistant", "content": row["output"]}]


def prompt_text(tokenizer: Any, row: Mapping[str, str], template: str = "chat") -> str:
    """The text a model is given to answer `row`: the chat template up to the assistant's turn, or the Alpaca
    prompt."""
    if template == "alpaca":
        return format_alpaca(row)[0]
    prompt, _ = chat_messages(row)
    return tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)


def tokenize_example(
    tokenizer: Any, row: Mapping[str, str], *, template: str = "chat", max_length: int = 256
) -> dict[str, list[int]]:
    """`{"input_ids", "completion_mask"}` for one row: prompt then response tokens, `completion_mask` 1 on the
    response tokens (the only ones the loss counts). As TRL does: the prompt is the tokenized chat up to the
    assistant's turn (`utils.transformer.padding.tokenize_chat`; Alpaca: the template text), the response everything
    after it (the end-of-turn token included); sequences longer than `max_length` are cut at the end."""
    require_choice("template", template, TEMPLATES)
    if template == "chat":
        return tokenize_chat(tokenizer, *chat_messages(row), max_length=max_length)
    prompt, response = format_alpaca(row)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = prompt_ids + tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    mask = [0] * len(prompt_ids) + [1] * (len(ids) - len(prompt_ids))
    return {"input_ids": ids[:max_length], "completion_mask": mask[:max_length]}


LOSS_ON = ("response", "all")


class SFTCollator:
    """Turns a list of rows into a right-padded batch `{"input_ids", "attention_mask", "completion_mask"}`, ready
    for `sft_loss`. Use it as a DataLoader's `collate_fn`. `loss_on="all"` marks every real token (prompt too) in
    `completion_mask`, so that `sft_loss` scores the whole text: the unmasked variant notebook 09 compares."""

    def __init__(
        self, tokenizer: Any, *, template: str = "chat", max_length: int = 256, loss_on: str = "response"
    ) -> None:
        require_choice("loss_on", loss_on, LOSS_ON)
        self.tokenizer, self.template, self.max_length, self.loss_on = tokenizer, template, max_length, loss_on
        self.pad_id = pad_id_of(tokenizer)

    def __call__(self, rows: Sequence[Mapping[str, str]]) -> dict[str, torch.Tensor]:
        examples = [
            tokenize_example(self.tokenizer, r, template=self.template, max_length=self.max_length) for r in rows
        ]
        batch = pad_examples(examples, self.pad_id)
        if self.loss_on == "all":
            batch["completion_mask"] = batch["attention_mask"].clone()
        return batch


def sft_loss(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """The supervised fine-tuning loss: the mean cross-entropy over the response tokens of the batch (prompt and
    padding tokens count zero), and how many tokens it averages. A `loss_fn` for `train_model`.

    For a transformers causal LM the output layer runs only on the scored positions (the hidden state before each
    response token): the same number as scoring every position, without a `[batch, seq, vocabulary]` tensor of
    logits and its gradient (with SmolLM2's 49k-word vocabulary, most of a step's activation memory)."""
    counted = batch["completion_mask"] * batch["attention_mask"]
    n_tokens = int(counted[:, 1:].sum())
    assert n_tokens > 0, "the batch has no response tokens to train on (every completion was cut by max_length?)"
    decoder, head = getattr(model, "model", None), getattr(model, "lm_head", None)
    if not isinstance(decoder, nn.Module) or not isinstance(head, nn.Module):  # e.g. the course's own GPT
        log_probs = sequence_log_probs(model, batch["input_ids"], batch["attention_mask"], counted)
        return -log_probs.total.sum() / n_tokens, n_tokens
    hidden = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    keep = counted[:, 1:].bool()  # [B, T-1]: the hidden state at t - 1 predicts token t
    logits = head(hidden[:, :-1][keep]).float()  # [n_tokens, V]
    return F.cross_entropy(logits, batch["input_ids"][:, 1:][keep]), n_tokens


@torch.no_grad()
def generate_responses(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Mapping[str, str]],
    *,
    template: str = "chat",
    max_new_tokens: int = 48,
    batch_size: int = 8,
) -> list[str]:
    """The model's greedy answers to `rows` (new text only, stripped), batched with left padding."""
    prompts = [prompt_text(tokenizer, r, template) for r in rows]
    answers = generate_completions(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return [a.strip() for a in answers]


def response_rouge_l(rows: Sequence[Mapping[str, str]], answers: Sequence[str]) -> np.ndarray:
    """ROUGE-L F-measure of each answer against its row's reference output (`rouge_score`, no stemming), one
    score per row: how much of the reference's word order the answer reproduces. Notebook 11 derives it."""
    from rouge_score import rouge_scorer  # imported when first used: notebook 11 only

    if len(rows) != len(answers):
        raise ValueError(f"`rows` and `answers` must pair up, got {len(rows)} rows and {len(answers)} answers.")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return np.array([scorer.score(r["output"], a)["rougeL"].fmeasure for r, a in zip(rows, answers, strict=True)])


# ----------------------------------------------------------------------------------------------------------------
# The course's instruction-tuned SmolLM2


@dataclass(frozen=True)
class InstructionRecipe:
    """Everything that decides one instruction-tuned SmolLM2: notebook 09 (full fine-tuning) and 10 (LoRA) read
    their settings from here, and `load_instruction_tuned` trains with it when the model is not cached."""

    method: str = "full"  # "full": every weight trains; "lora": low-rank adapters on `lora_targets` only
    n_wordnet: int = 112  # training rows per task: steps x batch_size rows in all, so each is seen once
    n_summaries: int = 48
    n_sentiment: int = 0  # a share of the sentiment task mixed in (instructions; the probe of 09 is few-shot)
    n_replay: int = 0  # replay rows (`replay_rows`: the untuned model's own answers) mixed in, against forgetting
    loss_on: str = "response"  # which tokens the loss scores: "response" (the default) or "all" (prompt too)
    n_val: int = 16  # held-out rows (same mix) for the validation loss
    max_input_words: int = 40
    max_length: int = 160
    batch_size: int = 8
    steps: int = 20
    lr: float = 5e-5
    warmup_steps: int = 2
    weight_decay: float = 0.0
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_targets: tuple[str, ...] = field(default=("q_proj", "k_proj", "v_proj", "o_proj"))
    seed: int = 0

    def __post_init__(self) -> None:
        require_training_recipe(
            self,
            counts=("max_input_words", "lora_r"),
            positive=("lora_alpha",),
            non_negative=("n_wordnet", "n_summaries", "n_sentiment", "n_replay", "n_val"),
            choices={"method": ("full", "lora"), "loss_on": LOSS_ON},
        )

    def smoke(self) -> InstructionRecipe:
        """The same recipe shrunk to a few seconds of training (for the smoke runs of the tests)."""
        return replace(
            self,
            n_wordnet=4,
            n_summaries=2,
            n_sentiment=min(self.n_sentiment, 2),
            n_replay=min(self.n_replay, 2),
            n_val=2,
            max_length=128,
            batch_size=2,
            steps=2,
            warmup_steps=0,
        )


INSTRUCTION_RECIPE = InstructionRecipe()
LORA_RECIPE = InstructionRecipe(method="lora", lr=1e-3)
INSTRUCTION_NAME = "smollm2-instruct-tuned"


def instruction_model_dir(recipe: InstructionRecipe = INSTRUCTION_RECIPE) -> Path:
    """Where the model trained with `recipe` is saved (one folder per recipe in the course cache)."""
    return artifact_dir(INSTRUCTION_NAME, recipe)


def recipe_rows(recipe: InstructionRecipe, split: str) -> list[dict[str, str]]:
    """The rows `recipe` trains on (split "train") or validates on (split "test", `n_val` rows in the same mix)."""
    if split == "train":
        counts = (recipe.n_wordnet, recipe.n_summaries, recipe.n_sentiment)
    else:
        total = recipe.n_wordnet + recipe.n_summaries + recipe.n_sentiment
        counts = tuple(
            round(recipe.n_val * n / total) for n in (recipe.n_wordnet, recipe.n_summaries, recipe.n_sentiment)
        )
    return instruction_rows(
        split,
        n_wordnet=counts[0],
        n_summaries=counts[1],
        n_sentiment=counts[2],
        max_input_words=recipe.max_input_words,
        seed=recipe.seed,
    )


def train_instruction_model(
    recipe: InstructionRecipe = INSTRUCTION_RECIPE,
    *,
    model: nn.Module | None = None,
    tokenizer: Any = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    on_validate: Callable[[int, nn.Module], None] | None = None,
) -> tuple[nn.Module, Any, TrainingHistory]:
    """Fine-tune SmolLM2 (or `model`, changed in place) on `recipe`'s instruction mix with `sft_loss` and
    `train_model`: returns `(model in eval mode, tokenizer, history)`. With method "lora" the adapters stay in the
    model (merge them with `utils.training.lora.merge_lora`). The validation loss (response tokens, whatever
    `recipe.loss_on`) is measured 5 times; `on_validate(step, model)` runs at each of those points too, if given.
    Full fine-tuning recomputes activations in the backward pass (gradient checkpointing): the same gradients,
    about a third more compute, and a peak memory that fits a laptop."""
    require_type("recipe", recipe, InstructionRecipe)
    if (model is None) != (tokenizer is None):
        raise ValueError("pass both `model` and `tokenizer`, or neither (then SmolLM2 is loaded).")
    if model is None:
        model, tokenizer = load_chat_model(device=device)
    rows = recipe_rows(recipe, "train")
    if recipe.n_replay:  # the untuned model's own answers, generated before it trains
        replay = replay_rows(
            model, tokenizer, recipe.n_replay, seed=recipe.seed, max_input_words=recipe.max_input_words
        )
        rows = rows + replay  # the loader shuffles
    generator = set_seed(recipe.seed)
    if recipe.method == "lora":
        add_lora(model, r=recipe.lora_r, alpha=recipe.lora_alpha, target_modules=recipe.lora_targets)
    train_loader = DataLoader(
        rows,
        batch_size=recipe.batch_size,
        shuffle=True,
        collate_fn=SFTCollator(tokenizer, max_length=recipe.max_length, loss_on=recipe.loss_on),
        generator=generator,
    )
    collate = SFTCollator(tokenizer, max_length=recipe.max_length)
    val_loader = DataLoader(recipe_rows(recipe, "test"), batch_size=recipe.batch_size, collate_fn=collate)
    every = max(1, recipe.steps // 4)
    checkpointing = recipe.method == "full" and callable(getattr(model, "activation_checkpointing_enable", None))
    use_cache = getattr(model.config, "use_cache", None)
    if checkpointing:  # transformers' name for gradient checkpointing; a key/value cache is of no use in training
        model.activation_checkpointing_enable({"use_reentrant": False})
        model.config.use_cache = False
    try:
        history = train_with_recipe(
            model,
            train_loader,
            val_loader,
            sft_loss,
            recipe,
            eval_every=every,
            device=device,
            progress=progress,
            on_validate=on_validate,
        )
    finally:
        if checkpointing:
            model.activation_checkpointing_disable()
            model.config.use_cache = use_cache
    return model.eval(), tokenizer, history


def save_instruction_model(
    model: nn.Module, tokenizer: Any, recipe: InstructionRecipe, history: TrainingHistory | None = None
) -> Path:
    """Save a model trained with `recipe` where `load_instruction_tuned(recipe)` finds it (LoRA adapters are merged
    into a copy first, so the folder holds a plain transformers model)."""
    if recipe.method == "lora":
        model = merge_lora(copy.deepcopy(model))
    return save_pretrained_artifact(INSTRUCTION_NAME, recipe, model, tokenizer, history)


def instruction_model_info(recipe: InstructionRecipe = INSTRUCTION_RECIPE) -> dict[str, Any]:
    """What `save_instruction_model` stored beside the model: `{"recipe": ..., "history": ..., ...}`."""
    return artifact_info(INSTRUCTION_NAME, recipe)


def load_instruction_tuned(
    recipe: InstructionRecipe = INSTRUCTION_RECIPE,
    *,
    train_if_missing: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[nn.Module, Any]:
    """The SmolLM2 that notebook 09 (`INSTRUCTION_RECIPE`) or 10 (`LORA_RECIPE`) fine-tuned, from the course cache:
    `(model in eval mode, tokenizer)`. When it is missing and `train_if_missing` is True it is trained now (full
    recipes: a few minutes on a 2-core CPU, with a progress bar; `recipe.smoke()`: seconds) and saved."""
    from transformers import AutoModelForCausalLM  # heavy: imported when a model is read

    def read(folder: Path) -> tuple[nn.Module, Any]:
        return read_pretrained_artifact(folder, AutoModelForCausalLM, device)

    def train() -> tuple[nn.Module, Any]:
        model, tokenizer, history = train_instruction_model(recipe, device=device, progress=progress)
        return read(save_instruction_model(model, tokenizer, recipe, history))

    return load_or_train(
        INSTRUCTION_NAME,
        recipe,
        read=read,
        train=train,
        train_if_missing=train_if_missing,
        hint="run notebook 09 (full) or 10 (LoRA)",
    )
