"""Test-time scaling curves and the temperature sweep of the science run (benchmarks/tiny_science.py,
parts 1, 2 and the PRM hook of part 5).

Curves: per task, greedy; a pool of `pool` samples per problem at T=0.8 (the search default)
from which majority@k, best-of-k by the step checker, by model confidence (and by a learned PRM
when one is given) and checker-weighted voting are read for every budget k (the first k samples of
the pool: i.i.d., so this equals running each at k); then every step-level and adaptive strategy
(SEARCH) through `run_search` at its budgets, cheapest budget first, until the part's deadline.
Generations go through one CachedGenerator, so strategies whose first call equals the pool's
(offline DeepConf) reuse it; token counts are those of the original generation either way.
Temperatures: a pool of `pool` samples per problem at each temperature; majority@k for k = 1, 2,
4, .. against greedy on the same problems. Rows have the fields ponder.eval.plots draws
(accuracy with Wilson 95% bounds, mean generated tokens per problem).
Left out: several sampling seeds per cell (one seed; the intervals are over problems only).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from search_budget import choose  # benchmarks/ is on sys.path when run as a script

from ponder.eval.bootstrap import paired_diff_ci
from ponder.eval.estimators import wilson
from ponder.search import run_search
from ponder.types import Problem
from ponder.verify import verify

log = logging.getLogger("science")
WAIT_TEXT = "\nwait "  # the tiny reasoner's own reflection token (its traces write `wait ` + a redone step)
SEARCH = [  # (label, strategy, scorer, options, budgets): every strategy beyond the pool; cheapest first
    ("refine/check", "refine", "check", {}, [2, 4]),
    ("budget_forcing/wait", "budget_forcing", None, {"mode": "wait", "wait_text": WAIT_TEXT}, [2, 4]),
    ("deepconf/offline", "deepconf", None, {"mode": "offline"}, [16]),  # confidence-filtered vote
    ("esc", "esc", None, {}, [16]),  # early-stopped voting (windows of 4)
    ("adaptive_consistency", "adaptive_consistency", None, {}, [16]),  # early-stopped voting (Beta rule)
    ("deepconf/online", "deepconf", None, {}, [16]),  # confidence-filtered, early-stopped
    ("beam/check", "beam", "check", {"width": 4}, [4, 16]),
    ("dvts/check", "dvts", "check", {"width": 4}, [4, 16]),
    ("mcts/check", "mcts", "check", {"k": 4}, [4, 16]),
    ("particle_filter/check", "particle_filter", "check", {}, [4, 16]),
]
POOL_PICKS = [  # (label, scorer, pick)
    ("majority", "check", "vote"),
    ("best_of_n/check", "check", "best"),
    ("weighted/check", "check", "weighted"),
    ("best_of_n/confidence", "confidence", "best"),
]


def row(model: str, task: str, label: str, budget: int, problems: list[Problem], responses: list[str],
        gen_tokens: float, seconds: float, **extra: Any) -> dict[str, Any]:  # fmt: skip
    """One cell: accuracy by the rule-based verifier, Wilson 95% bounds, mean generated tokens."""
    flags = "".join("1" if s.correct else "0" for s in verify(problems, responses))  # per problem, in order
    k, n = flags.count("1"), len(problems)
    lo, hi = wilson(k, n)
    return {"model": model, "task": task, "strategy": label, "budget": budget, "status": "ok", "n_problems": n,
            "correct": k, "accuracy": k / n, "ci_low": lo, "ci_high": hi, "mean_generated_tokens": gen_tokens / n,
            "seconds": round(seconds, 1), **extra, "flags": flags}  # fmt: skip


def greedy_row(model: str, task: str, problems: list[Problem], gen) -> tuple[dict, list]:
    t0 = time.perf_counter()
    res = run_search("greedy", problems, gen, seed=0)
    tokens = sum(r.cost.generated_tokens for r in res)
    return row(model, task, "greedy", 1, problems, [r.response for r in res], tokens, time.perf_counter() - t0), res


def budgets_upto(top: int) -> list[int]:
    out, k = [], 1
    while k <= top:
        out.append(k)
        k *= 4
    return out if out[-1] == top else [*out, top]


def pool_rows(model: str, task: str, problems: list[Problem], gen, pool: int, scorers: dict[str, Any],
              temperature: float = 0.8, picks: list = POOL_PICKS, budgets: list[int] | None = None) -> list[dict]:  # fmt: skip
    """Every (pick, k) of one pool of `pool` samples per problem. `scorers`: name -> scorer for
    best_of_n; the first call samples, the others re-score the same samples through the cache."""
    results, secs = {}, {}
    for name, scorer in scorers.items():
        t0 = time.perf_counter()
        results[name] = run_search("best_of_n", problems, gen, budget=pool, scorer=scorer, seed=0,
                                   temperature=temperature)  # fmt: skip
        secs[name] = time.perf_counter() - t0
    rows = []
    for k in budgets or budgets_upto(pool):
        for label, scorer, pick in picks:
            if scorer not in results:
                continue
            responses, tokens = [], 0
            for r in results[scorer]:
                kids = [n for n in r.tree if n.parent == 0][:k]
                tokens += sum(n.meta["tokens"] for n in kids)
                responses.append(choose(kids, pick))
            rows.append(row(model, task, label, k, problems, responses, tokens, secs[scorer] * k / pool,
                            temperature=temperature))  # fmt: skip
    return rows


def search_rows(model: str, tasks: dict[str, list[Problem]], gen, deadline: float, skipped: list[str],
                progress: Callable[[dict], None], only: list[str] | None = None) -> list[dict]:  # fmt: skip
    """SEARCH (or the labels in `only`) for every task, budget by budget (smallest first), until
    `deadline` (time.time())."""
    rows, cells = [], [c for c in SEARCH if only is None or c[0] in only]
    for budget in sorted({b for *_, bs in cells for b in bs}):
        for label, strategy, scorer, options, budgets in cells:
            for task, problems in tasks.items():
                if budget not in budgets:
                    continue
                if time.time() > deadline:
                    skipped.append(f"{task} {label}@{budget}")
                    continue
                t0 = time.perf_counter()
                res = run_search(strategy, problems, gen, budget=budget, scorer=scorer, seed=0, **options)
                tokens = sum(r.cost.generated_tokens for r in res)
                rows.append(row(model, task, label, budget, problems, [r.response for r in res], tokens,
                                time.perf_counter() - t0))  # fmt: skip
                progress(rows[-1])
    return rows


def temperature_rows(model: str, task: str, problems: list[Problem], gen, temperatures: list[float],
                     pool: int, deadline: float, skipped: list[str]) -> list[dict]:  # fmt: skip
    """majority@k (k = 1, 2, 4, .., pool) at each temperature, from one pool each."""
    rows = []
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= pool]
    for t in temperatures:
        if time.time() > deadline:
            skipped.append(f"{task} majority@T={t}")
            continue
        got = pool_rows(model, task, problems, gen, pool, {"check": "check"}, temperature=t,
                        picks=[("majority", "check", "vote")], budgets=ks)  # fmt: skip
        rows += [{**r, "strategy": f"majority T={t}"} for r in got]
        log.info("%s majority@%d at T=%s: %.3f (%.0fs)", task, ks[-1], t, got[-1]["accuracy"], got[-1]["seconds"])
    return rows


def paired(a: dict, b: dict) -> dict[str, Any]:
    """b - a over the same problems (rows' `flags`), with a paired bootstrap 95% interval."""
    iv = paired_diff_ci([int(c) for c in a["flags"]], [int(c) for c in b["flags"]])
    return {"diff": round(iv.mean, 4), "ci": [round(iv.low, 4), round(iv.high, 4)],
            "better": iv.low > 0, "worse": iv.high < 0}  # fmt: skip


def majority_vs_greedy(greedy: dict, rows: list[dict], k: int) -> dict[str, Any]:
    """Per temperature: majority@k and greedy on the same problems, and their paired difference."""
    return {str(r["temperature"]): {"majority": r["accuracy"], "ci": [r["ci_low"], r["ci_high"]],
                                    "greedy": greedy["accuracy"], **paired(greedy, r)}
            for r in rows if r["budget"] == k}  # fmt: skip
