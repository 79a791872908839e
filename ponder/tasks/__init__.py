"""Problem sources with verifiable answers: seeded generators (arithmetic, countdown, equations,
knights-and-knaves) and loaders of public data sets from local files (gsm8k, math, game24,
humaneval, mbpp; see tasks/loaders.py)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
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


ALIASES = {"math500": "math"}  # task names that read a data set under another name


CHECKER_OF = {"game24": "countdown"}  # data sets whose problems a generator's step checker reads


def step_checker_task(name: str) -> str | None:
    """The built-in task whose `check_step` judges steps of `name`'s problems, or None (no step
    checker: GSM8K, MATH, code)."""
    name = CHECKER_OF.get(name, name)
    return name if name in TASKS.names() else None


NO_CHECK_SCORERS = "confidence, entropy, self_certainty, judge, prm or orm"


def require_step_checker(tasks: Iterable[str], what: str = "--scorer check", instead: str = "") -> None:
    """`--scorer check` (or `what`) on a task without a step checker is an error naming what
    applies instead (by default the other scorers)."""
    lacking = sorted({t for t in tasks if step_checker_task(t) is None})
    if lacking:
        instead = instead or f"use --scorer {NO_CHECK_SCORERS}, or a sample-pool strategy (majority, best_of_n)"
        raise PonderError(f"task {', '.join(lacking)} has no step checker, so {what} cannot judge it; {instead}")


def task_names() -> list[str]:
    """Every task name a command accepts: the generators, then the data-set loaders."""
    from ponder.tasks.loaders import DATASETS

    return [*TASKS.names(), *DATASETS.names(), *ALIASES]


def load_task(
    source: str, n: int | None = None, level: int | None = None, seed: int = 0, split: str | None = None
) -> list[Problem]:
    """Problems from any source a command takes: a built-in generator's name (n problems at
    `level`), a data set's name (read from local files; the first n of `split`, of MATH `level`
    when given), `hf:PATH_OR_ID` (a Hugging Face `datasets` source, tasks/hf.py), or a JSONL file
    of problems / result records (ponder/records.py; the first n)."""
    from ponder.tasks.loaders import DATASETS, load_dataset

    if n is not None and n < 0:
        raise PonderError(f"number of problems must be >= 0, got {n}")
    if source.startswith("hf:"):
        from ponder.tasks.hf import load_hf

        return load_hf(source, n, split)
    if source.endswith((".jsonl", ".jsonl.gz")):
        return _load_jsonl(source, n)
    if source in TASKS.names():
        return make_problems(source, 1 if n is None else n, level, seed)
    name = ALIASES.get(source, source)
    if name in DATASETS.names():
        if level is None:
            return load_dataset(name, limit=n, split=split)
        problems = [
            p for p in load_dataset(name, split=split) if (p.meta or {}).get("level") in (level, f"Level {level}")
        ]
        if not problems:
            raise PonderError(f"{source} has no problems at level {level}")
        return problems if n is None else problems[:n]
    import difflib

    close = difflib.get_close_matches(source, task_names(), n=1)
    hint = f". Did you mean {close[0]!r}?" if close else ""
    raise PonderError(
        f"unknown task {source!r}; known: {', '.join(task_names())}, a problems .jsonl file, or hf:PATH_OR_ID{hint}"
    )


def _load_jsonl(source: str, n: int | None) -> list[Problem]:
    from ponder.io import read_jsonl_numbered
    from ponder.records import problem_of

    out = []
    for line, rec in read_jsonl_numbered(source):
        if not isinstance(rec.get("task"), str) or not isinstance(rec.get("question"), str):
            raise PonderError(f"{source}:{line}: a problem record needs string `task` and `question` fields")
        out.append(problem_of(rec, f"{source}:{line}"))
    return out if n is None else out[:n]


def is_source(name: str) -> bool:
    """Whether `name` names problems load_task can read (a task, a data set, a file, hf:…)."""
    return name in task_names() or name.startswith("hf:") or name.endswith((".jsonl", ".jsonl.gz"))


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
    """`ponder tasks [TASK]`: list the tasks, or print problems of TASK (a task name, a problems
    .jsonl, or hf:PATH_OR_ID) as JSON lines (the record schema of ponder/records.py: `ponder solve`,
    `verify` and `train` read them back).

    n: problems to print
    level: difficulty level (null: the task's default)
    split: the data set's split, for a data-set task (null: its default)
    seed: seed for drawing problems
    trace: also write a reference reasoning trace as each record's `response` (SFT data; generator tasks)
    """

    n: int = 3
    level: int | None = None
    split: str | None = None
    seed: int = 0
    trace: bool = False


def main(argv: list[str]) -> int:
    from ponder.cliargs import parse_cli
    from ponder.records import make_record

    args, rest = parse_cli(TasksConfig, argv, prog="ponder tasks [TASK] [--key=value ...]",
                           doc=TasksConfig.__doc__.split("\n")[0], max_positionals=1)  # fmt: skip
    if not rest:
        from ponder.tasks.loaders import DATASETS

        for name in TASKS.names():
            t = get_task(name)
            print(f"{name:<11} levels {list(t.levels)}  default {t.default_level}  trained on {list(t.train_levels)}")
        for name in [*DATASETS.names(), *ALIASES]:
            print(f"{name:<11} data set, read from $PONDER_DATA_DIR (tasks/loaders.py)")
        return 0
    if args.trace and rest[0] not in TASKS.names():
        raise PonderError(f"--trace writes a generator task's reference trace; {rest[0]!r} has none")
    rng = random.Random(args.seed)
    for p in load_task(rest[0], args.n, args.level, args.seed, args.split):
        print(json.dumps(make_record(p, response=get_task(p.task).trace(p, rng) if args.trace else None)))
    return 0
