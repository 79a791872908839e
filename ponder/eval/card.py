"""The measurement behind a built-in model's card: greedy accuracy per task and difficulty level
on fresh problems (seeded, never seen in training because training draws from other seeds'
streams), with Wilson 95% intervals, written as JSON beside the card.

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
    checks = lambda ps, texts: [task.check(p, t).correct for p, t in zip(ps, texts)]  # noqa: E731
    row = greedy_accuracy(gen, make_problems(task_name, n, level, seed), checks, max_tokens=400, batch=n)
    return {"task": task_name, "level": level, **row, "seconds": round(time.time() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    from ponder.gen import load_generator
    from ponder.tasks import get_task

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default="tiny")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--tasks", default="arithmetic,countdown,equations,knights")
    ap.add_argument("--out", default="ponder/models/tiny/accuracy.json")
    args = ap.parse_args(argv)
    gen = load_generator(args.model)
    rows = []
    for name in args.tasks.split(","):
        for level in get_task(name).levels:
            rows.append(task_accuracy(gen, name, level, args.n))
            r = rows[-1]
            print(f"{name:<11} L{level}  {r['accuracy']:.3f}  [{r['ci_low']:.3f}, {r['ci_high']:.3f}]  {r['seconds']}s")
    with atomic_write(args.out) as f:
        json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
