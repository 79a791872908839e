"""`ponder eval compare RUN_A RUN_B`: the configurations both runs share, side by side.

Where both runs hold per-problem records for the same problems, the difference (B - A) gets a
paired bootstrap 95% interval and counts as significant when that interval excludes 0. Otherwise
(different problems) it counts as outside the interval when B's accuracy lies outside A's 95% CI,
a weaker test, and the table says which test was used.
Left out: corrections for testing many configurations at once.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from ponder.eval.bootstrap import paired_diff_ci
from ponder.eval.store import RunStore, load_summary
from ponder.eval.summary import CONFIG_KEYS
from ponder.types import PonderError


def _match_keys(rows_a: list[dict], rows_b: list[dict]) -> tuple[str, ...]:
    """Match on (task, strategy, budget) when each run holds one model (so two models compare);
    otherwise on the model too."""
    one_model = len({r["model"] for r in rows_a}) == 1 and len({r["model"] for r in rows_b}) == 1
    return tuple(k for k in CONFIG_KEYS if k != "model") if one_model else CONFIG_KEYS


def _per_problem(run: str | Path, keys: tuple[str, ...]) -> dict[tuple, dict[str, float]]:
    """Config -> problem id -> correctness averaged over seeds."""
    acc: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in RunStore(run).results():
        acc[tuple(r[k] for k in keys)][r["problem_id"]].append(r["correct"])
    return {k: {p: sum(v) / len(v) for p, v in by_p.items()} for k, by_p in acc.items()}


def compare_runs(run_a: str | Path, run_b: str | Path) -> list[dict[str, Any]]:
    """One row per configuration finished in both runs."""
    all_a, all_b = load_summary(run_a), load_summary(run_b)
    keys = _match_keys(all_a, all_b)
    rows_a = {tuple(r[k] for k in keys): r for r in all_a if r["status"] == "ok"}
    rows_b = {tuple(r[k] for k in keys): r for r in all_b if r["status"] == "ok"}
    shared = [k for k in rows_a if k in rows_b]
    if not shared:
        raise PonderError(f"{run_a} and {run_b} share no finished (task, model, strategy, budget); nothing to compare")
    per_a, per_b = _per_problem(run_a, keys), _per_problem(run_b, keys)
    return [_compare_one(rows_a[k], rows_b[k], per_a.get(k, {}), per_b.get(k, {})) for k in shared]


def _compare_one(a: dict, b: dict, pa: dict[str, float], pb: dict[str, float]) -> dict[str, Any]:
    model = a["model"] if a["model"] == b["model"] else f"{a['model']} / {b['model']}"
    row = {"task": a["task"], "model": model, "strategy": a["strategy"], "budget": a["budget"],
        "acc_a": a["accuracy"], "acc_b": b["accuracy"], "diff": b["accuracy"] - a["accuracy"],
        "tokens_a": a["mean_generated_tokens"], "tokens_b": b["mean_generated_tokens"],
    }  # fmt: skip
    if pa and set(pa) == set(pb):
        ids = sorted(pa)
        ci = paired_diff_ci([pa[i] for i in ids], [pb[i] for i in ids])
        return row | {
            "test": "paired",
            "diff_low": ci.low,
            "diff_high": ci.high,
            "significant": not ci.low <= 0 <= ci.high,
        }
    outside = not a["ci_low"] <= b["accuracy"] <= a["ci_high"]
    return row | {"test": "B outside A's CI", "diff_low": None, "diff_high": None, "significant": outside}


def print_comparison(rows: list[dict[str, Any]], run_a: str, run_b: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"A = {run_a}   B = {run_b}")
    for col in (
        "task",
        "model",
        "strategy",
        "budget",
        "A",
        "B",
        "B - A",
        "95% CI of diff",
        "tokens A / B",
        "outside CI?",
    ):
        table.add_column(col, justify="left" if col in ("task", "model", "strategy") else "right")
    for r in rows:
        ci = f"[{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]" if r["diff_low"] is not None else "(unpaired)"
        verdict = ("yes" if r["significant"] else "no") + (" (paired)" if r["test"] == "paired" else " (vs A's CI)")
        table.add_row(
            r["task"], r["model"], r["strategy"], str(r["budget"]), f"{r['acc_a']:.3f}", f"{r['acc_b']:.3f}",
            f"{r['diff']:+.3f}", ci, f"{r['tokens_a']:.0f} / {r['tokens_b']:.0f}", verdict,
        )  # fmt: skip
    console = Console()
    (console if console.is_terminal else Console(width=160)).print(table)
