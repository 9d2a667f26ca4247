"""DDP on CPU processes: `utils.inference.distributed` and the torchrun module `utils.inference.ddp_train`."""

from __future__ import annotations

import socket

import pytest
import torch

from utils.inference.distributed import free_port, launch_torchrun, rank_rows


def test_rank_rows_split_the_global_batch() -> None:
    batch = torch.arange(12).reshape(6, 2)
    parts = [rank_rows(batch, rank, 3) for rank in range(3)]
    assert torch.equal(torch.cat(parts), batch)
    with pytest.raises(ValueError, match="world_size"):
        rank_rows(batch, 0, 4)


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


@pytest.mark.slow
def test_two_processes_reach_the_one_process_losses() -> None:
    args = ["--steps", "4", "--global-batch", "4", "--context", "16", "--d-model", "32", "--n-layers", "1"]
    one = launch_torchrun("utils.inference.ddp_train", args, nproc=1)
    two = launch_torchrun("utils.inference.ddp_train", [*args, "--reference"], nproc=2)
    assert one["reference"] is None
    alone = two["reference"]["losses"]  # rank 0 alone, no DDP, the whole global batches
    assert max(abs(a - b) for a, b in zip(alone, two["losses"], strict=True)) < 1e-4
    assert two["world_size"] == 2 and two["rows_per_rank"] == 2
    assert two["toy_after"] == [3.0, 30.0]  # [1, 10] + [2, 20]: the all-reduce sums
    assert max(abs(a - b) for a, b in zip(one["losses"], two["losses"], strict=True)) < 1e-4
    assert two["weight_checksums"][0] == two["weight_checksums"][1]  # every copy took the same steps


def test_a_failing_run_raises_with_its_output() -> None:
    with pytest.raises(RuntimeError, match="torchrun exited"):
        launch_torchrun("utils.inference.ddp_train", ["--steps", "not-a-number"], nproc=1, timeout=120)
