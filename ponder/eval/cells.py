"""Run one cell of the grid and turn it into per-problem records.

Pool cells read a shared pool: `correct` is the expected correctness over all size-k subsets of
the pool (see estimators.py), and the shown `answer`/`trace` are what the strategy picks on the
pool's first k samples (one concrete run). Their cost is k samples' worth of the pool: the prompt
once plus k times the mean generated length; seconds are the same share of the sampling time.
Search cells call the strategy once per budget and verify its final responses.
Left out: charging a learned scorer's FLOPs in pool cells (its calls are counted, not its FLOPs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ponder.eval import estimators as M
from ponder.eval.grid_config import Cell
from ponder.eval.sample_pool import ProblemPool, VerifyFn
from ponder.types import Generator, Problem, SearchResult, flops_estimate

SearchFn = Callable[..., list[SearchResult]]


@dataclass
class CellOutput:
    records: list[dict[str, Any]]
    trees: list[dict[str, Any]]
    seconds: float


def _subset_value(strategy: str, pool: ProblemPool, k: int, seed: int) -> tuple[float, bool]:
    """Expected correctness of `strategy` at budget k over the pool's subsets, and whether exact."""
    samples = pool.metric_samples()
    if strategy == "pass":
        return M.pass_at_k(len(samples), sum(s.correct for s in samples), k), True
    if strategy == "best_of_n":
        return M.best_of_k(samples, k).value, True
    metric = {"majority": M.maj_at_k, "weighted": M.weighted_vote_at_k}[strategy]
    est = metric(samples, k, seed=seed)
    return est.value, est.exact


def _first_k_choice(strategy: str, pool: ProblemPool, k: int) -> int:
    """Index of the sample the strategy picks from the pool's first k samples (earliest on ties)."""
    first = pool.samples[:k]
    if strategy == "pass":  # oracle: any correct sample
        return next((i for i, s in enumerate(first) if s.correct), 0)
    if strategy == "best_of_n":
        return max(range(k), key=lambda i: (first[i].score, -i))
    weights: dict[str, float] = {}
    for s in first:
        if s.key is not None:
            weights[s.key] = weights.get(s.key, 0.0) + (s.score if strategy == "weighted" else 1.0)
    if not weights:
        return 0
    top = max(weights.values())
    winner = next(s.key for s in first if s.key is not None and weights[s.key] == top)
    return next(i for i, s in enumerate(first) if s.key == winner)


def pool_records(cell: Cell, pools: Sequence[ProblemPool], n_params: int | None, pool_ref: str) -> CellOutput:
    start = time.perf_counter()
    records = []
    for pool in pools:
        n, k = len(pool.samples), cell.budget
        value, exact = _subset_value(cell.strategy, pool, k, cell.seed)
        pick = pool.samples[_first_k_choice(cell.strategy, pool, k)]
        gen_tokens = k * pool.mean_tokens()
        records.append(
            _record(cell, pool.problem_id, pick.key, value, gen_tokens, pool.prompt_tokens, n_params)
            | {
                "exact": exact,
                "seconds": pool.seconds * k / n,
                "trace": pick.text,
                "trace_correct": pick.correct,
                "pool": f"{pool_ref}#{pool.problem_id}",
                "tree_id": None,
            }
        )
    return CellOutput(records, [], time.perf_counter() - start)


def _record(
    cell: Cell,
    pid: str,
    answer: str | None,
    correct: float,
    gen_tokens: float,
    prompt_tokens: int,
    n_params: int | None,
) -> dict[str, Any]:
    return {
        "cell": cell.key, "task": cell.task, "model": cell.model, "strategy": cell.strategy,
        "budget": cell.budget, "seed": cell.seed, "problem_id": pid, "answer": answer,
        "correct": float(correct), "generated_tokens": float(gen_tokens), "prompt_tokens": prompt_tokens,
        "flops": flops_estimate(n_params, prompt_tokens + gen_tokens),
    }  # fmt: skip


def search_records(
    cell: Cell,
    problems: Sequence[Problem],
    gen: Generator,
    *,
    search_fn: SearchFn,
    verify_fn: VerifyFn,
    scorer: Any,
    tree_ref: str,
    scorer_options: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> CellOutput:
    """Run a search strategy on public copies of the problems, then verify its responses."""
    start = time.perf_counter()
    public = [p.public() for p in problems]
    results = search_fn(
        cell.strategy,
        public,
        gen,
        budget=cell.budget,
        scorer=scorer,
        scorer_options=scorer_options or None,
        seed=cell.seed,
        **(options or {}),
    )
    by_id = {r.problem_id: r for r in results}
    missing = [p.id for p in problems if p.id not in by_id]
    if missing:
        raise RuntimeError(
            f"strategy {cell.strategy!r} returned no result for {len(missing)} problems (first: {missing[0]})"
        )
    ordered = [by_id[p.id] for p in problems]
    scores = verify_fn(list(problems), [r.response for r in ordered])
    records, trees = [], []
    for p, r, s in zip(problems, ordered, scores):
        rec = _record(cell, p.id, r.answer, float(s.correct), r.cost.generated_tokens, r.cost.prompt_tokens, 0)
        rec |= {"flops": r.cost.flops, "exact": True, "seconds": r.cost.seconds, "trace": r.response,
                "trace_correct": s.correct, "parsed": s.parsed, "tree_id": f"{tree_ref}#{p.id}"}  # fmt: skip
        records.append(rec)
        trees.append({"problem_id": p.id, "tree": [vars(node) for node in r.tree], "meta": r.meta})
    return CellOutput(records, trees, time.perf_counter() - start)
