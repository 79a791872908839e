"""Where an in-process vLLM engine spends a run: steps, tokens and seconds per engine phase.

`engine_work(gen)` wraps a few methods of a `VLLMGenerator`'s in-process engine (scheduler,
executor, output processor) with counters and `perf_counter` clocks; the returned dict grows as
the generator runs, and `delta(after, before)` gives one run's share. Counted per engine step:
requests scheduled, tokens through the model (prefill + decode); timed: scheduling, the model
forward (`execute_model`), sampling (`sample_tokens`), the scheduler's bookkeeping of the
sampled tokens (`update_from_output`: stop checks, KV block caching), and the front end's output
processing (`process_outputs`: logprobs lists, detokenizing, request outputs). The wrappers cost
a few microseconds per step (~500 steps in a beam run), unlike cProfile, which inflates every
Python call. Only for the in-process engine (VLLM_ENABLE_V1_MULTIPROCESSING=0, ponder's default).
Left out: the time inside each phase (use `vllm_prefix.py --profile` for that).
"""

from __future__ import annotations

import time

PHASES = {  # key -> (object path from the LLMEngine, method)
    "schedule_s": ("engine_core.engine_core.scheduler", "schedule"),
    "forward_s": ("engine_core.engine_core.model_executor", "execute_model"),
    "sample_s": ("engine_core.engine_core.model_executor", "sample_tokens"),
    "update_s": ("engine_core.engine_core.scheduler", "update_from_output"),
    "outputs_s": ("output_processor", "process_outputs"),
}


def _resolve(root, path: str):
    for name in path.split("."):
        root = getattr(root, name)
    return root


def _clocked(method, work: dict, key: str):
    def run(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            work[key] += time.perf_counter() - t0

    return run


def _counted(schedule, work: dict):
    def run(*args, **kwargs):
        out = schedule(*args, **kwargs)
        work["steps"] += out.total_num_scheduled_tokens > 0
        work["model_tokens"] += out.total_num_scheduled_tokens
        work["scheduled_requests"] += len(out.num_scheduled_tokens)
        return out

    return run


def engine_work(gen) -> dict:
    """The (growing) counters of `gen`'s engine, installed on first call: steps, model_tokens
    (prefill + decode), scheduled_requests (summed over steps) and seconds per phase (PHASES)."""
    work = getattr(gen, "_engine_work", None)
    if work is not None:
        return work
    work = gen._engine_work = {"steps": 0, "model_tokens": 0, "scheduled_requests": 0}
    engine = gen.llm.llm_engine
    for key, (path, name) in PHASES.items():
        owner = _resolve(engine, path)
        work[key] = 0.0
        setattr(owner, name, _clocked(getattr(owner, name), work, key))
    scheduler = _resolve(engine, "engine_core.engine_core.scheduler")
    scheduler.schedule = _counted(scheduler.schedule, work)
    return work


def delta(after: dict, before: dict) -> dict:
    """One run's share of the counters (seconds rounded to 10 ms)."""
    return {k: round(v - before[k], 2) if isinstance(v, float) else v - before[k] for k, v in after.items()}
