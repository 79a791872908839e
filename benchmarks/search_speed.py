"""Speed of the search engine on the tiny reasoner: the batching gain of advancing all problems'
frontiers together (beam search over N problems in one run against the sum of N one-problem
runs), the prompt KV cache's share (the batched run with the cache on and off, side by side),
and MCTS nodes expanded per second, and where each side's decoder time goes (prefill and step seconds,
prompt tokens, row-steps: per row-token costs at each side's batch size). `--singles K` times one-problem runs on the first K problems
only and scales their sum by N / K (recorded as an estimate). Writes search_speed.json beside this file.

    PYTHONPATH=. python benchmarks/search_speed.py --n 200 --budget 4 --singles 20 --threads 1
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

from rich.progress import track

from ponder.io import write_json
from ponder.search import run_search
from ponder.tasks import make_problems

HERE = Path(__file__).parent


class DecoderClock:
    """Seconds and work inside the fast decoder while active: prefills (FastLlama.start, with the
    prompt tokens it was given, reused prefix included) and decode steps (with their row-steps),
    so that a run's per row-token costs can be read off beside its wall time."""

    def __init__(self) -> None:
        self.stats = {"prefill_s": 0.0, "prompt_tokens": 0, "prefills": 0, "step_s": 0.0, "row_steps": 0, "steps": 0}

    def __enter__(self) -> DecoderClock:
        from ponder.gen.fastllama import FastLlama

        self.cls, self.saved = FastLlama, (FastLlama.start, FastLlama.step)
        start, step, st = FastLlama.start, FastLlama.step, self.stats

        def timed_start(dec, ids, mask, copies, max_new):
            t0 = time.perf_counter()
            out = start(dec, ids, mask, copies, max_new)
            st["prefill_s"] += time.perf_counter() - t0
            st["prompt_tokens"] += int(mask.sum())
            st["prefills"] += 1
            return out

        def timed_step(dec, tokens):
            t0 = time.perf_counter()
            out = step(dec, tokens)
            st["step_s"] += time.perf_counter() - t0
            st["row_steps"] += tokens.shape[0]
            st["steps"] += 1
            return out

        FastLlama.start, FastLlama.step = timed_start, timed_step
        return self

    def __exit__(self, *exc) -> None:
        self.cls.start, self.cls.step = self.saved

    def summary(self) -> dict:
        st = dict(self.stats)
        st["step_us_per_row_token"] = 1e6 * st["step_s"] / max(1, st["row_steps"])
        st["mean_rows_per_step"] = st["row_steps"] / max(1, st["steps"])
        st["prefill_us_per_prompt_token"] = 1e6 * st["prefill_s"] / max(1, st["prompt_tokens"])
        return st


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _commit() -> str:
    """The commit this script's checkout is at (and whether it has local changes), if known."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "ponder"], cwd=HERE, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return (head.stdout.strip() or "unknown") + (" + local changes" if dirty.stdout.strip() else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--task", default="arithmetic")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--budget", type=int, default=4)
    ap.add_argument("--out", type=Path, default=HERE / "search_speed.json")
    ap.add_argument("--singles", type=int, default=0, help="time one-problem runs on this many (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-mcts", action="store_true")
    args = ap.parse_args()
    import torch

    from ponder.gen import load_generator
    from ponder.gen.prefix_cache import PrefixCache

    torch.set_num_threads(args.threads)
    gen = load_generator(args.model)
    problems = make_problems(args.task, args.n, seed=1000)
    load_start = os.getloadavg()
    beam = lambda ps: run_search("beam", ps, gen, budget=args.budget, scorer="check", width=4)  # noqa: E731
    beam(problems[:4])  # warm-up
    gen.prefix_cache = None
    uncached, _ = timed(lambda: beam(problems))
    gen.prefix_cache = PrefixCache()
    with DecoderClock() as batched_clock:
        batched, res = timed(lambda: beam(problems))
    reused = (gen.prefix_cache.hits, gen.prefix_cache.lookups, gen.prefix_cache.reused_tokens)
    singles, calls = 0.0, 0
    timed_singles = problems[: args.singles or len(problems)]
    with DecoderClock() as singles_clock:
        for p in track(timed_singles, description="beam one problem at a time"):
            dt, r = timed(lambda p=p: beam([p]))
            singles += dt
            calls += r[0].cost.gen_calls
    singles *= len(problems) / len(timed_singles)
    mcts_s, nodes = float("nan"), 0
    if not args.no_mcts:
        mcts_s, mres = timed(lambda: run_search("mcts", problems, gen, budget=args.budget, scorer="check", k=4))
        nodes = sum(len(r.tree) - 1 - sum(bool(n.meta.get("rollout")) for n in r.tree) for r in mres)
    out = {
        "task": args.task,
        "n_problems": args.n,
        "budget": args.budget,
        "beam_batched_seconds": batched,
        "beam_batched_gen_calls": res[0].cost.gen_calls,
        "beam_batched_seconds_without_prefix_cache": uncached,
        "prefix_cache_hits_lookups_reused_tokens": reused,
        "beam_sum_of_single_runs_seconds": singles,
        "single_runs_timed": len(timed_singles),
        "beam_single_runs_gen_calls": calls,
        "batching_speedup": singles / batched,
        "batched_decoder": batched_clock.summary(),
        "single_runs_decoder": singles_clock.summary(),  # the timed single runs, not scaled
        "mcts_seconds": mcts_s,
        "mcts_nodes_expanded": nodes,
        "mcts_nodes_per_second": nodes / mcts_s if nodes else None,
        "conditions": {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
            "torch_threads": args.threads,
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "model": args.model,
            "note": "machine shared with other agents' work",
            "code": _commit(),
        },
    }
    write_json(args.out, out)
    print(out)


if __name__ == "__main__":
    main()
