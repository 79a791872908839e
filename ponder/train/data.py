"""Training data: problems for RL (a built-in task or a jsonl of problems), a deterministic
problem stream whose whole state is one integer (the data position saved in checkpoints), and
(prompt, response) jsonl files for SFT / distillation, checked field by field before training.

Left out: streaming very large files (everything is read into memory).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from ponder.io import read_jsonl
from ponder.records import problem_of
from ponder.types import PonderError, Problem


@dataclass
class DataConfig:
    """Training problems.

    task: task to draw problems from: a task name (ponder tasks, gsm8k, math500, ...), a problems .jsonl, or hf:PATH_OR_ID (ignored when path is set)
    level: difficulty level (null: the task's hardest training level)
    n: number of training problems
    seed: seed of the generated problems
    path: jsonl of problems or result records (problem_id, task, question, answer, ...) instead of a task
    split: the data set's split, for a data-set task (null: its default)
    """

    task: str = "countdown"  # any task source: a name, a problems .jsonl, hf:PATH (ignored when path is set)
    level: int | None = None  # None: the task's hardest training level
    n: int = 2000  # number of training problems
    seed: int = 0
    path: str | None = None  # jsonl of problems (id, task, question, answer, ...) instead of a task
    split: str | None = None


def load_problems(cfg: DataConfig) -> list[Problem]:
    if cfg.path:
        recs = read_jsonl(cfg.path)
        out = []
        for i, r in enumerate(recs, 1):
            missing = [k for k in ("task", "question", "answer") if k not in r]
            missing += [] if ("problem_id" in r or "id" in r) else ["problem_id"]
            if missing:
                raise PonderError(f"{cfg.path}:{i}: problem record lacks {', '.join(missing)}")
            out.append(problem_of(r, str(i)))
        return out[: cfg.n] if cfg.n else out
    from ponder.tasks import load_task

    return load_task(cfg.task, cfg.n, cfg.level, cfg.seed, cfg.split)


class ProblemStream:
    """An endless stream over problems, reshuffled each epoch by (seed, epoch); position i is a
    pure function of i, so resuming needs only the position. `order` fixes the order instead
    (a curriculum), and `weights` switches to seeded weighted sampling."""

    def __init__(
        self, problems: list[Problem], seed: int, order: list[int] | None = None, weights: list[float] | None = None
    ):
        if not problems:
            raise PonderError("no training problems: check data.n / data.path")
        self.problems, self.seed, self.order, self.weights = problems, seed, order, weights
        self._perm_cache: dict[int, list[int]] = {}

    def _perm(self, epoch: int) -> list[int]:
        if epoch not in self._perm_cache:
            if self.order is not None:
                perm = list(self.order)
            else:
                perm = list(range(len(self.problems)))
                random.Random(f"{self.seed}:{epoch}").shuffle(perm)
            self._perm_cache = {epoch: perm}
        return self._perm_cache[epoch]

    def at(self, i: int) -> Problem:
        if self.weights is not None:
            rng = random.Random(f"{self.seed}:w:{i}")
            return self.problems[rng.choices(range(len(self.problems)), weights=self.weights)[0]]
        n = len(self.problems)
        return self.problems[self._perm(i // n)[i % n]]

    def take(self, start: int, k: int) -> list[Problem]:
        return [self.at(i) for i in range(start, start + k)]


@dataclass
class Example:
    prompt: str
    response: str


def load_sft(path: str | Path, tokenizer, fmt: str | None = None) -> list[Example]:
    """Records with `response` and either `prompt` (used as is) or `question` (rendered in prompt
    format `fmt`, else with the tokenizer's chat template). A record missing them is an error
    naming the file and line."""
    from ponder.train.common import render_prompt

    out = []
    for i, r in enumerate(read_jsonl(path), 1):
        if not isinstance(r.get("response"), str):
            raise PonderError(f"{path}:{i}: record has no string field 'response' (fields: {', '.join(r)})")
        if isinstance(r.get("prompt"), str):
            prompt = r["prompt"]
        elif isinstance(r.get("question"), str):
            prompt = render_prompt(tokenizer, r["question"], fmt)
        else:
            raise PonderError(f"{path}:{i}: record needs a string 'prompt' or 'question' (fields: {', '.join(r)})")
        out.append(Example(prompt, r["response"]))
    return out
