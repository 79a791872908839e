"""Run an evaluation grid: tasks x models x strategies x budgets x seeds, resumable.

Per (model, task, seed), the pool cells share one pool of `pool_size` samples per problem,
sampled once (and saved) only if one of them is unfinished; each search cell runs its
strategy once. Finished cells (cells.json says "ok") are skipped on a re-run. A cell that
raises is recorded with its error and the grid goes on; `PonderError`s in the set-up of a
task or model (bad data file, missing weights) mark all of its cells and go on too.
The work goes out as items (grid_work.py) to an executor: `local` runs them in order in this
process; `ray` runs them as Ray tasks, in parallel. Either way the driver writes each item's
pool and cells as it finishes, so a re-run after a crash of the driver resumes the same way.
Left out: splitting a cell's problems across workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ponder.eval import cells as C
from ponder.eval.grid_config import (
    POOL_STRATEGIES,
    Cell,
    EvalConfig,
    cells,
    load_problems,
    pool_size,
    search_options,
    split_task,
    validate,
)
from ponder.eval.grid_work import CellError, WorkItem, WorkResult, for_workers, run_item
from ponder.eval.sample_pool import ProblemPool, ScoreFn, VerifyFn, load_pool, named_scorer, save_pool
from ponder.eval.store import RunStore
from ponder.eval.summary import summarize
from ponder.executor import Executor, make_executor
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


def _items(todo: Sequence[Cell], cfg: EvalConfig, store: RunStore, be: Backends) -> list[WorkItem]:
    """Per model x task x seed (in grid order): its pool cells as one item (with the saved pool,
    if there is one), then each search cell as an item of its own."""
    groups: dict[tuple, list[Cell]] = {}
    for cell in todo:
        groups.setdefault((cell.model, cell.task, cell.seed), []).append(cell)
    items = []
    for (model, task, seed), group in groups.items():
        pooled = [c for c in group if c.pooled]
        if pooled:
            path = store.pool_path(task, model, seed)
            items.append(WorkItem(pooled, _saved_pool(path, task, cfg, be)))
        items += [WorkItem([c]) for c in group if not c.pooled]
    return items


def _saved_pool(path: Path, task: str, cfg: EvalConfig, be: Backends) -> list[ProblemPool] | None:
    """The pool a previous run saved (None: none, or the task fails; its item then says why)."""
    if not path.is_file():
        return None
    try:
        problems = be.get_problems(task, cfg)
    except Exception:
        return None
    return load_pool(path, [p.id for p in problems], pool_size(cfg))


def _refs(cells_: Sequence[Cell], store: RunStore) -> dict[str, tuple[str, str]]:
    return {c.key: (str(store.pool_path(c.task, c.model, c.seed).relative_to(store.out)),
                    str(store.tree_path(c).relative_to(store.out))) for c in cells_}  # fmt: skip


def _knobs(be: Backends, strategy: str) -> Any:
    """The strategy's parameter names (which of --max-tokens / --temperature it takes)."""
    import inspect

    fn = be.check_strategy(strategy)
    return inspect.signature(fn).parameters if callable(fn) else ("max_tokens", "temperature")


def _options(cells_: Sequence[Cell], cfg: EvalConfig, be: Backends) -> dict[str, dict[str, Any] | None]:
    """Each search strategy's run_search options, settled in the driver (it has the registry)."""
    names = {c.strategy for c in cells_ if not c.pooled}
    return {name: search_options(name, _knobs(be, name), cfg) for name in names}


def _save(item: WorkItem, result: WorkResult, store: RunStore, be: Backends) -> None:
    """In the driver: the item's new pool, then each cell's output or error."""
    if result.new_pools is not None:
        c = item.cells[0]
        save_pool(store.pool_path(c.task, c.model, c.seed), result.new_pools)
    for cell, out in result.outputs:
        if isinstance(out, CellError):
            log.warning("cell %s failed: %s", cell.key, out)
            store.save_error(cell, out)
        else:
            store.save_ok(cell, out)
        be.progress(cell.key, 1, None)


def run_grid(cfg: EvalConfig, be: Backends, executor: Executor | None = None) -> list[dict[str, Any]]:
    """Run every unfinished cell on `executor` (default: the one cfg names), then write
    summary.json; returns the summary rows."""
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
    with make_executor(cfg) if executor is None else nullcontext(executor) as ex:
        items = _items(todo, cfg, store, be)
        worker_be = be if ex.name == "local" else for_workers(be)
        fn = partial(run_item, cfg=cfg, be=worker_be, refs=_refs(todo, store), options=_options(todo, cfg, be))
        ex.map(fn, items, on_result=lambda i, result: _save(items[i], result, store, be))
    return write_summary(store)


def write_summary(store: RunStore) -> list[dict[str, Any]]:
    rows = summarize(store.results(), list(store.cell_rows().values()))
    write_json(store.summary_path, rows)
    return rows
