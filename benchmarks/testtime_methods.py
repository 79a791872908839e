"""Accuracy against tokens for the test-time methods of issue 17 on the tiny reasoner:
DeepConf (offline, online), self-certainty / entropy / perplexity selection, ESC,
Adaptive-Consistency, particle filtering, parallel-then-aggregate, revisions x best-of-N and
per-problem routing, against majority voting and best-of-N.

Each task at its default level, N held-out problems (seed 1000, the stream search_budget.py
uses), each method at a few budgets through `run_search`, so every token a method spends is
counted by the engine (tokens of terminated DeepConf traces included). Accuracy by the
rule-based verifier with a 95% Wilson interval; generated and prompt tokens per problem.
Generations go through one CachedGenerator per task, so methods that draw the same first call
(majority, best-of-N, offline DeepConf, and route's probe at the same n and seed) share it;
costs are those of the original generation. Cells run budget by budget (smallest first, every
method) and stop at the time box; skipped cells are listed. One task per process:

    PYTHONPATH=. python benchmarks/testtime_methods.py run --task arithmetic --n 200 --minutes 40
    PYTHONPATH=. python benchmarks/testtime_methods.py report   # -> testtime_methods.{md,png}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from search_budget import plot  # benchmarks/ is on sys.path when this runs as a script

from ponder.eval.estimators import wilson
from ponder.gen.cache import CachedGenerator
from ponder.io import atomic_write, write_json
from ponder.search import run_search
from ponder.tasks import make_problems
from ponder.verify import verify

HERE = Path(__file__).parent
OUT = HERE / "results"
CELLS = [  # (label, strategy, scorer, options, budgets)
    ("majority", "majority", None, {}, [4, 8, 16]),
    ("best_of_n/check", "best_of_n", "check", {}, [4, 8, 16]),
    ("best_of_n/perplexity", "best_of_n", "perplexity", {}, [8, 16]),
    ("deepconf/offline", "deepconf", None, {"mode": "offline"}, [8, 16]),
    ("best_of_n/self_certainty", "best_of_n", "self_certainty", {}, [4, 8, 16]),
    ("weighted/self_certainty-borda", "weighted", "self_certainty", {"weights": "borda"}, [8, 16]),
    ("best_of_n/entropy", "best_of_n", "entropy", {}, [8, 16]),
    ("deepconf/online", "deepconf", None, {}, [8, 16]),
    ("esc", "esc", None, {}, [8, 16]),
    ("adaptive_consistency", "adaptive_consistency", None, {}, [8, 16]),
    ("particle_filter/check", "particle_filter", "check", {}, [4, 8, 16]),
    ("route/check", "route", "check", {}, [8, 16]),
    ("deepconf/online-certainty", "deepconf", None, {"signal": "certainty"}, [16]),
    ("parallel_aggregate", "parallel_aggregate", None, {}, [8]),
    ("revise_bon/check", "revise_bon", "check", {}, [8]),
]


def model_record(name: str) -> dict:
    """Which weights the numbers are on: the folder, the sha256 of its safetensors, the commit."""
    from ponder.models import resolve_model

    folder = Path(resolve_model(name))
    digest = hashlib.sha256()
    for f in sorted(folder.glob("*.safetensors")):
        digest.update(f.read_bytes())
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    return {"model": name, "folder": str(folder), "weights_sha256": digest.hexdigest(), "commit": commit}


def cell(task: str, label: str, budget: int, problems, results, seconds: float) -> dict:
    scores = verify(problems, [r.response for r in results])
    k, n = sum(s.correct for s in scores), len(problems)
    lo, hi = wilson(k, n)
    samples = [r.meta["samples"] for r in results if "samples" in r.meta]
    return {
        "task": task,
        "strategy": label,
        "budget": budget,
        "n": n,
        "accuracy": k / n,
        "ci95": [lo, hi],
        "gen_tokens": sum(r.cost.generated_tokens for r in results) / n,
        "prompt_tokens": sum(r.cost.prompt_tokens for r in results) / n,
        "flops": sum(r.cost.flops for r in results) / n,
        "samples": sum(samples) / len(samples) if samples else None,
        "answered": sum(r.answer is not None for r in results) / n,
        "seconds": seconds,
    }


def run(args: argparse.Namespace) -> None:
    import torch

    from ponder.gen import load_generator

    torch.set_num_threads(args.threads)
    gen = CachedGenerator(load_generator(args.model), path=args.cache)
    problems = make_problems(args.task, args.n, seed=1000)
    start, load_start, rows, skipped = time.time(), os.getloadavg(), [], []
    for budget in sorted({b for *_, bs in CELLS for b in bs}):
        for label, strategy, scorer, options, budgets in CELLS:
            if budget not in budgets or (args.only and f"{label}@{budget}" not in args.only):
                continue
            if time.time() - start > 60 * args.minutes:
                skipped.append(f"{label}@{budget}")
                continue
            t0 = time.time()
            results = run_search(strategy, problems, gen, budget=budget, scorer=scorer, seed=args.seed, **options)
            rows.append(cell(args.task, label, budget, problems, results, time.time() - t0))
            print(json.dumps(rows[-1]), flush=True)
    conditions = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU, shared with other sessions",
        "torch_threads": args.threads,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "wall_minutes": (time.time() - start) / 60,
        "problems_seed": 1000,
        "search_seed": args.seed,
        "level": "task default",
        "cache_hits": gen.hits,
        "cache_misses": gen.misses,
        **model_record(args.model),
    }
    path = OUT / f"testtime_methods_{args.task}.json"
    if args.only:  # merge into the earlier run: its rows for these cells are replaced
        old = json.loads(path.read_text())
        done = {f"{r['strategy']}@{r['budget']}" for r in rows}
        rows = [r for r in old["rows"] if f"{r['strategy']}@{r['budget']}" not in done] + rows
        skipped = [c for c in old["skipped"] if c not in done] + skipped
        conditions = {**old["conditions"], "rerun_of": sorted(done), "rerun_conditions": conditions}
    write_json(path, {"conditions": conditions, "rows": rows, "skipped": skipped})


def table(rows: list[dict]) -> str:
    lines = [
        "| task | method | budget | accuracy | 95% CI | gen tokens | prompt tokens | samples | answered | s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["task"], r["strategy"], r["budget"])):
        lo, hi = r["ci95"]
        samples = "" if r["samples"] is None else f"{r['samples']:.1f}"
        lines.append(
            f"| {r['task']} | {r['strategy']} | {r['budget']} | {r['accuracy']:.3f} | {lo:.3f}–{hi:.3f} | "
            f"{r['gen_tokens']:.0f} | {r['prompt_tokens']:.0f} | {samples} | {r['answered']:.2f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


def equal_tokens(rows: list[dict], label: str = "route/check", slack: float = 1.05) -> str:
    """Each routed cell against the best other cell of its task spending at most `slack` x its tokens."""
    lines = [
        "| task | route budget | route acc | route tokens | best other at <= tokens | its acc | its tokens |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in rows if r["strategy"] == label):
        pool = [
            o
            for o in rows
            if o["task"] == r["task"] and o["strategy"] != label and o["gen_tokens"] <= slack * r["gen_tokens"]
        ]
        if not pool:
            continue
        b = max(pool, key=lambda o: o["accuracy"])
        lines.append(
            f"| {r['task']} | {r['budget']} | {r['accuracy']:.3f} | {r['gen_tokens']:.0f} | "
            f"{b['strategy']}@{b['budget']} | {b['accuracy']:.3f} | {b['gen_tokens']:.0f} |"
        )
    return "\n".join(lines)


def report(args: argparse.Namespace) -> None:
    parts = [json.loads(p.read_text()) for p in sorted(OUT.glob("testtime_methods_*.json"))]
    rows = [r for p in parts for r in p["rows"]]
    md = ["# Test-time methods on the tiny reasoner (benchmarks/testtime_methods.py)", ""]
    for p in parts:
        task = p["rows"][0]["task"] if p["rows"] else "?"
        md.append(f"- {task}: `{json.dumps(p['conditions'])}`; skipped: {', '.join(p['skipped']) or 'none'}")
    md += [
        "",
        table(rows),
        "",
        "## Routing against the best other method at equal or fewer tokens",
        "",
        equal_tokens(rows),
    ]
    with atomic_write(HERE / "testtime_methods.md", "w") as f:
        f.write("\n".join(md) + "\n")
    plot([{**r, "tokens_per_problem": r["gen_tokens"]} for r in rows], HERE / "testtime_methods.png")
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--task", required=True)
    r.add_argument("--model", default="tiny")
    r.add_argument("--n", type=int, default=200)
    r.add_argument("--minutes", type=float, default=40.0)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--cache", type=Path, default=None, help="persist generations (jsonl) to resume a killed run")
    r.add_argument(
        "--only", nargs="+", help="run only these cells (LABEL@BUDGET) and merge them into the task's results"
    )
    sub.add_parser("report")
    args = ap.parse_args()
    run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    main()
