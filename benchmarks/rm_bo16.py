"""Learned PRM against model confidence in best-of-16, at equal compute, on one pool (issue 16).

Per task (the levels of rm_common.LEVELS), N problems (--seed, default 4000) and one pool of 16 samples
each at T=0.8, drawn once through a generation cache (--pool, the --gen-cache file of
rm_search.py, so both scripts pick from the same samples). Every selector picks from that pool:
majority vote, the policy's confidence, the task's step checker (an oracle), each PRM given with
--prm, and a random pick (its exact expectation: the mean share of right samples per problem);
greedy decoding (one sample) is the reference; each scorer but the checker also as a
score-weighted vote (`NAME-weighted`, the answer whose samples' scores sum highest). Per selector: accuracy with a Wilson 95%
interval, the within-problem AUROC of its scores (P(a right sample of a problem scores above a
wrong one of the same problem), ties half, over problems with both) and, for every PRM, a paired
bootstrap over problems of PRM - confidence (95% interval, share of replicates <= 0).

    PYTHONPATH=. python benchmarks/rm_bo16.py --tasks arithmetic --n 200 --pool runs/s5/pool.jsonl \
        --prm twins=runs/s5/prm_arith --out benchmarks/results/rm_bo16_s5_arithmetic.json
"""

from __future__ import annotations

import argparse
import os
import statistics as st
import time
from collections import defaultdict

import numpy as np
import torch
from rm_common import LEVELS, machine, set_levels
from rm_search import SEARCH_SEED, named_prms

from ponder.answers import answer_of
from ponder.eval.bootstrap import paired_diff_ci
from ponder.gen import load_generator
from ponder.gen.cache import CachedGenerator
from ponder.io import write_json
from ponder.search import run_search
from ponder.search.aggregate import vote
from ponder.search.engine import build_scorer
from ponder.stats import wilson
from ponder.tasks import make_problems
from ponder.verify import verify

BUDGET = 16


class Recorder:
    """An outcome scorer that passes scores through and keeps (problem id, response, score)."""

    def __init__(self, inner):
        self.inner, self.log, self.seconds = inner, [], 0.0
        self.agg = getattr(inner, "agg", None)

    def score(self, problems, responses):
        t0 = time.perf_counter()
        s = self.inner.score(problems, responses)
        self.seconds += time.perf_counter() - t0
        self.log += [(p.id, str(r), float(x)) for p, r, x in zip(problems, responses, s)]
        return s


def within_auroc(groups: dict[str, list[tuple[float, bool]]]) -> tuple[float | None, int]:
    """(mean over problems with right and wrong samples of P(right > wrong), ties half; count)."""
    out = []
    for items in groups.values():
        right, wrong = [s for s, c in items if c], [s for s, c in items if not c]
        if right and wrong:
            out.append(sum((a > b) + 0.5 * (a == b) for a in right for b in wrong) / (len(right) * len(wrong)))
    return (st.mean(out) if out else None), len(out)


def weighted_pick(items: list[tuple[float, bool]], answers: list[str | None]) -> float:
    """Whether the answer with the highest score sum is right (1.0) (weighted best-of-N, Li et al.
    2023; search/strategies/weighted.py on recorded scores, so nothing is scored twice)."""
    winner, _ = vote(answers, [s for s, _ in items])
    return float(next((c for (_, c), a in zip(items, answers) if a == winner), False))


def correct_of(problems, results) -> list[float]:
    return [float(v.correct) for v in verify(problems, [r.response for r in results])]


def row(name: str, per_problem: list[float], **extra) -> dict:
    k, n = int(round(sum(per_problem))), len(per_problem)
    lo, hi = wilson(k, n)
    flags = "".join(str(int(v)) for v in per_problem)  # per problem, in order: any two rows compare paired
    return {"selector": name, "accuracy": sum(per_problem) / n, "wilson95": [lo, hi], "n": n, "flags": flags, **extra}


def paired(base: list[float], other: list[float], n_boot: int = 10000) -> dict:
    """other - base over the same problems: mean, bootstrap 95% interval, share of replicates <= 0."""
    ci = paired_diff_ci(base, other, n_boot=n_boot, seed=0)
    d = np.asarray(other) - np.asarray(base)  # (P,), resampled as paired_diff_ci does (same seed)
    boot = d[np.random.default_rng(0).integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    return {"mean": ci.mean, "ci95": [ci.low, ci.high], "p_le_0": float((boot <= 0).mean())}


def run_task(gen, task: str, args) -> dict:
    problems = make_problems(task, args.n, level=LEVELS.get(task), seed=args.seed)
    rows, per = [], {}
    for name in ("greedy", "majority"):
        res = run_search(name, problems, gen, budget=1 if name == "greedy" else args.budget, seed=args.seed)
        per[name] = correct_of(problems, res)
        rows.append(row(name, per[name]))
    selectors = {"confidence": build_scorer("confidence", gen)[0], "check": build_scorer("check", gen)[0]}
    selectors.update(named_prms(args.prm))
    samples = None
    for name, inner in selectors.items():
        rec = Recorder(inner)
        res = run_search("best_of_n", problems, gen, budget=args.budget, scorer=rec, seed=args.seed)
        per[name] = correct_of(problems, res)
        by_id = {p.id: p for p in problems}
        ok = verify([by_id[i] for i, _, _ in rec.log], [r for _, r, _ in rec.log])
        groups, answers = defaultdict(list), defaultdict(list)
        for (i, r, s), v in zip(rec.log, ok):
            groups[i].append((s, v.correct))
            answers[i].append(answer_of(r, task))
        auc, n_auc = within_auroc(groups)
        rows.append(row(name, per[name], agg=rec.agg, within_auroc=auc, problems_with_both=n_auc,
                        score_seconds=rec.seconds, responses_scored=len(rec.log)))  # fmt: skip
        if name != "check":
            per[f"{name}-weighted"] = [weighted_pick(groups[p.id], answers[p.id]) for p in problems]
            rows.append(row(f"{name}-weighted", per[f"{name}-weighted"], note="score-weighted vote over answers"))
        samples = samples or groups
    rand = [st.mean(c for _, c in samples[p.id]) for p in problems]
    rows.append(row("random", rand, note="expected accuracy of a uniform pick from the pool"))
    diffs = {}
    for name in args.prm:
        prm = name.partition("=")[0]
        diffs[prm] = {
            "best_of_16": paired(per["confidence"], per[prm]),
            "weighted": paired(per["confidence-weighted"], per[f"{prm}-weighted"]),
        }
    for r in rows:
        print(r, flush=True)
    print(diffs, flush=True)
    return {"rows": rows, "prm_minus_confidence": diffs, "level": LEVELS.get(task), "n": len(problems)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", nargs="+", default=["arithmetic", "countdown"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--levels", nargs="*", default=[], help="task=level overrides, e.g. arithmetic=2")
    ap.add_argument("--pool", required=True, help="generation cache: the pool (made on the first run)")
    ap.add_argument("--prm", action="append", default=[], metavar="NAME=FOLDER[:AGG]", help="a trained PRM")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", type=int, default=BUDGET, help="samples per problem (best-of-N, majority@N)")
    ap.add_argument(
        "--seed", type=int, default=SEARCH_SEED, help="problems and sampling (another seed: fresh problems)"
    )
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    set_levels(args.levels)
    torch.set_num_threads(args.threads)
    gen = CachedGenerator(load_generator(args.model), path=args.pool)
    out = {"machine": machine(), "args": vars(args), "tasks": {}}
    for task in args.tasks:
        out["tasks"][task] = run_task(gen, task, args)
        write_json(args.out, out)
    out["machine"]["loadavg_end"] = os.getloadavg()
    out["generated_outside_pool"] = gen.misses
    write_json(args.out, out)


if __name__ == "__main__":
    main()
