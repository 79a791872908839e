"""Does the trained PRM help search? Best-of-N and beam search accuracy at equal generation
budget with the learned PRM / ORM against the confidence scorer and the executable checker.

Per task (arithmetic, Countdown at level 3, rm_common.LEVELS), N fresh problems (seed 4000),
budgets in samples' worth. Best-of-N draws one pool per budget (seeded, through a generation
cache) and every scorer picks from the same pool, so scorers differ only in their choice.
Beam search (width 4) runs per scorer. Scorers: "prm" (trained on soft Monte-Carlo labels,
min over steps for best-of-N; beam ranks by the last step's score), "prm-exact" (trained on exact
labels of the same traces), "orm" (best-of-N only), "confidence" (policy logprobs), "check"
(the task's executable step checker, an oracle for these tasks). Accuracy by the rule-based
verifier, with generated tokens and scorer tokens per problem. Needs rm_prm.py's models.
Writes rm_search.json beside this file (or --out).

    PYTHONPATH=. python benchmarks/rm_search.py --n 100 --budgets 4 16
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from rm_common import HERE, LEVELS, RUNS, machine, set_levels

from ponder.gen import load_generator
from ponder.gen.cache import CachedGenerator
from ponder.io import write_json
from ponder.rm.scorers import ORMScorer, PRMScorer
from ponder.search import run_search
from ponder.tasks import make_problems
from ponder.verify import verify

SEARCH_SEED = 4000


def scorers(task: str) -> dict:
    """The learned scorers whose folders rm_prm.py has written, then the baselines."""
    out = {}
    for name, folder, cls in (
        ("prm", f"prm_{task}_mc_soft", PRMScorer),
        ("prm-exact", f"prm_{task}_exact", PRMScorer),
        ("orm", f"orm_{task}", ORMScorer),
    ):
        if (RUNS / folder / "rm_config.json").is_file():
            out[name] = cls.load(RUNS / folder, agg="min") if cls is PRMScorer else cls.load(RUNS / folder)
    return {**out, "confidence": "confidence", "check": "check"}


def cell(strategy: str, scorer_name: str, scorer, problems, gen, budget: int, **opts) -> dict:
    t0 = time.perf_counter()
    results = run_search(strategy, problems, gen, budget=budget, scorer=scorer, seed=SEARCH_SEED, **opts)
    correct = sum(s.correct for s in verify(problems, [r.response for r in results]))
    n = len(problems)
    return {
        "strategy": strategy,
        "scorer": scorer_name,
        "budget": budget,
        "accuracy": correct / n,
        "n": n,
        "gen_tokens": sum(r.cost.generated_tokens for r in results) / n,
        "scorer_tokens": sum(r.cost.scorer_tokens for r in results) / n,
        "flops": sum(r.cost.flops for r in results) / n,
        "seconds": time.perf_counter() - t0,
    }


def run_task(gen, task: str, args, save) -> list[dict]:
    """All cells of one task, cheapest first; `save(rows)` after each so a time box keeps what ran."""
    problems = make_problems(task, args.n, level=LEVELS.get(task), seed=SEARCH_SEED)
    plan = [("greedy", "-", None, 1, {}), ("majority", "-", None, max(args.budgets), {})]
    for budget in args.budgets:
        learned = scorers(task)
        plan += [("best_of_n", name, sc, budget, {}) for name, sc in learned.items()]
        plan += [
            ("beam", name, sc, budget, {"width": 4})
            for name, sc in learned.items()
            if name not in ("orm", "prm-exact") and not args.no_beam
        ]
    rows = []
    for strategy, name, sc, budget, opts in plan:
        rows.append(cell(strategy, name, sc, problems, gen, budget, **opts))
        print(rows[-1], flush=True)
        save(rows)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", nargs="+", default=["arithmetic", "countdown"])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--budgets", nargs="+", type=int, default=[4, 16])
    ap.add_argument("--model", default="tiny", help="policy and PRM backbone")
    ap.add_argument("--levels", nargs="*", default=[], help="task=level overrides, e.g. arithmetic=2")
    ap.add_argument("--out", default=str(HERE / "rm_search.json"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-beam", action="store_true", help="best-of-N only (equal compute, one pool)")
    args = ap.parse_args()
    set_levels(args.levels)
    torch.set_num_threads(args.threads)
    gen = CachedGenerator(load_generator(args.model))
    out = {"machine": machine(), "args": vars(args), "tasks": {}}
    if Path(args.out).is_file():  # runs per task add to one file
        out["tasks"] = json.loads(Path(args.out).read_text())["tasks"]
    for task in args.tasks:

        def save(rows, task=task):
            out["tasks"][task] = rows
            write_json(args.out, out)

        run_task(gen, task, args, save)
    out["machine"]["loadavg_end"] = os.getloadavg()
    write_json(args.out, out)


if __name__ == "__main__":
    main()
