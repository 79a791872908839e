"""Step-level beam search scored by a StepScorer (Snell et al. 2024; search-and-learn's layout).

Budget N samples' worth, `width` M expansions per beam: the root is expanded N times, then the
N/M best distinct unfinished paths are kept and each is expanded M times, so every depth
generates about N steps and the whole search about N responses' worth of tokens. Paths are
ranked by their aggregated step scores (`agg`). A path ends at `</answer>`, end of sequence,
`max_tokens` of trace, or `max_depth` steps; the search stops for a problem once it has N/M
finished paths or no beams. The answer is the best finished path (`pick="best"`) or a
score-weighted vote over finished paths (`pick="vote"`). All problems' beams advance together:
one generator call and one scorer call per depth. `agg` defaults to "min" (see dvts.py for the
measurement behind that choice).
"""

from __future__ import annotations

from ponder.answers import answer_of
from ponder.search import STRATEGIES
from ponder.search.aggregate import vote
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, call_seed
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest, NodeRef, top_distinct
from ponder.types import Pick, PonderError, Problem

PICKS = ("best", "vote")


def pick_final(forest: Forest, i: int, finished: list[NodeRef], active: list[NodeRef], pick: str) -> int | None:
    """The chosen node of problem i: among finished paths if any, else the best unfinished one."""
    pool = finished or active
    if not pool:
        return None
    if pick == "vote":
        answers = [answer_of(forest.prefix(r)) for r in pool]
        winner, _ = vote(answers, [forest.node(r).value for r in pool])
        if winner is not None:
            pool = [r for r, a in zip(pool, answers) if a == winner]
    return max(pool, key=lambda r: forest.node(r).value)[1]


@STRATEGIES.register("beam")
def beam(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    width: int = 4,
    max_depth: int = 40,
    agg: str = "min",
    pick: str = "best",
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    if width < 1 or max_depth < 1 or pick not in PICKS:
        raise PonderError(
            f"beam needs width >= 1, max_depth >= 1 and pick in {PICKS}; got {width}, {max_depth}, {pick!r}"
        )
    n_beams = max(1, budget // width)
    forest = Forest(ctx, problems)
    active: list[list[NodeRef]] = [[(i, 0)] for i in range(len(problems))]
    finished: list[list[NodeRef]] = [[] for _ in problems]
    for depth in range(max_depth):
        frontier = [r for i, a in enumerate(active) if len(finished[i]) < n_beams for r in a]
        if not frontier:
            break
        n = budget if depth == 0 else min(width, budget)
        kids = forest.expand(
            frontier, n=n, temperature=temperature, seed=call_seed(seed, "beam", depth), max_tokens=max_tokens
        )
        flat = [k for group in kids for k in group]
        forest.score(flat, agg)
        active = [[] for _ in problems]
        for r in flat:
            (finished if forest.node(r).terminal or depth == max_depth - 1 else active)[r[0]].append(r)
        active = [top_distinct(forest, a, n_beams) for a in active]
    return [
        forest.pick(i, pick_final(forest, i, finished[i], active[i], pick), finished=len(finished[i]))
        for i in range(len(problems))
    ]
