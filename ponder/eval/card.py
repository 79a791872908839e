"""The measurement behind a built-in model's card: greedy accuracy per task and difficulty level
on fresh problems (seeded, never seen in training because training draws from other seeds'
streams), with Wilson 95% intervals, written as JSON beside the card; on Countdown also how
often the yes/no of a verdict line is right about the value the line reached.

`python -m ponder.eval.card MODEL --n 200 --out ponder/models/tiny/accuracy.json`

Left out: the training-loss plot (the card's PNG came from the run's metrics; not regenerated).
"""

from __future__ import annotations

import argparse
import json
import time

from ponder.io import atomic_write


def task_accuracy(gen, task_name: str, level: int, n: int, seed: int = 12345) -> dict:
    """Greedy accuracy of `gen` on n fresh problems of one task level, by the task's own checker."""
    from ponder.tasks import get_task, make_problems
    from ponder.train.evaluate import greedy_accuracy

    task = get_task(task_name)
    t0 = time.time()
    seen: list[tuple] = []

    def checks(ps, texts):
        seen.extend(zip(ps, texts))
        return [task.check(p, t).correct for p, t in zip(ps, texts)]

    row = greedy_accuracy(gen, make_problems(task_name, n, level, seed), checks, max_tokens=400, batch=n)
    out = {"task": task_name, "level": level, **row, "seconds": round(time.time() - t0, 1)}
    if task_name == "countdown":
        out.update(verdict_accuracy(seen))
    return out


def verdict_accuracy(pairs: list[tuple]) -> dict:
    """Over every yes/no line of the responses: how often the verdict is right about the value the
    line reached (countdown.verdict_lines)."""
    from ponder.tasks.countdown import verdict_lines

    marks = [ok for p, text in pairs for ok in verdict_lines(p, text)]
    return {"verdict_lines": len(marks), "verdict_right": round(sum(marks) / max(len(marks), 1), 4)}


def main(argv: list[str] | None = None) -> int:
    from ponder.gen import load_generator
    from ponder.gen.options import add_backend_args, backend_kwargs
    from ponder.tasks import get_task

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default="tiny")
    add_backend_args(ap)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--tasks", default="arithmetic,countdown,equations,knights")
    ap.add_argument("--out", default="ponder/models/tiny/accuracy.json")
    args = ap.parse_args(argv)
    gen = load_generator(args.model, **backend_kwargs(args))
    rows = []
    for name in args.tasks.split(","):
        for level in get_task(name).levels:
            rows.append(task_accuracy(gen, name, level, args.n))
            r = rows[-1]
            extra = f"  verdicts right {r['verdict_right']:.3f} of {r['verdict_lines']}" if "verdict_lines" in r else ""
            print(
                f"{name:<11} L{level}  {r['accuracy']:.3f}  [{r['ci_low']:.3f}, {r['ci_high']:.3f}]  {r['seconds']}s{extra}"
            )
    with atomic_write(args.out) as f:
        json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
