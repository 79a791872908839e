"""Sampling in waves until a stopping rule is met: the loop behind early-stopped voting (ESC,
Adaptive-Consistency). Each wave draws `wave` more whole responses for every problem still
going, all in ONE generator call; after it, `should_stop(answers so far)` decides per problem.
A problem stops at its rule or when `budget` responses are drawn; its answer is the majority
over every response drawn. The tokens of every drawn response are spent (counted by the
context as usual). Left out: stopping inside a wave (the rule is checked between waves).
"""

from __future__ import annotations

from collections.abc import Callable

from ponder.answers import answer_of
from ponder.search.calls import call_seed
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest
from ponder.search.strategies.majority import vote_pick
from ponder.types import Completion, Pick, PonderError, Problem, SamplingParams

StopRule = Callable[[list[str | None]], bool]


def vote_in_waves(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    wave: int,
    should_stop: StopRule,
    temperature: float,
    max_tokens: int,
    seed: int,
    name: str,
) -> list[Pick]:
    if wave < 1:
        raise PonderError(f"{name}: the wave (window) size must be >= 1, got {wave}")
    drawn: list[list[Completion]] = [[] for _ in problems]
    stopped = [False] * len(problems)
    for k in range(0, budget, wave):
        live = [i for i in range(len(problems)) if not stopped[i]]
        if not live:
            break
        n = min(wave, budget - k)
        params = SamplingParams(n=n, temperature=temperature, max_tokens=max_tokens, seed=call_seed(seed, name, k))
        outs = ctx.generate([ctx.prompt(problems[i]) for i in live], params, owners=live)
        for i, group in zip(live, outs):
            drawn[i] += group
            stopped[i] = should_stop([answer_of(c.text, problems[i].task) for c in drawn[i]])
    forest = Forest(ctx, problems)
    return [vote_pick(forest, i, g, samples=len(g), stopped_early=stopped[i]) for i, g in enumerate(drawn)]
