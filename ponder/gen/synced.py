"""A Generator that samples from a vLLM engine kept in step with a torch model being trained.

RL rollouts decode on vLLM while torch trains the policy. Before each `generate()` call the
wrapper checks whether the model's parameters changed since it last looked (torch bumps a
tensor's version counter on every in-place update, which is how optimisers write), and after
`every` such changes it pushes the weights into the running engine (`VLLMGenerator.load_weights`:
no restart; the prefix cache is reset). The first call always pushes, so an engine started from
the base weights serves a resumed checkpoint. With every > 1 the sampler lags the trainer by up
to every - 1 optimiser steps; the trainer corrects the mismatch with truncated importance
sampling on the sampler's logprobs (train/losses.py), which every Completion carries.

`weights` says what is pushed: the model's state dict, or (LoRA training) the base weights with
the adapters merged in (train/lora.merged_weights), since the engine serves a plain model.

`sampler_is_trainer = False` tells trainers that these samples come from another engine.
Left out: pushing only changed tensors, pushing asynchronously while the trainer runs.
"""

from __future__ import annotations

import logging
import time

from ponder.types import Completion, SamplingParams

log = logging.getLogger(__name__)


class SyncedEngine:
    sampler_is_trainer = False

    def __init__(self, model, engine, every: int = 1, weights=None):
        if every < 1:
            from ponder.types import PonderError

            raise PonderError(f"sync_every must be >= 1, got {every}")
        self.model, self.engine, self.every = model, engine, every
        self.weights = weights or (lambda m: m.state_dict())  # model -> {name: tensor} to push
        self.name, self.n_params = engine.name, engine.n_params
        self._seen: tuple[int, ...] | None = None
        self._pending = 0  # parameter changes seen since the last push
        self.pushes, self.push_seconds = 0, 0.0

    def render(self, question: str) -> str:
        return self.engine.render(question)

    def _versions(self) -> tuple[int, ...]:
        return tuple(p._version for p in self.model.parameters())

    def sync(self, force: bool = False) -> bool:
        """Push the model's weights if they changed `every` times since the last push (or force)."""
        now = self._versions()
        if self._seen is None:
            force = True
        elif now != self._seen:
            self._pending += 1
        self._seen = now
        if not force and self._pending < self.every:
            return False
        t0 = time.perf_counter()
        self.engine.load_weights(self.weights(self.model).items())
        self.push_seconds += time.perf_counter() - t0
        self.pushes, self._pending = self.pushes + 1, 0
        log.debug("pushed weights into %s (%d pushes)", self.name, self.pushes)
        return True

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        self.sync()
        return self.engine.generate(prompts, params)

    def logprobs(self, prompts: list[str], continuations: list[str]) -> list[list[float]]:
        self.sync()
        return self.engine.logprobs(prompts, continuations)
