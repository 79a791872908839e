"""Reward-free selectors: self-certainty, mean entropy and perplexity scorers, Borda weights, and
the search asking the generator for per-token stats only when the scorer reads them."""

from __future__ import annotations

import math

import pytest
from search_fakes import BAD, GOOD, arithmetic_problem, scripted

from ponder.search import get_scorer, run_search
from ponder.search.aggregate import borda_weights
from ponder.types import PonderError, Step


def test_self_certainty_entropy_perplexity_golden():
    p = [arithmetic_problem()]
    step = Step("ab\n", [math.log(0.5), math.log(0.25)], [0.2, 0.6], [3.0, 1.0])
    assert get_scorer("self_certainty").score(p, [step]) == [pytest.approx(2.0)]
    assert get_scorer("entropy").score(p, [step]) == [pytest.approx(math.exp(-0.4))]
    assert get_scorer("perplexity").score(p, [step]) == [pytest.approx(math.sqrt(0.125))]  # 1 / PPL
    assert get_scorer("self_certainty").score_steps(p, [[Step("", [], [], [])]]) == [[0.0]]
    assert get_scorer("entropy").score_steps(p, [[Step("", [], [], [])]]) == [[1.0]]


def test_stat_scorers_fail_clearly_without_stats():
    for name in ("self_certainty", "entropy"):
        with pytest.raises(PonderError, match="per-token distribution stats"):
            get_scorer(name).score([arithmetic_problem()], [Step("x", [-0.1])])


def test_borda_weights_golden():
    assert borda_weights([0.1, 0.9, 0.5]) == [1.0, 3.0, 2.0]
    assert borda_weights([0.5, 0.5, 0.1], power=2) == [9.0, 9.0, 1.0]  # ties share the better rank


class StatsByAnswer:
    """Wraps a scripted fake: responses answering 20 get certainty 3 and entropy 0.1, others 1 and 2."""

    def __init__(self, gen):
        self.gen, self.name, self.n_params, self.calls = gen, gen.name, gen.n_params, []

    def render(self, q):
        return self.gen.render(q)

    def generate(self, prompts, params):
        self.calls.append(params)
        out = self.gen.generate(prompts, params)
        for c in (c for g in out for c in g):
            if c.certainties is not None:
                good = "<answer>20" in c.text
                c.certainties = [3.0 if good else 1.0] * len(c.token_ids)
                c.entropies = [0.1 if good else 2.0] * len(c.token_ids)
        return out


@pytest.mark.parametrize("scorer", ["self_certainty", "entropy"])
def test_best_of_n_and_weighted_pick_the_certain_answer(scorer):
    problems = [arithmetic_problem(f"p{i}") for i in range(2)]
    # seed 77 draws four of each, 24 first, for both problems: an unweighted vote says 24 (found by
    # search when draws became per problem: gen/rng.py, search/engine.py SearchContext)
    assert [r.answer for r in run_search("majority", problems, scripted([BAD, GOOD]), budget=8, seed=77)] == ["24"] * 2
    for strategy, options in [("best_of_n", {}), ("weighted", {}), ("weighted", {"weights": "borda"})]:
        gen = StatsByAnswer(scripted([BAD, GOOD]))
        results = run_search(strategy, problems, gen, budget=8, scorer=scorer, seed=77, **options)
        assert [r.answer for r in results] == ["20", "20"], (strategy, options)
        assert all(p.token_stats for p in gen.calls)
    gen = StatsByAnswer(scripted([BAD, GOOD]))
    run_search("best_of_n", problems, gen, budget=2, scorer="confidence", seed=1)
    assert not any(p.token_stats for p in gen.calls)  # nobody reads them: not asked for


def test_step_scoring_with_stats_through_beam():
    gen = StatsByAnswer(scripted([BAD, GOOD]))
    results = run_search("beam", [arithmetic_problem()], gen, budget=4, scorer="self_certainty", seed=0)
    assert results[0].answer in ("20", "24") and all(p.token_stats for p in gen.calls)
