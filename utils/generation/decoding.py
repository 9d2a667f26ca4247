"""Decoding from scratch: top-k / top-p filters, sampling, greedy decoding, sampled decoding and beam search over a
causal LM. Taught in notebook 05.

Every function here is checked in `tests/test_generation_decoding.py` against transformers: the filters against
`TopKLogitsWarper` / `TopPLogitsWarper`, and the decoders against `model.generate` on SmolLM2. The models follow
the course's protocol (`utils.transformer.outputs`): `model(input_ids=..., attention_mask=...).logits` is
`[batch, seq, vocab]`. A model that returns a key/value cache (transformers) is fed one new token per step; one
that does not (the course's GPT) is fed the whole sequence, cropped to its `config.context_length`.
"""

from __future__ import annotations

from typing import Any

import torch

from ..course.arguments import require_choice, require_range

__all__ = ["beam_search", "greedy_decode", "sample_decode", "sample_next_token", "top_k_filter", "top_p_filter"]


# --------------------------------------------------------------------------- filters and sampling


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the `k` largest logits in the last dimension and set the others to -inf (a new tensor).

    Same rule as transformers' `TopKLogitsWarper`: everything strictly below the k-th largest value goes, so a tie
    at that threshold keeps all the tied tokens (possibly more than `k`). `k` larger than the vocabulary keeps all.
    """
    require_range("k", k, low=1)
    k = min(k, logits.shape[-1])
    threshold = torch.topk(logits, k, dim=-1).values[..., -1:]  # the k-th largest value, per row
    return logits.masked_fill(logits < threshold, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose probabilities add up to at least `p`.

    Same rule as transformers' `TopPLogitsWarper`: sort the probabilities in increasing order, drop every token
    whose cumulative probability is <= 1 - p, and always keep the `min_tokens_to_keep` most likely ones. Dropped
    logits become -inf. With p = 1.0 only tokens of probability (numerically) 0 at the bottom of the order go.
    """
    require_range("p", p, low=0, high=1, low_inclusive=False)
    sorted_logits, sorted_indices = torch.sort(logits, descending=False)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_to_remove = cumulative_probs <= (1 - float(p))
    sorted_to_remove[..., -min_tokens_to_keep:] = False
    to_remove = sorted_to_remove.scatter(-1, sorted_indices, sorted_to_remove)  # back to vocabulary order
    return logits.masked_fill(to_remove, float("-inf"))


def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token id per row of `logits` ([..., vocab]); returns a long tensor of shape [...].

    Order as in transformers' sampling: divide by `temperature` (> 0; small values approach greedy decoding),
    then `top_k_filter`, then `top_p_filter`, then softmax and `torch.multinomial` with `generator`
    (pass a seeded `torch.Generator`, e.g. from `utils.set_seed`, for reproducible draws).
    """
    scores = logits.float() / temperature
    if top_k is not None:
        scores = top_k_filter(scores, top_k)
    if top_p is not None:
        scores = top_p_filter(scores, top_p)
    probs = torch.softmax(scores, dim=-1).reshape(-1, scores.shape[-1])
    ids = torch.multinomial(probs, num_samples=1, generator=generator)
    return ids.reshape(logits.shape[:-1])


# --------------------------------------------------------------------------- one step, with or without a cache


def _context_limit(model: Any) -> int | None:
    """The longest input a model without a key/value cache accepts (`config.context_length`), else None."""
    return getattr(getattr(model, "config", None), "context_length", None)


def _positions(mask: torch.Tensor) -> torch.Tensor:
    """Position of each token = the number of real tokens before it, so left padding does not shift them."""
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)


def _forward(model: Any, ids: torch.Tensor, mask: torch.Tensor, past: Any, n_new: int) -> Any:
    """Run one decoding step. With a cache, feed only the `n_new` newest tokens; without one, feed the whole
    sequence (its last `context_length` tokens for a model that has that limit)."""
    if past is not None:
        return model(
            input_ids=ids[:, -n_new:],
            attention_mask=mask,
            position_ids=_positions(mask)[:, -n_new:],
            past_key_values=past,
            use_cache=True,
        )
    limit = _context_limit(model)
    if limit is not None and ids.shape[1] > limit:
        ids, mask = ids[:, -limit:], mask[:, -limit:]
    return model(input_ids=ids, attention_mask=mask, position_ids=_positions(mask), use_cache=True)


def _as_batch(ids: torch.Tensor) -> torch.Tensor:
    """A 1-D prompt `[seq]` becomes a batch of one `[1, seq]`; a batch stays as it is."""
    return ids if ids.ndim == 2 else ids.unsqueeze(0)


@torch.no_grad()
def _decode(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None,
    max_new_tokens: int,
    eos_token_id: int | None,
    choose: Any,
) -> torch.Tensor:
    """The loop shared by greedy and sampled decoding: `choose(logits [batch, vocab]) -> ids [batch]` picks each
    next token. Rows that produced `eos_token_id` are finished and padded with it; stop when all are."""
    ids = _as_batch(input_ids)
    mask = torch.ones_like(ids) if attention_mask is None else _as_batch(attention_mask).to(ids.device).long()
    unfinished = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
    past, n_new = None, ids.shape[1]
    for _ in range(max_new_tokens):
        out = _forward(model, ids, mask, past, n_new)
        past, n_new = out.past_key_values, 1
        next_tokens = choose(out.logits[:, -1])
        if eos_token_id is not None:
            next_tokens = torch.where(unfinished, next_tokens, torch.full_like(next_tokens, eos_token_id))
            unfinished &= next_tokens != eos_token_id
        ids = torch.cat([ids, next_tokens[:, None]], dim=-1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
        if not unfinished.any():
            break
    return ids if input_ids.ndim == 2 else ids[0]


# --------------------------------------------------------------------------- greedy and sampled decoding


def greedy_decode(
    model: Any,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    eos_token_id: int | None = None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Append the most likely next token, one step at a time; returns prompt + new tokens ([batch, seq + new]).

    input_ids: [seq] or [batch, seq]; for a batch of different lengths, pad on the LEFT and pass `attention_mask`
        (1 = real token, 0 = padding), as for `model.generate`.
    eos_token_id: a row that produced it is finished; later positions of that row are filled with `eos_token_id`
        and decoding stops early once every row is finished.

    Gives the same tokens as `model.generate(input_ids, attention_mask=..., do_sample=False, max_new_tokens=...,
    eos_token_id=..., pad_token_id=eos_token_id)` (SmolLM2's generation config already uses pad = eos = 2).
    """
    require_range("max_new_tokens", max_new_tokens, low=1)
    return _decode(model, input_ids, attention_mask, max_new_tokens, eos_token_id, lambda x: x.float().argmax(-1))


def sample_decode(
    model: Any,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    eos_token_id: int | None = None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Like `greedy_decode`, but each next token is drawn with `sample_next_token(temperature, top_k, top_p,
    generator)`. With `generator=None` the draws come from torch's global generator, as in `model.generate`:
    after `torch.manual_seed(s)` both give the same tokens (tested on SmolLM2)."""
    require_range("max_new_tokens", max_new_tokens, low=1)
    require_range("temperature", temperature, low=0, low_inclusive=False)
    if top_k is not None:
        require_range("top_k", top_k, low=1)
    if top_p is not None:
        require_range("top_p", top_p, low=0, high=1, low_inclusive=False)

    def choose(logits: torch.Tensor) -> torch.Tensor:
        return sample_next_token(logits, temperature, top_k, top_p, generator)

    return _decode(model, input_ids, attention_mask, max_new_tokens, eos_token_id, choose)


# --------------------------------------------------------------------------- beam search


@torch.no_grad()
def _beam_search_one(
    model: Any,
    prompt: torch.Tensor,
    num_beams: int,
    max_new_tokens: int,
    eos_token_id: int | None,
    length_penalty: float,
    early_stopping: bool | str,
) -> torch.Tensor:
    """Beam search for one prompt ([seq]); returns prompt + the best finished hypothesis (1-D)."""
    vocab_candidates = 2 * num_beams  # enough candidates that num_beams of them can always keep running
    beams = prompt.unsqueeze(0).repeat(num_beams, 1)  # [num_beams, cur_len]: all beams start as the prompt
    # Only beam 0 is "alive" at the start, otherwise the first step would pick the same token num_beams times.
    beam_scores = torch.zeros(num_beams, device=prompt.device)
    beam_scores[1:] = -1e9
    finished: list[tuple[float, torch.Tensor]] = []  # (sum_logprobs / length**length_penalty, tokens), best first
    mask = torch.ones_like(beams)
    out = _forward(model, beams, mask, None, beams.shape[1])
    for step in range(1, max_new_tokens + 1):  # `step` = number of generated tokens after this step
        log_probs = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # [num_beams, vocab]
        vocab = log_probs.shape[-1]
        # Score of a continuation = sum of the log-probs of all its generated tokens.
        totals = (log_probs + beam_scores[:, None]).reshape(-1)
        cand_scores, cand_flat = torch.topk(totals, k=vocab_candidates)  # best candidates over all beams
        cand_beam, cand_token = cand_flat // vocab, cand_flat % vocab
        # A candidate is finished if it ends with EOS or reaches the length limit.
        cand_done = torch.full_like(cand_token, step == max_new_tokens, dtype=torch.bool)
        if eos_token_id is not None:
            cand_done |= cand_token == eos_token_id
        # Finished hypotheses: only among the top num_beams candidates, scored with the length penalty
        # (length = generated tokens, EOS included). Keep the num_beams best ones.
        normalised = cand_scores / (step**length_penalty)
        for i in range(num_beams):
            if cand_done[i]:
                tokens = torch.cat([beams[cand_beam[i]], cand_token[i : i + 1]])
                finished.append((float(normalised[i]), tokens))
        finished.sort(key=lambda item: item[0], reverse=True)
        finished = finished[:num_beams]
        if bool(cand_done.all()):
            break
        # The running beams: the num_beams best candidates that are not finished.
        keep = torch.nonzero(~cand_done).squeeze(-1)[:num_beams]
        beam_scores = cand_scores[keep]
        beams = torch.cat([beams[cand_beam[keep]], cand_token[keep, None]], dim=-1)
        # When to stop (transformers' rules): with num_beams finished hypotheses, early_stopping=True stops at
        # once; otherwise stop when the best running beam cannot beat the worst finished one any more, judging
        # its best possible score at the current length ("never" with length_penalty > 0: at the maximum length).
        if len(finished) == num_beams:
            if early_stopping is True:
                break
            best_length = max_new_tokens if (early_stopping == "never" and length_penalty > 0.0) else step
            best_possible = beam_scores[:1] / (best_length**length_penalty)
            if not bool(best_possible > finished[-1][0]):
                break
        # Feed the new tokens; reorder the key/value cache so row i holds the history of the new beam i.
        if out.past_key_values is not None:
            out.past_key_values.reorder_cache(cand_beam[keep])
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
        out = _forward(model, beams, mask, out.past_key_values, 1)
    return finished[0][1]


def beam_search(
    model: Any,
    input_ids: torch.Tensor,
    num_beams: int,
    max_new_tokens: int,
    eos_token_id: int | None = None,
    length_penalty: float = 1.0,
    *,
    early_stopping: bool | str = False,
) -> torch.Tensor:
    """Beam search: keep the `num_beams` most likely partial continuations; return prompt + the best finished one.

    A beam's score is the sum of the log-probabilities of its generated tokens. At each step the 2 * num_beams best
    continuations over all beams are ranked; those among the top num_beams that end with `eos_token_id` or reach
    `max_new_tokens` become finished hypotheses, scored sum_logprobs / length**length_penalty (length = number of
    generated tokens, EOS included; length_penalty > 0 favours longer outputs), and the best num_beams
    not-finished continuations keep running. The num_beams best finished hypotheses are kept; the search stops
    at `max_new_tokens`, or when num_beams hypotheses are finished and either `early_stopping=True` or the best
    running beam can no longer beat the worst finished one (`False`: judged at the current length; `"never"`:
    with length_penalty > 0, at the maximum length).

    input_ids: [seq] or [batch, seq] without padding (each row is searched on its own). Returns the same rank:
    [seq + new] or [batch, seq + new]; in a batch, rows that finished earlier are padded with `eos_token_id`.

    These are transformers' beam-search rules; the tokens equal `model.generate(input_ids, num_beams=num_beams,
    do_sample=False, max_new_tokens=..., eos_token_id=..., length_penalty=..., early_stopping=...)[0]`
    (tested on SmolLM2 with early_stopping True/False/"never", with EOS and without). Exact equality needs the
    same float32 model; with near-tied scores a different backend could choose differently.
    """
    require_range("num_beams", num_beams, low=1)
    require_range("max_new_tokens", max_new_tokens, low=1)
    require_choice("early_stopping", early_stopping, [True, False, "never"])
    ids = _as_batch(input_ids)
    results = [
        _beam_search_one(model, row, num_beams, max_new_tokens, eos_token_id, float(length_penalty), early_stopping)
        for row in ids
    ]
    if input_ids.ndim == 1:
        return results[0]
    longest = max(len(r) for r in results)
    padded = ids.new_full((len(results), longest), eos_token_id if eos_token_id is not None else 0)
    for row, result in zip(padded, results, strict=True):
        row[: len(result)] = result
    return padded
