"""Training on several processes: PyTorch's DistributedDataParallel (DDP) under ``torchrun``.

``torchrun --nproc_per_node K -m colorizer.cli train ...`` starts K processes on a machine (and
``--nnodes``/``--rdzv-endpoint`` spreads them over machines); each finds its rank in the
environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``PORT``),
which :func:`world_from_env` reads once, in the CLI. Without torchrun the world is one process and
nothing here changes what the trainer does.

What makes K processes train the run that one process would:

- **Data**: batch k of the run is still samples ``k*B .. k*B+B-1`` of the counter stream; rank r
  loads its contiguous ``B/K`` of them (:class:`GlobalBatchSampler`), so the global batch of a
  config is the same whatever K is, and a resume continues the stream.
- **Gradients**: DDP averages them over the ranks, which is the gradient of the mean loss over
  the global batch (the losses are per-sample means; ``w_hint``'s hinted-cell mean is the one
  that is only approximated, as a mean of per-rank means).
- **BatchNorm** (every conv unit of the generator, the discriminator's layers): normalizes with
  the statistics of the global batch, not of each rank's ``B/K`` samples (:func:`sync_batch_norm`:
  ``nn.SyncBatchNorm`` on GPUs, :class:`GlobalBatchNorm2d` elsewhere, since PyTorch's runs on
  GPUs only).
- **The rest** (logs, validation, sample grids, checkpoints) happens on rank 0; every rank
  starts from the same seed, and DDP broadcasts rank 0's weights when it wraps a model.

Backends: ``nccl`` on GPUs (one GPU per process, ``cuda:LOCAL_RANK``), ``gloo`` on CPUs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    #: Rank on this machine: the GPU this process uses.
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, validates and writes the run folder."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.size > 1

    def device(self, name: str) -> torch.device:
        """The device of this rank for ``--device name``: ``cuda`` is ``cuda:LOCAL_RANK`` under DDP."""
        if self.distributed and name == "cuda":
            return torch.device("cuda", self.local_rank)
        return torch.device(name)


def world_from_env(env: Mapping[str, str] | None = None) -> World:
    """The world torchrun describes in ``env`` (default ``os.environ``); one process without it."""
    env = os.environ if env is None else env
    world = World(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))
    if not 0 <= world.rank < world.size:
        raise ValueError(f"RANK {world.rank} is not within WORLD_SIZE {world.size}")
    return world


@contextlib.contextmanager
def process_group(world: World, device: str) -> Iterator[None]:
    """Join the process group for the block (nothing to join for one process)."""
    if not world.distributed:
        yield
        return
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(world.local_rank)
    # init_method env://: torchrun's MASTER_ADDR/MASTER_PORT (its rendezvous) say where to meet.
    dist.init_process_group(backend, rank=world.rank, world_size=world.size)
    try:
        yield
    finally:
        dist.destroy_process_group()


class GlobalBatchSampler(Sampler[int]):
    """This rank's share of each global batch of the counter stream, forever.

    Global batch k is samples ``start + k*batch_size ..`` (``batch_size`` of them); rank r gets
    the r-th contiguous ``batch_size / world.size`` of it. With one process: ``start, start+1, ...``.
    """

    def __init__(self, start: int, batch_size: int, world: World) -> None:
        if batch_size % world.size:
            raise ValueError(
                f"batch size {batch_size} does not split over {world.size} processes: the batch "
                "size is the global one, make it a multiple of the number of processes"
            )
        self.start = start
        self.batch_size = batch_size
        self.world = world

    def __iter__(self) -> Iterator[int]:
        local = self.batch_size // self.world.size
        first = self.start + self.world.rank * local
        while True:
            yield from range(first, first + local)
            first += self.batch_size


class _AllReduceSum(torch.autograd.Function):
    """Sum over the ranks, differentiable: the gradient of every rank's copy is summed back.

    (``torch.distributed.nn.functional.all_reduce`` does the same and is deprecated; the
    functional collectives that replace it have no autograd.)
    """

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return _AllReduceSum.apply(grad.contiguous())  # type: ignore[no-any-return]


def _sum_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    return _AllReduceSum.apply(tensor)  # type: ignore[no-any-return]


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """``BatchNorm2d`` that, in training under a process group, normalizes with the statistics of
    the global batch (every rank's samples), on any device: what ``nn.SyncBatchNorm`` does on GPUs.

    Mean first, then the variance around it (two small all-reduces per layer; the one-pass
    ``E[x^2] - mean^2`` loses digits where the mean is large). Running statistics are updated as
    ``BatchNorm2d`` updates them, from the global figures (unbiased variance).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x`` [N,C,H,W]."""
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        channels = x.shape[1]
        dims = (0, 2, 3)
        count = x.new_full((1,), x.numel() // channels)
        totals = _sum_over_ranks(torch.cat([x.sum(dims), count]))
        n = totals[-1]
        mean = totals[:channels] / n
        centred = x - mean.view(1, -1, 1, 1)
        var = _sum_over_ranks((centred * centred).sum(dims)) / n
        tracked = self.num_batches_tracked
        if self.running_mean is not None and self.running_var is not None and tracked is not None:
            with torch.no_grad():
                tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(tracked)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * (n / (n - 1)), momentum)
        out = centred * torch.rsqrt(var + self.eps).view(1, -1, 1, 1)
        if self.affine:
            out = out * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return out


def sync_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with every BatchNorm2d normalizing over the global batch (weights and running
    statistics kept): ``nn.SyncBatchNorm`` on CUDA, :class:`GlobalBatchNorm2d` elsewhere.

    Call it before the optimizer is made: the CPU conversion makes new parameters.
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, GlobalBatchNorm2d):
            replacement = GlobalBatchNorm2d(
                child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats
            ).to(device)
            replacement.load_state_dict(child.state_dict())
            replacement.train(child.training)
            setattr(module, name, replacement)
        else:
            sync_batch_norm(child, device)
    return module


def data_parallel(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``module`` wrapped in DDP (its gradients averaged over the ranks); itself for one process."""
    if not world.distributed:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def mean_over_ranks(values: dict[str, float], world: World, device: torch.device) -> dict[str, float]:
    """Each value averaged over the ranks (the same keys on every rank): the global batch's losses."""
    if not world.distributed or not values:
        return values
    tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return dict(zip(values, (tensor / world.size).tolist(), strict=True))


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any (so that all stop at the same step)."""
    if not world.distributed:
        return flag
    tensor = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())
