"""Problem sources with verifiable answers: seeded generators (arithmetic, countdown, equations,
knights-and-knaves) and loaders of public data sets from local files (gsm8k, math, game24,
humaneval, mbpp; see tasks/loaders.py)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from ponder.registry import Registry
from ponder.types import PonderError, Problem

TASKS = Registry(
    "task",
    modules=[
        "ponder.tasks.arithmetic",
        "ponder.tasks.countdown",
        "ponder.tasks.equations",
        "ponder.tasks.knights",
    ],
)


def get_task(name: str):
    """The task object registered under `name`."""
    return TASKS.build(name)


def make_problems(task: str, n: int, level: int | None = None, seed: int = 0) -> list[Problem]:
    """n problems of one task; level None = the task's default level. Same seed, same problems."""
    t = get_task(task)
    level = t.default_level if level is None else level
    if level not in t.levels:
        raise PonderError(f"task {task!r} has difficulty levels {list(t.levels)}, got {level}")
    if n < 0:
        raise PonderError(f"number of problems must be >= 0, got {n}")
    rng = random.Random(f"{task}:{level}:{seed}")
    out = []
    for i in range(n):
        p = t.sample(rng, level)
        out.append(
            Problem(
                id=f"{task}-L{level}-s{seed}-{i}",
                task=p.task,
                question=p.question,
                answer=p.answer,
                meta=p.meta,
                info=p.info,
            )
        )
    return out


def detect_task(text: str) -> Problem:
    """Parse free text with every built-in task's parser; the first that accepts it wins."""
    for name in TASKS.names():
        p = TASKS.build(name).parse(text)
        if p is not None:
            return p
    raise PonderError(
        f"could not read {text!r} as a built-in task problem. Examples: '12+7*(3-1)', "
        "'countdown 3 7 12 -> 57', 'solve 3x+7=22'; or use --task NAME --n K"
    )


@dataclass
class TasksConfig:
    """`ponder tasks [TASK]`: list the tasks, or print problems of TASK as JSON lines.

    n: problems to print
    level: difficulty level (null: the task's default)
    seed: seed for drawing problems
    trace: also print a reference reasoning trace
    """

    n: int = 3
    level: int | None = None
    seed: int = 0
    trace: bool = False


def main(argv: list[str]) -> int:
    from ponder.cliargs import parse_cli

    args, rest = parse_cli(TasksConfig, argv, prog="ponder tasks [TASK] [--key=value ...]",
                           doc=TasksConfig.__doc__.split("\n")[0], max_positionals=1)  # fmt: skip
    if not rest:
        for name in TASKS.names():
            t = get_task(name)
            print(f"{name:<11} levels {list(t.levels)}  default {t.default_level}  trained on {list(t.train_levels)}")
        return 0
    t = get_task(rest[0])
    rng = random.Random(args.seed)
    for p in make_problems(rest[0], args.n, args.level, args.seed):
        rec = {"id": p.id, "question": p.question, "answer": p.answer}
        if args.trace:
            rec["trace"] = t.trace(p, rng)
        print(json.dumps(rec))
    return 0
