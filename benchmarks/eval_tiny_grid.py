"""The evaluation grid shown in the README: the tiny reasoner on arithmetic and Countdown.

    python benchmarks/eval_tiny_grid.py [--n-problems 60] [--out runs/eval_tiny] [more ponder eval flags]

Runs `ponder eval` (resumable: a re-run skips finished cells), then copies the summary, the
compute-optimal selection and the machine record to benchmarks/results/eval_tiny/ and the plot to
docs/img/eval_tiny.png. Wall time and load averages before and after are recorded beside them,
because this machine is shared (2 cores, no GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from ponder.eval.cli import main as eval_main

ROOT = Path(__file__).resolve().parents[1]
GRID = ["--tasks", "arithmetic:3,countdown:3", "--strategies", "greedy,majority,best_of_n,weighted,pass,beam",
        "--budgets", "1,4,16"]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-problems", default="60")
    ap.add_argument("--out", default=str(ROOT / "runs" / "eval_tiny"))
    args, extra = ap.parse_known_args()  # anything else goes to `ponder eval` (later flags win)
    load_before, start = os.getloadavg(), time.time()
    code = eval_main([*GRID, "--n-problems", args.n_problems, "--out", args.out, *extra])
    wall = time.time() - start
    dest = ROOT / "benchmarks" / "results" / "eval_tiny"
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("summary.json", "summary.md", "adaptive.json", "run.json"):
        shutil.copy(Path(args.out) / name, dest / name)
    shutil.copy(Path(args.out) / "plots" / "all.png", ROOT / "docs" / "img" / "eval_tiny.png")
    meta = {"command": ["ponder", "eval", *GRID, "--n-problems", args.n_problems, *extra],
            "wall_seconds_this_invocation": round(wall, 1), "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(), "cpus": os.cpu_count(),
            "note": "wall time covers only the cells this invocation ran (finished cells are skipped)"}  # fmt: skip
    (dest / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
