"""Weighted best-of-N (Li et al. 2023, "weighted majority"): sample `budget` responses, score each
with an outcome scorer, and return the answer whose responses' scores sum highest. The trace
returned is that answer's best-scoring response. `weights="borda"` votes with Borda-count weights
of the scores' ranks, (N - rank + 1) ** `borda_power` (Kang et al. 2025, for self-certainty,
whose raw scale says little across problems)."""

from __future__ import annotations

from ponder.answers import answer_of
from ponder.search import STRATEGIES
from ponder.search.aggregate import borda_weights, vote
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, sample_responses
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.search.strategies.best_of_n import score_groups
from ponder.types import Pick, PonderError, Problem

WEIGHTS = ("score", "borda")


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
    weights: str = "score",
    borda_power: float = 1.0,
) -> list[Pick]:
    if weights not in WEIGHTS:
        raise PonderError(f"weighted: weights must be one of {WEIGHTS}, got {weights!r}")
    outputs = sample_responses(problems, ctx, n=budget, temperature=temperature, max_tokens=max_tokens, seed=seed)
    scores = score_groups(problems, ctx, outputs, agg)
    forest = Forest(ctx, problems)
    picks = []
    for i, (group, s) in enumerate(zip(outputs, scores)):
        answers = [answer_of(c.text, problems[i].task) for c in group]
        winner, tally = vote(answers, s if weights == "score" else borda_weights(s, borda_power))
        forest.add_samples(i, group, s)
        chosen = None
        if winner is not None:
            chosen = 1 + max((j for j, a in enumerate(answers) if a == winner), key=lambda j: (s[j], -j))
        picks.append(forest.pick(i, chosen, weights=tally))
    return picks
