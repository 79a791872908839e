"""The `mix` stage: one JSONL file from earlier stages' data files and fresh problems of built-in
tasks, shuffled with a seed — R1's "reasoning data plus other data" SFT set, or a mixed-task
problem file for GRPO (`data.path`) so that training on one task keeps another.

Records pass through unchanged; task problems are written as problem records (problem_id, task,
question, answer, info, meta), which every trainer's `data.path` reads. Left out: weighting or
deduplicating across inputs (use `ponder data` filters upstream).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.io import read_jsonl, write_json, write_jsonl
from ponder.types import PonderError


@dataclass
class MixConfig:
    """A mixed data or problem file.

    inputs: JSONL files to include (e.g. ${stages.rs.data})
    tasks: built-in tasks to draw fresh problems from (`countdown:3` for level 3)
    n: problems per task
    seed: seed of the task problems and of the shuffle
    shuffle: shuffle the mixed records
    out: output folder (set by the pipeline)
    """

    inputs: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    n: int = 100
    seed: int = 0
    shuffle: bool = True
    out: str = "mix_out"


def task_records(spec: str, n: int, seed: int) -> list[dict[str, Any]]:
    from ponder.tasks import make_problems

    name, _, level = spec.partition(":")
    if level and not level.isdigit():
        raise PonderError(f"mix task {spec!r}: the part after ':' is a difficulty level (an integer)")
    problems = make_problems(name, n, int(level) if level else None, seed)
    return [{"problem_id": p.id, "task": p.task, "question": p.question, "answer": p.answer, "info": p.info,
             "meta": p.meta}
            for p in problems]  # fmt: skip


def run_mix(cfg: MixConfig) -> dict[str, Any]:
    """Write OUT/data.jsonl and OUT/mix.json (counts per source); returns the counts."""
    if not cfg.inputs and not cfg.tasks:
        raise PonderError("a mix stage needs inputs (data files) or tasks")
    records, counts = [], {}
    for path in cfg.inputs:
        if not Path(path).is_file():
            raise PonderError(f"mix input not found: {path}")
        recs = read_jsonl(path)
        records += recs
        counts[path] = len(recs)
    for spec in cfg.tasks:
        recs = task_records(spec, cfg.n, cfg.seed)
        records += recs
        counts[spec] = len(recs)
    if cfg.shuffle:
        random.Random(cfg.seed).shuffle(records)
    out = Path(cfg.out)
    write_jsonl(out / "data.jsonl", records)
    result = {"records": len(records), "sources": counts}
    write_json(out / "mix.json", result)
    return result
