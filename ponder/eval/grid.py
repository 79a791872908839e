"""Run an evaluation grid: tasks x models x strategies x budgets x seeds, resumable.

Per (model, task, seed), the pool cells share one pool of `pool_size` samples per problem,
sampled once (and saved) only if one of them is unfinished; each search cell runs its
strategy once. Finished cells (cells.json says "ok") are skipped on a re-run. A cell that
raises is recorded with its error and the grid goes on; `PonderError`s in the set-up of a
task or model (bad data file, missing weights) mark all of its cells and go on too.
Left out: running cells in parallel (the generator already batches across problems).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.eval import cells as C
from ponder.eval.grid_config import (
    POOL_STRATEGIES,
    Cell,
    EvalConfig,
    cells,
    load_problems,
    pool_max_tokens,
    pool_size,
    pool_temperature,
    search_options,
    split_task,
    validate,
)
from ponder.eval.sample_pool import (
    ProblemPool,
    ScoreFn,
    VerifyFn,
    build_pool,
    confidence_scores,
    load_pool,
    named_scorer,
    save_pool,
)
from ponder.eval.store import RunStore
from ponder.eval.summary import summarize
from ponder.io import write_json
from ponder.types import Generator, Problem

log = logging.getLogger(__name__)


@dataclass
class Backends:
    """Where the grid gets its parts; tests swap in fakes, the CLI uses the defaults."""

    make_gen: Callable[[str], Generator]
    get_problems: Callable[[str, EvalConfig], list[Problem]] = load_problems
    verify_fn: VerifyFn | None = None
    search_fn: C.SearchFn | None = None
    check_scorer: Callable[[str], Any] = field(default=lambda name: None)  # raises on unknown names
    check_strategy: Callable[[str], Any] = field(default=lambda name: None)  # raises on unknown names
    pool_score_fn: Callable[..., ScoreFn] = named_scorer  # (name, gen, **scorer options)
    progress: Callable[[str, int, int | None], None] = field(
        default=lambda desc, advance, total: None
    )  # (what, cells done, total)


def default_backends(gen_options: dict | None = None, model_params: dict[str, str] | None = None) -> Backends:
    """`model_params`: a served model's size by model name (local models count their own)."""
    from ponder.gen import load_generator
    from ponder.search import SCORERS, STRATEGIES, run_search
    from ponder.verify import verify

    def make_gen(model: str) -> Generator:
        return load_generator(model, model_params=(model_params or {}).get(model), **(gen_options or {}))

    return Backends(make_gen=make_gen, verify_fn=verify, search_fn=run_search, check_scorer=SCORERS.get,
                    check_strategy=STRATEGIES.get)  # fmt: skip


def _pool_for(
    group: list[Cell], problems: list[Problem], gen: Generator, cfg: EvalConfig, store: RunStore, be: Backends
) -> list[ProblemPool]:
    path = store.pool_path(group[0].task, group[0].model, group[0].seed)
    n = pool_size(cfg)
    if path.is_file():
        return load_pool(path, [p.id for p in problems], n)
    score_fn = confidence_scores if cfg.scorer is None else be.pool_score_fn(cfg.scorer, gen, **cfg.scorer_options)
    what = f"sampling pool {group[0].task} seed {group[0].seed}"

    def on_batch(done: int) -> None:
        be.progress(f"{what}: {done}/{len(problems)} problems", 0, None)

    from ponder.gen.nucleus import with_top_p

    pools = build_pool(problems, with_top_p(gen, cfg.top_p), n=n, temperature=pool_temperature(cfg),
                       max_tokens=pool_max_tokens(cfg),
                       seed=group[0].seed, verify_fn=be.verify_fn, score_fn=score_fn, batch_size=cfg.batch_size,
                       on_batch=on_batch)  # fmt: skip
    save_pool(path, pools)
    return pools


def _run_cell(
    cell: Cell,
    problems: list[Problem],
    gen: Generator,
    pools: list[ProblemPool] | None,
    store: RunStore,
    be: Backends,
    cfg: EvalConfig,
) -> None:
    if cell.pooled:
        ref = str(store.pool_path(cell.task, cell.model, cell.seed).relative_to(store.out))
        out = C.pool_records(cell, pools, gen.n_params, ref)
    else:
        ref = str(store.tree_path(cell).relative_to(store.out))
        out = C.search_records(cell, problems, gen, search_fn=be.search_fn, verify_fn=be.verify_fn,
                               scorer=cfg.scorer, scorer_options=cfg.scorer_options, tree_ref=ref,
                               options=search_options(cell.strategy, _knobs(be, cell.strategy), cfg))  # fmt: skip
    questions = {p.id: p.question for p in problems}
    fmt = getattr(getattr(gen, "format", None), "name", None)
    for rec in out.records:
        rec["question"] = questions[rec["problem_id"]]
        rec["prompt"], rec["prompt_format"] = gen.render(rec["question"]), fmt
    store.save_ok(cell, out)


def _knobs(be: Backends, strategy: str) -> Any:
    """The strategy's parameter names (which of --max-tokens / --temperature it takes)."""
    import inspect

    fn = be.check_strategy(strategy)
    return inspect.signature(fn).parameters if callable(fn) else ("max_tokens", "temperature")


def _run_group(
    group: list[Cell], problems: list[Problem], gen: Generator, cfg: EvalConfig, store: RunStore, be: Backends
) -> None:
    """The unfinished cells of one (model, task, seed): pool cells first, then search cells."""
    pools = None
    for cell in sorted(group, key=lambda c: not c.pooled):
        be.progress(cell.key, 0, None)
        try:
            if cell.pooled and pools is None:
                pools = _pool_for(group, problems, gen, cfg, store, be)
            _run_cell(cell, problems, gen, pools, store, be, cfg)
        except Exception as e:  # a crashed cell is recorded and the grid goes on
            log.warning("cell %s failed: %s", cell.key, e)
            store.save_error(cell, e)
        be.progress(cell.key, 1, None)


def _groups(todo: Sequence[Cell]) -> dict[tuple, list[Cell]]:
    groups: dict[tuple, list[Cell]] = {}
    for cell in todo:
        groups.setdefault((cell.model, cell.task, cell.seed), []).append(cell)
    return groups


def _setup(model: str, task: str, cache: dict, cfg: EvalConfig, be: Backends) -> tuple[Generator, list[Problem]]:
    """The model's generator rendering with the run's prompt format (per model and task), and the
    task's problems; both cached across seeds."""
    from ponder.prompts import prompted

    if ("gen", model) not in cache:
        cache[("gen", model)] = be.make_gen(model)
    if ("task", task) not in cache:
        cache[("task", task)] = be.get_problems(task, cfg)
    problems = cache[("task", task)]
    if cfg.scorer == "check":
        from ponder.tasks import require_step_checker

        require_step_checker(p.task for p in problems)
    if ("prompted", model, task) not in cache:
        cache[("prompted", model, task)] = prompted(cache[("gen", model)], model, problems[0].task, cfg.prompt)
    return cache[("prompted", model, task)], problems


def run_grid(cfg: EvalConfig, be: Backends) -> list[dict[str, Any]]:
    """Run every unfinished cell, then write summary.json; returns the summary rows."""
    cfg = validate(cfg)
    if cfg.scorer:
        be.check_scorer(cfg.scorer)
    if cfg.scorer == "check":  # named tasks fail here; files and hf: sources when their problems are read
        from ponder.tasks import ALIASES, is_source, require_step_checker

        names = [split_task(t)[0] for t in cfg.tasks]
        require_step_checker(ALIASES.get(n, n) for n in names if is_source(n) and not n.startswith("hf:")
                             and not n.endswith((".jsonl", ".jsonl.gz")))  # fmt: skip
    if cfg.prompt is not None:
        from ponder.prompts import get_prompt

        get_prompt(cfg.prompt)
    for name in cfg.strategies:
        if name not in POOL_STRATEGIES:
            be.check_strategy(name)
    store = RunStore(cfg.out)
    store.start(cfg)
    done = store.finished()
    todo = [c for c in cells(cfg) if c.key not in done]
    be.progress(f"{len(cells(cfg)) - len(todo)} cells already finished", 0, len(todo))
    cache: dict = {}
    for (model, task, _seed), group in _groups(todo).items():
        try:
            gen, problems = _setup(model, task, cache, cfg, be)
        except Exception as e:  # a bad task or model fails its own cells only
            for cell in group:
                store.save_error(cell, e)
                be.progress(cell.key, 1, None)
            continue
        _run_group(group, problems, gen, cfg, store, be)
    return write_summary(store)


def write_summary(store: RunStore) -> list[dict[str, Any]]:
    rows = summarize(store.results(), list(store.cell_rows().values()))
    write_json(store.summary_path, rows)
    return rows
