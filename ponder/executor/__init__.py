"""The executor seam: where work that fans out runs (floor 1; docs/cluster.md).

Work that fans out (eval grid cells, Monte-Carlo label groups, rollout groups, verify batches) is
written as a function `fn(item, cache) -> result` of one picklable item, and handed to an
Executor's `map`. `local` (the default) runs the items one after another in this process, as
ponder always did; `ray` sends each item to a Ray task on a local Ray it starts or on a cluster
it joins (`--executor ray`, `--ray-address` or RAY_ADDRESS). Results come back to the driver,
which writes them (so resume files are the same, whoever computed them); `on_result` is called
in the driver as each item finishes (`ordered=True`: in item order).

`cache` is a per-worker-process dict for what a worker builds once and reuses (a generator, a
task's problems): `cached(cache, key, build)`. Left out: a slurm executor, and streaming items
that do not fit in the driver's memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ponder.types import PonderError

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")


@dataclass
class ExecutorOptions:
    """Where fanned-out work runs; a command's config inherits these keys.

    executor: local (this process, the default) | ray (Ray tasks; joins RAY_ADDRESS / --ray-address, else starts a local Ray)
    ray_address: a running Ray cluster to join (host:port, or auto); null: RAY_ADDRESS, else a local Ray
    ray_cpus: CPU slots of a Ray this command starts itself (null: every core)
    """

    executor: str = "local"
    ray_address: str | None = None
    ray_cpus: int | None = None


class Executor(Protocol):
    name: str

    def map(
        self,
        fn: Callable[[Any, dict], R],
        items: Sequence[Any],
        *,
        on_result: Callable[[int, R], None] | None = None,
        ordered: bool = False,
    ) -> list[R]:
        """fn(item, cache) for every item; results in item order."""
        ...

    def close(self) -> None: ...


def cached(cache: dict, key: Any, build: Callable[[], T]) -> T:
    """cache[key], built once per worker process (and per run)."""
    if key not in cache:
        cache[key] = build()
    return cache[key]


class LocalExecutor:
    """Every item in this process, in order: today's behaviour, and the reference for `ray`."""

    name = "local"

    def __init__(self) -> None:
        self.cache: dict = {}

    def map(
        self,
        fn: Callable[[Any, dict], R],
        items: Sequence[Any],
        *,
        on_result: Callable[[int, R], None] | None = None,
        ordered: bool = False,
    ) -> list[R]:
        out = []
        for i, item in enumerate(items):
            out.append(fn(item, self.cache))
            if on_result:
                on_result(i, out[-1])
        return out

    def close(self) -> None:
        self.cache.clear()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(opts: ExecutorOptions | None = None) -> Any:
    """The executor the options name (a context manager: leaving it stops a Ray it started)."""
    opts = opts or ExecutorOptions()
    if opts.executor == "local":
        return LocalExecutor()
    if opts.executor == "ray":
        from ponder.executor.ray_backend import RayExecutor

        return RayExecutor(address=opts.ray_address, num_cpus=opts.ray_cpus)
    raise PonderError(f"unknown executor {opts.executor!r}; known: {', '.join(EXECUTORS)}")
