"""One summary row per configuration (task, model, strategy, budget), seeds pooled.

Accuracy is the mean over seeds and problems of per-problem correctness; its 95% interval is a
two-level bootstrap over seeds and problems (bootstrap.py). Compute columns are means per
problem. A configuration with any crashed cell is reported with status "error" and its message.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ponder.eval.bootstrap import bootstrap_ci

CONFIG_KEYS = ("task", "model", "strategy", "budget")


def _matrix(records: list[dict[str, Any]]) -> list[list[float]]:
    """(S, P) correctness, problems aligned by id across seeds (missing ones dropped)."""
    by_seed: dict[int, dict[str, float]] = defaultdict(dict)
    for r in records:
        by_seed[r["seed"]][r["problem_id"]] = r["correct"]
    common = sorted(set.intersection(*(set(d) for d in by_seed.values())))
    return [[by_seed[s][pid] for pid in common] for s in sorted(by_seed)]


def _row(key: tuple, records: list[dict[str, Any]], cell_rows: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = dict(zip(CONFIG_KEYS, key))
    errors = [c["error"] for c in cell_rows if c["status"] != "ok"]
    if errors or not records:
        return row | {"status": "error", "error": errors[0] if errors else "no records", "accuracy": None,
                      "ci_low": None, "ci_high": None}  # fmt: skip
    ci = bootstrap_ci(_matrix(records), seed=0)
    n_seeds = len({r["seed"] for r in records})
    total = len(records)
    return row | {
        "status": "ok",
        "accuracy": ci.mean,
        "ci_low": ci.low,
        "ci_high": ci.high,
        "n_problems": total // n_seeds,
        "n_seeds": n_seeds,
        "mean_generated_tokens": sum(r["generated_tokens"] for r in records) / total,
        "mean_flops": _mean_flops(records),
        "seconds": sum(r["seconds"] for r in records) / n_seeds,
        "exact": all(r.get("exact", True) for r in records),
    }


def _mean_flops(records: list[dict[str, Any]]) -> float | None:
    """Mean FLOPs per record; None (unknown) if any record's FLOPs are unknown."""
    values = [r["flops"] for r in records]
    return None if any(v is None for v in values) else sum(values) / len(values)


def summarize(records: list[dict[str, Any]], cell_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in grid order (the order cells were first recorded)."""
    recs: dict[tuple, list] = defaultdict(list)
    cells: dict[tuple, list] = defaultdict(list)
    for r in records:
        recs[tuple(r[k] for k in CONFIG_KEYS)].append(r)
    for c in cell_rows:
        cells[tuple(c[k] for k in CONFIG_KEYS)].append(c)
    return [_row(key, recs.get(key, []), cells[key]) for key in cells]
