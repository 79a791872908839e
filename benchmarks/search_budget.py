"""Accuracy against compute for every test-time strategy on the tiny reasoner.

For each task at its default level (`Task.default_level`, or --level), N held-out problems (seed 1000, a stream the tiny
reasoner never trained on), every strategy at budgets of 1..64 samples' worth: accuracy by the
rule-based verifier with a 95% Wilson interval, generated tokens and FLOPs per problem, wall time.
Majority / best-of-N / weighted best-of-N at budget k use the first k of one pool of 64 samples
per problem (i.i.d. samples, so this equals running them at k; their tokens are the first k
samples' tokens); best-of-N with a second scorer re-scores the same pool through the generation
cache. Step-level strategies run at each of `--step-budgets` up to a per-strategy cap (STEP_RUNS).
Runs go cheapest budget first and stop at the time box; skipped cells are listed. Writes search_budget.{json,md,png} beside this file.

    PYTHONPATH=. python benchmarks/search_budget.py --n 200 --budgets 1 4 16 64 --minutes 40
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from ponder.eval.estimators import wilson
from ponder.gen.cache import CachedGenerator
from ponder.io import atomic_write, write_json
from ponder.search import run_search
from ponder.search.aggregate import vote
from ponder.tasks import make_problems
from ponder.verify import verify

HERE = Path(__file__).parent
STEP_RUNS = [  # (label, strategy, scorer, options, largest budget run) — cheapest first
    ("beam/check", "beam", "check", {"width": 4}, 16),
    ("dvts/check", "dvts", "check", {"width": 4}, 16),
    ("mcts/check", "mcts", "check", {"k": 4}, 16),
    ("refine/check", "refine", "check", {}, 16),
    ("budget_forcing/wait", "budget_forcing", None, {"mode": "wait"}, 16),
    ("refine/self", "refine", None, {"critic": "self"}, 4),
    ("beam/confidence", "beam", "confidence", {"width": 4}, 4),
    # with agg="last" the checker scores every finished path by its (unjudgeable, neutral) answer
    # line, so the final pick among finished paths is a tie; "min" ranks them by their worst step
    ("beam/check-min", "beam", "check", {"width": 4, "agg": "min"}, 16),
    ("dvts/check-min", "dvts", "check", {"width": 4, "agg": "min"}, 16),
]


STYLES = [{"marker": m, "linestyle": ls} for ls in ("-", "--") for m in ("o", "s", "^", "D", "v", "P", "X")]


def row(task, label, budget, problems, responses, tokens, flops, seconds, nodes=None) -> dict:
    scores = verify(problems, responses)
    k = sum(s.correct for s in scores)
    lo, hi = wilson(k, len(problems))
    n = len(problems)
    return {
        "task": task,
        "strategy": label,
        "budget": budget,
        "n": n,
        "accuracy": k / n,
        "ci95": [lo, hi],
        "tokens_per_problem": tokens / n,
        "flops_per_problem": flops / n,
        "seconds": seconds,
        "tree_nodes": nodes,
    }


def pool_rows(task: str, problems, gen, budgets: list[int], seed: int) -> list[dict]:
    """Greedy, and majority / best-of-N / weighted at every budget from one pool of samples."""
    rows = []
    t0 = time.perf_counter()
    greedy = run_search("greedy", problems, gen, seed=seed)
    rows.append(
        row(
            task,
            "greedy",
            1,
            problems,
            [r.response for r in greedy],
            sum(r.cost.generated_tokens for r in greedy),
            sum(r.cost.flops for r in greedy),
            time.perf_counter() - t0,
        )
    )
    top = max(budgets)
    pools = {}
    for scorer in ("check", "confidence"):
        t0 = time.perf_counter()
        pools[scorer] = (
            run_search("best_of_n", problems, gen, budget=top, scorer=scorer, seed=seed),
            time.perf_counter() - t0,
        )
    per_tok = pools["check"][0][0].cost.flops / max(
        1, pools["check"][0][0].cost.prompt_tokens + pools["check"][0][0].cost.generated_tokens
    )
    for k in budgets:
        for label, scorer, pick in (
            ("majority", "check", "vote"),
            ("best_of_n/check", "check", "best"),
            ("weighted/check", "check", "weighted"),
            ("best_of_n/confidence", "confidence", "best"),
        ):
            results, secs = pools[scorer]
            responses, tokens = [], 0
            for r in results:
                kids = [n for n in r.tree if n.parent == 0][:k]
                tokens += sum(n.meta["tokens"] for n in kids)
                responses.append(choose(kids, pick))
            prompt = sum(r.cost.prompt_tokens for r in results)
            rows.append(row(task, label, k, problems, responses, tokens, per_tok * (tokens + prompt), secs * k / top))
    return rows


def choose(kids, pick: str) -> str:
    """The response a sampling strategy returns from these candidates (see ponder.search.strategies)."""
    if pick == "best":
        return max(kids, key=lambda n: (n.score, -n.id)).text
    answers = [n.meta["answer"] for n in kids]
    winner, _ = vote(answers, None if pick == "vote" else [n.score for n in kids])
    pool = [n for n in kids if n.meta["answer"] == winner] or kids
    return max(pool, key=lambda n: (n.score, -n.id)).text if pick == "weighted" else pool[0].text


def step_rows(task: str, problems, gen, budgets: list[int], seed: int, deadline: float, skipped: list) -> list[dict]:
    rows = []
    for b in budgets:
        for label, strategy, scorer, options, largest in STEP_RUNS:
            if b > largest:
                continue
            if time.time() > deadline:
                skipped.append(f"{task} {label} @ {b}")
                continue
            t0 = time.perf_counter()
            results = run_search(strategy, problems, gen, budget=b, scorer=scorer, seed=seed, **options)
            rows.append(
                row(
                    task,
                    label,
                    b,
                    problems,
                    [r.response for r in results],
                    sum(r.cost.generated_tokens for r in results),
                    sum(r.cost.flops for r in results),
                    time.perf_counter() - t0,
                    nodes=sum(len(r.tree) - 1 for r in results),
                )
            )
            print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| task | strategy | budget | accuracy | 95% CI | gen tokens / problem | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["task"], r["strategy"], r["budget"])):
        lo, hi = r["ci95"]
        lines.append(
            f"| {r['task']} | {r['strategy']} | {r['budget']} | {r['accuracy']:.3f} | "
            f"{lo:.3f}–{hi:.3f} | {r['tokens_per_problem']:.0f} | {r['seconds']:.1f} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows})
    fig, axes = plt.subplots(1, len(tasks), figsize=(7 * len(tasks), 5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for label in sorted({r["strategy"] for r in rows if r["task"] == task}):
            rs = sorted((r for r in rows if r["task"] == task and r["strategy"] == label), key=lambda r: r["budget"])
            x = [r["tokens_per_problem"] for r in rs]
            y = [r["accuracy"] for r in rs]
            err = [[r["accuracy"] - r["ci95"][0] for r in rs], [r["ci95"][1] - r["accuracy"] for r in rs]]
            style = STYLES[sorted({r["strategy"] for r in rows}).index(label) % len(STYLES)]
            ax.errorbar(x, y, yerr=err, capsize=3, label=label, **style)
        ax.set_xscale("log")
        ax.set_xlabel("generated tokens per problem (log)")
        ax.set_ylabel("accuracy (95% Wilson CI)")
        ax.set_title(task)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--tasks", nargs="+", default=["arithmetic", "countdown"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--level", type=int, default=None, help="difficulty level (default: each task's default level)")
    ap.add_argument("--budgets", type=int, nargs="+", default=[1, 4, 16, 64], help="for the sample pool")
    ap.add_argument("--step-budgets", type=int, nargs="+", default=[1, 4, 16], help="for step-level strategies")
    ap.add_argument("--minutes", type=float, default=40.0, help="time box for the step-level runs, all tasks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "search_budget")
    ap.add_argument(
        "--only",
        nargs="+",
        help="re-run only these step-level labels (e.g. mcts/check) and merge "
        "their rows into the existing --out results (after a fix to one strategy)",
    )
    args = ap.parse_args()
    import torch

    from ponder.gen import load_generator

    torch.set_num_threads(2)
    gen = CachedGenerator(load_generator(args.model))
    start, rows, skipped, load_start = time.time(), [], [], os.getloadavg()
    deadline = start + 60 * args.minutes
    for task in args.tasks if not args.only else []:
        problems = make_problems(task, args.n, level=args.level, seed=1000)
        rows += pool_rows(task, problems, gen, args.budgets, args.seed)
        print(table(rows[-17:]), flush=True)
    if args.only:
        STEP_RUNS[:] = [r for r in STEP_RUNS if r[0] in args.only]
    for task in args.tasks:  # step-level runs after every task's pool, so both tasks get the small budgets
        problems = make_problems(task, args.n, level=args.level, seed=1000)
        now = time.time()  # share the time left equally among the tasks still to run
        task_deadline = now + (deadline - now) / (len(args.tasks) - args.tasks.index(task))
        rows += step_rows(task, problems, gen, args.step_budgets, args.seed, min(deadline, task_deadline), skipped)
    conditions = {
        "loadavg_start": load_start,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, no GPU",
        "torch_threads": 2,
        "loadavg_end": os.getloadavg(),
        "wall_minutes": (time.time() - start) / 60,
        "model": args.model,
        "n_params": gen.n_params,
        "problems_seed": 1000,
        "level": args.level if args.level is not None else "default",
        "search_seed": args.seed,
        "skipped": skipped,
    }
    if args.only:
        old = json.loads(args.out.with_suffix(".json").read_text())
        new_keys = {(r["task"], r["strategy"], r["budget"]) for r in rows}
        rows = [r for r in old["rows"] if (r["task"], r["strategy"], r["budget"]) not in new_keys] + rows
        conditions = {**old["conditions"], "rerun": {"labels": args.only, **conditions}}
    write_json(args.out.with_suffix(".json"), {"conditions": conditions, "rows": rows})
    with atomic_write(args.out.with_suffix(".md")) as f:
        f.write(f"{table(rows)}\n\nConditions: {json.dumps(conditions)}\n")
    plot(rows, args.out.with_suffix(".png"))
    print(table(rows))
    print("skipped:", skipped)


if __name__ == "__main__":
    main()
