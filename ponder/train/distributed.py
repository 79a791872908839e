"""Data parallelism with PyTorch's own stack (torch.distributed + DistributedDataParallel).

Under `torchrun` (WORLD_SIZE > 1 in the environment) the process group starts (nccl on CUDA,
gloo on CPU), the policy is wrapped in DDP (which averages gradients across ranks in backward),
each rank reads its share of the data stream, per-step statistics are reduced across ranks, and
only rank 0 writes files (checkpoints, metrics, summaries, sampled data). Without torchrun every
method is a no-op, so the same command runs on one device.

Sharding: rank r of W reads positions r, r+W, r+2W, ... of the shared stream (local position j
is global position j*W + r). Checkpoints store the global position (`to_global`), so a run saved
at one world size resumes at another where it stopped (`to_local` rounds up: at most W-1
examples are skipped, none repeated).

Left out: FSDP2 (parameters sharded across devices for models that do not fit one; not
implemented), tensor and pipeline parallelism, multi-node launch beyond what torchrun does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from ponder.types import PonderError

log = logging.getLogger(__name__)

SUMMED = frozenset({"tokens_per_s", "gen_tokens", "response_tokens", "tokens"})  # totals, not averages


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str) -> Dist:
        """One process (no WORLD_SIZE), or a rank of a torchrun job: joins the process group."""
        import torch.distributed as dist

        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls(device=device)
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if device.startswith("cuda"):
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        log.info("rank %d of %d on %s", rank, world, device)
        return cls(rank=rank, world=world, device=device)

    def split(self, n: int, what: str) -> int:
        """The per-rank share of a global count, which must divide evenly."""
        if n % self.world:
            raise PonderError(f"{what}={n} does not split over {self.world} processes; use a multiple of {self.world}")
        return n // self.world

    def all_sum(self, values: dict[str, float]) -> dict[str, float]:
        """Each value summed over ranks (identity on one process)."""
        if self.world == 1 or not values:
            return values
        import torch.distributed as dist

        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return dict(zip(keys, t.tolist()))

    def all_max(self, x: int) -> int:
        if self.world == 1:
            return x
        import torch.distributed as dist

        t = torch.tensor([x], dtype=torch.int64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def any(self, flag: bool) -> bool:
        return bool(self.all_max(int(flag)))

    def reduce_metrics(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Numbers averaged over ranks (throughput totals in SUMMED added up); every rank must
        report the same keys. Non-numbers are kept as they are."""
        if self.world == 1:
            return metrics
        nums = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        summed = self.all_sum(nums)
        out = dict(metrics)
        out.update({k: v if k in SUMMED else v / self.world for k, v in summed.items()})
        return out

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. samples data and writes it), the others after it
        (and find the file written)."""
        if not self.is_main:
            self.barrier()
        yield
        if self.is_main:
            self.barrier()

    def wrap(self, model):
        """The model in DDP on more than one rank (gradients all-reduced in backward)."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids)

    def shard(self, stream):
        return stream if self.world == 1 else RankStream(stream, self.rank, self.world)

    def to_global(self, cursor: int) -> int:
        return cursor * self.world

    def to_local(self, cursor: int) -> int:
        return -(-cursor // self.world)


class RankStream:
    """Rank r's view of a stream: local position j is global position j*world + r."""

    def __init__(self, inner, rank: int, world: int):
        self.inner, self.rank, self.world = inner, rank, world

    def at(self, i: int):
        return self.inner.at(i * self.world + self.rank)

    def take(self, start: int, k: int) -> list:
        return [self.at(i) for i in range(start, start + k)]


def shutdown() -> None:
    """Leave the process group (end of a torchrun job); nothing on one process."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
