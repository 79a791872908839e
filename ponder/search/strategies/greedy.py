"""Greedy chain-of-thought: one response per problem at temperature 0. The budget is ignored
(greedy always spends one sample); it is the baseline every other strategy must beat."""

from __future__ import annotations

from ponder.search import STRATEGIES
from ponder.search.common import MAX_TOKENS, flat_tree, result, sample_responses
from ponder.search.engine import SearchContext
from ponder.types import Problem, SearchResult


@STRATEGIES.register("greedy")
def greedy(
    problems: list[Problem], ctx: SearchContext, *, budget: int, seed: int, max_tokens: int = MAX_TOKENS
) -> list[SearchResult]:
    outputs = sample_responses(problems, ctx, n=1, temperature=0.0, max_tokens=max_tokens, seed=seed)
    return [result(flat_tree(ctx.prompt(p), group), 1) for p, group in zip(problems, outputs)]
