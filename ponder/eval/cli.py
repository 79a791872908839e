"""`ponder eval`: run a grid, rebuild a report, or compare two runs.

    ponder eval --tasks countdown --n-problems 200 --strategies greedy,majority,best_of_n,beam,mcts \\
                --budgets 1,4,16,64 --out runs/x             # or --recipe recipes/x.yaml [--key=value ...]
    ponder eval report runs/x                                # summary, plots, report.html again
    ponder eval compare runs/a runs/b                        # side by side, with intervals

A re-run with the same --out skips finished cells; failed cells are listed and retried.
"""

from __future__ import annotations

from typing import Any

from ponder.eval.grid_config import EvalConfig
from ponder.types import PonderError

ALIASES = {"task": "tasks", "model": "models", "strategy": "strategies", "budget": "budgets", "seed": "seeds"}


def build_config(argv: list[str]) -> EvalConfig:
    from ponder.cliargs import parse_cli

    prog = "ponder eval [--recipe F.yaml] [--key=value ...] | ponder eval report RUN | ponder eval compare A B"
    cfg, _ = parse_cli(EvalConfig, argv, prog=prog, doc=__doc__, aliases=ALIASES, recipe=True)
    return cfg


def run(cfg: EvalConfig, backends: Any = None) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ponder.eval.finalize import finalize
    from ponder.eval.grid import default_backends, run_grid

    be = backends or default_backends(cfg.gen_options, cfg.model_params)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task("eval", total=None)

        def progress(desc: str, advance: int, total: int | None) -> None:
            bar.update(task, description=desc[-70:], advance=advance, **({"total": total} if total is not None else {}))

        be.progress = progress
        run_grid(cfg, be)
    rows = finalize(cfg.out)
    return _print_rows(rows, cfg.out)


def _print_rows(rows: list[dict[str, Any]], out: str) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{out}/summary.json")
    for col in ("task", "model", "strategy", "budget", "accuracy", "95% CI", "tokens/problem", "seconds"):
        table.add_column(col)
    for r in rows:
        if r["status"] == "ok":
            ci = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
            vals = (f"{r['accuracy']:.3f}", ci, f"{r['mean_generated_tokens']:.1f}", f"{r['seconds']:.1f}")
        else:
            vals = ("FAILED", (r.get("error") or "")[:60], "", "")
        table.add_row(r["task"], r["model"], r["strategy"], str(r["budget"]), *vals)
    console = Console()
    if not console.is_terminal:  # a pipe or log file: wide enough for every column
        console = Console(width=150)
    console.print(table)
    console.print(f"wrote {out}/results.jsonl, summary.json, adaptive.json, plots/, report.html")
    failed = sum(r["status"] != "ok" for r in rows)
    if failed:
        console.print(
            f"{failed} configurations failed (errors in {out}/cells.json); re-run the same command to retry them"
        )
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "compare":
        if len(argv) != 3:
            raise PonderError("usage: ponder eval compare RUN_A RUN_B")
        from ponder.eval.compare import compare_runs, print_comparison

        print_comparison(compare_runs(argv[1], argv[2]), argv[1], argv[2])
        return 0
    if argv and argv[0] == "report":
        if len(argv) != 2:
            raise PonderError("usage: ponder eval report RUN")
        from ponder.eval.finalize import finalize

        return _print_rows(finalize(argv[1]), argv[1])
    return run(build_config(argv))
