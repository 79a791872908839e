"""Math verification throughput: a batch of 10,000 mixed answers through `verify`.

The mix (fixed seed): GSM8K gold solutions, right and with the final number changed (fast path);
MATH-500 gold solutions (fast path: the boxed answer equals the reference after cleaning);
MATH-500 answers re-written so that only math-verify can judge them (`\\left(…\\right)` around
the answer, or spaces after commas: math-verify path); wrong MATH answers; garbage without an answer. Reports
items/s for the whole batch (cold cache, then again warm), the distinct (gold, answer) pairs that
went to math-verify, raw math-verify in one process (single-threaded, the way it is usually
called) on 300 of those pairs for comparison, and
how many MATH-500 gold answers math-verify alone (no fast path) accepts. Writes
verify_math.json beside this file. Other agents shared the machine: see `loadavg`.

    python benchmarks/verify_math.py [--n 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from pathlib import Path

from ponder.io import write_json
from ponder.tasks.loaders import load_dataset
from ponder.types import Problem
from ponder.verify import verify
from ponder.verify.math import math_verify_equal, shared_pool

OUT = Path(__file__).with_name("verify_math.json")


def rewrite(answer: str) -> str:
    """An equivalent spelling that is not string-equal, so the fast path cannot decide it
    (answers with units, currency or thousands separators are only re-spaced)."""
    if answer.startswith(("(", "[")) and "," in answer:
        return answer.replace(", ", ",").replace(",", ", ")
    if not any(t in answer for t in ("\\text", "\\mbox", "\\$", ",")):
        return f"\\left({answer}\\right)"
    return f" {answer} "


def build_mix(n: int, seed: int) -> tuple[list[Problem], list[str], list[str]]:
    rng = random.Random(seed)
    gsm, math500 = load_dataset("gsm8k"), load_dataset("math")
    kinds = ["gsm_right", "gsm_wrong", "math_gold", "math_rewritten", "math_wrong", "garbage"]
    weights = [0.25, 0.15, 0.2, 0.25, 0.1, 0.05]
    problems, responses, labels = [], [], []
    for kind in rng.choices(kinds, weights, k=n):
        if kind.startswith("gsm"):
            p = rng.choice(gsm)
            text = p.info["solution"] if kind == "gsm_right" else f"... #### {int(float(p.answer)) + 1}"
        else:
            p = rng.choice(math500)
            text = {
                "math_gold": p.info["solution"],
                "math_rewritten": f"so \\boxed{{{rewrite(p.answer)}}}",
                "math_wrong": f"\\boxed{{{p.answer}+1}}",
                "garbage": rng.choice(["", "\\boxed{", "I am not sure.", "∞" * 5000]),
            }[kind]
        problems.append(p)
        responses.append(text)
        labels.append(kind)
    return problems, responses, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    problems, responses, labels = build_mix(args.n, args.seed)
    shared_pool(args.workers).map([["1", "1"]], timeout=60)  # start the workers outside the clock
    load_before = os.getloadavg()
    start = time.perf_counter()
    scores = verify(problems, responses)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    verify(problems, responses)
    warm_seconds = time.perf_counter() - start
    by_kind: dict[str, dict[str, int]] = {}
    for kind, s in zip(labels, scores):
        d = by_kind.setdefault(kind, {"n": 0, "correct": 0, "math_verify": 0})
        d["n"] += 1
        d["correct"] += s.correct
        d["math_verify"] += "math-verify" in s.reason
    pairs = {(problems[i].answer, s.extracted) for i, s in enumerate(scores) if "math-verify" in s.reason}
    sample = sorted(pairs)[:300]
    start = time.perf_counter()
    for gold, pred in sample:
        math_verify_equal([gold, pred])
    raw_seconds = time.perf_counter() - start
    math500 = load_dataset("math")
    gold_ok = sum(math_verify_equal([p.answer, p.info["solution"]]) for p in math500)
    result = {
        "items": args.n, "workers": args.workers, "seconds": round(seconds, 3),
        "items_per_second": round(args.n / seconds, 1), "by_kind": by_kind,
        "math_verify_items": sum(d["math_verify"] for d in by_kind.values()), "distinct_math_verify_pairs": len(pairs),
        "math_verify_pairs_per_second": round(len(pairs) / seconds, 1),
        "warm_cache_items_per_second": round(args.n / warm_seconds, 1),
        "raw_math_verify_one_process_pairs_per_second": round(len(sample) / raw_seconds, 1),
        "math500_gold_accepted_by_math_verify_alone": f"{gold_ok}/{len(math500)}",
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{os.cpu_count()} cores, no GPU, {platform.platform()}, Python {platform.python_version()}",
    }  # fmt: skip
    write_json(OUT, result)
    print(result)


if __name__ == "__main__":
    main()
