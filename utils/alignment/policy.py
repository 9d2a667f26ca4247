"""The policy of RLHF: SmolLM2 with a LoRA adapter, the prompts it is trained and judged on, seeded sampling of
completions, their per-token log-probabilities, and a held-out evaluation (reward and KL to the reference).
Taught in notebook 13 (PPO); notebook 14 (DPO) evaluates its policy with the same `evaluate_policy`.

The reference model is the same object with its adapter switched off (`utils.training.lora.disable_lora`), so
RLHF needs no second copy of the weights. Three traps of SmolLM2 are handled here: its pad token is its
end-of-turn token `<|im_end|>` (so a completion's mask runs up to and including the first end token, never
"!= pad"), its tokenizer pads on the right (generation needs the left), and its chat template adds a default
system prompt when none is given (it stays: TRL's trainers render prompts the same way).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from ..assets.datasets import load_preference_pairs
from ..course.arguments import require_choice, require_range
from ..course.device import device_of
from ..evaluation.text_metrics import distinct_n, repeated_ngram_rate
from ..evaluation.uncertainty import paired_difference_ci
from ..training.lora import add_lora, disable_lora, lora_layers
from ..transformer.padding import padding_side

__all__ = [
    "CompletionScores",
    "PolicyEvaluation",
    "Samples",
    "add_policy_lora",
    "chat_prompts",
    "compare_policies",
    "completion_log_probs",
    "evaluate_policy",
    "make_generator",
    "movie_title",
    "review_prompts",
    "sample_completions",
    "stop_token_ids",
]

PROMPT_PREFIX = "Write a short positive review of the movie "
POLICY_TARGETS = ("q_proj", "v_proj")  # the LoRA paper's choice: the query and value projections


def review_prompts(split: str, n: int | None = None) -> list[str]:
    """The distinct prompts ("Write a short positive review of the movie X.") of the `preference_pairs` data for
    `split` ("train" to optimise, "test" held out: its movies never occur in train), in file order; the first `n`
    of them, or all when `n` is None."""
    require_choice("split", split, ("train", "test"))
    prompts = list(dict.fromkeys(load_preference_pairs()[split]["prompt"]))
    if n is not None:
        require_range("n", n, low=1, high=len(prompts))
        prompts = prompts[:n]
    return prompts


def add_policy_lora(
    model: nn.Module, *, r: int = 8, alpha: float = 16.0, target_modules: Sequence[str] = POLICY_TARGETS
) -> nn.Module:
    """Give `model` (SmolLM2 or any causal LM) a fresh LoRA adapter (`utils.training.lora.add_lora`: every weight
    frozen, `B = 0`, so the policy starts as the base model) and return it. The reference model is then
    `with disable_lora(model): ...`, the same weights with the adapter off."""
    add_lora(model, r=r, alpha=alpha, target_modules=list(target_modules))
    return model


def chat_prompts(tokenizer: Any, prompts: Sequence[str]) -> list[str]:
    """Each prompt as one user turn in the tokenizer's chat template, ending where the assistant's answer starts
    (SmolLM2's template puts its default system prompt first)."""
    if isinstance(prompts, str) or not prompts:
        raise ValueError("`prompts` must be a non-empty list of strings (wrap one prompt: [prompt]).")
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """The tokens that end a completion: the tokenizer's EOS and the model's generation-config EOS ids."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(config_eos, int):
        ids.add(config_eos)
    elif config_eos is not None:
        ids.update(int(i) for i in config_eos)
    if not ids:
        raise ValueError("neither `tokenizer` nor the model's generation config names an end-of-sequence token.")
    return sorted(ids)


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A `torch.Generator` on `device` seeded with `seed`: sampling with it gives the same tokens on every run."""
    return torch.Generator(device=torch.device(device)).manual_seed(seed)


@dataclass
class Samples:
    """A batch of sampled completions, in TRL's layout: `prompt_ids` / `prompt_mask` `[B, P]` (chat prompts padded
    on the left), `completion_ids` / `completion_mask` `[B, T]` (the mask is 1 up to and including the first end
    token, 0 on the padding after it), the user `prompts`, the decoded `completions` (special tokens dropped) and
    `ended` `[B]` (True where the row sampled an end token; False where it was cut off at `max_new_tokens`)."""

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    prompts: list[str]
    completions: list[str]
    ended: torch.Tensor

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def lengths(self) -> torch.Tensor:
        """Tokens per completion (the end token included)."""
        return self.completion_mask.sum(dim=1)

    def select(self, index: Sequence[int] | torch.Tensor) -> Samples:
        """The rows `index` (a list of positions or a tensor of them), e.g. one minibatch."""
        rows = torch.as_tensor(index, dtype=torch.long)
        on_device = rows.to(self.prompt_ids.device)
        return Samples(
            prompt_ids=self.prompt_ids[on_device],
            prompt_mask=self.prompt_mask[on_device],
            completion_ids=self.completion_ids[on_device],
            completion_mask=self.completion_mask[on_device],
            prompts=[self.prompts[i] for i in rows.tolist()],
            completions=[self.completions[i] for i in rows.tolist()],
            ended=self.ended[on_device],
        )


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids that start at 0 on each row's first real token (left padding shifts nothing)."""
    return (mask.long().cumsum(dim=-1) - 1).clamp(min=0)


@torch.no_grad()
def sample_completions(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    generator: torch.Generator | int = 0,
    greedy: bool = False,
    temperature: float = 1.0,
) -> Samples:
    """Sample one completion per prompt (chat template, left padding), token by token with a key/value cache.

    generator: a `torch.Generator`, or an int seed for a fresh one on the model's device: the same generator state
    gives the same completions. greedy: take the most likely token instead (no randomness). temperature: divide
    the logits by it before sampling (1 = the policy's own distribution, which PPO needs). A row stops at its first
    end token (`stop_token_ids`); the loop stops when every row has, or after `max_new_tokens` tokens.
    """
    texts = chat_prompts(tokenizer, prompts)
    require_range("max_new_tokens", max_new_tokens, low=1)
    require_range("temperature", temperature, low=0.0, low_inclusive=False)
    device = device_of(model)
    if isinstance(generator, int):
        generator = make_generator(generator, device)
    stops = torch.tensor(stop_token_ids(model, tokenizer), device=device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else int(stops[0])

    with padding_side(tokenizer, "left"):
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
    prompt_ids, prompt_mask = batch["input_ids"], batch["attention_mask"]
    mask, positions = prompt_mask, _positions(prompt_mask)
    out = model(input_ids=prompt_ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    finished = torch.zeros(len(texts), dtype=torch.bool, device=device)
    tokens, alive = [], []
    for _ in range(max_new_tokens):
        logits = out.logits[:, -1].float()
        if greedy:
            next_ids = logits.argmax(dim=-1)
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            next_ids = torch.multinomial(probs.to(generator.device), 1, generator=generator)[:, 0].to(device)
        alive.append(~finished)
        next_ids = torch.where(finished, torch.full_like(next_ids, pad_id), next_ids)
        tokens.append(next_ids)
        finished = finished | torch.isin(next_ids, stops)
        if finished.all() or len(tokens) == max_new_tokens:
            break
        mask = torch.cat([mask, (~finished).long()[:, None]], dim=1)
        positions = positions[:, -1:] + 1
        out = model(
            input_ids=next_ids[:, None],
            attention_mask=mask,
            position_ids=positions,
            past_key_values=out.past_key_values,
            use_cache=True,
        )
    completion_ids = torch.stack(tokens, dim=1)
    completion_mask = torch.stack(alive, dim=1).long()  # 1 up to and including the first end token
    completions = [
        tokenizer.decode(ids[m.bool()], skip_special_tokens=True).strip()
        for ids, m in zip(completion_ids, completion_mask, strict=True)
    ]
    return Samples(prompt_ids, prompt_mask, completion_ids, completion_mask, list(prompts), completions, finished)


class CompletionScores(NamedTuple):
    """Per completion token `[B, T]`: `log_probs` (0 where the completion mask is 0), `entropy` of the model's
    next-token distribution there (None unless asked), and `hidden`, the last hidden states that predict each
    token `[B, T, d]` (None unless asked; a value head reads them)."""

    log_probs: torch.Tensor
    entropy: torch.Tensor | None
    hidden: torch.Tensor | None


def completion_log_probs(
    model: Any, samples: Samples, *, with_entropy: bool = False, with_hidden: bool = False
) -> CompletionScores:
    """Log-probability of every completion token under `model` (one forward pass over prompt + completion).

    Differentiable: wrap it in `torch.no_grad()` to evaluate only. The logits of the prompt positions are never
    computed (`logits_to_keep`): with a 49k-token vocabulary they would cost more than the model body.
    """
    n_new = samples.completion_ids.shape[1]
    # The last completion token is predicted, never fed: position t of the output predicts completion token t.
    input_ids = torch.cat([samples.prompt_ids, samples.completion_ids[:, :-1]], dim=1)
    mask = torch.cat([samples.prompt_mask, samples.completion_mask[:, :-1]], dim=1)
    out = model(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=_positions(mask),
        logits_to_keep=n_new,
        output_hidden_states=with_hidden,
    )
    log_probs_all = torch.log_softmax(out.logits[:, -n_new:].float(), dim=-1)
    counted = samples.completion_mask.to(log_probs_all.dtype)
    log_probs = log_probs_all.gather(-1, samples.completion_ids[..., None])[..., 0] * counted
    entropy = -(log_probs_all.exp() * log_probs_all).sum(dim=-1) * counted if with_entropy else None
    hidden = out.hidden_states[-1][:, -n_new:] if with_hidden else None
    return CompletionScores(log_probs, entropy, hidden)


def _sem(values: torch.Tensor) -> float:
    """Standard error of the mean: the sample standard deviation over sqrt(n) (nan for fewer than 2 values)."""
    n = len(values)
    return float(values.double().std(correction=1) / math.sqrt(n)) if n > 1 else float("nan")


def movie_title(prompt: str) -> str:
    """The movie a review prompt names ("Write a short positive review of the movie Up." -> "Up")."""
    return prompt.removeprefix(PROMPT_PREFIX).removesuffix(".")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


@dataclass
class PolicyEvaluation:
    """A policy judged on held-out prompts, `samples_per_prompt` completions each (a prompt's samples next to each
    other). Per completion: the proxy reward model's score (`rewards`), the independent judge's (`judge_scores`,
    None without a judge), the summed per-token log-ratio policy/reference (`kl`, an estimate of KL(policy ||
    reference) whose mean is the KL; single values can be negative), the length in tokens, whether it ended with
    the end token (`ended`) and its text."""

    prompts: list[str]
    completions: list[str]
    rewards: torch.Tensor
    kl: torch.Tensor
    lengths: torch.Tensor
    ended: torch.Tensor
    judge_scores: torch.Tensor | None = None
    samples_per_prompt: int = 1

    def __len__(self) -> int:
        return len(self.prompts)

    def metric(self, name: str) -> torch.Tensor:
        """One value per completion: "reward", "judge", "kl", "length", "ended", or a text diagnostic of
        `diagnostics` ("distinct_2", "repeated_4gram", "mentions_movie")."""
        if name == "judge" and self.judge_scores is None:
            raise ValueError("this evaluation has no judge scores: pass `judge=` to `evaluate_policy`.")
        columns = {"reward": self.rewards, "judge": self.judge_scores, "kl": self.kl, "length": self.lengths}
        if name in columns:
            return columns[name].double()
        if name == "ended":
            return self.ended.double()
        words = [_words(text) for text in self.completions]
        if name == "distinct_2":
            return torch.tensor([distinct_n(w, 2) for w in words], dtype=torch.float64)
        if name == "repeated_4gram":
            return torch.tensor([repeated_ngram_rate(w, 4) for w in words], dtype=torch.float64)
        if name == "mentions_movie":
            pairs = zip(self.prompts, self.completions, strict=True)
            return torch.tensor([movie_title(p).lower() in c.lower() for p, c in pairs], dtype=torch.float64)
        raise ValueError(f"`name` must be one of {list(EVALUATION_METRICS)}, got {name!r}.")

    def per_prompt(self, name: str) -> torch.Tensor:
        """`metric(name)` averaged over each prompt's samples: `[number of prompts]`, the unit to pair and resample."""
        return self.metric(name).view(-1, self.samples_per_prompt).mean(dim=1)

    def diagnostics(self) -> dict[str, float]:
        """The mean of every metric over all completions: scores, KL, and what the text looks like."""
        names = [n for n in EVALUATION_METRICS if n != "judge" or self.judge_scores is not None]
        return {name: float(self.metric(name).mean()) for name in names}

    @property
    def mean_reward(self) -> float:
        return float(self.rewards.double().mean())

    @property
    def reward_sem(self) -> float:
        """Standard error of `mean_reward` over prompts (a prompt's samples averaged first)."""
        return _sem(self.per_prompt("reward"))

    @property
    def mean_kl(self) -> float:
        return float(self.kl.double().mean())

    @property
    def kl_sem(self) -> float:
        return _sem(self.per_prompt("kl"))

    def summary(self) -> str:
        """One line: mean reward (and judge score) and mean KL, each with its standard error over prompts."""
        judge = ""
        if self.judge_scores is not None:
            judge = f", judge {self.per_prompt('judge').mean():.3f} ± {_sem(self.per_prompt('judge')):.3f}"
        n_prompts = len(self) // self.samples_per_prompt
        return (
            f"reward {self.mean_reward:+.3f} ± {self.reward_sem:.3f}{judge}, KL to the reference {self.mean_kl:.3f} "
            f"± {self.kl_sem:.3f} nats ({n_prompts} prompts x {self.samples_per_prompt}, "
            f"{float(self.lengths.double().mean()):.1f} tokens)"
        )


EVALUATION_METRICS = ("reward", "judge", "kl", "length", "ended", "distinct_2", "repeated_4gram", "mentions_movie")


def _scores_of(name: str, scorer: Any, texts: list[str], prompts: list[str]) -> torch.Tensor:
    scores = torch.as_tensor(scorer.score(texts, prompts=prompts)).float().cpu()
    if scores.shape != (len(texts),):
        raise ValueError(f"`{name}.score` returned shape {tuple(scores.shape)}, expected ({len(texts)},).")
    return scores


@torch.no_grad()
def evaluate_policy(
    model: Any,
    tokenizer: Any,
    reward_model: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    seed: int,
    samples_per_prompt: int = 1,
    judge: Any = None,
    greedy: bool = False,
    batch_size: int = 16,
) -> PolicyEvaluation:
    """Sample `samples_per_prompt` completions per prompt (seeded by `seed`, or greedy), score them with
    `reward_model.score(texts, prompts=...)` and, when given, the independent `judge` (the same call), and measure
    each one's log-ratio to the reference model (`model` with its LoRA adapter disabled; a model without LoRA layers
    is its own reference, KL 0). Completions are sampled in batches of `batch_size`."""
    if isinstance(prompts, str) or not prompts:
        raise ValueError("`prompts` must be a non-empty list of strings: evaluate on at least one prompt.")
    require_range("samples_per_prompt", samples_per_prompt, low=1)
    for name, scorer in (("reward_model", reward_model), ("judge", judge)):
        if scorer is not None and not callable(getattr(scorer, "score", None)):
            raise TypeError(f"`{name}` must have a `score(texts, prompts=...) -> Tensor` method (a RewardModel).")
    generator = make_generator(seed, device_of(model))
    has_lora = bool(lora_layers(model))
    repeated = [p for p in prompts for _ in range(samples_per_prompt)]
    completions: list[str] = []
    kls, lengths, ended = [], [], []
    for start in range(0, len(repeated), batch_size):
        chunk = repeated[start : start + batch_size]
        samples = sample_completions(
            model, tokenizer, chunk, max_new_tokens=max_new_tokens, generator=generator, greedy=greedy
        )
        if has_lora:
            policy = completion_log_probs(model, samples).log_probs
            with disable_lora(model):
                reference = completion_log_probs(model, samples).log_probs
            kls.append((policy - reference).sum(dim=1).float().cpu())
        else:
            kls.append(torch.zeros(len(chunk)))
        lengths.append(samples.lengths.cpu())
        ended.append(samples.ended.cpu())
        completions += samples.completions
    rewards = _scores_of("reward_model", reward_model, completions, repeated)
    judged = _scores_of("judge", judge, completions, repeated) if judge is not None else None
    return PolicyEvaluation(
        repeated, completions, rewards, torch.cat(kls), torch.cat(lengths), torch.cat(ended), judged, samples_per_prompt
    )


def compare_policies(after: PolicyEvaluation, before: PolicyEvaluation, metric: str = "judge", **bootstrap: Any) -> Any:
    """`after - before` on `metric`, paired by prompt (each prompt's samples averaged first, so the bootstrap
    resamples prompts, not samples): an `Interval` (mean, low, high). Both must judge the same prompts with the
    same number of samples each."""
    if after.prompts != before.prompts:
        raise ValueError("`after` and `before` must evaluate the same prompts, in the same order, the same times each.")
    return paired_difference_ci(after.per_prompt(metric).numpy(), before.per_prompt(metric).numpy(), **bootstrap)
