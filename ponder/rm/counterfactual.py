"""Counterfactual negatives for PRM training: minimal pairs made from the policy's own right steps.

A PRM trained on sampled traces alone sees a right step and a wrong one mostly in different
problems and at different depths, so it can lower its loss on where and in which problem errors
happen without learning to check the step (notes/issue-16.md, session 4: within a problem it
barely told `189-16=183` from `189-16=173`). Here every valid step before a trace's first error
can get a *twin*: the same prefix and the same step with one number changed the way the policy
errs, labelled by the task's step checker. The twin differs from its original in a digit or two,
so the only way to score them apart is to check the step.

Perturbations of one step (`perturb_step`), one drawn at random:
- result: one operation's result `a op b=c` replaced by a near miss (±1, ±10, ±100, one digit
  changed, two adjacent digits swapped), carried into the rest of the step once (the rewritten
  expression or the next operation uses the wrong value, as the policy's own slips do);
- operand: another number of the step replaced by a near miss (a number copied wrong);
- verdict: `yes` and `no` swapped (a self-check that contradicts its comparison).

A twin keeps the original's steps before the perturbed one; when the perturbed step closes the
thinking and the next step is `<answer>c</answer>` with the perturbed result c, that answer is
carried too. Its labels are the exact labels (rm/exact.py) of the new steps with outcome 0, and a
twin is kept only when the checker rejects the perturbed step, so every twin is a true negative.
Twins carry `meta["twin_of"]` (the original's id) and `meta["twin_step"]` (the perturbed step),
which the pairwise loss of rm/train.py uses.

Left out: tasks without a step checker (nothing would label the twin) and perturbations that
rewrite later steps consistently (a twin ends at its perturbed step or its answer).
"""

from __future__ import annotations

import random
import re

import torch

from ponder.rm.exact import exact_labels
from ponder.rm.labels import LabeledTrace
from ponder.steps import is_final_step

_OP = re.compile(r"(?<!\d)(\d+)([-+*/])(\d+)=(-?\d+)")
_NUM = re.compile(r"(?<![\d-])\d+")
_VERDICT = re.compile(r"\b(yes|no)\b")
_ANSWER = re.compile(r"^<answer>\s*(-?\d+)\s*</answer>\s*$")
MODES = ("result", "operand", "verdict")


def near_misses(value: int) -> list[int]:
    """Values a slip turns `value` into: ±1, ±10, ±100, one digit changed, two adjacent digits
    swapped; distinct, never `value`, never negative when `value` is not."""
    digits, sign = str(abs(value)), -1 if value < 0 else 1
    out = {value + d for d in (-100, -10, -1, 1, 10, 100)}
    for i in range(len(digits)):
        out |= {sign * int(digits[:i] + d + digits[i + 1 :]) for d in "0123456789" if i or d != "0" or len(digits) == 1}
    out |= {sign * int(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2 :]) for i in range(len(digits) - 1)}
    return sorted(v for v in out if v != value and (value < 0 or v >= 0))


def _replace_at(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def _carry(tail: str, old: str, new: str) -> str:
    """`tail` with its first whole-number occurrence of `old` replaced by `new`."""
    return re.sub(rf"(?<!\d){re.escape(old)}(?!\d)", new, tail, count=1)


def perturb_step(step: str, rng: random.Random, mode: str | None = None) -> tuple[str, str | None] | None:
    """(the perturbed step, the new result when an operation's result changed, else None), or
    None when the step has nothing to perturb in this mode. `mode` None: one of MODES at random
    among those that apply."""
    ops = list(_OP.finditer(step))
    results = {m.start(4) for m in ops}
    operands = [m for m in _NUM.finditer(step) if m.start() not in results]
    verdicts = list(_VERDICT.finditer(step))
    able = {"result": bool(ops), "operand": bool(operands), "verdict": bool(verdicts)}
    if mode is None:
        choices = [m for m in MODES if able[m]]
        if not choices:
            return None
        mode = rng.choice(choices)
    if not able.get(mode):
        return None
    if mode == "verdict":
        m = rng.choice(verdicts)
        return _replace_at(step, m.start(), m.end(), "no" if m[1] == "yes" else "yes"), None
    if mode == "operand":
        m = rng.choice(operands)
        return _replace_at(step, m.start(), m.end(), str(rng.choice(near_misses(int(m[0]))))), None
    m = rng.choice(ops)
    new = str(rng.choice(near_misses(int(m[4]))))
    return step[: m.start(4)] + new + _carry(step[m.end(4) :], m[4], new), new


def _twin_steps(trace: LabeledTrace, i: int, rng: random.Random) -> list[str] | None:
    """The steps of a twin perturbed at step i (the answer carried when it held the result)."""
    done = perturb_step(trace.steps[i], rng)
    if done is None or done[0] == trace.steps[i]:
        return None
    step, new = done
    steps = [*trace.steps[:i], step]
    nxt = trace.steps[i + 1] if i + 1 < len(trace.steps) else None
    if new is not None and nxt is not None and is_final_step(nxt):
        m = _ANSWER.match(nxt.strip())
        old = _OP.findall(trace.steps[i])
        if m and old and m[1] == old[-1][3]:  # the answer is the step's last result
            last = _OP.findall(step)[-1][3]
            steps.append(nxt.replace(m[1], last, 1))
    return steps


def make_twins(trace: LabeledTrace, per_trace: int, rng: random.Random, task=None) -> list[LabeledTrace]:
    """Up to `per_trace` twins of one trace, each perturbed at a distinct valid non-answer step
    before its first error and kept only when the step checker rejects the perturbed step."""
    spots = [i for i, v in enumerate(trace.labels) if v is not None and v >= 0.5 and not is_final_step(trace.steps[i])]
    out: list[LabeledTrace] = []
    for i in rng.sample(spots, min(per_trace, len(spots))):
        steps = _twin_steps(trace, i, rng)
        if steps is None:
            continue
        labels = exact_labels(trace.problem, steps, 0.0, task)
        if labels[i] != 0.0 or any(v != 1.0 for v in labels[:i]):
            continue  # the checker accepts the change (e.g. a swap that kept the value): no negative
        meta = {"twin_of": trace.id, "twin_step": i}
        out.append(LabeledTrace(f"{trace.id}~{i}", trace.problem, steps, labels, "exact", 0.0, trace.delimiter, meta))
    return out


def add_twins(traces: list[LabeledTrace], per_trace: int, seed: int) -> dict[str, list[LabeledTrace]]:
    """{original id: its twins} for every exact-labelled trace; traces of other kinds get none,
    and a task whose checker judges nothing yields none (the checker is what labels a twin)."""
    from ponder.tasks import get_task

    rng, tasks, out = random.Random(seed), {}, {}
    for t in traces:
        if per_trace < 1 or t.kind != "exact" or not t.problem.task:
            continue
        if t.problem.task not in tasks:
            tasks[t.problem.task] = get_task(t.problem.task)
        twins = make_twins(t, per_trace, rng, tasks[t.problem.task])
        if twins:
            out[t.id] = twins
    return out


def natural_pairs(traces: list[LabeledTrace]) -> dict[str, list[LabeledTrace]]:
    """{right trace id: wrong samples of the same problem as its twins}: two sampled traces of one
    problem that agree up to step i, where the first is still valid and the second makes its first
    error, are a minimal pair the policy itself produced (its own plausible slip, not a made-up
    one). The wrong trace is copied with `twin_of` / `twin_step` set, so pair_loss ranks it below
    the right one at step i; each (prefix, right step, wrong step) counts once."""
    groups: dict[str, list[LabeledTrace]] = {}
    for t in traces:
        groups.setdefault(t.problem.id, []).append(t)
    out: dict[str, list[LabeledTrace]] = {}
    for ts in groups.values():
        seen: set = set()
        for a in ts:
            for b in ts:
                i = next((k for k, (x, y) in enumerate(zip(a.steps, b.steps)) if x != y), None)
                if i is None or a.labels[i] != 1.0 or b.labels[i] != 0.0 or any(v != 1.0 for v in b.labels[:i]):
                    continue
                key = (tuple(a.steps[: i + 1]), b.steps[i])
                if key in seen:
                    continue
                seen.add(key)
                meta = {**b.meta, "twin_of": a.id, "twin_step": i}
                twin = LabeledTrace(
                    f"{b.id}~{a.id}", b.problem, b.steps, b.labels, b.kind, b.outcome, b.delimiter, meta
                )
                out.setdefault(a.id, []).append(twin)
    return out


def pair_loss(logits: list[torch.Tensor], traces: list[LabeledTrace]) -> torch.Tensor:
    """Mean of -log sigmoid(original - twin) over the twins whose original is in the batch, at
    the twin's perturbed step: a ranking loss on minimal pairs (0 when there is no pair).
    logits: (S_b,) per trace, aligned with `traces` -> ()."""
    where = {t.id: b for b, t in enumerate(traces)}
    diffs = [
        logits[where[t.meta["twin_of"]]][t.meta["twin_step"]] - logits[b][t.meta["twin_step"]]
        for b, t in enumerate(traces)
        if t.meta.get("twin_of") in where
    ]
    if not diffs:
        return logits[0].sum() * 0.0  # keeps the graph (and DDP's gradient hooks) intact
    return torch.nn.functional.softplus(-torch.stack(diffs)).mean()
