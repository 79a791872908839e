"""Exact step labels for the built-in tasks, from their executable step checkers: the ground
truth that Monte-Carlo labels and PRMs are scored against.

A step's exact label is 1 while every step up to and including it is valid, 0 from the first
invalid step on (ProcessBench's "earliest error" convention, Zheng et al. 2024): after an error
the trace is no longer a correct derivation even if a later line happens to be valid. The
`<answer>` step, which no step checker judges, takes the verified outcome of the whole trace
(correct answer = valid); a wrong trace with no answer step has its last step marked invalid. A step the checker cannot judge (None) gets a null label unless an
error came before it.

Left out: tasks without a step checker (every label would be null; use Monte-Carlo labels).
"""

from __future__ import annotations

from ponder.rm.labels import prefix_labels
from ponder.steps import is_final_step
from ponder.types import Problem


def step_validity(problem: Problem, steps: list[str], outcome: float | None, task=None) -> list[bool | None]:
    """Per-step validity from the task's check_step; the answer step takes the outcome."""
    if task is None:
        from ponder.tasks import get_task

        task = get_task(problem.task)
    out: list[bool | None] = []
    for s in steps:
        if is_final_step(s) and outcome is not None:
            out.append(outcome >= 1.0)
        else:
            out.append(task.check_step(problem, s))
    if outcome is not None and outcome < 1.0 and steps and not is_final_step(steps[-1]):
        out[-1] = False  # the trace stopped (cut off, no answer) without being correct
    return out


def exact_labels(problem: Problem, steps: list[str], outcome: float | None, task=None) -> list[float | None]:
    """Exact "still on a correct path" labels (S,) for one trace of a built-in task."""
    return prefix_labels(step_validity(problem, steps, outcome, task))
