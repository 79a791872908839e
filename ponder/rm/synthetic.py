"""Synthetic step-labelled traces for a verifier that is not the policy: the task's own trace
writer, a share of the traces with one slip, labels from the task's step checker.

Data here is free: a built-in task writes right traces for any number of problems, a slip
(rm/counterfactual.py's `perturb_step`: a result or an operand changed by a near miss) makes a
wrong one, and `exact_labels` labels every step. For arithmetic the trace goes on from the
slipped step's rewritten expression, solved right from there, as the policy's own wrong traces
do (its slip carried to a wrong answer); for other tasks a slipped trace ends at the slipped step
(and its answer when it held the slipped result), as a twin does. A share of right traces are the
task's reflection traces (`trace_with_slip`, `trace_with_check`), so `wait` lines are not news
to the verifier. A PRM trained on these (`RMTrainConfig.synthetic`, ideally from scratch, not
from the policy's weights) learns to check `a op b = c` from as many examples as it can read, and
does not share the policy's blind spots: the policy's slips are its own plausible digits.

Left out: slips the trace writer cannot continue from (a rewrite that no longer parses ends the
trace), wrong choices of which operation to do first, and tasks without a step checker.
"""

from __future__ import annotations

import random
import re

from ponder.rm.counterfactual import _twin_steps, perturb_step
from ponder.rm.exact import exact_labels
from ponder.rm.labels import LabeledTrace
from ponder.steps import STEP_DELIMITER, is_final_step, split_steps
from ponder.types import PonderError, Problem

_REWRITE = re.compile(r"^(?:<think>)?\d+[-+*]\d+=\d+,([\d+\-*()]+)\n?$")


def _arith_continue(problem: Problem, steps: list[str], k: int, rng: random.Random) -> list[str] | None:
    """Steps of an arithmetic trace slipped at step k and solved right from its rewrite on."""
    from ponder.tasks.arithmetic import solve_steps
    from ponder.tasks.task import format_response

    done = perturb_step(steps[k], rng, mode=rng.choice(("result", "result", "result", "operand")))
    if done is None or done[0] == steps[k]:
        return None
    body = done[0].removeprefix("<think>").rstrip("\n").removesuffix("</think>")
    head = [s.removeprefix("<think>").rstrip("\n") for s in steps[:k]]
    m = _REWRITE.match(body)
    if m is None:  # the last operation: its result is the answer
        value = body.rsplit("=", 1)[-1]
        if not value.isdigit():
            return None
        return split_steps(format_response([*head, body], value))
    tokens = [int(t) if t.isdigit() else t for t in re.findall(r"\d+|\S", m[1])]
    try:
        rest, value = solve_steps(list(tokens))
    except (ValueError, StopIteration, IndexError):
        return None
    return split_steps(format_response([*head, body, *rest], str(value)))


def synthetic_trace(task, problem: Problem, rng: random.Random, slip_rate: float, tag: str) -> LabeledTrace:
    """One right or slipped trace of `problem` with its exact labels (outcome from the task's check)."""
    roll = rng.random()
    if roll < 0.1 and hasattr(task, "trace_with_slip"):
        text = task.trace_with_slip(problem, rng)
    elif roll < 0.15 and hasattr(task, "trace_with_check"):
        text = task.trace_with_check(problem, rng)
    else:
        text = task.trace(problem, rng)
    steps = split_steps(text)
    spots = [i for i, s in enumerate(steps) if not is_final_step(s)]
    if spots and rng.random() < slip_rate:
        k = rng.choice(spots)
        if problem.task == "arithmetic":
            slipped = _arith_continue(problem, steps, k, rng)
        else:
            plain = LabeledTrace(tag, problem, steps, [1.0] * len(steps), "exact", 1.0, STEP_DELIMITER, {})
            slipped = _twin_steps(plain, k, rng)
        steps = slipped or steps
    outcome = task.check(problem, "".join(steps)).value
    labels = exact_labels(problem, steps, outcome, task)
    return LabeledTrace(tag, problem, steps, labels, "exact", outcome, STEP_DELIMITER, {"synthetic": True})


class SyntheticTraces:
    """Draws synthetic labelled traces of one task at some levels; `draw(seed, n)` is a pure
    function of its arguments, so a resumed training run draws the same batches."""

    def __init__(self, task: str, levels: list[int] | None = None, slip_rate: float = 0.5):
        from ponder.tasks import get_task

        self.task = get_task(task)
        if not all(hasattr(self.task, a) for a in ("check_step", "trace", "sample")):
            raise PonderError(
                f"synthetic traces need a task with a trace writer and a step checker; {task!r} lacks one"
            )
        self.levels = list(levels or [self.task.default_level])
        bad = [lv for lv in self.levels if lv not in self.task.levels]
        if bad:
            raise PonderError(f"task {task!r} has levels {list(self.task.levels)}, not {bad}")
        if not 0.0 <= slip_rate <= 1.0:
            raise PonderError(f"synthetic slip_rate must be in [0, 1], got {slip_rate}")
        self.slip_rate = slip_rate

    def draw(self, seed: int, n: int) -> list[LabeledTrace]:
        rng, out = random.Random(seed), []
        for i in range(n):
            p = self.task.sample(rng, rng.choice(self.levels))
            p = Problem(f"syn-{seed}-{i}", p.task, p.question, p.answer, p.meta, p.info)
            out.append(synthetic_trace(self.task, p, rng, self.slip_rate, f"{p.id}#0"))
        return out
