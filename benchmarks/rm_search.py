"""Does the trained PRM help search? Best-of-N and beam search accuracy at equal generation
budget with the learned PRM / ORM against the confidence scorer and the executable checker.

Per task (arithmetic, Countdown at level 3, rm_common.LEVELS), N fresh problems (seed 4000),
budgets in samples' worth. Best-of-N draws one pool per budget (seeded, through a generation
cache) and every scorer picks from the same pool, so scorers differ only in their choice.
Beam search (width 4) runs per scorer. Scorers: "prm" (trained on soft Monte-Carlo labels,
min over steps for best-of-N; beam ranks by the last step's score), "prm-exact" (trained on exact
labels of the same traces), "orm" (best-of-N only), "confidence" (policy logprobs), "check"
(the task's executable step checker, an oracle for these tasks). Accuracy by the rule-based
verifier, with generated tokens and scorer tokens per problem. Writes rm_search.json beside
this file (or --out).

    PYTHONPATH=. python benchmarks/rm_search.py --n 100 --budgets 4 16   # needs rm_prm.py's models

Learned PRM against confidence in best-of-16, from nothing (issue 16): `--prm-recipe RECIPE`
labels --label-n problems x --label-samples traces per task with exact labels (problem seed
2000 + chunk, test questions dropped; cached under --runs), trains the recipe on them per task
(cached), and adds it as scorer "prm-recipe" with the step aggregation it chose on its held-out
problems. `--prm NAME=FOLDER[:AGG]` adds any trained PRM folder. `--gen-cache FILE` keeps the
sampled pool on disk, so a re-run with another PRM scores the same samples without sampling.

    PYTHONPATH=. python benchmarks/rm_search.py --prm-recipe recipes/prm_tiny.yaml --n 100 \
        --budgets 16 --no-beam --no-legacy --threads 1 --out results/rm_search_prm_recipe.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from rm_common import HERE, LEVELS, RUNS, TRAIN_SEED, machine, set_levels

from ponder.config import load_config
from ponder.gen import load_generator
from ponder.gen.cache import CachedGenerator
from ponder.io import read_jsonl, write_json, write_jsonl
from ponder.rm.cli import exact_records, sample_traces
from ponder.rm.labels import read_labels
from ponder.rm.model import from_backbone
from ponder.rm.scorers import ORMScorer, PRMScorer
from ponder.rm.train import RMTrainConfig, train_reward_model
from ponder.search import run_search
from ponder.tasks import get_task, make_problems
from ponder.verify import verify

SEARCH_SEED = 4000


def recipe_prm(gen, task: str, args, chunk: int = 250) -> Path:
    """Exact-labelled traces of the task (in chunks of `chunk` problems, each cached, so an
    interrupted run keeps what it labelled) and a PRM trained on them with --prm-recipe."""
    runs = Path(args.runs)
    n_test = max(args.n, 200)  # drop every question the test problems (seed 4000) may hold
    test = {p.question for p in make_problems(task, n_test, level=LEVELS.get(task), seed=SEARCH_SEED)}
    parts = []
    for c in range(0, args.label_n, chunk):
        seed = TRAIN_SEED * 10 + c // chunk  # 20000, 20001, ...: apart from every other seed here
        part = runs / f"{task}_exact_{seed}.jsonl"
        if not part.is_file():
            problems = make_problems(task, min(chunk, args.label_n - c), level=LEVELS.get(task), seed=seed)
            problems = [p for p in problems if p.question not in test]
            traces = sample_traces(
                gen.gen, problems, args.label_samples, 0.8, 256, seed=seed
            )  # not in the pool's cache
            write_jsonl(part, (r.to_dict() for r in exact_records(traces, get_task(task), verify)))
        parts.append(part)
    data = runs / f"{task}_exact.jsonl"
    write_jsonl(data, (row for part in parts for row in read_jsonl(part)))
    out = runs / f"prm_{task}"
    if not (out / "best" / "rm_config.json").is_file():
        over = [f"data={data}", f"run.out={out}", f"backbone={args.model}", "run.progress=false"]
        cfg = load_config(RMTrainConfig, args.prm_recipe, over)
        train_reward_model(from_backbone(args.model, kind="prm"), read_labels(data), cfg)
    return out


def named_prms(specs: list[str]) -> dict:
    """--prm NAME=FOLDER[:AGG] -> {name: scorer}; without AGG, the one saved with the PRM."""
    out = {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        folder, _, agg = rest.partition(":")
        out[name] = PRMScorer.load(folder, agg=agg or None)
    return out


def scorers(task: str, legacy: bool = True) -> dict:
    """The learned scorers whose folders rm_prm.py has written, then the baselines."""
    out = {}
    for name, folder, cls in (
        ()
        if not legacy
        else (
            ("prm", f"prm_{task}_mc_soft", PRMScorer),
            ("prm-exact", f"prm_{task}_exact", PRMScorer),
            ("orm", f"orm_{task}", ORMScorer),
        )
    ):
        if (RUNS / folder / "rm_config.json").is_file():
            out[name] = cls.load(RUNS / folder, agg="min") if cls is PRMScorer else cls.load(RUNS / folder)
    return {**out, "confidence": "confidence", "check": "check"}


def cell(strategy: str, scorer_name: str, scorer, problems, gen, budget: int, **opts) -> dict:
    t0 = time.perf_counter()
    results = run_search(strategy, problems, gen, budget=budget, scorer=scorer, seed=SEARCH_SEED, **opts)
    correct = sum(s.correct for s in verify(problems, [r.response for r in results]))
    n = len(problems)
    return {
        "strategy": strategy,
        "scorer": scorer_name,
        "agg": getattr(scorer, "agg", None),
        "budget": budget,
        "accuracy": correct / n,
        "n": n,
        "gen_tokens": sum(r.cost.generated_tokens for r in results) / n,
        "scorer_tokens": sum(r.cost.scorer_tokens for r in results) / n,
        "flops": sum(r.cost.flops for r in results) / n,
        "seconds": time.perf_counter() - t0,
    }


def run_task(gen, task: str, args, save) -> list[dict]:
    """All cells of one task, cheapest first; `save(rows)` after each so a time box keeps what ran."""
    problems = make_problems(task, args.n, level=LEVELS.get(task), seed=SEARCH_SEED)
    plan = [("greedy", "-", None, 1, {}), ("majority", "-", None, max(args.budgets), {})]
    extra = named_prms(args.prm)
    if args.prm_recipe:
        extra["prm-recipe"] = PRMScorer.load(recipe_prm(gen, task, args))
    for budget in args.budgets:
        learned = {**extra, **scorers(task, legacy=args.legacy)}
        plan += [("best_of_n", name, sc, budget, {}) for name, sc in learned.items()]
        plan += [
            ("beam", name, sc, budget, {"width": 4})
            for name, sc in learned.items()
            if name not in ("orm", "prm-exact", *extra) and not args.no_beam
        ]
    rows = []
    for strategy, name, sc, budget, opts in plan:
        rows.append(cell(strategy, name, sc, problems, gen, budget, **opts))
        print(rows[-1], flush=True)
        save(rows)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", nargs="+", default=["arithmetic", "countdown"])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--budgets", nargs="+", type=int, default=[4, 16])
    ap.add_argument("--model", default="tiny", help="policy and PRM backbone")
    ap.add_argument("--levels", nargs="*", default=[], help="task=level overrides, e.g. arithmetic=2")
    ap.add_argument("--out", default=str(HERE / "rm_search.json"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-beam", action="store_true", help="best-of-N only (equal compute, one pool)")
    ap.add_argument("--prm", action="append", default=[], metavar="NAME=FOLDER[:AGG]", help="a trained PRM to compare")
    ap.add_argument("--prm-recipe", help="label, train this PRM recipe per task (cached) and compare it")
    ap.add_argument("--label-n", type=int, default=2500, help="--prm-recipe: training problems per task")
    ap.add_argument("--label-samples", type=int, default=8, help="--prm-recipe: sampled traces per problem")
    ap.add_argument("--runs", default=str(RUNS), help="--prm-recipe: where labels and PRMs are cached")
    ap.add_argument("--legacy", action=argparse.BooleanOptionalAction, default=True, help="rm_prm.py's models")
    ap.add_argument("--gen-cache", help="jsonl file keeping sampled completions across runs")
    args = ap.parse_args()
    set_levels(args.levels)
    torch.set_num_threads(args.threads)
    gen = CachedGenerator(load_generator(args.model), path=args.gen_cache)
    out = {"machine": machine(), "args": vars(args), "tasks": {}}
    if Path(args.out).is_file():  # runs per task add to one file
        out["tasks"] = json.loads(Path(args.out).read_text())["tasks"]
    for task in args.tasks:

        def save(rows, task=task):
            out["tasks"][task] = rows
            write_json(args.out, out)

        run_task(gen, task, args, save)
    out["machine"]["loadavg_end"] = os.getloadavg()
    write_json(args.out, out)


if __name__ == "__main__":
    main()
