"""Pure functions that turn scores into decisions: step-score aggregation along a path
(last / min / product / mean, as in Snell et al. 2024 and search-and-learn), majority and
score-weighted votes over final answers, and the UCT / PUCT selection rules of MCTS."""

from __future__ import annotations

import math
from collections import defaultdict

AGGREGATIONS = ("last", "min", "product", "mean")


def aggregate(scores: list[float], how: str = "last") -> float:
    """One number for a path from its per-step scores (S,) -> (). Empty paths score 0."""
    if how not in AGGREGATIONS:
        from ponder.types import PonderError

        raise PonderError(f"unknown step aggregation {how!r}; use one of {', '.join(AGGREGATIONS)}")
    if not scores:
        return 0.0
    if how == "last":
        return scores[-1]
    if how == "min":
        return min(scores)
    if how == "product":
        return math.prod(scores)
    return sum(scores) / len(scores)


def vote(answers: list[str | None], weights: list[float] | None = None) -> tuple[str | None, dict[str, float]]:
    """Weighted vote over answers (None = unparsed, never wins). Ties go to the answer seen first.

    Majority voting (Wang et al. 2022, self-consistency) is all weights 1; weighted best-of-N
    (Li et al. 2023) sums a verifier's scores per distinct answer.
    """
    weights = [1.0] * len(answers) if weights is None else weights
    tally: dict[str, float] = defaultdict(float)
    for a, w in zip(answers, weights):
        if a is not None:
            tally[a] += w
    if not tally:
        return None, {}
    best = max(tally.values())
    winner = next(a for a in answers if a is not None and tally[a] == best)
    return winner, dict(tally)


def borda_weights(scores: list[float], power: float = 1.0) -> list[float]:
    """Borda-count vote weights from scores (N,) -> (N,): rank r (1 = best, ties share the better
    rank) weighs (N - r + 1) ** power, as in Kang et al. 2025's self-certainty voting."""
    n = len(scores)
    return [float(n - sum(t > s for t in scores)) ** power for s in scores]


def uct(value_sum: float, visits: int, parent_visits: int, c: float) -> float:
    """UCB1 applied to trees (Kocsis & Szepesvari 2006): Q + c * sqrt(ln N / n); unvisited = inf."""
    if visits == 0:
        return math.inf
    return value_sum / visits + c * math.sqrt(math.log(max(parent_visits, 1)) / visits)


def puct(value_sum: float, visits: int, parent_visits: int, prior: float, c: float) -> float:
    """AlphaZero's PUCT (Silver et al. 2017): Q + c * P * sqrt(N) / (1 + n); Q = 0 when unvisited."""
    q = value_sum / visits if visits else 0.0
    return q + c * prior * math.sqrt(max(parent_visits, 1)) / (1 + visits)


def softmax(xs: list[float]) -> list[float]:
    """Normalised priors from step logprobs (K,) -> (K,)."""
    if not xs:
        return []
    m = max(xs)
    es = [math.exp(x - m) for x in xs]
    z = sum(es)
    return [e / z for e in es]
