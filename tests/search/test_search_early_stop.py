"""Early-stopped voting: ESC's window test and Adaptive-Consistency's stopping rules by hand, and
both strategies spending fewer samples when the answers agree."""

from __future__ import annotations

import pytest
from search_fakes import BAD, GOOD, arithmetic_problem, scripted

from ponder.search import run_search
from ponder.search.strategies.adaptive_consistency import (
    beta_stop_probability,
    dirichlet_stop_probability,
    stop_probability,
)
from ponder.search.strategies.esc import window_agrees
from ponder.types import PonderError


def test_window_agrees_golden():
    assert window_agrees(["3", "3", "3", "3"], 4)
    assert window_agrees(["1", "2", "3", "3", "3", "3"], 4)
    assert not window_agrees(["3", "3", "3", "4"], 4)
    assert not window_agrees([None] * 4, 4)
    assert not window_agrees(["3", "3"], 4)


def test_beta_and_dirichlet_rules_golden():
    assert beta_stop_probability(3, 0) == 15 / 16  # 1 - 0.5 ** 4
    assert beta_stop_probability(4, 0) == 31 / 32
    assert beta_stop_probability(2, 1) == 11 / 16  # (1 + 4 + 6) / 16
    assert beta_stop_probability(3, 1) == 26 / 32
    assert stop_probability(["a", "a", "b", None], "beta") == 11 / 16
    assert stop_probability([None, None], "beta") == 0.0
    # two answers: the Dirichlet rule is the Beta rule, up to Monte-Carlo error
    assert dirichlet_stop_probability([3, 1], 20000, seed=0) == pytest.approx(26 / 32, abs=0.01)


@pytest.mark.parametrize(
    "name, options, samples",
    [("esc", {"window": 4}, 4), ("adaptive_consistency", {}, 4), ("adaptive_consistency", {"step": 3}, 6)],
)
def test_agreeing_answers_stop_early(name, options, samples):
    # beta: 3 agreeing votes give 15/16 < 0.95, 4 give 31/32, so step 1 stops at 4 and step 3 at 6
    problems = [arithmetic_problem(f"p{i}") for i in range(2)]
    for r in run_search(name, problems, scripted([GOOD]), budget=16, seed=0, **options):
        assert r.answer == "20" and r.meta["samples"] == samples and r.meta["stopped_early"]
        assert r.cost.generated_tokens == samples * len(GOOD)


def test_disagreeing_answers_spend_the_budget_and_vote():
    results = run_search("esc", [arithmetic_problem()], scripted([BAD, GOOD]), budget=8, seed=1, window=8)
    assert results[0].meta["samples"] == 8 and not results[0].meta["stopped_early"]
    assert results[0].answer == "24"  # four each, 24 first (as majority at seed 1)


def test_bad_options_fail_clearly():
    with pytest.raises(PonderError, match="rule"):
        run_search("adaptive_consistency", [arithmetic_problem()], scripted([GOOD]), budget=2, rule="gamma")
    with pytest.raises(PonderError, match="window"):
        run_search("esc", [arithmetic_problem()], scripted([GOOD]), budget=2, window=0)
