"""What the seed claims look like on the tiny reasoner: greedy against majority vote (and its
test-time scaling over k), self-check (verdict-line) accuracy, and `wait`-forcing, per model.

For each model and task (default level, `--n` fresh problems, seed 777): greedy accuracy;
`--samples` samples per problem at `--temperature` from which maj@k and pass@k for k = 1, 2, 4,
.. are read (maj@k over the first k samples, vote on the answer string, ties to the first seen);
on Countdown the share of verdict lines whose yes/no is right about the value the line reached
(countdown.verdict_lines), in greedy and in sampled responses; and budget forcing in `wait` mode
(when the model closes its thinking, `</think>` is replaced by `wait_text` once, then it must
answer), greedy. Intervals: Wilson 95%. Writes benchmarks/results/tiny_science.json (or --out).

    PYTHONPATH=. python benchmarks/tiny_science.py --models tiny tiny-v1 --n 200
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

import torch

from ponder.eval.estimators import wilson
from ponder.gen import load_generator
from ponder.io import write_json
from ponder.search import run_search
from ponder.steps import parse_response
from ponder.tasks import get_task, make_problems
from ponder.tasks.countdown import verdict_lines
from ponder.types import SamplingParams

OUT = Path(__file__).parent / "results" / "tiny_science.json"


def rate(flags: list[bool]) -> dict:
    lo, hi = wilson(sum(flags), len(flags))
    return {"rate": round(sum(flags) / max(len(flags), 1), 4), "ci": [round(lo, 4), round(hi, 4)], "n": len(flags)}


def majority_correct(task, problem, texts: list[str]) -> bool:
    answers = [parse_response(t).answer for t in texts]
    votes = Counter(a for a in answers if a)
    if not votes:
        return False
    top = votes.most_common(1)[0][0]
    return task.check(problem, next(t for t, a in zip(texts, answers) if a == top)).correct


def verdicts(problems, groups: list[list[str]]) -> dict:
    marks = [ok for p, texts in zip(problems, groups) for t in texts for ok in verdict_lines(p, t)]
    return rate(marks)


def study(model: str, task_name: str, n: int, samples: int, temperature: float, wait_text: str) -> dict:
    gen = load_generator(model)
    task = get_task(task_name)
    problems = make_problems(task_name, n, task.default_level, 777)
    prompts = [gen.render(p.question) for p in problems]
    t0 = time.time()
    greedy = [o[0].text for o in gen.generate(prompts, SamplingParams(temperature=0.0, max_tokens=400))]
    sampled = gen.generate(prompts, SamplingParams(n=samples, temperature=temperature, max_tokens=400, seed=1))
    groups = [[c.text for c in g] for g in sampled]
    row = {"model": model, "task": task_name, "level": task.default_level, "temperature": temperature}
    row["greedy"] = rate([task.check(p, t).correct for p, t in zip(problems, greedy)])
    row["sample_accuracy"] = rate([task.check(p, t).correct for p, g in zip(problems, groups) for t in g])
    k = 1
    while k <= samples:
        row[f"maj@{k}"] = rate([majority_correct(task, p, g[:k]) for p, g in zip(problems, groups)])
        row[f"pass@{k}"] = rate([any(task.check(p, t).correct for t in g[:k]) for p, g in zip(problems, groups)])
        k *= 2
    if task_name == "countdown":
        row["verdicts_greedy"] = verdicts(problems, [[t] for t in greedy])
        row["verdicts_sampled"] = verdicts(problems, groups)
    forced = run_search("budget_forcing", problems, gen, budget=2, mode="wait", wait_text=wait_text, think_tokens=400)
    row["wait_forcing"] = rate([task.check(p, r.response).correct for p, r in zip(problems, forced)])
    row["wait_forcing_text"] = wait_text
    row["wait_examples"] = [r.response for r in forced[:3]]
    row["seconds"] = round(time.time() - t0, 1)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["tiny"])
    ap.add_argument("--tasks", nargs="+", default=["countdown", "arithmetic"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--wait-text", default="\nwait ")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    torch.set_num_threads(1)
    load = os.getloadavg()
    rows = []
    for model in args.models:
        for task in args.tasks:
            rows.append(study(model, task, args.n, args.samples, args.temperature, args.wait_text))
            r = rows[-1]
            print(model, task, {k: v["rate"] for k, v in r.items() if isinstance(v, dict)}, f"{r['seconds']}s")
    meta = {"loadavg_before": load, "loadavg_after": os.getloadavg(), "torch_threads": 1,
            "when_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "seed": 777}  # fmt: skip
    write_json(args.out, {"meta": meta, "rows": rows})


if __name__ == "__main__":
    main()
