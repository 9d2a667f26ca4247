"""Train a small course GPT with DistributedDataParallel on CPU processes (gloo). Launched by torchrun:

    python -m torch.distributed.run --nproc_per_node 2 -m utils.inference.ddp_train --steps 30 --out result.json

(`utils.inference.distributed.launch_torchrun` does that from a notebook). Every process builds the same model
from the same seed and draws the same global batches; process `rank` trains on its slice of each batch
(`rank_rows`), DDP all-reduces (averages) the gradients, and every copy takes the same AdamW step. So the loss
curve does not depend on the number of processes: 1 and 2 processes give the same losses up to float rounding.

With `--reference`, rank 0 first trains a plain copy (no DDP) on the whole global batches, alone, while the other
ranks wait: the one-process run to compare with, without a second launch.

Rank 0 writes a JSON file: the global loss per step, the wall time of the training loop, the toy all-reduce, a
checksum of each rank's weights after training (equal copies) and, with `--reference`, the reference's losses and
time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ..assets.datasets import load_austen_text
from ..training.pretraining import next_token_loss
from ..transformer.gpt import GPT, GPTConfig
from .distributed import rank_rows


def byte_ids(n_chars: int) -> torch.Tensor:
    """The first `n_chars` characters of Pride and Prejudice as byte ids (a 256-token vocabulary, no tokenizer)."""
    text = load_austen_text(["Pride and Prejudice"])[:n_chars]
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.long)


def global_batches(ids: torch.Tensor, steps: int, batch_size: int, context: int, seed: int) -> list[torch.Tensor]:
    """`steps` global batches of `batch_size` windows of `context + 1` bytes, drawn from a seeded generator (the
    same on every process)."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - context - 1, (batch_size,), generator=generator)
        batches.append(torch.stack([ids[s : s + context + 1] for s in starts.tolist()]))
    return batches


def train_alone(config: GPTConfig, batches: list[torch.Tensor], lr: float, seed: int) -> dict[str, object]:
    """The one-process reference: the same model, optimizer and global batches, without DDP."""
    torch.manual_seed(seed)
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    losses = []
    start = time.perf_counter()
    for batch in batches:
        loss, _ = next_token_loss(model, (batch[:, :-1], batch[:, 1:]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": losses, "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--global-batch", type=int, default=16)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--n-layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chars", type=int, default=200_000)
    parser.add_argument("--reference", action="store_true", help="rank 0 first trains a copy alone, without DDP")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()

    toy = torch.tensor([float(rank + 1), 10.0 * (rank + 1)])  # the all-reduce on a toy tensor
    toy_before = toy.tolist()
    dist.all_reduce(toy, op=dist.ReduceOp.SUM)

    config = GPTConfig(
        vocab_size=256, context_length=args.context, d_model=args.d_model, n_heads=4, n_layers=args.n_layers
    )
    batches = global_batches(byte_ids(args.chars), args.steps, args.global_batch, args.context, args.seed)
    reference = train_alone(config, batches, args.lr, args.seed) if args.reference and rank == 0 else None
    dist.barrier()  # the other ranks wait for the reference

    torch.manual_seed(args.seed)  # the same initial weights on every process (DDP also broadcasts rank 0's)
    model = DistributedDataParallel(GPT(config))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)

    losses = []
    dist.barrier()
    start = time.perf_counter()
    for batch in batches:
        rows = rank_rows(batch, rank, world)
        loss, _ = next_token_loss(model, (rows[:, :-1], rows[:, 1:]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP all-reduces (averages) the gradients here, bucket by bucket
        optimizer.step()
        global_loss = loss.detach().clone()
        dist.all_reduce(global_loss, op=dist.ReduceOp.SUM)
        losses.append(global_loss.item() / world)
    dist.barrier()
    seconds = time.perf_counter() - start

    checksum = torch.tensor([sum(p.double().sum().item() for p in model.module.parameters())], dtype=torch.float64)
    checksums = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(checksums, checksum)
    toys = [torch.zeros(2) for _ in range(world)]
    dist.all_gather(toys, torch.tensor(toy_before))
    if rank == 0:
        result = {
            "world_size": world,
            "losses": losses,
            "seconds": seconds,
            "threads_per_process": torch.get_num_threads(),
            "rows_per_rank": args.global_batch // world,
            "toy_before": [t.tolist() for t in toys],
            "toy_after": toy.tolist(),
            "weight_checksums": [c.item() for c in checksums],
            "n_parameters": model.module.num_parameters(),
            "reference": reference,
        }
        args.out.write_text(json.dumps(result))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
