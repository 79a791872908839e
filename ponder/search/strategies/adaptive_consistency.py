"""Adaptive-Consistency (Aggarwal et al. 2023, "Let's Sample Step by Step: Adaptive-Consistency
for Efficient Reasoning and Coding with LLMs"): sample `step` responses at a time and stop once
the posterior probability that the current leading answer is the true majority reaches
`threshold`. `rule="beta"`: the leader's count v1 against the runner-up's v2, P(p1 > p2) for
p1 ~ Beta(v1 + 1, v2 + 1), in closed form; `rule="dirichlet"`: P(the leader's share is the
largest) under Dirichlet(counts + 1), by `mc_samples` seeded Monte-Carlo draws (the paper's
rule). Unparsed responses do not count. The answer is the majority over all responses drawn;
`budget` is the most per problem. One generator call per step for all problems still sampling.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from ponder.search import STRATEGIES
from ponder.search.calls import MAX_TOKENS, TEMPERATURE
from ponder.search.engine import SearchContext
from ponder.search.waves import vote_in_waves
from ponder.types import Pick, PonderError, Problem

RULES = ("beta", "dirichlet")


def beta_stop_probability(v1: int, v2: int) -> float:
    """P(X > 1/2) for X ~ Beta(v1 + 1, v2 + 1): the posterior probability that the leader (v1
    votes) beats the runner-up (v2) under a uniform prior. With integer parameters a, b,
    P(X <= x) = P(Binomial(a + b - 1, x) >= a), so P(X > 1/2) = P(Binomial(v1 + v2 + 1, 1/2) <= v1)."""
    n = v1 + v2 + 1
    return sum(math.comb(n, k) for k in range(v1 + 1)) / 2**n


def dirichlet_stop_probability(counts: list[int], mc_samples: int, seed: int) -> float:
    """P(component 0 is the largest) for p ~ Dirichlet(counts + 1), counts (K,) with the leader
    first; a Monte-Carlo estimate from `mc_samples` seeded draws (gamma variates normalised)."""
    rng = random.Random(seed)
    wins = 0
    for _ in range(mc_samples):
        draw = [rng.gammavariate(c + 1, 1.0) for c in counts]
        wins += draw[0] >= max(draw)
    return wins / mc_samples


def stop_probability(answers: list[str | None], rule: str, mc_samples: int = 2000, seed: int = 0) -> float:
    """The rule's confidence that the current leader of `answers` is the majority answer."""
    counts = [c for _, c in Counter(a for a in answers if a is not None).most_common()]
    if not counts:
        return 0.0
    if rule == "beta":
        return beta_stop_probability(counts[0], counts[1] if len(counts) > 1 else 0)
    return dirichlet_stop_probability(counts + [0], mc_samples, seed)  # + an unseen answer


@STRATEGIES.register("adaptive_consistency")
def adaptive_consistency(
    problems: list[Problem],
    ctx: SearchContext,
    *,
    budget: int,
    seed: int,
    threshold: float = 0.95,
    rule: str = "beta",
    step: int = 1,
    mc_samples: int = 2000,
    temperature: float = TEMPERATURE,
    max_tokens: int = MAX_TOKENS,
) -> list[Pick]:
    if rule not in RULES or not 0 < threshold < 1:
        raise PonderError(
            f"adaptive_consistency needs rule in {RULES} and 0 < threshold < 1; got {rule!r}, {threshold}"
        )
    return vote_in_waves(
        problems,
        ctx,
        budget=budget,
        wave=step,
        should_stop=lambda answers: stop_probability(answers, rule, mc_samples, seed) >= threshold,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        name="adaptive_consistency",
    )
