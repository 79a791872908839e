"""Expert iteration on the tiny reasoner (issue 14, "Measure" in small): rounds of beam search
with the executable step checker -> verified traces through `ponder data`'s filters -> SFT,
against the starting model, greedy accuracy on held-out problems with Wilson 95% intervals after
every round. One seed; the held-out problems come from the eval seed (12345), the training
problems from seed 0.

It measures accuracy after fixed step counts, not speed, so it does not need a quiet CPU (the
wall time it records does depend on the load; `uptime` is recorded before and after):
  PYTHONPATH=. python benchmarks/expert_iteration_tiny.py --task arithmetic
  PYTHONPATH=. python benchmarks/expert_iteration_tiny.py --task countdown
Writes benchmarks/results/expert_iteration_tiny_<task>.json (the round table and the conditions).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

import torch

from ponder.config import load_config
from ponder.io import write_json


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="arithmetic", choices=["arithmetic", "countdown"])
    ap.add_argument("--level", type=int, default=None, help="null: the task's default (countdown: 3 numbers)")
    ap.add_argument("--n", type=int, default=64, help="training problems searched each round")
    ap.add_argument("--k", type=int, default=2, help="searches per problem per round")
    ap.add_argument("--strategy", default="beam", help="beam (with the step checker), or sample: RFT, the control")
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps-per-round", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-4, help="SFT learning rate (constant)")
    ap.add_argument("--eval-n", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default="/tmp/ponder_expert_tiny")
    ap.add_argument("--out", default=None)
    ap.add_argument("--lock", default="none (accuracy at fixed steps; not a speed measurement)", help="recorded as is")
    a = ap.parse_args()

    from ponder.data.expert import ExpertConfig, train_expert

    out = Path(a.work) / f"{a.task}-{a.strategy}-n{a.n}-s{a.steps_per_round}-lr{a.lr:g}"
    search = [f"budget={a.budget}", "scorer=check", f"options.width={a.width}", "options.max_tokens=256"]
    search = search if a.strategy == "beam" else ["temperature=1.0", "max_tokens=256"]
    level = [f"data.level={a.level}", f"eval.level={a.level}"] if a.level is not None else []
    cfg = load_config(ExpertConfig, None, [
        f"data.task={a.task}", f"data.n={a.n}", f"k={a.k}", f"strategy={a.strategy}", *search, f"rounds={a.rounds}",
        f"steps_per_round={a.steps_per_round}", f"optim.lr={a.lr}", "batch_size=32", "micro_batch=32", f"eval.n={a.eval_n}",
        "eval.max_tokens=256", f"run.out={out}", f"run.threads={a.threads}", "run.progress=false", *level,
    ])  # fmt: skip
    before, t0 = uptime(), time.perf_counter()
    summary = train_expert(cfg)
    wall = time.perf_counter() - t0
    result = {
        "what": "expert iteration (beam + step checker -> filtered verified traces -> SFT) vs the start, tiny reasoner",
        "task": a.task,
        "level": a.level,
        "settings": vars(a),
        "rounds": summary["round_accuracy"],
        "filters_removed": {k: v.get("removed") for k, v in summary["rounds"].items()},
        "wall_s": wall,
        "conditions": {
            "uptime_before": before,
            "uptime_after": uptime(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
            "torch": torch.__version__,
            "threads": a.threads,
            "bench_lock": a.lock,
        },
    }
    dest = a.out or f"benchmarks/results/expert_iteration_tiny_{a.task}.json"
    write_json(dest, result)
    for r in summary["round_accuracy"]:
        print(f"round {r['round']}: {r['accuracy']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}] n={r['n']}")
    print(f"wrote {dest} ({wall:.0f} s)")


if __name__ == "__main__":
    main()
