"""Particle filtering guided by a step scorer (Puri et al. 2025, "A Probabilistic Inference
Approach to Inference-Time Scaling of LLMs using Particle-Based Monte Carlo Methods").

Budget N = particles per problem. Each round every unfinished particle grows by one step (ONE
generator call for all problems), every grown particle is scored (ONE scorer call; its path
value aggregates its step scores with `agg`), and the N particles are resampled with
replacement with probabilities softmax(value / `tau`) over the problem's particles, finished
ones included (a finished particle that is drawn again stays finished and is not grown). Unlike
beam search nothing is cut deterministically: a low-scored partial trace survives with
probability. About N responses' worth of tokens in all. The answer is the best-valued finished
particle (`pick="best"`) or a value-weighted vote over finished particles (`pick="vote"`).
`tau` defaults to 0.2: with the 0/1 step checker a failed check then weighs e^-5 of a passed
one. `agg` defaults to "min" for the reason given in dvts.py. Left out: particle Gibbs and
the paper's ancestor sampling (its_hub has them).
"""

from __future__ import annotations

import random

from ponder.search import STRATEGIES
from ponder.search.aggregate import softmax
from ponder.search.calls import MAX_TOKENS, TEMPERATURE, call_seed
from ponder.search.engine import SearchContext
from ponder.search.forest import Forest, NodeRef
from ponder.search.strategies.beam import PICKS, pick_final
from ponder.types import Pick, PonderError, Problem


def resample(values: list[float], k: int, tau: float, rng: random.Random) -> list[int]:
    """k indices drawn with replacement from softmax(values / tau) (N,) -> (k,)."""
    weights = softmax([v / tau for v in values])
    return rng.choices(range(len(values)), weights=weights, k=k)


@STRATEGIES.register("particle_filter")
def particle_filter(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    tau: float = 0.2,
    agg: str = "min",
    pick: str = "best",
    max_depth: int = 40,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    if tau <= 0 or max_depth < 1 or pick not in PICKS:
        raise PonderError(
            f"particle_filter needs tau > 0, max_depth >= 1, pick in {PICKS}; got {tau}, {max_depth}, {pick!r}"
        )
    forest = Forest(ctx, problems)
    grow = dict(temperature=temperature, max_tokens=max_tokens)
    roots = forest.expand([(i, 0) for i in range(len(problems))], n=budget, seed=call_seed(seed, "pf", 0), **grow)
    particles: list[list[NodeRef]] = [list(g) for g in roots]
    forest.score([r for g in roots for r in g], agg)
    grew = set(range(len(problems)))
    for depth in range(1, max_depth + 1):
        _resample_all(forest, particles, sorted(grew), budget, tau, call_seed(seed, "pf-resample", depth))
        growing = [(i, j) for i, ps in enumerate(particles) for j, r in enumerate(ps) if not forest.node(r).terminal]
        if not growing or depth == max_depth:
            break
        frontier = [particles[i][j] for i, j in growing]
        kids = forest.expand(frontier, n=1, seed=call_seed(seed, "pf", depth), **grow)
        forest.score([g[0] for g in kids], agg)
        for (i, j), g in zip(growing, kids):
            particles[i][j] = g[0]
        grew = {i for i, _ in growing}
    for ps in particles:
        for r in ps:
            forest.node(r).terminal = True  # paths cut by max_depth still compete
    return [
        forest.pick(i, pick_final(forest, i, _distinct(ps), [], pick), distinct=len(set(ps)))
        for i, ps in enumerate(particles)
    ]


def _resample_all(
    forest: Forest, particles: list[list[NodeRef]], which: list[int], k: int, tau: float, seed: int
) -> None:
    for i in which:
        rng = random.Random(call_seed(seed, i))
        values = [forest.node(r).value for r in particles[i]]
        particles[i] = [particles[i][m] for m in resample(values, k, tau, rng)]


def _distinct(refs: list[NodeRef]) -> list[NodeRef]:
    return list(dict.fromkeys(refs))
