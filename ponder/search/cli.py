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

    task: a task name (ponder tasks), a data set (gsm8k, math500, game24, humaneval, mbpp) or a problems .jsonl
    n: number of problems to draw (with --task)
    split: the data set's split (with a data-set --task; null: its default)
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
    prompt: prompt format (r1, boxed, code, plain, tiny; null: tiny for built-in models, else by task, docs/tasks.md)
    max_tokens: cap on generated tokens per response, for every strategy (null: the strategy's default, 256)
    temperature: sampling temperature, for strategies that sample (null: the strategy's default)
    top_p: nucleus sampling, for strategies that take it (null: the strategy's default)
    tree: write the search trees to this self-contained HTML page
    json: write the results: FILE.jsonl one record per line (ponder/records.py), FILE.json one object with trees
    quiet: print only the summary table, no progress
    """

    task: str | None = None
    n: int = 1
    split: str | None = None
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
    prompt: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    tree: str | None = None
    json: str | None = None
    quiet: bool = False


def parse_solve(argv: list[str]) -> tuple[SolveConfig, str | None]:
    """(config, the problem text or None) from `ponder solve` arguments."""
    from ponder.cliargs import parse_cli

    cfg, rest = parse_cli(SolveConfig, argv, prog="ponder solve [TEXT] [--key=value ...]", doc=__doc__,
                          max_positionals=1)  # fmt: skip
    return cfg, (rest[0] if rest else None)


def resolve_plan(cfg: SolveConfig, has_step_checker: bool = True) -> tuple[str, int, dict[str, Any], str | None]:
    """Strategy, budget and options from --effort (adapted to a task without a step checker),
    then --strategy/--budget/--scorer/--options on top; and the line saying what the effort runs."""
    from ponder.search.effort import effort_for

    if cfg.effort and cfg.strategy:
        raise PonderError("give --effort or --strategy, not both")
    strategy, budget, options, note = cfg.strategy or "greedy", 1, {}, None
    if cfg.effort:
        e, note = effort_for(cfg.effort, has_step_checker)
        strategy, budget, options = e.strategy, e.budget, dict(e.options)
    budget = cfg.budget if cfg.budget is not None else budget
    if cfg.scorer:
        options["scorer"] = cfg.scorer
    options.update(sampling_options(strategy, cfg))
    options.update(cfg.options)
    return strategy, budget, options, note


def sampling_options(strategy: str, cfg: SolveConfig) -> dict[str, Any]:
    """--max-tokens / --temperature as the strategy's own options; one the strategy has no knob
    for is an error naming the knobs it has (greedy's temperature is 0 by definition). --top-p is
    not here: run_search applies it to every sampled call of any strategy (gen/nucleus.py)."""
    import inspect

    from ponder.search import STRATEGIES

    given = {k: v for k, v in (("max_tokens", cfg.max_tokens), ("temperature", cfg.temperature)) if v is not None}
    knobs = set(inspect.signature(STRATEGIES.get(strategy)).parameters)
    for key in given:
        if key not in knobs:
            has = [f"--{k.replace('_', '-')}" for k in ("max_tokens", "temperature") if k in knobs]
            raise PonderError(f"strategy {strategy!r} has no {key} knob; it takes {', '.join(has + ['--top-p'])}")
    return given


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
    """--task's problems, free text in --task's format (no reference), or free text any built-in
    task's parser reads."""
    from ponder.tasks import TASKS, detect_task, load_task, task_names

    if text and cfg.task:
        if cfg.task in TASKS.names():
            p = TASKS.build(cfg.task).parse(text)
            if p is None:
                raise PonderError(f"could not read {text!r} as a {cfg.task} problem")
            return [Problem(id="input", task=p.task, question=p.question, answer=p.answer, meta=p.meta, info=p.info)]
        if cfg.task not in task_names():
            raise PonderError(f"unknown task {cfg.task!r}; known: {', '.join(task_names())}")
        return [Problem(id="input", task=load_task_name(cfg.task), question=text)]
    if cfg.task:
        if cfg.n < 1:
            raise PonderError(f"--n must be >= 1, got {cfg.n}")
        return load_task(cfg.task, cfg.n, cfg.level, cfg.seed, cfg.split)
    if not text:
        raise PonderError("nothing to solve: give a problem as text (e.g. '12+7*(3-1)') or --task NAME --n K")
    p = detect_task(text)
    return [Problem(id="input", task=p.task, question=p.question, answer=p.answer, meta=p.meta, info=p.info)]


def load_task_name(name: str) -> str:
    """The `task` a data set's problems carry (math500 -> math)."""
    from ponder.tasks import ALIASES

    return ALIASES.get(name, name)


def _reference_free(task: str) -> bool:
    """Built-in tasks whose checker needs no reference (Countdown: any valid expression counts)."""
    from ponder.tasks import TASKS, get_task

    return task in TASKS and get_task(task).reference_free


def _search(cfg: SolveConfig, strategy: str, budget: int, scorer: str | None, options: dict, problems: list):
    """(rendered prompts, results): run_search with a live line on stderr (generator calls,
    tokens, seconds) on a terminal."""
    from ponder.gen import load_generator
    from ponder.prompts import PromptedGenerator, default_prompt

    gen = load_generator(cfg.model, backend=cfg.backend, model_params=cfg.model_params, **cfg.gen_options)
    cfg.prompt = cfg.prompt or default_prompt(cfg.model, problems[0].task)
    gen = PromptedGenerator(gen, cfg.prompt)
    prompts = [gen.render(p.question) for p in problems]
    if cfg.top_p is not None:
        options = {**options, "top_p": cfg.top_p}
    return prompts, _run(cfg, gen, strategy, budget, scorer, options, problems)


def _run(cfg: SolveConfig, gen, strategy: str, budget: int, scorer: str | None, options: dict, problems: list):
    import sys
    import time

    from rich.console import Console

    from ponder.gen.counting import CountingGenerator

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
    from ponder.io import write_json, write_jsonl
    from ponder.tasks import require_step_checker, step_checker_task
    from ponder.verify import verify

    cfg, text = parse_solve(argv)
    resolve_plan(cfg)  # bad flags fail before the problems are read
    if cfg.prompt is not None:
        from ponder.prompts import get_prompt

        get_prompt(cfg.prompt)  # an unknown name fails here, before any model loads
    problems = load_problems(cfg, text)
    checked = all(step_checker_task(p.task) is not None for p in problems)
    strategy, budget, options, note = resolve_plan(cfg, checked)
    scorer = options.pop("scorer", None)
    scorer_options = dict(cfg.scorer_options)
    check_plan(strategy, budget, scorer, options)
    if scorer == "check":
        require_step_checker(p.task for p in problems)
    if note and not cfg.quiet:
        import sys

        print(note, file=sys.stderr)
    prompts, results = _search(cfg, strategy, budget, scorer, options, problems)
    known = [i for i, p in enumerate(problems) if p.answer is not None or _reference_free(p.task)]
    verdicts = verify([problems[i] for i in known], [results[i].response for i in known]) if known else []
    scores: list = [None] * len(problems)
    for i, s in zip(known, verdicts):
        scores[i] = s
    from ponder.search.solve_output import records, show

    recs = records(problems, results, scores, prompts, cfg.prompt)
    show(recs, cfg.quiet)
    if cfg.json and cfg.json.endswith(".jsonl"):
        write_jsonl(cfg.json, recs)
    elif cfg.json:
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
