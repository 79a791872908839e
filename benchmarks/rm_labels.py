"""How good are Monte-Carlo step labels? Agreement with exact labels as K grows.

On the tiny reasoner's own sampled traces (T=0.8) for arithmetic and Countdown at level 3
(4 operands / 3 numbers; rm_common.LEVELS), every intermediate step prefix is completed K_max times (Math-Shepherd); soft
(fraction correct >= 0.5) and hard (any correct) labels for K = 1, 2, 4, ... are recomputed from
the first K of those rollouts and compared with the exact labels from the task's step checker
(prefix-valid = 1). Only steps where rollouts ran are counted (answer steps take the verified
outcome in both schemes, which would inflate agreement). Also reported: error-step F1 of the MC
labels, and the rollout cost. Writes rm_labels.json beside this file; the labelled traces are
cached in runs/rm/ and reused by rm_prm.py.

    PYTHONPATH=. python benchmarks/rm_labels.py --n 100 --samples 4 --kmax 16
"""

from __future__ import annotations

import argparse
import time

import torch
from rm_common import HERE, TRAIN_SEED, labelled_set, load_cached, machine, relabel, set_levels

from ponder.gen import load_generator
from ponder.io import write_json
from ponder.rm.quality import error_f1, step_agreement, step_auroc


def rollout_only(labels: list[list[float | None]], recs) -> list[list[float | None]]:
    """Mask steps without rollouts to None."""
    return [[v if r is not None else None for v, r in zip(lab, rec.meta["rollouts"])] for lab, rec in zip(labels, recs)]


def row(name: str, k: int, mc, exact) -> dict:
    agr, f1 = step_agreement(mc, exact), error_f1(mc, exact)
    return {
        "k": k,
        "labels": name,
        **{key: agr[key] for key in ("accuracy", "acc_valid", "acc_error", "balanced", "mae")},
        "error_precision": f1["precision"],
        "error_recall": f1["recall"],
        "error_f1": f1["f1"],
        "auroc": step_auroc(mc, exact),
        "steps": agr["n"],
    }


def agreement_rows(recs, ks: list[int]) -> list[dict]:
    exact = rollout_only([r.meta["exact"] for r in recs], recs)
    rows = [row(f"constant {c}", 0, [[None if v is None else c for v in e] for e in exact], exact) for c in (0.0, 1.0)]
    for k in ks:
        for hard in (False, True):
            mc = rollout_only([relabel(r, k, hard) for r in recs], recs)
            rows.append(row("hard" if hard else "soft", k, mc, exact))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", nargs="+", default=["arithmetic", "countdown"])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--kmax", type=int, default=16)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--from-cache", action="store_true", help="re-measure the labelled traces in runs/rm/")
    ap.add_argument("--levels", nargs="*", default=[], help="task=level overrides, e.g. arithmetic=2")
    args = ap.parse_args()
    set_levels(args.levels)
    torch.set_num_threads(2)
    gen = None if args.from_cache else load_generator(args.model)
    out = {"machine": machine(), "args": vars(args), "tasks": {}}
    for task in args.tasks:
        t0 = time.perf_counter()
        if args.from_cache:
            recs = load_cached(f"{task}_train")
        else:
            recs = labelled_set(gen, task, args.n, args.samples, args.kmax, TRAIN_SEED, f"{task}_train")
        ks = [k for k in (1, 2, 4, 8, 16, 32, 64) if k <= args.kmax]
        exact_steps = [v for r in recs for v, ro in zip(r.meta["exact"], r.meta["rollouts"]) if ro is not None]
        out["tasks"][task] = {
            "traces": len(recs),
            "correct_traces": sum(r.outcome == 1.0 for r in recs),
            "rollout_steps": len(exact_steps),
            "exact_error_steps": sum(v == 0.0 for v in exact_steps),
            "rollouts": len(exact_steps) * args.kmax,
            "seconds": time.perf_counter() - t0,
            "rows": agreement_rows(recs, ks),
        }
        print(task, {k: v for k, v in out["tasks"][task].items() if k != "rows"})
        for row in out["tasks"][task]["rows"]:
            print("  ", row)
    out["machine"]["loadavg_end"] = __import__("os").getloadavg()
    write_json(HERE / "rm_labels.json", out)


if __name__ == "__main__":
    main()
