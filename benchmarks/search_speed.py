"""Speed of the search engine on the tiny reasoner: the batching gain of advancing all problems'
frontiers together (beam search over N problems in one run against the sum of N one-problem
runs), and MCTS nodes expanded per second. Writes search_speed.json beside this file.

    PYTHONPATH=. python benchmarks/search_speed.py --n 20 --budget 4
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from rich.progress import track

from ponder.io import write_json
from ponder.search import run_search
from ponder.tasks import make_problems

HERE = Path(__file__).parent


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--task", default="arithmetic")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--budget", type=int, default=4)
    ap.add_argument("--out", type=Path, default=HERE / "search_speed.json")
    args = ap.parse_args()
    import torch

    from ponder.gen import load_generator

    torch.set_num_threads(2)
    gen = load_generator(args.model)
    problems = make_problems(args.task, args.n, seed=1000)
    load_start = os.getloadavg()
    run_search("beam", problems[:4], gen, budget=args.budget, scorer="check")  # warm-up
    batched, res = timed(lambda: run_search("beam", problems, gen, budget=args.budget, scorer="check", width=4))
    singles, calls = 0.0, 0
    for p in track(problems, description="beam one problem at a time"):
        dt, r = timed(lambda p=p: run_search("beam", [p], gen, budget=args.budget, scorer="check", width=4))
        singles += dt
        calls += r[0].cost.gen_calls
    mcts_s, mres = timed(lambda: run_search("mcts", problems, gen, budget=args.budget, scorer="check", k=4))
    nodes = sum(len(r.tree) - 1 - sum(bool(n.meta.get("rollout")) for n in r.tree) for r in mres)
    out = {
        "task": args.task,
        "n_problems": args.n,
        "budget": args.budget,
        "beam_batched_seconds": batched,
        "beam_batched_gen_calls": res[0].cost.gen_calls,
        "beam_sum_of_single_runs_seconds": singles,
        "beam_single_runs_gen_calls": calls,
        "batching_speedup": singles / batched,
        "mcts_seconds": mcts_s,
        "mcts_nodes_expanded": nodes,
        "mcts_nodes_per_second": nodes / mcts_s,
        "conditions": {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
            "torch_threads": 2,
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "model": args.model,
            "note": "machine shared with other agents' work",
        },
    }
    write_json(args.out, out)
    print(out)


if __name__ == "__main__":
    main()
