"""The contract every built-in task meets, and helpers shared by the generators.

A task is a seeded problem generator with a difficulty knob, a reference answer, a
chain-of-thought trace writer in the R1 format (used to train the tiny reasoner), a rule-based
checker of a whole response (reads the private reference), an executable step checker (reads
only the public question, so search may use it), and a parser for free text typed by a user.
"""

from __future__ import annotations

import random
from typing import Protocol

from ponder.steps import ANSWER_CLOSE, ANSWER_OPEN, STEP_DELIMITER, THINK_CLOSE, THINK_OPEN
from ponder.types import Problem, Score


class Task(Protocol):
    name: str
    levels: tuple[int, ...]  # valid difficulty levels, easiest first
    train_levels: tuple[int, ...]  # the levels the tiny reasoner's base training draws from
    default_level: int  # the "hardest default level": where the shipped tiny reasoner is weak but not hopeless
    reference_free: bool  # True when check() needs no reference answer (any valid solution counts)

    def sample(self, rng: random.Random, level: int) -> Problem:
        """One problem at a difficulty level (the id is set by make_problems)."""
        ...

    def trace(self, problem: Problem, rng: random.Random) -> str:
        """A correct chain-of-thought response in R1 format for training."""
        ...

    def check(self, problem: Problem, response: str) -> Score:
        """Rule-based outcome check of a full response (may read problem.answer / info)."""
        ...

    def check_step(self, problem: Problem, step: str) -> bool | None:
        """Is this reasoning step valid given only the public problem? None: not checkable."""
        ...

    def parse(self, text: str) -> Problem | None:
        """A problem from free text in this task's format, or None if it is not one."""
        ...


def format_response(steps: list[str], answer: str) -> str:
    """R1 format: `<think>s1\\ns2</think>\\n<answer>a</answer>`."""
    return f"{THINK_OPEN}{STEP_DELIMITER.join(steps)}{THINK_CLOSE}\n{ANSWER_OPEN}{answer}{ANSWER_CLOSE}"


def check_level(task: Task, level: int) -> int:
    from ponder.types import PonderError

    if level not in task.levels:
        raise PonderError(f"task {task.name!r} has difficulty levels {list(task.levels)}, got {level}")
    return level
