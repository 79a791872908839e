"""On-policy twins: the policy's own wrong alternatives to a valid step, as PRM negatives.

Counterfactual twins (rm/counterfactual.py) change a number the way a slip might; the errors
best-of-N must reject are the policy's own, its plausible second choices. Here, at a valid
non-answer step i before a trace's first error, the policy re-draws step i `samples` times from
the same prefix (prompt + steps before i, stopped at the step delimiter); every re-draw the
task's step checker rejects is a twin: the original's steps before i and the re-drawn step,
labelled by `exact_labels` with outcome 0, `meta["twin_of"]` / `meta["twin_step"]` set so the
pairwise loss of rm/train.py ranks it below the original at step i. Identical re-draws of one
prefix count once (a problem's samples often share their first steps).

All re-draws go to the generator in one call per chunk of prefixes. Left out: continuing a twin
past its wrong step (it ends there, as a made-up twin does) and tasks without a step checker.
"""

from __future__ import annotations

import random

from ponder.rm.exact import exact_labels
from ponder.rm.labels import LabeledTrace
from ponder.steps import is_final_step, join_steps
from ponder.types import Generator, SamplingParams


def redraw_spots(trace: LabeledTrace, per_trace: int, rng: random.Random) -> list[int]:
    """Up to `per_trace` indices of valid non-answer steps before the trace's first error."""
    spots = []
    for i, (s, v) in enumerate(zip(trace.steps, trace.labels)):
        if v is None or v < 0.5 or is_final_step(s):
            break
        spots.append(i)
    return sorted(rng.sample(spots, min(per_trace, len(spots))))


def onpolicy_twins(
    gen: Generator, traces: list[LabeledTrace], per_trace: int = 2, samples: int = 8, temperature: float = 1.0,
    seed: int = 0, chunk: int = 512, max_tokens: int = 64,
) -> list[LabeledTrace]:  # fmt: skip
    """Checker-rejected re-draws of valid steps of exact-labelled traces (see the module doc)."""
    from ponder.tasks import get_task

    rng, jobs, seen = random.Random(seed), [], set()
    for t in traces:
        if t.kind != "exact" or not t.problem.task:
            continue
        for i in redraw_spots(t, per_trace, rng):
            key = (t.problem.question, tuple(t.steps[:i]))
            if key not in seen:
                seen.add(key)
                jobs.append((t, i))
    out, tasks, kept = [], {}, set()
    for c in range(0, len(jobs), chunk):
        part = jobs[c : c + chunk]
        prompts = [gen.render(t.problem.question) + join_steps(t.steps[:i]) for t, i in part]
        sp = SamplingParams(
            n=samples, temperature=temperature, max_tokens=max_tokens, stop=[part[0][0].delimiter],
            seed=seed + c, logprobs=False,
        )  # fmt: skip
        for (t, i), group in zip(part, gen.generate(prompts, sp)):
            task = tasks.setdefault(t.problem.task, get_task(t.problem.task))
            for comp in group:
                step = comp.text if comp.text.endswith(t.delimiter) else comp.text + t.delimiter
                if not comp.text.strip() or (t.problem.question, tuple(t.steps[:i]), step) in kept:
                    continue
                if task.check_step(t.problem, step) is not False:
                    continue
                kept.add((t.problem.question, tuple(t.steps[:i]), step))
                steps = [*t.steps[:i], step]
                labels = exact_labels(t.problem, steps, 0.0, task)
                meta = {"twin_of": t.id, "twin_step": i, "onpolicy": True}
                out.append(
                    LabeledTrace(f"{t.id}~p{len(out)}", t.problem, steps, labels, "exact", 0.0, t.delimiter, meta)
                )
    return out
