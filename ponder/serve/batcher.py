"""Dynamic batching: generator calls from many request threads merged into shared calls.

`BatchingGenerator.generate` may be called from any thread; it queues the call and blocks until
one worker thread, the only one that touches the model, has run it. The worker takes the first
queued call and gathers what else arrives (and whatever piled up while the previous batch ran)
until every open session (`with batcher.session():`, one per request being served) has a call
queued and no call came for `quiet_ms` (requests still arriving over HTTP), or `wait_ms` have
passed — so a lone request waits `quiet_ms` and a crowd is gathered whole. It then merges calls
whose SamplingParams are equal but for the seed into one inner call (prompts concatenated, up to
`max_prompts` per call) and hands each caller its slice of the outputs. The merged call carries
one seed per prompt: each seeded call's own (SamplingParams.prompt_seeds), fresh ones for an
unseeded call. The hf backend draws each row's random numbers from its prompt's seed alone
(gen/rng.py), so a seeded request samples what it samples alone, under any load. Calls with
different params (another n, max_tokens, stop, temperature) run as separate inner calls of the
same round. `max_prompts=1` turns merging off (one prompt per call: the baseline of benchmarks/serve_load.py). `run(fn)` runs any other model work (teacher-forced logprobs) on the
worker too. Left out: preemption, priorities, merging calls with different params.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ponder.types import Completion, Generator, PonderError, SamplingParams, fresh_seeds

log = logging.getLogger(__name__)


@dataclass
class _Call:
    prompts: list[str]
    params: SamplingParams | None
    future: Future = field(default_factory=Future)
    fn: Callable[[], Any] | None = None


class BatchingGenerator:
    def __init__(self, gen: Generator, wait_ms: float = 50.0, max_prompts: int = 256, quiet_ms: float = 10.0):
        if max_prompts < 1:
            raise PonderError(f"max_prompts must be >= 1, got {max_prompts}")
        self.gen, self.wait_s, self.max_prompts = gen, wait_ms / 1000.0, max_prompts
        self.quiet_s = min(quiet_ms, wait_ms) / 1000.0
        self.name, self.n_params = gen.name, gen.n_params
        self._q: queue.Queue[_Call | None] = queue.Queue()
        self.sessions = 0  # requests being served that may send calls
        self._lock = threading.Lock()
        self.calls = 0  # inner generator calls made
        self.prompts = 0  # prompts sent in them
        self._worker = threading.Thread(target=self._loop, name="ponder-batcher", daemon=True)
        self._worker.start()

    def render(self, question: str) -> str:
        return self.gen.render(question)

    @property
    def pending(self) -> int:
        return self._q.qsize()

    @contextmanager
    def session(self) -> Iterator[None]:
        """Mark a request as open: the worker waits for its next call (at most wait_ms)."""
        with self._lock:
            self.sessions += 1
        try:
            yield
        finally:
            with self._lock:
                self.sessions -= 1

    def generate(self, prompts: list[str], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        params.prompt_seeds(len(prompts))  # a wrong seed list fails its caller here, not a merged call
        call = _Call(list(prompts), params)
        self._q.put(call)
        return call.future.result()

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the worker thread (between batches) and return its result."""
        call = _Call([], None, fn=fn)
        self._q.put(call)
        return call.future.result()

    def close(self) -> None:
        self._q.put(None)
        self._worker.join(timeout=30)

    def _gather(self, first: _Call) -> list[_Call]:
        """The first call and those that follow: until every open session has a call in and none
        arrived for `quiet_ms` (requests still on the wire), or `wait_ms` have passed."""
        batch = [first]
        now = time.monotonic()
        deadline, last = now + self.wait_s, now
        while True:
            now = time.monotonic()
            everyone = len(batch) >= self.sessions
            if now >= deadline or (everyone and now - last >= self.quiet_s):
                return batch
            until = min(deadline, last + self.quiet_s) if everyone else deadline
            try:
                item = self._q.get(timeout=max(0.0, until - now))
            except queue.Empty:
                continue
            if item is None:
                self._q.put(None)  # finish this batch, then stop
                return batch
            batch.append(item)
            last = time.monotonic()

    def _loop(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            batch = self._gather(first)
            for call in [c for c in batch if c.fn is not None]:
                _settle(call.future, call.fn)
            for calls in merge_groups([c for c in batch if c.fn is None]):
                for chunk in self._chunks(calls):
                    self._run(chunk, merged_params(chunk))

    def _chunks(self, calls: list[_Call]) -> list[list[_Call]]:
        out: list[list[_Call]] = [[]]
        size = 0
        for call in calls:
            if out[-1] and size + len(call.prompts) > self.max_prompts:
                out.append([])
                size = 0
            out[-1].append(call)
            size += len(call.prompts)
        return out

    def _run(self, calls: list[_Call], params: SamplingParams) -> None:
        prompts = [p for c in calls for p in c.prompts]
        try:
            outputs = self.gen.generate(prompts, params)
        except Exception as e:  # one failing batch fails its callers, never the worker
            log.exception("generator call failed")
            for c in calls:
                c.future.set_exception(e)
            return
        self.calls += 1
        self.prompts += len(prompts)
        start = 0
        for c in calls:
            c.future.set_result(outputs[start : start + len(c.prompts)])
            start += len(c.prompts)


def merge_groups(calls: list[_Call]) -> list[list[_Call]]:
    """Calls that may share one inner call: SamplingParams equal but for the seed (see
    merged_params for how each keeps its own)."""
    groups: dict[SamplingParams, list[_Call]] = {}
    for call in calls:
        groups.setdefault(dataclasses.replace(call.params, seed=None), []).append(call)
    return list(groups.values())


def merged_params(calls: list[_Call]) -> SamplingParams:
    """The params of one inner call for `calls` (equal but for the seed): one seed per prompt, each
    call's own or fresh ones for an unseeded call; no seed when greedy or when none is seeded."""
    base = dataclasses.replace(calls[0].params, seed=None)
    if base.temperature == 0 or all(c.params.seed is None for c in calls):
        return base
    seeds: list[int] = []
    for c in calls:
        seeds += c.params.prompt_seeds(len(c.prompts)) or fresh_seeds(len(c.prompts))
    return dataclasses.replace(base, seed=tuple(seeds))


def _settle(future: Future, fn: Callable[[], Any]) -> None:
    try:
        future.set_result(fn())
    except Exception as e:  # reported to the caller that asked
        future.set_exception(e)
