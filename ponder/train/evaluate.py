"""Held-out evaluation inside training: greedy accuracy of the live policy on a fixed set of
problems, with a Wilson 95% interval. Left out: sampling-based metrics (use eval/ for pass@k)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ponder.stats import wilson
from ponder.types import Problem, SamplingParams


@dataclass
class EvalConfig:
    """Held-out greedy accuracy during training.

    n: held-out problems (0: no evaluation)
    every: evaluate every k steps (0: only before and after)
    level: difficulty level (null: the training level)
    seed: seed of the held-out problems (differs from training's)
    max_tokens: token limit of each greedy answer
    """

    n: int = 0  # held-out problems (0: no evaluation)
    every: int = 0  # evaluate every k steps (0: only before and after)
    level: int | None = None  # None: the training level
    seed: int = 12345  # a different seed from training: held-out problems
    max_tokens: int = 256


def greedy_accuracy(
    gen, problems: list[Problem], accuracy_fn: Callable, *, max_tokens: int, batch: int = 64
) -> dict[str, float]:
    """{"accuracy", "ci_low", "ci_high", "n", "mean_tokens"} of greedy decoding on `problems`."""
    params = SamplingParams(n=1, temperature=0.0, max_tokens=max_tokens)
    texts, tokens = [], 0
    for i in range(0, len(problems), batch):
        chunk = problems[i : i + batch]
        outs = gen.generate([gen.render(p.question) for p in chunk], params)
        texts += [o[0].text for o in outs]
        tokens += sum(len(o[0].token_ids) for o in outs)
    correct = sum(bool(c) for c in accuracy_fn(problems, texts))
    lo, hi = wilson(correct, len(problems))
    n = max(len(problems), 1)
    return {"accuracy": correct / n, "ci_low": lo, "ci_high": hi, "n": len(problems), "mean_tokens": tokens / n}


def held_out_problems(task: str | None, cfg: EvalConfig, default_level: int | None) -> list[Problem]:
    """cfg.n problems of `task` from the held-out seed; [] when evaluation is off, there is no
    task, or the task is not a generator (a data set's held-out split is the user's choice: run
    `ponder eval` on it)."""
    from ponder.tasks import TASKS, make_problems

    if cfg.n <= 0 or not task or task not in TASKS.names():
        return []

    level = cfg.level if cfg.level is not None else default_level
    return make_problems(task, cfg.n, level, cfg.seed)
