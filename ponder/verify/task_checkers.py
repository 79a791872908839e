"""Verifiers for the built-in tasks (arithmetic, countdown, equations, knights) and Game of 24.

Each built-in task owns its rule-based checker (`ponder.tasks.<task>.check`); this file wraps it
so that it is total (a checker bug on odd model output becomes a Score with the error as reason,
never an exception). Game of 24 reuses Countdown's expression check with every number used
exactly once and target 24. The checkers are pure Python and fast, so they run in-process; the
expression evaluator bounds length and nesting, which bounds their time.
"""

from __future__ import annotations

import logging

from ponder.answers import extract_answer
from ponder.types import Problem, Score
from ponder.verify import VERIFIERS

log = logging.getLogger(__name__)


def _guarded_check(task_name: str, problem: Problem, response: str) -> Score:
    from ponder.tasks import get_task

    try:
        return get_task(task_name).check(problem, response)
    except Exception as e:  # noqa: BLE001 - a checker must not crash the caller on model output
        log.warning("checker %s raised on problem %s: %r", task_name, problem.id, e)
        return Score(0.0, parsed=False, reason=f"checker error: {type(e).__name__}: {str(e)[:100]}")


def task_verifier(task_name: str):
    """A Verifier that delegates to the built-in task's own `check`."""

    def verify_task(problems: list[Problem], responses: list[str]) -> list[Score]:
        return [_guarded_check(task_name, p, r) for p, r in zip(problems, responses)]

    verify_task.__name__ = f"verify_{task_name}"
    return verify_task


for _name in ("arithmetic", "countdown", "equations", "knights"):
    VERIFIERS.register(_name)(lambda _n=_name: task_verifier(_n))


def check_game24(problem: Problem, response: str) -> Score:
    """All four numbers exactly once, + - * / and parentheses, value 24 (exact rationals)."""
    from ponder.tasks.countdown import check_expression

    expr = extract_answer(response) if isinstance(response, str) else None
    if not expr:
        return Score(0.0, parsed=False, reason="no expression found")
    numbers = problem.meta.get("numbers")
    if not numbers:
        return Score(0.0, parsed=False, reason="problem.meta has no 'numbers'")
    target = int(problem.meta.get("target", 24))
    try:
        return check_expression(expr, list(numbers), target, exact_use=True)
    except Exception as e:  # noqa: BLE001 - total on model output
        return Score(0.0, parsed=False, reason=f"checker error: {type(e).__name__}", extracted=expr[:200])


@VERIFIERS.register("game24")
def game24_verifier():
    def verify_game24(problems: list[Problem], responses: list[str]) -> list[Score]:
        return [check_game24(p, r) for p, r in zip(problems, responses)]

    return verify_game24
