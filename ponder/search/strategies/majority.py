"""Self-consistency (Wang et al. 2022): sample `budget` responses per problem and return the
most frequent answer. Needs no scorer. Responses without an `<answer>` do not vote; if none
has one, the result has no answer. The returned trace is the first response with the winner."""

from __future__ import annotations

from typing import Any

from ponder.answers import answer_of
from ponder.search import STRATEGIES
from ponder.search.aggregate import vote
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, sample_responses
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.types import Completion, Pick, Problem


@STRATEGIES.register("majority")
def majority(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    outputs = sample_responses(problems, ctx, n=budget, temperature=temperature, max_tokens=max_tokens, seed=seed)
    forest = Forest(ctx, problems)
    return [vote_pick(forest, i, group) for i, group in enumerate(outputs)]


def vote_pick(forest: Forest, i: int, group: list[Completion], **meta: Any) -> Pick:
    """Problem i's samples as a flat tree, the first response with the most frequent answer chosen."""
    answers = [answer_of(c.text, forest.problems[i].task) for c in group]
    winner, tally = vote(answers)
    forest.add_samples(i, group)
    chosen = None if winner is None else 1 + answers.index(winner)
    return forest.pick(i, chosen, votes=tally, **meta)
