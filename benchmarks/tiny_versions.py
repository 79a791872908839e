"""Built-in tiny reasoner versions side by side on the model card's fixed problems: greedy
accuracy per (task, level) row (seed 12345, as the cards), Wilson 95% intervals, and on Countdown
how often a verdict line's yes/no is right about the value the line reached. For choosing which
version ships (a run folder's checkpoint is a model too: `runs/tiny-base-stage3/latest`).
Writes JSON with the load average before and after (the machine is shared).

    PYTHONPATH=. python benchmarks/tiny_versions.py --models tiny-v2 runs/tiny-base-stage3/latest \\
        --rows arithmetic:3 countdown:3 --n 200 --out benchmarks/results/tiny_versions.json
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from ponder.eval.card import task_accuracy
from ponder.gen import load_generator
from ponder.io import write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["tiny-v2", "tiny"])
    ap.add_argument("--rows", nargs="+", default=["arithmetic:3", "countdown:3"], help="TASK:LEVEL")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--out", default="benchmarks/results/tiny_versions.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    load, rows = os.getloadavg(), []
    for model in args.models:
        gen = load_generator(model)
        for spec in args.rows:
            task, level = spec.split(":")
            rows.append({"model": model, **task_accuracy(gen, task, int(level), args.n)})
            r = rows[-1]
            verdicts = f"  verdicts {r['verdict_right']:.3f} of {r['verdict_lines']}" if "verdict_lines" in r else ""
            print(f"{model:<32} {spec:<13} {r['accuracy']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]{verdicts}")
    meta = {"loadavg_before": load, "loadavg_after": os.getloadavg(), "torch_threads": 1,
            "when_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "seed": 12345, "n": args.n}  # fmt: skip
    write_json(args.out, {"meta": meta, "rows": rows})


if __name__ == "__main__":
    main()
