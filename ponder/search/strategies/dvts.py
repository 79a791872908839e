"""Diverse verifier tree search (DVTS; Beeching, Tunstall & Rush 2024, search-and-learn).

Budget N samples' worth, `width` M: the root is expanded into N/M independent subtrees; each
subtree then runs a greedy beam: its current path is expanded M times and the best child by the
StepScorer (aggregated with `agg`) becomes the new current path, until the path finishes. About
N responses' worth of tokens in all. Independence keeps the subtrees diverse where one beam
search would collapse onto one prefix. The answer is the best finished path (`pick="best"`) or
a score-weighted vote over the subtrees' answers (`pick="vote"`). All subtrees of all problems
advance together: one generator call and one scorer call per depth.

`agg` defaults to "min" (a path is as good as its worst step), not search-and-learn's "last":
with the executable step checker every finished path ends in an answer line the checker cannot
judge, so "last" made all finished subtrees tie and the first to finish won (measured on 200
Countdown problems at budget 16: 0.16 with "last", 0.455 with "min").
"""

from __future__ import annotations

from ponder.search import STRATEGIES
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, call_seed
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest, NodeRef
from ponder.search.strategies.beam import PICKS, pick_final
from ponder.types import Pick, PonderError, Problem


@STRATEGIES.register("dvts")
def dvts(
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
            f"dvts needs width >= 1, max_depth >= 1 and pick in {PICKS}; got {width}, {max_depth}, {pick!r}"
        )
    n_subtrees = max(1, budget // width)
    forest = Forest(ctx, problems)
    roots = forest.expand(
        [(i, 0) for i in range(len(problems))],
        n=n_subtrees,
        temperature=temperature,
        seed=call_seed(seed, "dvts", 0),
        max_tokens=max_tokens,
    )
    current: list[NodeRef] = [r for group in roots for r in group]
    forest.score(current, agg)
    finished: list[NodeRef] = []
    for depth in range(1, max_depth):
        finished += [r for r in current if forest.node(r).terminal]
        current = [r for r in current if not forest.node(r).terminal]
        if not current:
            break
        kids = forest.expand(
            current,
            n=min(width, budget),
            temperature=temperature,
            seed=call_seed(seed, "dvts", depth),
            max_tokens=max_tokens,
        )
        forest.score([k for group in kids for k in group], agg)
        current = [max(group, key=lambda r: forest.node(r).value) for group in kids]
    finished += current  # paths cut by max_depth still compete
    per_problem: list[list[NodeRef]] = [[] for _ in problems]
    for r in finished:
        per_problem[r[0]].append(r)
    return [
        forest.pick(i, pick_final(forest, i, per_problem[i], [], pick), subtrees=n_subtrees)
        for i in range(len(problems))
    ]
