"""Training on several processes at once, started by torchrun:

    torchrun --nproc_per_node=4 -m <package> train ...         # one machine, 4 GPUs (or CPU processes)
    sbatch scripts/slurm/train.sbatch ...                       # several machines (when rendered)

torchrun starts one process per device and tells each its place in environment variables
(RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR...). `session()` joins them into one process group:
NCCL between CUDA GPUs, XCCL between Intel GPUs, gloo on CPUs. Then:

- each process (a "rank") trains on its own shard of every epoch's batches (`loaders.py`), with
  `data.batch_size` images per step: the global batch is `data.batch_size` times the ranks;
- DistributedDataParallel averages the gradients, so every rank holds the same weights;
- the epoch's loss and accuracy are summed over all ranks before they are logged;
- rank 0 alone writes the run folder (config, metrics, checkpoints, plots) and prints.

With `fsdp=true` (resnet and vit), the model's weights, gradients and optimizer state are
sharded over the ranks instead (FSDP2's `fully_shard`, block by block as model.py's
`shard_units` says), for models too big for one GPU's memory; checkpoints still hold the whole
model, gathered on rank 0. Small models (simplenet, cnn) fit on one GPU: DDP is faster for them.

Without torchrun (WORLD_SIZE unset) all of this is a no-op: one process, rank 0 of 1.
If one rank fails, torchrun stops the others; a rank that waits on a collective operation
longer than TIMEOUT gives up with an error instead of hanging.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from . import fsdp as sharding

TIMEOUT = timedelta(minutes=10)  # longest wait on the other ranks (a slow checkpoint write included)
BACKENDS = {"cuda": "nccl", "xpu": "xccl"}  # every other device: gloo


def launched() -> bool:
    """Whether this process is one of several that torchrun started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0: the one process that writes files, prints, tracks and plots."""
    return rank() == 0


def interactive() -> bool:
    """Progress bars are for a person at a terminal: not in CI, a log file or another rank."""
    return is_main() and sys.stderr.isatty() and not os.environ.get("CI")


@contextlib.contextmanager
def session(device: torch.device) -> Iterator[torch.device]:
    """Join the process group torchrun set up (if any) for the duration of a run; yields this
    process's device: the GPU numbered LOCAL_RANK on its machine, or `device` as it is."""
    if not launched() or dist.is_initialized():
        yield device
        return
    if device.type in BACKENDS:
        device = torch.device(device.type, int(os.environ.get("LOCAL_RANK", "0")))
        getattr(torch, device.type).set_device(device)
    dist.init_process_group(BACKENDS.get(device.type, "gloo"), timeout=TIMEOUT)
    try:
        yield device
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 goes first (say, downloading a dataset into data/), the others once it is done."""
    if dist.is_initialized() and not is_main():
        dist.barrier()
    yield
    if dist.is_initialized() and is_main():
        dist.barrier()


def wrap(model: nn.Module, device: torch.device, find_unused_parameters: bool, fsdp: bool) -> nn.Module:
    """The model as the training steps call it: in DistributedDataParallel across ranks, or
    sharded in place with FSDP2 (`fsdp`). Build the optimizer after this.

    `find_unused_parameters` is for epochs with a frozen backbone, whose weights get no gradients.
    """
    if not dist.is_initialized():
        return model
    if fsdp:
        sharding.shard(model)
        return model
    device_ids = [device.index] if device.type in BACKENDS else None
    # Buffers (BatchNorm's statistics) are shared once an epoch (share_buffers) rather than
    # broadcast before every forward pass: validation shards can differ by a batch between
    # ranks, and a collective inside those forward passes would wait forever.
    return nn.parallel.DistributedDataParallel(
        model,
        device_ids=device_ids,
        forward_sync_buffers=False,
        find_unused_parameters=find_unused_parameters,
    )


def sum_over_ranks(values: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of `values` over all ranks (the values themselves on one process)."""
    if dist.is_initialized():
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when `flag` is true on at least one of them."""
    if not dist.is_initialized():
        return flag
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def from_main(value: Any) -> Any:
    """Rank 0's `value` on every rank (the new run folder's path)."""
    if not dist.is_initialized():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def share_buffers(model: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm's running statistics) to every rank.

    Each rank updates them from its own batches during an epoch; this makes the model the same
    everywhere before it is validated and saved.
    """
    if dist.is_initialized():
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
