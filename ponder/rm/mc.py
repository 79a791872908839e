"""Monte-Carlo step labels without humans (Wang et al. 2024, Math-Shepherd).

For a sampled trace with steps s_1..s_S, the prefix ending at step i is completed K times by the
policy; step i's soft label is the fraction of completions whose full response the verifier
accepts, its hard label whether any does. The answer step (and any step after which the trace
has ended) needs no rollouts: its label is the trace's own verified outcome.

Batched: all prefixes of a group of traces go to the generator in ONE call (n=K each), and the
verifier sees all their completions in one call. Resumable: finished traces are appended to the
output jsonl one line each (flushed), and a rerun skips trace ids already there. Each record
keeps the per-completion outcomes of every prefix in meta.rollouts (null where no rollouts ran),
so labels for any smaller K can be recomputed without new rollouts. Groups go out to an executor
(ponder/executor): `local` labels them one after another here, `ray` as Ray tasks, each worker
building its own generator once from a factory; the driver appends each finished group, and
returns the labels in the traces' order whichever group finished first.

Left out: OmegaPRM's binary search for the first error (it needs fewer rollouts per trace), and
re-using a prefix's completions to label later steps.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ponder.executor import LocalExecutor, cached
from ponder.gen.groups import Groups
from ponder.rm.labels import LabeledTrace, read_labels
from ponder.steps import STEP_DELIMITER, is_final_step, join_steps, split_steps
from ponder.types import Generator, PonderError, Problem, SamplingParams, Score

Verifier = Callable[[list[Problem], list[str]], list[Score]]


@dataclass
class Trace:
    """A sampled response to label; `id` must be unique within an output file."""

    id: str
    problem: Problem
    response: str


@dataclass(frozen=True)
class MCParams:
    k: int = 8
    temperature: float = 0.8
    max_tokens: int = 256
    hard: bool = False
    seed: int = 0
    traces_per_call: int = 16


def soft_label(correct: list[bool]) -> float:
    """Math-Shepherd soft estimate: fraction of K completions reaching the answer (K,) -> ()."""
    return sum(correct) / len(correct)


def hard_label(correct: list[bool]) -> float:
    """Math-Shepherd hard estimate: 1 if any of the K completions reaches the answer (K,) -> ()."""
    return float(any(correct))


def _default_verifier() -> Verifier:
    from ponder.verify import verify

    return verify


def _rollout_prefixes(steps: list[str]) -> list[int]:
    """Indices i whose prefix steps[:i+1] needs rollouts: not the last step, not after an answer."""
    out = []
    for i in range(len(steps) - 1):
        if is_final_step(steps[i]):
            break
        out.append(i)
    return out


def label_group(
    gen: Generator, traces: list[Trace], params: MCParams, verifier: Verifier, delimiter: str
) -> list[LabeledTrace]:
    """Monte-Carlo labels for a group of traces: one generator call, one verifier call."""
    split = [split_steps(t.response, delimiter) for t in traces]
    for t, s in zip(traces, split):
        if not s:
            raise PonderError(f"trace {t.id!r} has no steps (empty response); drop it before labelling")
    outcomes = [sc.value for sc in verifier([t.problem for t in traces], [t.response for t in traces])]
    jobs = [(j, i) for j, s in enumerate(split) for i in _rollout_prefixes(s)]
    prompts = [gen.render(traces[j].problem.question) + join_steps(split[j][: i + 1]) for j, i in jobs]
    sp = SamplingParams(
        n=params.k,
        temperature=params.temperature,
        max_tokens=params.max_tokens,
        seed=params.seed + zlib.crc32(traces[0].id.encode()),
        logprobs=False,
    )
    groups = Groups(jobs, gen.generate(prompts, sp) if prompts else [])  # (jobs, k)
    flat_p = [traces[j].problem for j, _ in groups.flat_owners]
    flat_r = [join_steps(split[j][: i + 1]) + t for (j, i), t in zip(groups.flat_owners, groups.texts)]
    ok = groups.unflatten([sc.value >= 1.0 for sc in verifier(flat_p, flat_r)] if flat_r else [])
    estimate = hard_label if params.hard else soft_label
    labels: list[list[float | None]] = [[float(outcomes[j] >= 1.0)] * len(s) for j, s in enumerate(split)]
    rollouts: list[list[list[bool] | None]] = [[None] * len(s) for s in split]
    for n, (j, i) in enumerate(jobs):
        rollouts[j][i] = ok[n]
        labels[j][i] = estimate(rollouts[j][i])
    kind = "mc-hard" if params.hard else "mc-soft"
    return [
        LabeledTrace(
            t.id, t.problem, s, lab, kind, float(outcomes[j]), delimiter, meta={"k": params.k, "rollouts": rollouts[j]}
        )
        for j, (t, s, lab) in enumerate(zip(traces, split, labels))
    ]


def done_ids(path: Path) -> set[str]:
    """Trace ids already in an output file (a torn last line from a crash is ignored)."""
    if not path.is_file() or path.stat().st_size == 0:
        return set()
    lines = path.read_text().splitlines()
    if lines and not lines[-1].rstrip().endswith("}"):
        lines = lines[:-1]
        path.write_text("".join(line + "\n" for line in lines))
    return {json.loads(line)["id"] for line in lines if line.strip()}


def _label_item(
    group: list[Trace], cache: dict, gen: Any, params: MCParams, verifier: Verifier, delimiter: str
) -> list[LabeledTrace]:
    """One group, where the executor runs it; `gen` is a Generator or a factory of one."""
    model = gen if hasattr(gen, "generate") else cached(cache, "mc-gen", gen)
    return label_group(model, group, params, verifier, delimiter)


def label_traces(
    gen: Generator | Callable[[], Generator],
    traces: list[Trace],
    params: MCParams,
    out: str | Path | None = None,
    verifier: Verifier | None = None,
    delimiter: str = STEP_DELIMITER,
    progress: Callable[[int], None] | None = None,
    executor: Any = None,
) -> list[LabeledTrace]:
    """Label all traces, `params.traces_per_call` at a time; with `out`, append and resume.
    `gen` may be a factory of the generator (what a Ray worker calls to build its own)."""
    verifier = verifier or _default_verifier()
    ids = [t.id for t in traces]
    if len(set(ids)) != len(ids):
        raise PonderError("trace ids must be unique: resuming relies on them")
    path = Path(out) if out else None
    skip = done_ids(path) if path else set()
    todo = [t for t in traces if t.id not in skip]
    groups = [todo[start : start + params.traces_per_call] for start in range(0, len(todo), params.traces_per_call)]

    def save(_: int, group: list[LabeledTrace]) -> None:
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as f:
                f.writelines(json.dumps(r.to_dict()) + "\n" for r in group)
                f.flush()
        if progress:
            progress(len(group))

    fn = partial(_label_item, gen=gen, params=params, verifier=verifier, delimiter=delimiter)
    labelled = [r for g in (executor or LocalExecutor()).map(fn, groups, on_result=save) for r in g]
    if path:
        order = {i: n for n, i in enumerate(ids)}
        return sorted((r for r in read_labels(path) if r.id in order), key=lambda r: order[r.id])
    return labelled
