"""GRPO's family at equal steps on Countdown with 3 numbers, from the built-in tiny reasoner:
GRPO, Dr. GRPO, DAPO, GSPO, CISPO, RLOO and REINFORCE++ (presets.py), one seed each, every
other setting from recipes/grpo_countdown_tiny.yaml (KL off for all, as there). Records per
method the training reward curve and held-out greedy accuracy (Wilson 95% intervals) every
`eval.every` steps, the wall time and the machine's load; writes JSON, a PNG of both curves and
a Markdown table.

Run: PYTHONPATH=. python benchmarks/rl_variants.py [--result=PATH_STEM] [--presets=a,b] [--key=value ...]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from ponder.config import load_config
from ponder.io import read_jsonl, write_json
from ponder.train.grpo import GRPOConfig, train_grpo

RECIPE = "recipes/grpo_countdown_tiny.yaml"
OUT = "benchmarks/results/rl_variants"
PRESETS = ["grpo", "dr_grpo", "dapo", "gspo", "cispo", "rloo", "reinforce_pp"]
SETTINGS = [  # equal for every method; chosen so the 7 runs fit ~25 minutes on the shared CPU
    "run.steps=24",
    "rollout.prompts_per_step=8",
    "rollout.group_size=8",
    "algo.epochs=2",  # two passes per batch, so the ratio (and with it each loss's clipping) matters
    "eval.n=100",
    "eval.every=8",
    "run.save_every=0",
    "run.progress=false",
    "run.max_minutes=0",
]


def run_one(preset: str, extra: list[str]) -> dict:
    t0 = time.perf_counter()
    out = f"/tmp/ponder_rl_variants/{preset}-{os.getpid()}"
    cfg = load_config(GRPOConfig, RECIPE, [f"preset={preset}", f"run.out={out}", "run.resume=false", *SETTINGS, *extra])
    summary = train_grpo(cfg)
    rows = list(read_jsonl(f"{out}/metrics.jsonl"))
    curve = [
        {k: r.get(k) for k in ("step", "reward_mean", "accuracy", "zero_var_frac", "clip_frac", "entropy", "step_s")}
        for r in rows
        if "reward_mean" in r
    ]
    evals = [{"step": r["step"], **{k[5:]: v for k, v in r.items() if k.startswith("eval/")}} for r in rows]
    return {
        "preset": preset,
        "wall_s": time.perf_counter() - t0,
        "switches": summary.get("switches"),
        "before": summary.get("before"),
        "after": summary.get("after"),
        "curve": curve,
        "held_out": [e for e in evals if "accuracy" in e],
    }


def model_record() -> dict:
    """Which tiny reasoner the numbers are on: its folder and a hash of its weights."""
    import hashlib

    from ponder.models import resolve_model

    path = resolve_model("tiny")
    weights = Path(path) / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights.is_file() else None
    return {"name": "tiny", "path": os.path.relpath(path), "weights_sha256_16": digest}


def plot(runs: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for run in runs:
        c = run["curve"]
        k = 4
        sm = [sum(r["reward_mean"] for r in c[max(0, i - k + 1) : i + 1]) / min(i + 1, k) for i in range(len(c))]
        ax1.plot([r["step"] for r in c], sm, label=run["preset"])
        ax2.plot(
            [e["step"] for e in run["held_out"]],
            [e["accuracy"] for e in run["held_out"]],
            marker="o",
            label=run["preset"],
        )
    ax1.set(xlabel="step", ylabel="train reward (moving mean of 4)", title="sampled reward, T=1")
    ax2.set(xlabel="step", ylabel="held-out greedy accuracy", title="100 held-out Countdown-3 problems")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def table(runs: list[dict]) -> str:
    lines = [
        "| method | held-out before | held-out after [95% CI] | mean train reward, first 8 / last 8 steps | wall (s) |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        b, a, c = run["before"] or {}, run["after"] or {}, run["curve"]
        first = sum(r["reward_mean"] for r in c[:8]) / max(len(c[:8]), 1)
        last = sum(r["reward_mean"] for r in c[-8:]) / max(len(c[-8:]), 1)
        ci = [a.get("ci_low", float("nan")), a.get("ci_high", float("nan"))]
        lines.append(
            f"| {run['preset']} | {b.get('accuracy', float('nan')):.2f} | {a.get('accuracy', float('nan')):.2f} "
            f"[{ci[0]:.2f}, {ci[1]:.2f}] | {first:.3f} / {last:.3f} | {run['wall_s']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    out = next((a.split("=", 1)[1] for a in argv if a.startswith("--result=")), OUT)
    names = next((a.split("=", 1)[1].split(",") for a in argv if a.startswith("--presets=")), PRESETS)
    extra = [a for a in argv if not a.startswith(("--result=", "--presets="))]
    load0, t0 = os.getloadavg(), time.perf_counter()
    runs = []
    for name in names:
        runs.append(run_one(name, extra))
        print(name, runs[-1]["before"], runs[-1]["after"], f"{runs[-1]['wall_s']:.0f}s", os.getloadavg(), flush=True)
        result = {
            "what": "GRPO-family presets at equal steps, Countdown-3, built-in tiny reasoner, one seed",
            "recipe": RECIPE,
            "settings": SETTINGS + extra,
            "model": model_record(),
            "machine": "2 CPU cores shared with other agents' jobs, no GPU, 1 torch thread",
            "loadavg_start": load0,
            "loadavg_end": os.getloadavg(),
            "wall_s": time.perf_counter() - t0,
            "runs": runs,
        }
        write_json(f"{out}.json", result)  # after every method: a killed run keeps what it measured
    plot(runs, f"{out}.png")
    with open(f"{out}.md", "w") as f:
        f.write(table(runs) + "\n")
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
