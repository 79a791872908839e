"""`ponder solve`: run a test-time strategy on problems and show the reasoning, the answer,
whether it checks out (when a reference answer is known), and the compute spent.

    ponder solve "12+7*(3-1)"                         # free text in a built-in task's format
    ponder solve --task countdown --n 5 --strategy beam --budget 16 --scorer check
    ponder solve "countdown 3 7 12 -> 45" --effort high --tree tree.html --json out.json
    ponder solve --task countdown --strategy beam --scorer prm -o scorer.path=runs/prm

Options named `scorer.KEY` go to the scorer (e.g. a PRM's folder), the others to the strategy.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ponder.types import PonderError, Problem, SearchResult


def _parser() -> argparse.ArgumentParser:
    from ponder.gen.options import add_backend_args

    ap = argparse.ArgumentParser(
        prog="ponder solve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("text", nargs="?", help="a problem as free text (e.g. '12+7*(3-1)', 'countdown 3 7 12 -> 45')")
    ap.add_argument("--task", help="draw problems from this built-in task instead")
    ap.add_argument("--n", type=int, default=1, help="number of problems to draw (with --task)")
    ap.add_argument(
        "--level", type=int, default=None, help="difficulty level (with --task; default the hardest trained)"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed for drawing problems and for the search")
    ap.add_argument("--strategy", default=None, help="search strategy (default greedy); see docs/search.md")
    ap.add_argument(
        "--effort",
        choices=["none", "minimal", "low", "medium", "high", "xhigh"],
        help="a reasoning-effort level: strategy + budget + thinking-token cap (docs/serve.md)",
    )
    ap.add_argument("--think-tokens", type=int, default=None, help="cap thinking at this many tokens, then answer")
    ap.add_argument("--budget", type=int, default=None, help="samples' worth of compute per problem")
    ap.add_argument(
        "--scorer", default=None, help="scorer for strategies that need one (check, confidence, judge, ...)"
    )
    ap.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="strategy option (scorer.KEY=VALUE: scorer option), repeatable",
    )
    ap.add_argument("--model", default="tiny", help="model name, folder, or OpenAI-compatible URL")
    ap.add_argument("--model-params", default=None, help="parameter count of a served model (e.g. 7B), for FLOP counts")
    add_backend_args(ap)
    ap.add_argument("--tree", type=Path, help="write the search trees as a self-contained HTML page")
    ap.add_argument("--json", type=Path, help="write results as JSON")
    ap.add_argument("--quiet", action="store_true", help="print only the summary table")
    return ap


def parse_options(items: list[str]) -> dict[str, Any]:
    """`key=value` strings -> options, values read as YAML scalars (3 -> int, 0.5 -> float)."""
    from ponder.config import parse_override

    return dict(parse_override(item) for item in items)


def resolve_plan(args: argparse.Namespace) -> tuple[str, int, dict[str, Any]]:
    """Strategy, budget and options from --effort, then --strategy/--budget/--scorer/--option on top."""
    from ponder.search.effort import resolve_effort

    if args.effort and args.strategy:
        raise PonderError("give --effort or --strategy, not both")
    strategy, budget, options = resolve_effort(args.effort) if args.effort else (args.strategy or "greedy", 1, {})
    budget = args.budget if args.budget is not None else budget
    if args.scorer:
        options["scorer"] = args.scorer
    options.update(parse_options(args.option))
    return strategy, budget, options


def check_plan(strategy: str, budget: int, scorer: str | None, options: dict[str, Any]) -> None:
    """Fail on a bad strategy, budget, option or scorer name before loading any model."""
    from ponder.search import SCORERS, STRATEGIES
    from ponder.search.engine import check_budget, check_options

    check_budget(budget)
    check_options(strategy, STRATEGIES.get(strategy), options)
    if scorer is not None and scorer != "judge":
        SCORERS.get(scorer)


def think_tokens(args: argparse.Namespace) -> int | None:
    """--think-tokens, else the --effort level's thinking cap, else None (uncapped)."""
    from ponder.search.effort import get_effort

    if args.think_tokens is not None:
        if args.think_tokens < 0:
            raise PonderError(f"--think-tokens must be >= 0, got {args.think_tokens}")
        return args.think_tokens
    return get_effort(args.effort).think_tokens if args.effort else None


def search_capped(strategy: str, problems: list[Problem], gen, cap: int | None, **kwargs: Any) -> list[SearchResult]:
    """run_search(strategy, problems, gen, **kwargs), with thinking capped at `cap` tokens (the
    answer forced after it) when given."""
    from ponder.search import run_search
    from ponder.search.think_budget import ThinkBudget
    from ponder.steps import answer_of

    if cap is None:
        return run_search(strategy, problems, gen, **kwargs)
    tok = getattr(gen, "tokenizer", None)  # hf / vllm carry one; a remote server may not
    if tok is None:  # count characters: never fewer than tokens, so the cap stays a cap
        capped = ThinkBudget(gen, cap, len)
    else:
        capped = ThinkBudget(gen, cap, lambda t: len(tok(t, add_special_tokens=False)["input_ids"]) if t else 0)
    results = run_search(strategy, problems, capped, **kwargs)
    done = capped.finish([gen.render(p.question) for p in problems], [r.response for r in results])
    for r, text in zip(results, done):
        r.response, r.answer = text, answer_of(text)
    return results


def load_problems(args: argparse.Namespace) -> list[Problem]:
    from ponder.tasks import detect_task, make_problems

    if args.text and args.task:
        raise PonderError("give a problem as text or --task NAME --n K, not both")
    if args.task:
        if args.n < 1:
            raise PonderError(f"--n must be >= 1, got {args.n}")
        return make_problems(args.task, args.n, args.level, args.seed)
    if not args.text:
        raise PonderError("nothing to solve: give a problem as text (e.g. '12+7*(3-1)') or --task NAME --n K")
    p = detect_task(args.text)
    return [Problem(id="input", task=p.task, question=p.question, answer=p.answer, meta=p.meta, info=p.info)]


def records(problems: list[Problem], results: list[SearchResult], scores: list) -> list[dict[str, Any]]:
    out = []
    for p, r, s in zip(problems, results, scores):
        out.append(
            {
                "id": p.id,
                "task": p.task,
                "question": p.question,
                "reference": p.answer,
                "answer": r.answer,
                "response": r.response,
                "correct": None if s is None else s.correct,
                "verdict": None if s is None else s.reason,
                "strategy": r.strategy,
                "cost": r.cost.to_dict(),
                "meta": r.meta,
            }
        )
    return out


def show(recs: list[dict[str, Any]], quiet: bool) -> None:
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    console = Console()
    if not quiet:
        for rec in recs:
            mark = {
                True: "[green]✓ correct[/]",
                False: f"[red]✗ {rec['verdict'] or 'wrong'}[/]",
                None: "[dim]no reference[/]",
            }[rec["correct"]]
            c = rec["cost"]
            body = (
                f"[bold]{rec['question']}[/]\n\n{rec['response']}\n\n[bold]answer:[/] {rec['answer']}   {mark}"
                f"\n[dim]{c['generated_tokens']} generated + {c['prompt_tokens']} prompt tokens, "
                f"{c['gen_calls']} generator / {c['scorer_calls']} scorer calls, {_flops(c['flops'])} FLOPs, {c['seconds']:.2f} s[/]"
            )
            console.print(Panel(body, title=f"{rec['id']} · {rec['strategy']}", expand=False))
    table = Table("problems", "correct", "gen tokens / problem", "FLOPs / problem", "seconds")
    n = len(recs)
    known = [r for r in recs if r["correct"] is not None]
    acc = f"{sum(r['correct'] for r in known)}/{len(known)}" if known else "-"
    table.add_row(
        str(n),
        acc,
        f"{sum(r['cost']['generated_tokens'] for r in recs) / n:.0f}",
        _flops(None if any(r["cost"]["flops"] is None for r in recs) else sum(r["cost"]["flops"] for r in recs) / n),
        f"{recs[0]['meta']['batch_seconds']:.2f}",
    )
    console.print(table)


def _flops(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3g}"


def _reference_free(task: str) -> bool:
    """Built-in tasks whose checker needs no reference (Countdown: any valid expression counts)."""
    from ponder.tasks import TASKS, get_task

    return task in TASKS and get_task(task).reference_free


def main(argv: list[str]) -> int:
    from ponder.gen import load_generator
    from ponder.gen.options import backend_kwargs
    from ponder.io import write_json
    from ponder.verify import verify

    args = _parser().parse_args(argv)
    strategy, budget, options = resolve_plan(args)
    scorer = options.pop("scorer", None)
    scorer_options = {k.removeprefix("scorer."): options.pop(k) for k in list(options) if k.startswith("scorer.")}
    check_plan(strategy, budget, scorer, options)
    cap = think_tokens(args)
    problems = load_problems(args)
    gen = load_generator(args.model, model_params=args.model_params, **backend_kwargs(args))
    results = search_capped(
        strategy,
        problems,
        gen,
        cap,
        budget=budget,
        scorer=scorer,
        scorer_options=scorer_options,
        seed=args.seed,
        **options,
    )
    known = [i for i, p in enumerate(problems) if p.answer is not None or _reference_free(p.task)]
    verdicts = verify([problems[i] for i in known], [results[i].response for i in known]) if known else []
    scores: list = [None] * len(problems)
    for i, s in zip(known, verdicts):
        scores[i] = s
    recs = records(problems, results, scores)
    show(recs, args.quiet)
    if args.json:
        write_json(
            args.json,
            {
                "strategy": strategy,
                "budget": budget,
                "options": options,
                "scorer": scorer,
                "scorer_options": scorer_options,
                "model": args.model,
                "seed": args.seed,
                "results": recs,
                "trees": [[n.__dict__ for n in r.tree] for r in results],
            },
        )
    if args.tree:
        from ponder.search.html import write_tree_html

        write_tree_html(args.tree, results, title=f"ponder solve · {strategy} · budget {budget}")
    return 0
