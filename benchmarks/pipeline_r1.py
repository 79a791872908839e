"""R1-Zero vs the R1 pipeline vs distillation from search (+ a mixed-task R1-Zero for
forgetting) at one CPU wall-clock budget each, and SFT on unfiltered vs filtered data at an
equal number of examples — all on the built-in tiny reasoner, held-out greedy accuracy on
Countdown-3 and arithmetic with Wilson 95% intervals.

Contenders (shipped recipes in ponder/pipeline/recipes, run through `ponder pipeline`; only the
final model of each is evaluated, so evaluation is not charged to the budget):
  r1_zero        GRPO on Countdown-3 for the whole budget (run.max_minutes);
  r1             cold-start data + SFT -> GRPO -> rejection sampling (+ arithmetic traces) -> SFT
                 -> GRPO; the two GRPO stages share what the data/SFT stages leave of the budget;
  distill        beam search + Countdown's step checker as the teacher (`data`), then SFT of the
                 tiny reasoner on its verified traces for the rest of the budget;
  expert         expert iteration (ponder train expert as a stage): rounds of beam search + step
                 checker -> verified, filtered traces -> SFT, for the whole budget;
  r1_zero_mixed  GRPO on a 50/50 Countdown-3 + arithmetic problem mix for the whole budget.
Data stages have no wall-clock cap: their size is fixed (below) and the SFT/GRPO stages after
them get max_minutes = budget - what the earlier stages of that contender took (measured live;
each contender's stages are run one pipeline call at a time for that). The recorded
`stage_seconds` is what each contender really spent.

Filters: one set of rollouts of the tiny reasoner on Countdown-3 (K samples per problem), three
SFT data sets from it at the same size N: unfiltered (every rollout), correct-only, and the full
`ponder data` chain (correct, pass-rate band, length, duplicates, format, step checker).

Run (takes the bench lock; records the load before and after), then the Markdown table:
  flock /tmp/ponder-bench.lock env PYTHONPATH=. python benchmarks/pipeline_r1.py --budget-minutes 7
  PYTHONPATH=. python benchmarks/pipeline_r1.py --parts markdown
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from ponder.io import read_jsonl, write_json, write_jsonl
from ponder.pipeline.cli import load
from ponder.pipeline.run import run_pipeline


def say(line: str) -> None:
    print(time.strftime("%H:%M:%S"), line, flush=True)


def run(recipe: str, out: Path, args: list[str], a) -> dict:
    base = [recipe, f"--out={out}", f"--eval.n={a.eval_n}", "--eval.max_tokens=200", "--quiet"]
    return run_pipeline(load(base + args), say)


def staged(recipe: str, out: Path, plan: list[tuple[str, list[str]]], a, extra: list[str]) -> dict:
    """Run a recipe's stages one growing prefix at a time so that a capped stage gets
    max_minutes = budget - the seconds the stages before it took. plan: (stage, its overrides);
    `CAP` in an override is replaced by the minutes left (`CAP*0.5`: half of them)."""
    spent, args, summary = 0.0, list(extra), {}
    for stage, over in plan:
        left = max(a.budget_minutes - spent / 60, 0.2)
        args += [o.replace("CAP*0.5", f"{left * 0.5:.3f}").replace("CAP", f"{left:.3f}") for o in over]
        if stage != plan[-1][0]:
            args.append(f"--stages.{stage}.evaluate=false")  # only the contender's final model is evaluated
        summary = run(recipe, out, args + [f"--until={stage}"], a)
        spent = sum(s.get("seconds", 0.0) for s in summary["stages"][1:])
    return summary


def seed_start(root: Path, folder: Path) -> None:
    """The start model's evaluation is the same for every run here: made once, copied (the
    pipeline re-evaluates anyway if the model or the eval block differ)."""
    done = sorted(root.rglob("start.stage.json"))
    if done and not (folder / "start.stage.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "start.stage.json").write_text(done[0].read_text())


def contenders(a) -> dict:
    root, cap = Path(a.work), "--stages.{}.run.max_minutes=CAP"
    results = {}
    big = "--stages.{}.steps=100000"
    plans = {
        "r1_zero": ("r1_zero_tiny", [("rl", [big.format("rl"), cap.format("rl")])]),
        "r1_zero_mixed": ("r1_zero_mixed_tiny", [("mixed", []), ("rl", [big.format("rl"), cap.format("rl")])]),
        "distill": (
            "distill_tiny",
            [
                ("traces", [f"--stages.traces.n={a.search_problems}"]),
                ("student", [big.format("student"), cap.format("student")]),
            ],
        ),
        "expert": ("expert_tiny", [("expert", ["--stages.expert.rounds=100", cap.format("expert")])]),
        "r1": (
            "r1_tiny",
            [
                ("cold_data", [f"--stages.cold_data.n={a.r1_problems}"]),
                ("cold", []),
                ("rl", [big.format("rl"), cap.format("rl").replace("CAP", "CAP*0.5")]),
                ("rs", [f"--stages.rs.n={a.r1_problems}"]),
                ("keep", [f"--stages.keep.n={a.r1_problems // 2}"]),
                ("mixed", []),
                ("sft", []),
                ("rl2", [big.format("rl2"), cap.format("rl2")]),
            ],
        ),
    }
    for name in a.contenders:
        recipe, plan = plans[name]
        seed_start(root, root / name)
        t0 = time.perf_counter()
        summary = staged(recipe, root / name, plan, a, [])
        final = summary["stages"][-1]
        results[name] = {
            "recipe": recipe,
            "stage_seconds": sum(s.get("seconds", 0.0) for s in summary["stages"][1:]),
            "stage_cpu_seconds": sum(s.get("cpu_seconds", 0.0) for s in summary["stages"][1:]),
            "stages": {
                s["name"]: {"seconds": s.get("seconds"), "result": s.get("result")} for s in summary["stages"][1:]
            },
            "start": summary["stages"][0]["eval"],
            "final": final["eval"],
            "wall_seconds_with_eval": time.perf_counter() - t0,
        }
        say(f"{name}: {json.dumps(final['eval'])}")
        write_json(a.out, {**partial(a), "contenders": results})
    return results


def filtered_sets(a) -> dict:
    """One rollout set; unfiltered / correct-only / full-chain SFT sets of equal size; SFT each."""
    from ponder.data.cli import DataConfig, run_data
    from ponder.data.filters import FilterContext, apply_filters

    work = Path(a.work) / "filters"
    cfg = DataConfig(task="countdown", level=3, n=a.filter_problems, k=4, max_tokens=200, out=str(work / "data"),
                     quiet=True, seed=7)  # fmt: skip
    t0 = time.perf_counter()
    card = run_data(cfg)
    rollouts = [r for r in read_jsonl(work / "data" / "rollouts.jsonl")]
    from ponder.data.build import label_pass_rates, step_scorer
    from ponder.tasks import make_problems

    label_pass_rates(rollouts)
    problems = {p.id: p for p in make_problems("countdown", cfg.n, 3, cfg.seed)}
    ctx = FilterContext(min_pass_rate=0.0, max_pass_rate=1.0, min_chars=1, max_chars=4000, near_dup=0.9,
                        step_threshold=0.5, score_steps=step_scorer(cfg.prm, problems))  # fmt: skip
    sets = {
        "unfiltered": rollouts,
        "correct_only": apply_filters([dict(r) for r in rollouts], ["correct"], ctx)[0],
        "full_chain": apply_filters([dict(r) for r in rollouts], list(cfg.filters), ctx)[0],
    }
    n = min(len(v) for v in sets.values())
    out = {"rollouts": len(rollouts), "sizes": {k: len(v) for k, v in sets.items()}, "n_each": n,
           "data_seconds": time.perf_counter() - t0, "card_kept": card["kept"]}  # fmt: skip
    for name, recs in sets.items():
        random.Random(0).shuffle(recs)
        write_jsonl(work / f"{name}.jsonl", recs[:n])
    for name in sets:
        recipe = work / f"{name}.yaml"
        recipe.write_text(
            "model: tiny\neval: {tasks: ['countdown:3', arithmetic]}\nstages:\n"
            f"  sft: {{type: sft, steps: {a.filter_steps}, data: {{path: '{work / name}.jsonl', overlong: drop}},"
            " batch_size: 16, micro_batch: 16, optim: {lr: 1.0e-4}, run: {save_every: 0, threads: 1}}\n"
        )
        seed_start(Path(a.work), work / f"run_{name}")
        summary = run(str(recipe), work / f"run_{name}", [], a)
        out[name] = {"final": summary["stages"][-1]["eval"], "seconds": summary["stages"][-1]["seconds"]}
        say(f"filters {name}: {json.dumps(out[name])}")
    out["start"] = summary["stages"][0]["eval"]
    return out


def _load(avg: list[float] | None) -> str:
    return "?" if avg is None else "/".join(f"{x:.1f}" for x in avg)


def _acc(r: dict) -> str:
    return f"{r['accuracy']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"


def markdown(contenders_jsons: list[str], filters_json: str) -> str:
    """The results as Markdown tables (written beside the JSON); contenders from several runs."""
    lines = ["# Pipelines at an equal CPU budget, and filtered vs unfiltered SFT data", ""]
    runs = [json.loads(Path(p).read_text()) for p in contenders_jsons if Path(p).is_file()]
    if runs:
        start = next(iter(runs[0]["contenders"].values()))["start"]
        loads = "; ".join(
            f"{', '.join(c['contenders'])}: {_load(c['loadavg_before'])} -> {_load(c.get('loadavg_after'))}"
            for c in runs
        )
        lines += [f"Budget: {runs[0]['args']['budget_minutes']} wall-clock minutes of stages per contender (evaluation "
                  f"not charged). Load averages (1, 5, 15 min) before -> after: {loads}. Held-out greedy "
                  f"accuracy, {start['countdown:3']['n']} problems per task, Wilson 95% intervals.", "",
                  "| contender | stage wall s | stage CPU s | Countdown-3 | arithmetic |", "|---|---|---|---|---|",
                  f"| start (tiny) | – | – | {_acc(start['countdown:3'])} | {_acc(start['arithmetic'])} |"]  # fmt: skip
        for name, r in [item for c in runs for item in c["contenders"].items()]:
            lines.append(f"| {name} | {r['stage_seconds']:.0f} | {r['stage_cpu_seconds']:.0f} | "
                         f"{_acc(r['final']['countdown:3'])} | {_acc(r['final']['arithmetic'])} |")  # fmt: skip
        lines.append("")
    if Path(filters_json).is_file():
        whole = json.loads(Path(filters_json).read_text())
        f, steps = whole["filters"], whole["args"]["filter_steps"]
        lines += [f"SFT from tiny, {f['n_each']} examples each (of {f['rollouts']} rollouts of "
                  f"{whole['args']['filter_problems']} Countdown-3 problems; sizes before equalising: {f['sizes']}), "
                  f"{steps} steps of batch 16 at lr 1e-4 each. Load {_load(whole['loadavg_before'])} -> "
                  f"{_load(whole.get('loadavg_after'))} (not a timed comparison).", "",
                  "| data | Countdown-3 | arithmetic |", "|---|---|---|",
                  f"| start (tiny) | {_acc(f['start']['countdown:3'])} | {_acc(f['start']['arithmetic'])} |"]  # fmt: skip
        for name in ("unfiltered", "correct_only", "full_chain"):
            r = f[name]["final"]
            lines.append(f"| {name} | {_acc(r['countdown:3'])} | {_acc(r['arithmetic'])} |")
        lines.append("")
    return "\n".join(lines)


def partial(a) -> dict:
    return {"machine": "2 CPU cores shared with other agents, no GPU", "loadavg_before": a.load_before,
            "args": {k: v for k, v in vars(a).items() if k != "load_before"}}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-minutes", type=float, default=4.0)
    ap.add_argument("--contenders", nargs="*", default=["r1_zero", "distill", "r1", "r1_zero_mixed", "expert"])
    ap.add_argument("--search-problems", type=int, default=80)
    ap.add_argument("--r1-problems", type=int, default=40)
    ap.add_argument("--filter-problems", type=int, default=120)
    ap.add_argument("--filter-steps", type=int, default=30)
    ap.add_argument("--eval-n", type=int, default=200)
    ap.add_argument("--parts", nargs="*", default=["contenders", "filters"])  # or: markdown
    ap.add_argument("--markdown", default="benchmarks/results/pipeline_r1.md")
    ap.add_argument("--work", default="runs/bench_pipeline")
    ap.add_argument("--out", default="benchmarks/results/pipeline_r1.json")
    a = ap.parse_args()
    if a.parts == ["markdown"]:
        sibling = lambda tail: str(Path(a.out).with_name(Path(a.out).stem + tail))  # noqa: E731
        Path(a.markdown).write_text(markdown([a.out, sibling("_expert.json")], sibling("_filters.json")))
        return
    a.load_before = list(os.getloadavg())
    import torch

    torch.set_num_threads(1)
    result = partial(a)
    if "contenders" in a.parts:
        result["contenders"] = contenders(a)
    if "filters" in a.parts:
        result["filters"] = filtered_sets(a)
    result["loadavg_after"] = list(os.getloadavg())
    write_json(a.out, result)


if __name__ == "__main__":
    main()
