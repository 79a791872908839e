"""The measurement behind a built-in model's card: greedy accuracy per task and difficulty level
on fresh problems (seeded, never seen in training because training draws from other seeds'
streams), with Wilson 95% intervals, written as JSON beside the card; on Countdown also how
often the yes/no of a verdict line is right about the value the line reached.

`python -m ponder.eval.card MODEL --n 200 --tasks arithmetic,countdown --out ponder/models/tiny/accuracy.json`
(the `ponder` command-line syntax, ponder/cliargs.py: `--gen-options.dtype=bfloat16`, `--backend vllm`)

Left out: the training-loss plot (the card's PNG came from the run's metrics; not regenerated).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class CardConfig:
    """The card's measurement: `python -m ponder.eval.card [MODEL] [--key=value ...]`.

    n: fresh problems per task level
    tasks: generator tasks to measure, every level of each
    out: JSON file of the rows
    backend: hf | vllm for the model (a "vllm:" model prefix does the same)
    gen_options: backend options (gen/options.py), e.g. --gen-options.dtype=bfloat16
    """

    n: int = 200
    tasks: list[str] = field(default_factory=lambda: ["arithmetic", "countdown", "equations", "knights"])
    out: str = "ponder/models/tiny/accuracy.json"
    backend: str | None = None
    gen_options: dict[str, Any] = field(default_factory=dict)


def main(argv: list[str] | None = None) -> int:
    import sys

    from ponder.cliargs import HelpShown, parse_cli
    from ponder.gen import load_generator
    from ponder.tasks import get_task
    from ponder.types import PonderError

    argv = sys.argv[1:] if argv is None else argv
    try:
        args, rest = parse_cli(CardConfig, argv, prog="python -m ponder.eval.card [MODEL] [--key=value ...]",
                               doc=__doc__.split("\n")[0], max_positionals=1)  # fmt: skip
        for name in args.tasks:
            get_task(name)  # a data set or a typo fails before the model loads
    except HelpShown:
        return 0
    except PonderError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    gen = load_generator(rest[0] if rest else "tiny", backend=args.backend, **args.gen_options)
    rows = []
    for name in args.tasks:
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
