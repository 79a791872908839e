"""`ponder solve`: run a test-time strategy on problems and show the reasoning, the answer,
whether it checks out (when a reference answer is known), and the compute spent.

    ponder solve "12+7*(3-1)"                         # free text in a built-in task's format
    ponder solve --task countdown --n 5 --strategy beam --budget 16 --scorer check
    ponder solve "Use 3 7 12 to make 57" --effort high --tree tree.html --json out.json
    ponder solve --task arithmetic --strategy mcts --budget 8 --scorer check --options.action=tokens
    ponder solve --task countdown --strategy beam --scorer prm --scorer-options.path=runs/prm

Progress (generator calls, tokens, time) goes to stderr on a terminal; --quiet or a pipe keeps it off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ponder.types import PonderError, Problem, SearchResult


@dataclass
class SolveConfig:
    """What `ponder solve` runs; the problem itself is the one positional argument (free text).

    task: draw problems from this built-in task instead of reading free text
    n: number of problems to draw (with --task)
    level: difficulty level (with --task; null: the task's default level)
    seed: seed for drawing problems and for the search
    strategy: search strategy (null: greedy, or the effort preset's); see docs/search.md
    effort: a reasoning-effort level: strategy + budget + thinking-token cap (docs/serve.md)
    think_tokens: cap thinking at this many tokens, then answer (null: the effort's cap, or none)
    budget: samples' worth of compute per problem (null: 1, or the effort preset's)
    scorer: scorer for strategies that need one (check, confidence, judge, prm, orm, ...)
    options: the strategy's own options, e.g. --options.width=4 --options.agg=min
    scorer_options: the scorer's options, e.g. --scorer-options.path=runs/prm (a PRM's folder)
    model: model name, folder, or OpenAI-compatible URL
    backend: hf | vllm for the model (a "vllm:" model prefix does the same)
    model_params: parameter count of a served model (e.g. 7B), for FLOP counts
    gen_options: backend options (gen/options.py), e.g. --gen-options.dtype=bfloat16
    tree: write the search trees to this self-contained HTML page
    json: write the results (and trees) to this JSON file
    quiet: print only the summary table, no progress
    """

    task: str | None = None
    n: int = 1
    level: int | None = None
    seed: int = 0
    strategy: str | None = None
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    think_tokens: int | None = None
    budget: int | None = None
    scorer: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    scorer_options: dict[str, Any] = field(default_factory=dict)
    model: str = "tiny"
    backend: str | None = None
    model_params: str | None = None
    gen_options: dict[str, Any] = field(default_factory=dict)
    tree: str | None = None
    json: str | None = None
    quiet: bool = False


def parse_solve(argv: list[str]) -> tuple[SolveConfig, str | None]:
    """(config, the problem text or None) from `ponder solve` arguments."""
    from ponder.cliargs import parse_cli

    cfg, rest = parse_cli(SolveConfig, argv, prog="ponder solve [TEXT] [--key=value ...]", doc=__doc__,
                          max_positionals=1)  # fmt: skip
    return cfg, (rest[0] if rest else None)


def resolve_plan(cfg: SolveConfig) -> tuple[str, int, dict[str, Any]]:
    """Strategy, budget and options from --effort, then --strategy/--budget/--scorer/--options on top."""
    from ponder.search.effort import resolve_effort

    if cfg.effort and cfg.strategy:
        raise PonderError("give --effort or --strategy, not both")
    strategy, budget, options = resolve_effort(cfg.effort) if cfg.effort else (cfg.strategy or "greedy", 1, {})
    budget = cfg.budget if cfg.budget is not None else budget
    if cfg.scorer:
        options["scorer"] = cfg.scorer
    options.update(cfg.options)
    return strategy, budget, options


def check_plan(strategy: str, budget: int, scorer: str | None, options: dict[str, Any]) -> None:
    """Fail on a bad strategy, budget, option or scorer name before loading any model."""
    from ponder.search import SCORERS, STRATEGIES
    from ponder.search.engine import check_budget, check_options

    check_budget(budget)
    check_options(strategy, STRATEGIES.get(strategy), options)
    if scorer is not None and scorer != "judge":
        SCORERS.get(scorer)


def think_tokens(cfg: SolveConfig) -> int | None:
    """--think-tokens, else the --effort level's thinking cap, else None (uncapped)."""
    from ponder.search.effort import get_effort

    if cfg.think_tokens is not None:
        if cfg.think_tokens < 0:
            raise PonderError(f"--think-tokens must be >= 0, got {cfg.think_tokens}")
        return cfg.think_tokens
    return get_effort(cfg.effort).think_tokens if cfg.effort else None


def search_capped(strategy: str, problems: list[Problem], gen, cap: int | None, **kwargs: Any) -> list[SearchResult]:
    """run_search(strategy, problems, gen, **kwargs), with thinking capped at `cap` tokens (the
    answer forced after it) when given."""
    from ponder.answers import answer_of
    from ponder.search import run_search
    from ponder.search.think_budget import ThinkBudget

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


def load_problems(cfg: SolveConfig, text: str | None) -> list[Problem]:
    from ponder.tasks import detect_task, make_problems

    if text and cfg.task:
        raise PonderError("give a problem as text or --task NAME --n K, not both")
    if cfg.task:
        if cfg.n < 1:
            raise PonderError(f"--n must be >= 1, got {cfg.n}")
        return make_problems(cfg.task, cfg.n, cfg.level, cfg.seed)
    if not text:
        raise PonderError("nothing to solve: give a problem as text (e.g. '12+7*(3-1)') or --task NAME --n K")
    p = detect_task(text)
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


def _search(cfg: SolveConfig, strategy: str, budget: int, scorer: str | None, options: dict, problems: list):
    """run_search with a live line on stderr (generator calls, tokens, seconds) on a terminal."""
    import sys
    import time

    from rich.console import Console

    from ponder.gen import load_generator
    from ponder.gen.counting import CountingGenerator

    gen = load_generator(cfg.model, backend=cfg.backend, model_params=cfg.model_params, **cfg.gen_options)
    cap = think_tokens(cfg)
    console = Console(stderr=True)
    if cfg.quiet or not console.is_terminal or not sys.stderr.isatty():
        return search_capped(strategy, problems, gen, cap, budget=budget, scorer=scorer, seed=cfg.seed,
                          scorer_options=cfg.scorer_options or None, **options)  # fmt: skip
    what = f"{strategy} · budget {budget} · {len(problems)} problem{'s' * (len(problems) != 1)}"
    start = time.perf_counter()
    with console.status(f"solving: {what}") as status:

        def on_call(calls: int, tokens: int) -> None:
            spent = time.perf_counter() - start
            status.update(f"solving: {what} · {calls} generator calls · {tokens:,} tokens · {spent:.0f} s")

        counted = CountingGenerator(gen, on_call)
        return search_capped(strategy, problems, counted, cap, budget=budget, scorer=scorer, seed=cfg.seed,
                          scorer_options=cfg.scorer_options or None, **options)  # fmt: skip


def main(argv: list[str]) -> int:
    from ponder.io import write_json
    from ponder.verify import verify

    cfg, text = parse_solve(argv)
    strategy, budget, options = resolve_plan(cfg)
    scorer = options.pop("scorer", None)
    scorer_options = dict(cfg.scorer_options)
    check_plan(strategy, budget, scorer, options)
    problems = load_problems(cfg, text)
    results = _search(cfg, strategy, budget, scorer, options, problems)
    known = [i for i, p in enumerate(problems) if p.answer is not None or _reference_free(p.task)]
    verdicts = verify([problems[i] for i in known], [results[i].response for i in known]) if known else []
    scores: list = [None] * len(problems)
    for i, s in zip(known, verdicts):
        scores[i] = s
    recs = records(problems, results, scores)
    show(recs, cfg.quiet)
    if cfg.json:
        write_json(
            cfg.json,
            {
                "strategy": strategy,
                "budget": budget,
                "options": options,
                "scorer": scorer,
                "scorer_options": scorer_options,
                "model": cfg.model,
                "seed": cfg.seed,
                "results": recs,
                "trees": [[n.__dict__ for n in r.tree] for r in results],
            },
        )
    if cfg.tree:
        from ponder.search.html import write_tree_html

        write_tree_html(cfg.tree, results, title=f"ponder solve · {strategy} · budget {budget}")
    return 0
