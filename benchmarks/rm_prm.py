"""How good is a trained PRM? Step-level F1 and first-error accuracy (ProcessBench-style) on
held-out traces of the tiny reasoner, against exact labels from the step checkers.

Per task (arithmetic, Countdown at level 3, rm_common.LEVELS): PRMs on the tiny reasoner's
backbone trained on the cached Monte-Carlo labelled traces of rm_labels.py (problem seed 2000)
with (a) soft MC labels at K=kmax, (b) hard MC labels, (c) exact labels of the same traces; an
ORM on the same traces' outcomes. Evaluation: fresh problems (seed 3000), sampled traces,
exact labels. Baseline rows: "all steps correct" and the executable checker itself (exact by
construction, it is the ground truth's source). Models are saved under runs/rm/ for
rm_search.py. Writes rm_prm.json beside this file.

    PYTHONPATH=. python benchmarks/rm_prm.py --steps 400
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import torch
from rm_common import HERE, RUNS, TEST_SEED, exact_set, load_cached, machine, set_levels

from ponder.config import load_config
from ponder.gen import load_generator
from ponder.io import write_json, write_jsonl
from ponder.rm.labels import read_labels
from ponder.rm.model import from_backbone, load_reward_model
from ponder.rm.quality import error_f1, processbench, step_auroc
from ponder.rm.scorers import ORMScorer, PRMScorer
from ponder.rm.train import RMTrainConfig, train_reward_model


def variants(recs) -> dict[str, list]:
    """Training sets from the same traces with different label sources."""
    soft = recs
    hard = [
        dataclasses.replace(r, labels=[None if v is None else float(v > 0) for v in r.labels], kind="mc-hard")
        for r in recs
    ]
    exact = [dataclasses.replace(r, labels=r.meta["exact"], kind="exact") for r in recs]
    return {"mc_soft": soft, "mc_hard": hard, "exact": exact}


def evaluate_prm(scorer, test) -> dict:
    pred = scorer.score_steps([t.problem for t in test], [t.steps for t in test])
    truth = [t.labels for t in test]
    return {"error": error_f1(pred, truth), "processbench": processbench(pred, truth), "auroc": step_auroc(pred, truth)}


def evaluate_orm(scorer, test) -> dict:
    s = scorer.score([t.problem for t in test], ["".join(t.steps) for t in test])
    acc = sum((x >= 0.5) == (t.outcome >= 1.0) for x, t in zip(s, test)) / len(test)
    return {"outcome_accuracy": acc, "base_rate_correct": sum(t.outcome >= 1.0 for t in test) / len(test)}


def train_one(kind: str, traces, steps: int, out: str, backbone: str):
    """Train and save, or reuse the model already in `out` (with its recorded training info)."""
    info_path = Path(out) / "train_info.json"
    if info_path.is_file():
        return load_reward_model(out, kind=kind), {**json.loads(info_path.read_text()), "reused": True}
    rm = from_backbone(backbone, kind=kind)
    over = [f"kind={kind}", f"run.steps={steps}", "batch_size=16", "optim.lr=3e-4", "head_lr=3e-3", "val_frac=0.1"]
    cfg = load_config(RMTrainConfig, None, [*over, f"run.out={out}"])
    log = train_reward_model(rm, traces, cfg)  # checkpoints in `out`; load_reward_model(out) loads the latest
    info = {
        "steps": steps,
        "seconds": log.seconds,
        "first_loss": log.losses[0],
        "last_loss": sum(log.losses[-20:]) / len(log.losses[-20:]),
        "val": log.val[-1] if log.val else None,
    }
    write_json(info_path, info)
    return rm, info


def test_set(gen, task: str, args) -> list:
    path = RUNS / f"{task}_test.jsonl"
    if path.is_file():
        return read_labels(path)
    test = exact_set(gen, task, args.n_test, args.samples, TEST_SEED)
    write_jsonl(path, (t.to_dict() for t in test))
    return test


def run_task(gen, task: str, args) -> dict:
    test = test_set(gen, task, args)
    res = {
        "test_traces": len(test),
        "test_error_traces": sum(any(v == 0.0 for v in t.labels) for t in test),
        "baselines": {},
        "prm": {},
        "orm": {},
    }
    truth = [t.labels for t in test]
    for name, c in (("all_steps_correct", 1.0), ("all_steps_wrong", 0.0)):
        const = [[c] * len(t.steps) for t in test]
        res["baselines"][name] = {"error": error_f1(const, truth), "processbench": processbench(const, truth)}
    for name, traces in variants(load_cached(f"{task}_train")).items():
        if name not in args.variants:
            continue
        rm, info = train_one("prm", traces, args.steps, str(RUNS / f"prm_{task}_{name}"), args.model)
        res["prm"][name] = {"train": info, **evaluate_prm(PRMScorer(rm), test)}
        print(task, name, res["prm"][name], flush=True)
    if args.orm:
        rm, info = train_one("orm", load_cached(f"{task}_train"), args.steps, str(RUNS / f"orm_{task}"), args.model)
        res["orm"] = {"train": info, **evaluate_orm(ORMScorer(rm), test)}
        print(task, "orm", res["orm"], flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", nargs="+", default=["arithmetic", "countdown"])
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--variants", nargs="*", default=["mc_soft", "mc_hard", "exact"])
    ap.add_argument("--orm", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--model", default="tiny", help="policy and PRM backbone")
    ap.add_argument("--levels", nargs="*", default=[], help="task=level overrides, e.g. arithmetic=2")
    args = ap.parse_args()
    set_levels(args.levels)
    torch.set_num_threads(2)
    gen = load_generator(args.model)
    out = {"machine": machine(), "args": vars(args), "tasks": {}}
    if (HERE / "rm_prm.json").is_file():  # runs per task add to one file
        out["tasks"] = json.loads((HERE / "rm_prm.json").read_text())["tasks"]
    for task in args.tasks:
        t0 = time.perf_counter()
        out["tasks"][task] = run_task(gen, task, args)
        out["tasks"][task]["seconds"] = time.perf_counter() - t0
        out["tasks"][task]["run"] = {"machine": out["machine"], "args": vars(args)}
        write_json(HERE / "rm_prm.json", out)
    out["machine"]["loadavg_end"] = os.getloadavg()
    write_json(HERE / "rm_prm.json", out)


if __name__ == "__main__":
    main()
