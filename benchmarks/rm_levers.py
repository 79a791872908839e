"""Which training settings make a learned PRM pick better samples? Each variant is trained on the
same exact-labelled traces of the tiny reasoner and measured on held-out ones, cheaply, before
any search is run.

Data (`ponder label --exact`, see recipes/prm_tiny.yaml): --train files of sampled traces
(problem seed 2000), --dev files of 16 samples per problem on other problems (seed 3000).
Training problems that also occur in the dev files or in rm_search.py's test problems (seed
4000) are dropped. Per variant: a PRM trained with its overrides (rm/train.py options; all
variants share --steps, --batch-size and the held-out split used for early stopping), then on
the dev traces of each task: step AUROC, ProcessBench first-error F1, error-step F1 against the
exact labels, and best-of-16 accuracy for every aggregation of step scores (last / min /
product / mean) — the best one is chosen here, on dev, never on the test problems. Baselines
on the same dev pools: a random pick (the mean sample accuracy) and pass@16 (an oracle).

Variants: "s3" is session 3's setting (1,200 arithmetic traces, last checkpoint, no early
stopping); the others use all traces of both tasks. Results merge by variant into --out.
Instead of --dev, `--heldout FILE` evaluates on the held-out problems of a training file (the
split `ponder train prm` makes with --val-frac and seed 0, so a recipe's PRM is measured on the
problems it never trained on), and `--prm NAME=FOLDER` measures PRMs trained elsewhere.

    PYTHONPATH=. python benchmarks/rm_levers.py --train runs/rm/arithmetic_train.jsonl \\
        runs/rm/countdown_train.jsonl --dev runs/rm/arithmetic_dev.jsonl runs/rm/countdown_dev.jsonl
    PYTHONPATH=. python benchmarks/rm_levers.py --heldout runs/rm/arithmetic_exact.jsonl --val-frac 0.03 \\
        --prm recipe=runs/rm/prm_arithmetic --variants
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import torch
from rm_common import HERE, LEVELS, machine

from ponder.config import load_config
from ponder.io import write_json
from ponder.rm.labels import LabeledTrace, read_labels
from ponder.rm.model import from_backbone
from ponder.rm.quality import error_f1, pick_aggregation, processbench, step_auroc
from ponder.rm.scorers import PRMScorer
from ponder.rm.train import RMTrainConfig, split_train_val, train_reward_model
from ponder.tasks import make_problems

TEST_SEED, TEST_N = 4000, 200  # rm_search.py's problems (it uses the first --n of them)
# name -> (overrides, traces used: None = all, else the first k of the first --train file)
VARIANTS: dict[str, tuple[list[str], int | None]] = {
    "s3": (["keep_best=false"], 1200),
    "full": ([], None),
    "balance": (["balance=true"], None),
    "outcome": (["outcome_weight=0.5"], None),
    "frozen": (["freeze_backbone=true", "head_lr=1e-2"], None),
    "scratch": (["init=scratch", "optim.lr=1e-3"], None),
}


def test_questions(tasks: list[str]) -> set[str]:
    return {p.question for t in tasks for p in make_problems(t, TEST_N, level=LEVELS.get(t), seed=TEST_SEED)}


def groups(traces: list[LabeledTrace]) -> dict[str, list[LabeledTrace]]:
    out: dict[str, list[LabeledTrace]] = defaultdict(list)
    for t in traces:
        out[t.problem.id].append(t)
    return out


def dev_metrics(scorer: PRMScorer, dev: list[LabeledTrace]) -> dict:
    """Step-label quality and best-of-n selection on one task's dev traces."""
    pred = scorer.score_steps([t.problem for t in dev], [t.steps for t in dev])
    truth = [t.labels for t in dev]
    by_id = {t.id: p for t, p in zip(dev, pred)}
    g = list(groups(dev).values())
    agg, acc = pick_aggregation([[by_id[t.id] for t in grp] for grp in g], [[t.outcome >= 1 for t in grp] for grp in g])
    return {
        "auroc": step_auroc(pred, truth),
        "processbench_f1": processbench(pred, truth)["f1"],
        "error_f1": error_f1(pred, truth)["f1"],
        "best_of_n": acc,
        "best_agg": agg,
    }


def baselines(dev: list[LabeledTrace]) -> dict:
    g = list(groups(dev).values())
    return {
        "problems": len(g),
        "samples_per_problem": sum(map(len, g)) / len(g),
        "random_pick": sum(t.outcome >= 1 for t in dev) / len(dev),
        "pass_at_n": sum(any(t.outcome >= 1 for t in grp) for grp in g) / len(g),
    }


def train_variant(name: str, traces: list[LabeledTrace], args) -> tuple[PRMScorer, dict]:
    over, _ = VARIANTS[name]
    base = [f"run.steps={args.steps}", f"batch_size={args.batch_size}", f"val_every={args.val_every}",
            f"patience={args.patience}", "val_frac=0.05", "run.save_every=0", f"run.out={args.runs}/prm_{name}"]  # fmt: skip
    cfg = load_config(RMTrainConfig, None, [*base, *args.set, *over])
    rm = from_backbone(args.model, kind="prm")
    log = train_reward_model(rm, traces, cfg)
    info = {"overrides": [*base, *args.set, *over], "traces": len(traces), "steps": len(log.losses),
            "best_step": log.best_step, "seconds": log.seconds, "val": log.val,
            "first_loss": log.losses[0], "last_loss": sum(log.losses[-20:]) / len(log.losses[-20:])}  # fmt: skip
    return PRMScorer(rm), info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", nargs="*", default=[])
    ap.add_argument("--dev", nargs="*", default=[])
    ap.add_argument("--heldout", nargs="*", default=[], help="training files whose held-out split is the dev set")
    ap.add_argument("--val-frac", type=float, default=0.03, help="--heldout: the split's val_frac (seed 0)")
    ap.add_argument("--prm", nargs="*", default=[], metavar="NAME=FOLDER", help="trained PRMs to measure")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--val-every", type=int, default=50)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--set", nargs="*", default=[], help="extra RMTrainConfig overrides for every variant")
    ap.add_argument("--model", default="tiny", help="policy whose traces these are; the PRM backbone")
    ap.add_argument("--runs", default="runs/rm")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "results" / "rm_levers.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = {f: read_labels(f) for f in args.dev}
    dev.update({f: split_train_val(read_labels(f), args.val_frac, 0)[1] for f in args.heldout})
    dev_by_task = {recs[0].problem.task: recs for recs in dev.values()}
    seen = test_questions(list(dev_by_task)) | {t.problem.question for recs in dev.values() for t in recs}
    train = {f: [t for t in read_labels(f) if t.problem.question not in seen] for f in args.train}
    out = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {"variants": {}}
    out.update(machine=machine(), args=vars(args), dev={k: baselines(v) for k, v in dev_by_task.items()})
    for spec in args.prm:
        name, _, folder = spec.partition("=")
        scorer = PRMScorer.load(folder)
        out["variants"][name] = {"folder": folder, "agg_saved": scorer.agg}
        out["variants"][name].update({task: dev_metrics(scorer, d) for task, d in dev_by_task.items()})
        print(name, json.dumps(out["variants"][name]), flush=True)
        write_json(args.out, out)
    for name in args.variants:
        k = VARIANTS[name][1]
        traces = train[args.train[0]][:k] if k else [t for recs in train.values() for t in recs]
        t0 = time.perf_counter()
        scorer, info = train_variant(name, traces, args)
        out["variants"][name] = {"train": info, **{task: dev_metrics(scorer, d) for task, d in dev_by_task.items()}}
        out["variants"][name]["seconds"] = time.perf_counter() - t0
        out["machine"]["loadavg_end"] = os.getloadavg()
        print(name, json.dumps({t: out["variants"][name][t] for t in dev_by_task}), flush=True)
        write_json(args.out, out)


if __name__ == "__main__":
    main()
