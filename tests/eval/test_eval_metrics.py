"""Golden numbers and reference checks for ponder.eval.estimators and bootstrap."""

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.eval.bootstrap import bootstrap_ci, paired_diff_ci
from ponder.eval.estimators import (
    Sample,
    accuracy,
    agreement_rate,
    best_credit,
    best_of_k,
    maj_at_k,
    pass_at_k,
    subset_expectation,
    weighted_vote_at_k,
)


def test_pass_at_k_golden_n10_c3_k5():
    # 1 - C(7,5)/C(10,5) = 1 - 21/252 = 11/12
    assert pass_at_k(10, 3, 5) == pytest.approx(0.9166666666666666, abs=1e-15)


def test_pass_at_k_edges():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 6, 5) == 1.0  # fewer than k wrong samples: every subset has a right one
    assert pass_at_k(8, 2, 1) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="k must be in 1..n"):
        pass_at_k(4, 1, 5)


def _pool(spec: str) -> list[Sample]:
    """'A+ A+ B- x-' -> samples keyed A (right), A (right), B (wrong), unparsed."""
    out = []
    for tok in spec.split():
        key = None if tok[0] == "x" else tok[0]
        out.append(Sample(key=key, correct=tok[1] == "+", score=float(tok[2:] or 0)))
    return out


def test_maj_at_k_golden_constructed_pool():
    pool = _pool("A+ A+ B- B- B-")
    assert maj_at_k(pool, 1).value == pytest.approx(0.4)
    assert maj_at_k(pool, 2).value == pytest.approx(0.4)  # AA:1, AB x6 ties: 1/2 each, BB: 0 -> 4/10
    assert maj_at_k(pool, 3).value == pytest.approx(0.3)  # 3 of 10 triples hold both As
    assert maj_at_k(pool, 5).value == 0.0
    assert maj_at_k(pool, 3).exact


def test_unparsed_samples_do_not_vote():
    pool = _pool("A+ x- x- x-")
    assert maj_at_k(pool, 4).value == 1.0
    assert maj_at_k(pool, 1).value == pytest.approx(0.25)
    assert maj_at_k(_pool("x- x-"), 2).value == 0.0


def test_weighted_vote_and_best_of_k():
    pool = _pool("A+0.9 B-0.3 B-0.3")
    assert maj_at_k(pool, 3).value == 0.0
    assert weighted_vote_at_k(pool, 3).value == 1.0
    assert best_of_k(pool, 3).value == 1.0
    assert best_of_k(pool, 1).value == pytest.approx(1 / 3)
    # pairs: {A,B} x2 -> A wins; {B,B} -> wrong
    assert best_of_k(pool, 2).value == pytest.approx(2 / 3)
    assert weighted_vote_at_k(pool, 2).value == pytest.approx(2 / 3)


def test_best_of_k_ties_split_credit():
    assert best_of_k(_pool("A+0.5 B-0.5"), 2).value == pytest.approx(0.5)


def test_monte_carlo_matches_exact():
    pool = _pool("A+ A+ A+ B- B- C- C- x- A+ B- B- C-")
    exact = maj_at_k(pool, 6)
    mc = maj_at_k(pool, 6, max_exact=0, n_mc=4000, seed=1)
    assert exact.exact and not mc.exact
    assert mc.value == pytest.approx(exact.value, abs=0.03)


def _slow_maj(pool, k):
    """Reference: enumerate subsets, majority with ties split, written independently."""
    total = 0.0
    subsets = list(itertools.combinations(pool, k))
    for sub in subsets:
        counts = {}
        for s in sub:
            if s.key is not None:
                counts[s.key] = counts.get(s.key, 0) + 1
        if not counts:
            continue
        top = max(counts.values())
        winners = [key for key, c in counts.items() if c == top]
        total += sum(next(s.correct for s in sub if s.key == w) for w in winners) / len(winners)
    return total / len(subsets)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["A", "B", "C", None]), min_size=1, max_size=7), st.data())
def test_maj_at_k_matches_reference(keys, data):
    pool = [Sample(key=k, correct=k == "A") for k in keys]
    k = data.draw(st.integers(1, len(pool)))
    assert maj_at_k(pool, k).value == pytest.approx(_slow_maj(pool, k))
    # maj@1 is the share of right samples, which is also pass@1
    c = sum(s.correct for s in pool)
    assert maj_at_k(pool, 1).value == pytest.approx(pass_at_k(len(pool), c, 1))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.data())
def test_pass_at_k_matches_enumeration(n, data):
    c = data.draw(st.integers(0, n))
    k = data.draw(st.integers(1, min(n, 8)))
    if math.comb(n, k) > 3000:
        return
    subsets = list(itertools.combinations(range(n), k))
    expected = sum(any(i < c for i in sub) for sub in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_accuracy_and_agreement():
    assert accuracy([1, 0, 0.5, 0.5]) == 0.5
    assert agreement_rate(["7", "7", "8", None]) == 0.5
    assert agreement_rate([None, None]) == 0.0
    with pytest.raises(ValueError):
        accuracy([])


def test_bootstrap_ci_brackets_mean_and_collapses_when_constant():
    ci = bootstrap_ci([1, 1, 1, 1])
    assert (ci.mean, ci.low, ci.high) == (1.0, 1.0, 1.0)
    values = [1, 0] * 50
    ci = bootstrap_ci(values, n_boot=1000)
    assert ci.low < 0.5 < ci.high
    assert 0.08 < ci.high - ci.low < 0.3  # about 2 x 1.96 x 0.05


def test_bootstrap_over_seeds_widens_interval():
    one_seed = bootstrap_ci([[1, 0, 1, 0, 1, 0, 1, 0]], n_boot=1000)
    seeds_disagree = bootstrap_ci([[1] * 8, [0] * 8], n_boot=1000)
    assert seeds_disagree.high - seeds_disagree.low > one_seed.high - one_seed.low


def test_paired_diff_ci():
    same = paired_diff_ci([1, 0, 1, 0], [1, 0, 1, 0])
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)
    better = paired_diff_ci([0] * 30, [1] * 30)
    assert better.low == 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.1, 0.5, 0.9]), st.booleans()), min_size=1, max_size=8), st.data())
def test_best_of_k_closed_form_matches_enumeration(items, data):
    pool = [Sample(key="a", correct=c, score=s) for s, c in items]
    k = data.draw(st.integers(1, len(pool)))
    assert best_of_k(pool, k).value == pytest.approx(subset_expectation(pool, k, best_credit).value)
