"""An independent judge for week 4: the course's sentiment classifier (MiniLM fine-tuned on Rotten Tomatoes snippets
labelled fresh or rotten, `utils.training.sentiment_classifier`), read as P(positive) of a review.

It is independent of the reward model in the sense that matters for RLHF: no policy is ever trained against it, it
never saw a preference pair, and it is a different network (its own fine-tuned MiniLM, BERT's first-token head). It
shares the reward model's notion of quality (a positive review), so it can tell a policy that hacked the reward
model's quirks from one that writes more positive reviews, but not a positive review from a good one: it rewards
positivity, and stock praise can fool it too.

`SentimentJudge.score(texts, prompts=None)` has `RewardModel.score`'s signature, so evaluation code takes either.
Notebook 12 measures its agreement with the reward model; notebooks 13 and 14 judge their policies with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..course.arguments import require_type
from ..course.device import device_of
from ..training.classification import classifier_logits
from ..training.sentiment_classifier import SENTIMENT_RECIPE, SentimentRecipe, load_sentiment_classifier
from ..transformer.padding import encode_texts


class SentimentJudge:
    """A sequence classifier with a "positive" label, read as a score: `score(texts)` is P(positive) of each text.
    Texts are tokenized as the classifier was trained (cut at `max_length` tokens, right-padded)."""

    def __init__(self, model: nn.Module, tokenizer: Any, *, max_length: int = SENTIMENT_RECIPE.max_length) -> None:
        label2id = getattr(model.config, "label2id", {}) or {}
        if "positive" not in label2id:
            raise ValueError(f"`model` must have a 'positive' label in config.label2id, got {sorted(label2id)}.")
        self.model, self.tokenizer, self.max_length = model, tokenizer, max_length
        self.positive = int(label2id["positive"])

    @torch.no_grad()
    def score(
        self, texts: Sequence[str], *, prompts: Sequence[str] | None = None, batch_size: int = 32
    ) -> torch.Tensor:
        """P(positive) of each text: float32 `[len(texts)]` on the CPU, in eval mode (restored after). `prompts` is
        accepted for `RewardModel.score`'s signature and ignored: the judge reads the review alone."""
        if isinstance(texts, str):
            raise TypeError("`texts` must be a list of strings, got one str; wrap it: [text].")
        if prompts is not None and len(prompts) != len(texts):
            raise ValueError(f"`prompts` must hold one prompt per text: got {len(prompts)} for {len(texts)} texts.")
        if not texts:
            return torch.empty(0)
        device = device_of(self.model)
        was_training = self.model.training
        self.model.eval()
        out = []
        for start in range(0, len(texts), batch_size):
            ids = encode_texts(self.tokenizer, list(texts[start : start + batch_size]), self.max_length)
            logits = classifier_logits(self.model, ids.to(device), self.tokenizer.pad_token_id)
            out.append(logits.float().softmax(dim=-1)[:, self.positive].cpu())
        self.model.train(was_training)
        return torch.cat(out)


def load_judge(
    *, smoke: bool = False, device: str | torch.device | None = None, progress: bool = True
) -> SentimentJudge:
    """The course's judge: the sentiment classifier of `SENTIMENT_RECIPE` (`SENTIMENT_RECIPE.smoke()` with `smoke`),
    loaded from the course cache, or trained first (about a minute on 2 cores; seconds in smoke mode)."""
    require_type("smoke", smoke, bool)
    recipe: SentimentRecipe = SENTIMENT_RECIPE.smoke() if smoke else SENTIMENT_RECIPE
    model, tokenizer = load_sentiment_classifier(recipe, device=device, progress=progress)
    return SentimentJudge(model, tokenizer, max_length=recipe.max_length)
