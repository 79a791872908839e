"""`ponder eval`: run a grid, rebuild a report, or compare two runs.

    ponder eval --tasks countdown --n-problems 200 --strategies greedy,majority,best-of-n,beam,mcts \\
                --budgets 1,4,16,64 --out runs/x            # or --recipe recipes/x.yaml [key=value ...]
    ponder eval report runs/x                                # summary, plots, report.html again
    ponder eval compare runs/a runs/b                        # side by side, with intervals

A re-run with the same --out skips finished cells; failed cells are listed and retried.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ponder.eval.grid_config import EvalConfig
from ponder.types import PonderError

LISTS = {"tasks": str, "models": str, "strategies": str, "budgets": int, "seeds": int}
SCALARS = ("n_problems", "problem_seed", "temperature", "max_tokens", "pool_size", "scorer", "batch_size",
           "n_bins", "difficulty_samples", "out", "backend")  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="ponder eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--recipe", help="YAML file with EvalConfig keys; flags and key=value override it")
    for name in LISTS:
        flag = f"--{name}"
        ap.add_argument(
            flag, f"--{name[:-1]}" if name != "strategies" else "--strategy", dest=name, help="comma-separated"
        )
    ap.add_argument(
        "--data", action="append", default=[], metavar="TASK=PATH", help="local data file of a data-set task"
    )
    for name in SCALARS:
        ap.add_argument("--" + name.replace("_", "-"), dest=name)
    ap.add_argument("overrides", nargs="*", help="more config as key=value")
    return ap


def _overrides(args: argparse.Namespace) -> list[str]:
    out = list(args.overrides)
    for name, kind in LISTS.items():
        raw = getattr(args, name)
        if raw is not None:
            try:
                items = [kind(x.strip()) for x in raw.split(",") if x.strip()]
            except ValueError:
                raise PonderError(f"--{name} takes comma-separated {kind.__name__}s, got {raw!r}") from None
            out.append(f"{name}={json.dumps(items)}")
    for name in SCALARS:
        raw = getattr(args, name)
        if raw is not None:
            out.append(f"{name}={json.dumps(raw) if name in ('scorer', 'out', 'backend') else raw}")
    if args.data:
        pairs = [d.split("=", 1) for d in args.data]
        if any(len(p) != 2 for p in pairs):
            raise PonderError("--data takes TASK=PATH, e.g. --data gsm8k=../shared/data/gsm8k/test.jsonl")
        out.append(f"data={json.dumps(dict(pairs))}")
    return out


def build_config(argv: list[str]) -> EvalConfig:
    from ponder.config import load_config

    args = _parser().parse_args(argv)
    return load_config(EvalConfig, args.recipe, _overrides(args))


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
