"""Generators as Ray actors: one model replica per actor, behind the Generator interface.

`RayGenerator(make_gen, replicas)` starts `replicas` Ray actors, each building its own generator
from the picklable factory `make_gen` (e.g. `partial(load_generator, "tiny")`), placed by
resources: one GPU each where the cluster has GPUs, one CPU slot otherwise. It is a Generator:
search, pools and data generation use it unchanged.

A call goes whole to the next replica (round robin): its results are what one local generator
gives for the same seed, and callers on several threads use the replicas at once. With
`shard=True` a call's prompts are split into one contiguous shard per replica, run at once and
joined in prompt order: faster for one large call, and each prompt keeps its seed from the whole
call, so a seeded call samples what one engine would (hf: rows draw per prompt seed, gen/rng.py). Replicas that die are restarted
and the call retried (Ray's actor restarts). Needs a running Ray (the ray executor, or ray.init).
`load_weights` pushes a trainer's weights into every replica: GRPO's `model.sampler=ray` wraps
it in gen/synced.SyncedEngine (rollout workers on Ray, the trainer in the driver, weights sent
after each step, truncated importance sampling on the replicas' logprobs).
Left out: routing by load; decoding the next step's rollouts while the trainer runs.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from ponder.executor.ray_backend import import_ray
from ponder.types import Completion, Generator, PonderError, SamplingParams


class _Replica:
    """Inside a Ray actor: one generator."""

    def __init__(self, make_gen: Callable[[], Generator]) -> None:
        self.gen = make_gen()

    def info(self) -> tuple[str, int | None]:
        return self.gen.name, self.gen.n_params

    def render(self, questions: list[str]) -> list[str]:
        return [self.gen.render(q) for q in questions]

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        return self.gen.generate(prompts, params)

    def load_weights(self, state: dict[str, Any]) -> None:
        """A trainer's new weights (an hf generator's model); its prompt K/V cache is dropped."""
        self.gen.model.load_state_dict(state)
        cache = getattr(self.gen, "prefix_cache", None)
        if cache is not None:
            cache.clear()

    def logprobs(self, prompts: list[str], continuations: list[str]) -> list[list[float]]:
        return self.gen.logprobs(prompts, continuations)


def shards(n: int, parts: int) -> list[range]:
    """`n` indices as at most `parts` contiguous, near-equal, non-empty ranges, in order."""
    size, extra = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + size + (i < extra)
        if stop > start:
            out.append(range(start, stop))
        start = stop
    return out


class RayGenerator:
    """`replicas` Ray actors with one generator each; a Generator itself."""

    def __init__(self, make_gen: Callable[[], Generator], replicas: int = 1, *, shard: bool = False,
                 gpus_per_replica: float | None = None) -> None:  # fmt: skip
        ray = self.ray = import_ray()
        if not ray.is_initialized():
            raise PonderError("RayGenerator needs a running Ray: use --executor ray, or call ray.init() first")
        if replicas < 1:
            raise PonderError(f"replicas must be >= 1, got {replicas}")
        gpus = gpus_per_replica if gpus_per_replica is not None else float(ray.cluster_resources().get("GPU", 0) >= 1)
        actor = ray.remote(_Replica).options(num_cpus=0 if gpus else 1, num_gpus=gpus, max_restarts=3,
                                             max_task_retries=3)  # fmt: skip
        self.actors = [actor.remote(make_gen) for _ in range(replicas)]
        self.name, self.n_params = ray.get(self.actors[0].info.remote())
        self.shard = shard
        self._turn = itertools.cycle(range(replicas))
        self._lock = threading.Lock()
        self._rendered: dict[str, str] = {}

    def render(self, question: str) -> str:
        if question not in self._rendered:
            self._rendered[question] = self.ray.get(self.actors[0].render.remote([question]))[0]
        return self._rendered[question]

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        if not self.shard or len(self.actors) == 1:
            with self._lock:
                actor = self.actors[next(self._turn)]
            return self.ray.get(actor.generate.remote(prompts, params))
        parts = shards(len(prompts), len(self.actors))
        n = len(prompts)
        refs = [
            a.generate.remote(prompts[r.start : r.stop], params.for_prompts(n, r)) for a, r in zip(self.actors, parts)
        ]
        return [group for part in self.ray.get(refs) for group in part]

    def load_weights(self, named_tensors: Any) -> None:
        """Push (name, tensor) pairs into every replica: put in Ray's object store once, loaded by
        all replicas at once (what gen/synced.SyncedEngine calls after optimiser steps)."""
        state = self.ray.put({k: v.detach().cpu() for k, v in named_tensors})
        self.ray.get([a.load_weights.remote(state) for a in self.actors])

    def logprobs(self, prompts: list[str], continuations: list[str]) -> list[list[float]]:
        return self.ray.get(self.actors[0].logprobs.remote(prompts, continuations))

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []

    def __enter__(self) -> RayGenerator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def ray_sampler(model: Any, name: str, every: int = 1, replicas: int = 2, address: str | None = None,
                cpus: int | None = None, weights: Any = None) -> Any:  # fmt: skip
    """GRPO's `model.sampler=ray`: `replicas` hf generators of `name` on Ray (joined at `address` /
    RAY_ADDRESS, else a local Ray of `cpus` slots), kept in step with the live `model`; each call's
    prompts are split over the replicas. Options come as --model.engine.replicas=N etc.; `weights`
    (model -> {name: tensor}) is what gets pushed (default: the state dict; LoRA: merged weights)."""
    from functools import partial

    from ponder.executor.ray_backend import RayExecutor
    from ponder.gen import load_generator
    from ponder.gen.synced import SyncedEngine

    RayExecutor(address=address, num_cpus=cpus)  # starts or joins Ray; it stops when the process ends
    engine = RayGenerator(partial(load_generator, name, backend="hf"), replicas=replicas, shard=True)
    return SyncedEngine(model, engine, every=every, weights=weights)
