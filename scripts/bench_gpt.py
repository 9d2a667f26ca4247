"""Time one training step of the course's GPT against transformers' GPT-2 of the same sizes, in one run.

    python scripts/bench_gpt.py                  # batch 8 x 128, d_model 256, 4 layers, 4 heads, vocab 4096
    python scripts/bench_gpt.py --threads 1 --rounds 7

Both models get the same batch, AdamW and no dropout; rounds alternate between them so that a busy machine slows
both alike. Prints tokens per second (median over rounds) and the ratio ours / GPT-2. Run it with nothing else on
the machine: the number is a throughput.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from utils.transformer.gpt import GPT, GPTConfig


def step_function(model: torch.nn.Module, logits_of: Callable, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """One AdamW training step on (x, y) for `model`, whose logits `logits_of(model, x)` returns."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step() -> None:
        logits = logits_of(model, x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    ours = GPT(GPTConfig(args.vocab, args.seq, args.d_model, args.heads, args.layers))
    gpt2_config = GPT2Config(
        vocab_size=args.vocab,
        n_positions=args.seq,
        n_embd=args.d_model,
        n_layer=args.layers,
        n_head=args.heads,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=None,  # GPT-2's 50256 lies outside a 4k vocabulary
        eos_token_id=None,
    )
    gpt2 = GPT2LMHeadModel(gpt2_config)
    gpt2.config._attn_implementation = "sdpa"  # torch's fused attention, like ours
    x = torch.randint(0, args.vocab, (args.batch, args.seq))
    y = torch.randint(0, args.vocab, (args.batch, args.seq))
    steps = {
        "utils GPT": step_function(ours.train(), lambda m, ids: m(input_ids=ids).logits, x, y),
        "transformers GPT-2": step_function(gpt2.train(), lambda m, ids: m(input_ids=ids).logits, x, y),
    }
    params = {"utils GPT": ours.num_parameters(), "transformers GPT-2": sum(p.numel() for p in gpt2.parameters())}
    for step in steps.values():  # warm-up: allocator, kernels, AdamW state
        for _ in range(3):
            step()
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[name].append(args.steps * args.batch * args.seq / (time.perf_counter() - start))
    print(
        f"batch {args.batch} x {args.seq}, d_model {args.d_model}, {args.layers} layers, {args.heads} heads, "
        f"vocab {args.vocab}, {args.threads} threads, {args.rounds} rounds of {args.steps} steps"
    )
    for name, values in rates.items():
        print(
            f"{name:<20} {params[name] / 1e6:5.2f}M params  {statistics.median(values):8,.0f} tokens/s (median; "
            f"min {min(values):,.0f}, max {max(values):,.0f})"
        )
    ratio = statistics.median(rates["utils GPT"]) / statistics.median(rates["transformers GPT-2"])
    print(f"ratio utils GPT / GPT-2: {ratio:.2f}x")


if __name__ == "__main__":
    main()
