"""Metrics of test-time compute as pure functions of one pool of n samples per problem.

Every "@k" metric is the expected value over the C(n, k) size-k subsets of the pool, so one pool
of n samples gives the whole curve k = 1..n (Chen et al. 2021, "Evaluating Large Language Models
Trained on Code", eq. 1, for pass@k; the same subsampling idea for the voting metrics):

- `pass_at_k`: unbiased, exact, closed form  1 - C(n-c, k) / C(n, k).
- `best_of_k`: exact, closed form (rank of the best score among k, ties split evenly).
- `maj_at_k`, `weighted_vote_at_k`: exact enumeration of the subsets when there are at most
  `max_exact` of them, otherwise a Monte-Carlo average over `n_mc` random subsets drawn with
  `seed` (the result says which via `SubsetEstimate.exact`).

Ties are broken uniformly at random, in expectation: a subset whose vote ties between a right
and a wrong answer counts 1/2. A sample whose answer could not be parsed (key None) casts no vote.
Answer keys are what the caller extracted without the reference; correctness is per sample.
Left out: exact closed forms for the voting metrics (dynamic programmes over answer classes).
Scores are compared exactly (equal floats tie); near-equal scores do not.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ponder.stats import wilson  # noqa: F401  (re-exported: eval's callers read it here)


@dataclass(frozen=True)
class Sample:
    """One pooled sample: its answer key (None = unparsed), correctness, and a scorer's score."""

    key: str | None
    correct: bool
    score: float = 0.0


@dataclass(frozen=True)
class SubsetEstimate:
    value: float  # expected correctness of the choice made on a random size-k subset
    exact: bool  # True: enumerated every subset; False: Monte-Carlo average


def accuracy(correct: Sequence[float]) -> float:
    """Mean of per-problem correctness values (bools or expected values in [0, 1])."""
    if not correct:
        raise ValueError("accuracy of an empty list is undefined")
    return sum(float(c) for c in correct) / len(correct)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021, eq. 1)."""
    _check_k(n, k)
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _check_k(n: int, k: int) -> None:
    if not 1 <= k <= n:
        raise ValueError(f"k must be in 1..n (n={n} samples in the pool), got k={k}")


def vote_credit(samples: Sequence[Sample], weights: Sequence[float]) -> float:
    """Expected correctness of a (weighted) vote over answer keys, ties split evenly.

    A key's correctness is the mean correctness of its samples (normally all equal)."""
    totals: dict[str, float] = {}
    right: dict[str, list[bool]] = {}
    for s, w in zip(samples, weights):
        if s.key is None:
            continue
        totals[s.key] = totals.get(s.key, 0.0) + w
        right.setdefault(s.key, []).append(s.correct)
    if not totals:
        return 0.0
    top = max(totals.values())
    winners = [key for key, t in totals.items() if math.isclose(t, top, rel_tol=1e-12, abs_tol=1e-12)]
    return sum(sum(right[key]) / len(right[key]) for key in winners) / len(winners)


def best_credit(samples: Sequence[Sample]) -> float:
    """Expected correctness of the highest-scoring sample, ties split evenly (the per-subset
    rule that `best_of_k` averages in closed form; enumerated in the tests as its reference)."""
    top = max(s.score for s in samples)
    tied = [s for s in samples if s.score == top]
    return sum(s.correct for s in tied) / len(tied)


def _majority_credit(subset: Sequence[Sample]) -> float:
    return vote_credit(subset, [1.0] * len(subset))


def _weighted_credit(subset: Sequence[Sample]) -> float:
    return vote_credit(subset, [s.score for s in subset])


def subset_expectation(
    pool: Sequence[Sample],
    k: int,
    credit: Callable[[Sequence[Sample]], float],
    *,
    max_exact: int = 2000,
    n_mc: int = 1000,
    seed: int = 0,
) -> SubsetEstimate:
    """E over size-k subsets of the pool of credit(subset): exact if C(n, k) <= max_exact."""
    n = len(pool)
    _check_k(n, k)
    if math.comb(n, k) <= max_exact:
        values = [credit([pool[i] for i in idx]) for idx in itertools.combinations(range(n), k)]
        return SubsetEstimate(sum(values) / len(values), exact=True)
    rng = random.Random(seed)
    total = sum(credit([pool[i] for i in rng.sample(range(n), k)]) for _ in range(n_mc))
    return SubsetEstimate(total / n_mc, exact=False)


def maj_at_k(
    pool: Sequence[Sample], k: int, *, max_exact: int = 2000, n_mc: int = 1000, seed: int = 0
) -> SubsetEstimate:
    """maj@k: the most frequent answer key of k samples is correct (self-consistency, Wang et al. 2022)."""
    return subset_expectation(pool, k, _majority_credit, max_exact=max_exact, n_mc=n_mc, seed=seed)


def weighted_vote_at_k(
    pool: Sequence[Sample], k: int, *, max_exact: int = 2000, n_mc: int = 1000, seed: int = 0
) -> SubsetEstimate:
    """weighted-vote@k: the answer key with the largest total score over k samples is correct."""
    return subset_expectation(pool, k, _weighted_credit, max_exact=max_exact, n_mc=n_mc, seed=seed)


def best_of_k(pool: Sequence[Sample], k: int) -> SubsetEstimate:
    """best-of-k: the single highest-scoring sample of k is correct. Exact, in closed form.

    Group the pool by score, best first; a_g samples score strictly higher than group g (m_g
    samples, c_g right). The subset's best score lies in group g with probability
    [C(n - a_g, k) - C(n - a_g - m_g, k)] / C(n, k), and the tie inside g is broken uniformly,
    which by symmetry is right with probability c_g / m_g.
    """
    n = len(pool)
    _check_k(n, k)
    groups: dict[float, list[bool]] = {}
    for s in pool:
        groups.setdefault(s.score, []).append(s.correct)
    total, above = 0.0, 0
    for score in sorted(groups, reverse=True):
        members = groups[score]
        m = len(members)
        p_top = (math.comb(n - above, k) - math.comb(n - above - m, k)) / math.comb(n, k)
        total += p_top * sum(members) / m
        above += m
    return SubsetEstimate(total, exact=True)


def agreement_rate(keys: Sequence[str | None]) -> float:
    """Share of samples that give the most common parsed answer: a difficulty estimate that never
    reads the reference (high agreement = easy for this policy). Unparsed samples disagree."""
    if not keys:
        raise ValueError("agreement rate of an empty list is undefined")
    counts: dict[str, int] = {}
    for key in keys:
        if key is not None:
            counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=0) / len(keys)
