"""The pipeline's held-out evaluation: greedy accuracy of one model on every evaluation task,
with Wilson 95% intervals (train/evaluate.py's greedy_accuracy, the number the trainers report).
The same problems (task, level, n, seed) for every row, so rows compare.

Left out: sampling-based metrics (pass@k, majority) — `ponder eval` does those.
"""

from __future__ import annotations

import logging

from ponder.pipeline.recipe import PipelineEval

log = logging.getLogger(__name__)


def split_task(spec: str) -> tuple[str, int | None]:
    """'countdown:3' -> ('countdown', 3); 'arithmetic' -> ('arithmetic', None)."""
    from ponder.eval.grid_config import split_task as split

    return split(spec)


def check_tasks(cfg: PipelineEval) -> None:
    """Unknown tasks and bad levels fail before anything runs (problems are drawn, no model)."""
    from ponder.types import PonderError

    if cfg.n < 1:
        raise PonderError(f"eval.n must be >= 1, got {cfg.n}")
    for spec in cfg.tasks:
        held_out(spec, cfg, n=1)


def held_out(spec: str, cfg: PipelineEval, n: int | None = None) -> list:
    from ponder.tasks import make_problems

    name, level = split_task(spec)
    return make_problems(name, cfg.n if n is None else n, level, cfg.seed)


def evaluate_model(model: str, cfg: PipelineEval) -> dict[str, dict[str, float]]:
    """{task spec: {accuracy, ci_low, ci_high, n, mean_tokens}} for the model (name or folder)."""
    from ponder.gen import load_generator
    from ponder.train.evaluate import greedy_accuracy
    from ponder.train.rewards import accuracy

    gen = load_generator(model)
    out = {}
    for spec in cfg.tasks:
        out[spec] = greedy_accuracy(gen, held_out(spec, cfg), accuracy, max_tokens=cfg.max_tokens)
        log.info("%s on %s: %.3f", model, spec, out[spec]["accuracy"])
    return out
