"""Best-of-N: sample `budget` responses per problem, score each with an outcome scorer (no
reference answer), return the highest-scoring one (first on ties). A step-only scorer is
turned into an outcome score by aggregating its step scores (`agg`: last / min / product / mean)."""

from __future__ import annotations

from ponder.gen.groups import Groups
from ponder.search import STRATEGIES
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, sample_responses
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.types import Completion, Pick, Problem, Step


def score_groups(
    problems: list[Problem], ctx: SearchContext, outputs: list[list[Completion]], agg: str
) -> list[list[float]]:
    """Outcome scores of every sampled response of every problem, in ONE scorer call."""
    groups = Groups(problems, outputs)
    flat_s = ctx.score(groups.flat_owners, [Step.of(c) for c in groups.flat], groups.flat_index, agg=agg)
    return groups.unflatten(flat_s)


@STRATEGIES.register("best_of_n")
def best_of_n(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
    agg: str = "min",
) -> list[Pick]:
    outputs = sample_responses(problems, ctx, n=budget, temperature=temperature, max_tokens=max_tokens, seed=seed)
    scores = score_groups(problems, ctx, outputs, agg)
    forest = Forest(ctx, problems)
    picks = []
    for i, (group, s) in enumerate(zip(outputs, scores)):
        best = max(range(len(group)), key=lambda j: (s[j], -j))
        forest.add_samples(i, group, s)
        picks.append(forest.pick(i, 1 + best, best_score=s[best]))
    return picks
