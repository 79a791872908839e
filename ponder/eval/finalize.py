"""Everything written after the cells: summary.json (+ .md), plots/*.png, adaptive.json, report.html.
All of it is rebuilt from the run folder alone, so `ponder eval report RUN` can redo it."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from ponder.eval import adaptive as A
from ponder.eval.estimators import agreement_rate
from ponder.eval.grid_config import POOL_STRATEGIES
from ponder.eval.plots import write_plots
from ponder.eval.report import markdown_table, render
from ponder.eval.store import RunStore
from ponder.eval.summary import summarize
from ponder.io import atomic_write, read_jsonl, write_json
from ponder.types import PonderError


def difficulty_from_pool(path: Path, m: int) -> dict[str, float]:
    """Agreement rate of the first m pooled samples of each problem (never reads the answer)."""
    return {r["problem_id"]: agreement_rate([s["key"] for s in r["samples"][:m]]) for r in read_jsonl(path)}


def adaptive_rows(store: RunStore, records: list[dict[str, Any]], *, n_bins: int, m: int) -> list[dict[str, Any]]:
    """Compute-optimal selection per (task, model), difficulty from the lowest seed's pool."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[(r["task"], r["model"])].append(r)
    out = []
    for recs in groups.values():
        pooled = [r for r in recs if r["strategy"] in POOL_STRATEGIES]
        if not pooled:
            continue
        seed = min(r["seed"] for r in pooled)
        pool_file = store.out / next(r["pool"] for r in pooled if r["seed"] == seed).split("#")[0]
        difficulty = difficulty_from_pool(pool_file, m)
        out += A.to_rows(A.select(recs, difficulty, n_bins=n_bins, seed=0))
    return out


def pick_examples(records: list[dict[str, Any]], per_task: int = 2) -> list[dict[str, Any]]:
    """A right and a wrong trace per task where there are any, from the largest budget's cells."""
    out = []
    for task in dict.fromkeys(r["task"] for r in records):
        recs = [r for r in records if r["task"] == task and r["strategy"] != "pass" and r.get("trace")]
        top = max((r["budget"] for r in recs), default=None)
        recs = [r for r in recs if r["budget"] == top]
        right = [r for r in recs if r["trace_correct"]][: per_task // 2 or 1]
        wrong = [r for r in recs if not r["trace_correct"]][: per_task - len(right)]
        out += right + wrong
    return out


def finalize(out: str | Path) -> list[dict[str, Any]]:
    """Rebuild every derived file of a run folder; returns the summary rows."""
    store = RunStore(out)
    if not store.cells_path.is_file():
        raise PonderError(f"{out} holds no evaluation cells; run `ponder eval --out {out} ...` first")
    run = json.loads(store.run_path.read_text()) if store.run_path.is_file() else {}
    n_bins = run.get("config", {}).get("n_bins", 3)
    difficulty_samples = run.get("config", {}).get("difficulty_samples", 8)
    records = store.results()
    rows = summarize(records, list(store.cell_rows().values()))
    write_json(store.summary_path, rows)
    with atomic_write(store.out / "summary.md") as md:
        md.write(markdown_table(rows))
    paths = write_plots(rows, store.out)
    adaptive = adaptive_rows(store, records, n_bins=n_bins, m=difficulty_samples)
    write_json(store.out / "adaptive.json", adaptive)
    plots = {name: path.read_bytes() for name, path in paths.items() if name != "all"}
    page = render(rows=rows, adaptive=adaptive, plots=plots, examples=pick_examples(records), run=run)
    with atomic_write(store.out / "report.html") as f:
        f.write(page)
    return rows
