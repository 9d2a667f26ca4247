"""Distributed data-parallel (DDP) training on CPU processes, the pieces a notebook needs. Taught in notebook 17.

DDP runs one process per device (here: per CPU core, with the `gloo` backend). Every process holds a full copy of
the model, takes its own slice of the global batch, computes gradients on it, and then the processes **all-reduce**
the gradients (sum them, divide by the number of processes) before the optimizer step: every copy takes the same
step, the one a single process would take on the whole batch.

A notebook cannot `torch.multiprocessing.spawn` a function it defines (the children cannot import it), so the
training lives in a module, `utils.inference.ddp_train`, that `torchrun` launches: `launch_torchrun` runs it as a
subprocess on a free localhost port and returns the results its rank 0 wrote to a JSON file.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["free_port", "launch_torchrun", "rank_rows"]


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rank_rows(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """The rows of a global batch that process `rank` of `world_size` trains on: equal, contiguous slices."""
    if batch.shape[0] % world_size:
        raise ValueError(
            f"the global batch ({batch.shape[0]} rows) must split evenly over world_size={world_size} processes."
        )
    per_rank = batch.shape[0] // world_size
    return batch[rank * per_rank : (rank + 1) * per_rank]


def launch_torchrun(
    module: str, args: list[str], *, nproc: int = 2, threads_per_process: int = 1, timeout: float = 300.0
) -> dict[str, Any]:
    """Run `python -m torch.distributed.run --nproc_per_node nproc -m module args --out FILE` on one machine (a free
    localhost port, `threads_per_process` torch threads each) and return the JSON that the module's rank 0 wrote to
    FILE. Raises RuntimeError with the processes' output if the run fails."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            str(nproc),
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(free_port()),
            "-m",
            module,
            *args,
            "--out",
            str(out),
        ]
        env = os.environ | {"OMP_NUM_THREADS": str(threads_per_process)}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"torchrun exited with {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())
