"""Built-in tiny reasoner versions side by side on the model card's fixed problems: greedy
accuracy per (task, level) row (seed 12345, as the cards), Wilson 95% intervals, and on Countdown
how often a verdict line's yes/no is right about the value the line reached — greedily, and over
`--samples` traces per problem sampled at `--temperature` (0.7). For choosing which version ships (a run folder's checkpoint is a model too: `runs/tiny-base-stage3/latest`).
Writes JSON with the load average before and after (the machine is shared).

    PYTHONPATH=. python benchmarks/tiny_versions.py --models tiny-v2 runs/tiny-base-stage3/latest \\
        --rows arithmetic:3 countdown:3 --n 200 --out benchmarks/results/tiny_versions.json
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from ponder.eval.card import task_accuracy, verdict_accuracy
from ponder.gen import load_generator
from ponder.io import write_json
from ponder.tasks import make_problems
from ponder.types import SamplingParams


def sampled_verdicts(gen, level: int, n: int, samples: int, temperature: float) -> dict:
    """Verdict lines right over `samples` traces per card problem (Countdown) sampled at `temperature`."""
    problems = make_problems("countdown", n, level, 12345)
    params = SamplingParams(n=samples, temperature=temperature, max_tokens=400, seed=0)
    outs = gen.generate([gen.render(p.question) for p in problems], params)
    v = verdict_accuracy([(p, c.text) for p, out in zip(problems, outs) for c in out])
    return {f"sampled_{k}": x for k, x in v.items()} | {"sampled_temperature": temperature, "samples": samples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["tiny-v2", "tiny"])
    ap.add_argument("--rows", nargs="+", default=["arithmetic:3", "countdown:3"], help="TASK:LEVEL")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--out", default="benchmarks/results/tiny_versions.json")
    ap.add_argument("--samples", type=int, default=4, help="sampled traces per Countdown problem (0: none)")
    ap.add_argument("--temperature", type=float, default=0.7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    load, rows = os.getloadavg(), []
    for model in args.models:
        gen = load_generator(model)
        for spec in args.rows:
            task, level = spec.split(":")
            rows.append({"model": model, **task_accuracy(gen, task, int(level), args.n)})
            r = rows[-1]
            if task == "countdown" and args.samples:
                r.update(sampled_verdicts(gen, int(level), args.n, args.samples, args.temperature))
            verdicts = f"  verdicts {r['verdict_right']:.3f} of {r['verdict_lines']}" if "verdict_lines" in r else ""
            if "sampled_verdict_right" in r:
                verdicts += f", sampled {r['sampled_verdict_right']:.3f} of {r['sampled_verdict_lines']}"
            print(f"{model:<32} {spec:<13} {r['accuracy']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]{verdicts}")
    meta = {"loadavg_before": load, "loadavg_after": os.getloadavg(), "torch_threads": 1,
            "when_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "seed": 12345, "n": args.n,
            "samples": args.samples, "temperature": args.temperature}  # fmt: skip
    write_json(args.out, {"meta": meta, "rows": rows})


if __name__ == "__main__":
    main()
