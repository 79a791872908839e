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

`train.parallel=fsdp` shards the parameters instead of replicating them (fsdp.py, FSDP2's
`fully_shard`); everything else here is the same for both.

Group statistics that are not averages (a standard deviation over the whole batch) are computed
from sums over ranks (`moments`), never as the mean of per-rank values.

Left out: tensor and pipeline parallelism, multi-node launch beyond what torchrun does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from ponder.types import PonderError

log = logging.getLogger(__name__)

# per-rank totals, added up (counts trainers already sum over ranks, e.g. SFT's response_tokens,
# are the same on every rank and so are averaged like everything else)
SUMMED = frozenset({"tokens_per_s", "gen_tokens", "sampled_groups"})


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: str = "cpu"
    parallel: str = "ddp"  # ddp | fsdp (train.parallel)
    gather: Any = None  # fsdp: a context manager factory that unshards the policy (fsdp.Gather)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        """FSDP on more than one rank (one process ignores train.parallel)."""
        return self.parallel == "fsdp" and self.world > 1

    @classmethod
    def from_env(cls, device: str, parallel: str = "ddp") -> Dist:
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
        return cls(rank=rank, world=world, device=device, parallel=parallel)

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

    def moments(self, x: torch.Tensor) -> tuple[float, float]:
        """x (any shape; NaN = missing) -> (mean, unbiased std) over the non-NaN entries of every
        rank: the global count and sum give the mean, then the summed squared deviations from it
        give the std (two passes, as exact as one process's). NaN where too few values."""
        v = x.detach().double().flatten().cpu()
        v = v[~v.isnan()]
        s = self.all_sum({"n": float(v.numel()), "s": float(v.sum())})
        n = s["n"]
        mean = s["s"] / n if n else float("nan")
        sq = self.all_sum({"q": float(((v - mean) ** 2).sum()) if v.numel() else 0.0})["q"]
        return mean, (sq / (n - 1)) ** 0.5 if n > 1 else float("nan")

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
        with self.gathered():  # fsdp: every rank gathers the policy, so rank 0 may sample alone
            if not self.is_main:
                self.barrier()
            yield
            if self.is_main:
                self.barrier()

    def gathered(self):
        """fsdp: the policy's full parameters on every rank for the block (a collective: every
        rank enters); a no-op otherwise."""
        return self.gather() if self.gather is not None else nullcontext()

    def wrap(self, model, find_unused: bool = False):
        """The model in DDP on more than one rank (gradients all-reduced in backward); with
        parallel=fsdp the model sharded in place (fsdp.shard_model) and returned."""
        if self.world == 1:
            return model
        if self.parallel == "fsdp":
            from ponder.train.fsdp import Gather, shard_model

            shard_model(model, self)
            self.gather = Gather(model)
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused)

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
