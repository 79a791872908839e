"""The grid's units of work, as an executor runs them (in this process or in a Ray worker).

Two kinds: a pool item (the pool cells of one model x task x seed: sample the pool unless the
driver sent the saved one, then read every pool cell off it) and a search item (one search
cell). A worker builds the generator and the problems once and keeps them in the executor's
cache. Items return what the driver writes: new pools and, per cell, its output or its error
(as text, so any exception crosses a process boundary); the driver alone touches the run folder.
Left out: splitting one cell's problems across workers (a cell is the smallest unit).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ponder.eval import cells as C
from ponder.eval.grid_config import Cell, EvalConfig, pool_max_tokens, pool_size, pool_temperature
from ponder.eval.sample_pool import ProblemPool, build_pool, confidence_scores
from ponder.executor import cached
from ponder.types import Generator, Problem


class CellError(Exception):
    """A cell's failure as it is recorded: `Type: message` of the original exception."""


@dataclass
class WorkItem:
    cells: list[Cell]  # all pooled (one model x task x seed) or one search cell
    pools: list[ProblemPool] | None = None  # a saved pool the driver read; None: sample it


@dataclass
class WorkResult:
    new_pools: list[ProblemPool] | None  # sampled by this item (the driver saves them)
    outputs: list[tuple[Cell, C.CellOutput | CellError]]


def _error(e: BaseException) -> CellError:
    return e if isinstance(e, CellError) else CellError(f"{type(e).__name__}: {e}")


def _setup(cell: Cell, cfg: EvalConfig, be: Any, cache: dict) -> tuple[Generator, list[Problem]]:
    """The model's generator rendering with the run's prompt format (per model and task), and the
    task's problems; both built once per worker and run."""
    from ponder.prompts import prompted

    gen = cached(cache, ("gen", cell.model), lambda: be.make_gen(cell.model))
    problems = cached(cache, ("task", cell.task), lambda: be.get_problems(cell.task, cfg))
    if cfg.scorer == "check":
        from ponder.tasks import require_step_checker

        require_step_checker(p.task for p in problems)
    key = ("prompted", cell.model, cell.task)
    return cached(cache, key, lambda: prompted(gen, cell.model, problems[0].task, cfg.prompt)), problems


def _pool(cell: Cell, problems: list[Problem], gen: Generator, cfg: EvalConfig, be: Any) -> list[ProblemPool]:
    score_fn = confidence_scores if cfg.scorer is None else be.pool_score_fn(cfg.scorer, gen, **cfg.scorer_options)
    what = f"sampling pool {cell.task} seed {cell.seed}"

    def on_batch(done: int) -> None:  # shown by the local executor; a no-op in a Ray worker
        be.progress(f"{what}: {done}/{len(problems)} problems", 0, None)

    from ponder.answers import answering
    from ponder.gen.nucleus import with_top_p

    with answering(getattr(getattr(gen, "format", None), "answer", None)):  # pooled votes follow the format
        return build_pool(problems, with_top_p(gen, cfg.top_p), n=pool_size(cfg), temperature=pool_temperature(cfg),
                          max_tokens=pool_max_tokens(cfg), seed=cell.seed, verify_fn=be.verify_fn,
                          score_fn=score_fn, batch_size=cfg.batch_size, on_batch=on_batch)  # fmt: skip


def _cell_output(cell: Cell, problems: list[Problem], gen: Generator, pools: Any, refs: tuple[str, str],
                 cfg: EvalConfig, be: Any, options: dict[str, Any] | None) -> C.CellOutput:  # fmt: skip
    if cell.pooled:
        out = C.pool_records(cell, pools, gen.n_params, refs[0])
    else:
        out = C.search_records(cell, problems, gen, search_fn=be.search_fn, verify_fn=be.verify_fn,
                               scorer=cfg.scorer, scorer_options=cfg.scorer_options, tree_ref=refs[1],
                               options=options)  # fmt: skip
    questions = {p.id: p.question for p in problems}
    fmt = getattr(getattr(gen, "format", None), "name", None)
    for rec in out.records:
        rec["question"] = questions[rec["problem_id"]]
        rec["prompt"], rec["prompt_format"] = gen.render(rec["question"]), fmt
    return out


def run_item(item: WorkItem, cache: dict, cfg: EvalConfig, be: Any, refs: dict[str, tuple[str, str]],
             options: dict[str, Any]) -> WorkResult:  # fmt: skip
    """One item's cells; `refs[cell.key]` = (pool ref, tree ref) as the run folder names them,
    `options[strategy]` a search strategy's run_search options."""
    try:
        gen, problems = _setup(item.cells[0], cfg, be, cache)
    except Exception as e:  # a bad task or model fails its own cells only
        return WorkResult(None, [(cell, _error(e)) for cell in item.cells])
    pools, new_pools = item.pools, None
    outputs: list[tuple[Cell, C.CellOutput | CellError]] = []
    for cell in item.cells:
        try:
            if cell.pooled and pools is None:
                pools = new_pools = _pool(cell, problems, gen, cfg, be)
            opts = options.get(cell.strategy)
            outputs.append((cell, _cell_output(cell, problems, gen, pools, refs[cell.key], cfg, be, opts)))
        except Exception as e:  # a crashed cell is recorded and the grid goes on
            outputs.append((cell, _error(e)))
    return WorkResult(new_pools, outputs)


def for_workers(be: Any) -> Any:
    """The backends without what only the driver uses (the progress bar, the name checks):
    neither a rich bar nor a registry's lock crosses a process boundary."""
    return dataclasses.replace(be, progress=_no_progress, check_scorer=_no_check, check_strategy=_no_check)


def _no_progress(desc: str, advance: int, total: int | None) -> None:
    return None


def _no_check(name: str) -> None:
    return None
