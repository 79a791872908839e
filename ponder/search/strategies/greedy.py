"""Greedy chain-of-thought: one response per problem at temperature 0. The budget is ignored
(greedy always spends one sample); it is the baseline every other strategy must beat."""

from __future__ import annotations

from ponder.search import STRATEGIES
from ponder.search.calls import MAX_TOKENS, sample_responses
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.types import Pick, Problem


@STRATEGIES.register("greedy")
def greedy(
    problems: list[Problem], ctx: SearchContext, *, budget: int, seed: int, max_tokens: int = MAX_TOKENS
) -> list[Pick]:
    outputs = sample_responses(problems, ctx, n=1, temperature=0.0, max_tokens=max_tokens, seed=seed)
    forest = Forest(ctx, problems)
    for i, group in enumerate(outputs):
        forest.add_samples(i, group)
    return [forest.pick(i, 1) for i in range(len(problems))]
