"""Self-consistency (Wang et al. 2022): sample `budget` responses per problem and return the
most frequent answer. Needs no scorer. Responses without an `<answer>` do not vote; if none
has one, the result has no answer. The returned trace is the first response with the winner."""

from __future__ import annotations

from ponder.search import STRATEGIES
from ponder.search.aggregate import vote
from ponder.search.common import MAX_TOKENS, TEMPERATURE, answer_of, flat_tree, result, sample_responses
from ponder.search.engine import SearchContext
from ponder.types import Problem, SearchResult


@STRATEGIES.register("majority")
def majority(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[SearchResult]:
    outputs = sample_responses(problems, ctx, n=budget, temperature=temperature, max_tokens=max_tokens, seed=seed)
    results = []
    for p, group in zip(problems, outputs):
        answers = [answer_of(c.text, p.task) for c in group]
        winner, tally = vote(answers)
        tree = flat_tree(ctx.prompt(p), group)
        chosen = None if winner is None else 1 + answers.index(winner)
        results.append(result(tree, chosen, votes=tally))
    return results
