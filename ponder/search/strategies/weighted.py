"""Weighted best-of-N (Li et al. 2023, "weighted majority"): sample `budget` responses, score each
with an outcome scorer, and return the answer whose responses' scores sum highest. The trace
returned is that answer's best-scoring response."""

from __future__ import annotations

from ponder.search import STRATEGIES
from ponder.search.aggregate import vote
from ponder.search.common import MAX_TOKENS, TEMPERATURE, answer_of, flat_tree, result, sample_responses
from ponder.search.engine import SearchContext
from ponder.search.strategies.best_of_n import score_groups
from ponder.types import Problem, SearchResult


@STRATEGIES.register("weighted")
def weighted(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
    agg: str = "min",
) -> list[SearchResult]:
    outputs = sample_responses(problems, ctx, n=budget, temperature=temperature, max_tokens=max_tokens, seed=seed)
    scores = score_groups(problems, ctx, outputs, agg)
    results = []
    for p, group, s in zip(problems, outputs, scores):
        answers = [answer_of(c.text, p.task) for c in group]
        winner, tally = vote(answers, s)
        tree = flat_tree(ctx.prompt(p), group, s)
        chosen = None
        if winner is not None:
            chosen = 1 + max((j for j, a in enumerate(answers) if a == winner), key=lambda j: (s[j], -j))
        results.append(result(tree, chosen, weights=tally))
    return results
