"""Executable step checker: a process verifier that needs no reference answer. Each step is
re-checked by the task's own `check_step(problem, step)` on the public problem (an arithmetic
step `37+58=95` is recomputed; a Countdown step's arithmetic and use of the given numbers are
checked). Valid steps score 1, invalid 0, uncheckable ones (`None`: the closing tags, free text,
a task without a step checker; `ponder solve` refuses `--scorer check` on those) `neutral` (default 1: a step the checker cannot judge is not held against the
path). As an outcome scorer a response scores the minimum over its steps.

A step's verdict depends on the problem and the step only, so verdicts are remembered per problem
object: step-level search re-scores every path after each new step, and only the new step is
checked (the memo holds the problem objects it keys on and is dropped past MEMO_PROBLEMS of them)."""

from __future__ import annotations

from ponder.search import SCORERS
from ponder.steps import split_steps, step_body
from ponder.types import Generator, Problem

MEMO_PROBLEMS = 4096


class StepChecker:
    def __init__(self, neutral: float = 1.0):
        self.neutral = neutral
        self._tasks: dict[str, object] = {}
        self._memo: dict[int, tuple[Problem, dict[str, float]]] = {}  # id(problem) -> (problem, step -> score)

    def _task(self, name: str):
        if name not in self._tasks:
            from ponder.tasks import get_task, step_checker_task

            checker = step_checker_task(name)  # game24 is read by Countdown's checker
            self._tasks[name] = None if checker is None else get_task(checker)
        return self._tasks[name]

    def _verdicts(self, problem: Problem) -> dict[str, float]:
        entry = self._memo.get(id(problem))
        if entry is None or entry[0] is not problem:
            if len(self._memo) >= MEMO_PROBLEMS:
                self._memo.clear()
            entry = self._memo[id(problem)] = (problem, {})
        return entry[1]

    def check(self, problem: Problem, step: str) -> float:
        seen = self._verdicts(problem)
        if step not in seen:
            seen[step] = self._check(problem, step)
        return seen[step]

    def _check(self, problem: Problem, step: str) -> float:
        task = self._task(problem.task)
        body = step_body(step)
        if task is None or not body:
            return self.neutral
        ok = task.check_step(problem, body)
        return self.neutral if ok is None else float(ok)

    def score_steps(self, problems: list[Problem], steps: list[list[str]]) -> list[list[float]]:
        return [[self.check(p, s) for s in trace] for p, trace in zip(problems, steps)]

    def score(self, problems: list[Problem], responses: list[str]) -> list[float]:
        return [min(self.check(p, s) for s in split_steps(r)) if r else 0.0 for p, r in zip(problems, responses)]


@SCORERS.register("check")
def check(gen: Generator | None = None) -> StepChecker:
    return StepChecker()
