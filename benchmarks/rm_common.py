"""Shared pieces of the rm_* benchmarks: the machine record, the labelled trace sets they share
(written under runs/rm/ and reused, so each script can run alone), and label recomputation
for smaller K from the stored rollouts."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from ponder.io import write_jsonl
from ponder.rm.cli import exact_records, sample_traces, with_exact
from ponder.rm.labels import LabeledTrace, read_labels
from ponder.rm.mc import MCParams, hard_label, label_traces, soft_label
from ponder.tasks import get_task, make_problems
from ponder.verify import verify

HERE = Path(__file__).parent
RUNS = Path("runs/rm")
TRAIN_SEED, TEST_SEED = 2000, 3000  # problem streams apart from the tiny reasoner's evaluation seeds
# a middle level per task, where the tiny reasoner is right about half the time (mixed labels)
LEVELS = {"arithmetic": 3, "countdown": 3}


def set_levels(specs: list[str]) -> None:
    """`task=level` overrides of LEVELS from the command line."""
    for spec in specs:
        task, level = spec.split("=")
        LEVELS[task] = int(level)


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "note": "2 shared CPU cores, no GPU; other agents' jobs ran on the same machine",
    }


def labelled_set(gen, task: str, n: int, samples: int, k: int, seed: int, name: str) -> list[LabeledTrace]:
    """Sampled traces of `n` problems with Monte-Carlo labels (k rollouts) and exact labels in meta;
    cached in runs/rm/NAME.jsonl (resumable)."""
    path = RUNS / f"{name}.jsonl"
    problems = make_problems(task, n, level=LEVELS.get(task), seed=seed)
    traces = sample_traces(gen, problems, samples, temperature=0.8, max_tokens=256, seed=seed)
    recs = label_traces(gen, traces, MCParams(k=k, seed=seed, traces_per_call=32), out=path, verifier=verify)
    recs = with_exact(recs, get_task(task))
    write_jsonl(path, (r.to_dict() for r in recs))
    return recs


def exact_set(gen, task: str, n: int, samples: int, seed: int) -> list[LabeledTrace]:
    """Sampled traces with exact labels only (held-out evaluation sets)."""
    problems = make_problems(task, n, level=LEVELS.get(task), seed=seed)
    traces = sample_traces(gen, problems, samples, temperature=0.8, max_tokens=256, seed=seed)
    return exact_records(traces, get_task(task), verify)


def relabel(rec: LabeledTrace, k: int, hard: bool) -> list[float | None]:
    """Labels of a Monte-Carlo record as if only the first k rollouts per prefix had run."""
    est = hard_label if hard else soft_label
    return [lab if r is None else est(r[:k]) for lab, r in zip(rec.labels, rec.meta["rollouts"])]


def load_cached(name: str) -> list[LabeledTrace]:
    return read_labels(RUNS / f"{name}.jsonl")
