"""Particle filtering, parallel-then-aggregate, revisions with best-of-N, and per-problem routing:
their pure parts by hand, and each end to end on scripted fakes."""

from __future__ import annotations

import random

import pytest
from search_fakes import BAD, BAD2, GOOD, arithmetic_problem, scripted

from ponder.gen.fake import FakeGenerator
from ponder.search import run_search
from ponder.search.strategies.parallel_aggregate import candidates_prompt
from ponder.search.strategies.particle_filter import resample
from ponder.search.strategies.route import agreement, shares
from ponder.types import Problem


def test_resample_follows_the_softmax():
    rng = random.Random(0)
    draws = resample([0.0, 1.0], 20000, tau=0.2, rng=rng)  # softmax([0, 5]) = [0.0067, 0.9933]
    assert sum(draws) / len(draws) == pytest.approx(0.99331, abs=0.003)
    assert sorted(set(resample([0.3, 0.3, 0.3], 30, tau=1.0, rng=rng))) == [0, 1, 2]


def test_particle_filter_keeps_checked_particles_and_counts_every_step():
    problems = [arithmetic_problem(f"p{i}") for i in range(2)]
    for r in run_search("particle_filter", problems, scripted([BAD, GOOD]), budget=8, scorer="check", seed=0):
        assert r.answer == "20"
        assert r.cost.generated_tokens == sum(len(n.text) for n in r.tree[1:])  # fake: a token per char


def test_route_helpers_golden():
    assert agreement(["a", "a", "b", None]) == 0.5
    assert agreement([None, None]) == 0.0
    assert shares(2, 1, 12, 2.0) == (3, 6)  # 12 samples over 2 + 2 x 1 units
    assert shares(0, 0, 12, 1.0) == (1, 1)


def _by_question(prompt: str, i: int) -> str:
    """Question "easy": always GOOD. Question "hard": BAD, GOOD, BAD2, GOOD, ... (agreement 1/2)."""
    if prompt.startswith("easy"):
        return GOOD
    return [BAD, GOOD, BAD2, GOOD][i % 4]


def test_route_spends_on_the_uncertain_problem_only():
    problems = [
        Problem(id=q, task="arithmetic", question=q, answer="20", meta={"expression": "(2+3)*4"})
        for q in ("easy", "hard")
    ]
    easy, hard = run_search("route", problems, FakeGenerator(_by_question), budget=8, scorer="check", seed=0)
    assert easy.meta["route"] == "easy" and easy.answer == "20"
    assert easy.cost.generated_tokens == 4 * len(GOOD)  # the probe only
    # agreement 1/2 is "medium" (hard is below 0.5): majority voting with all that is left
    assert hard.meta["route"] == "medium" and hard.meta["routed_to"] == "majority" and hard.answer == "20"
    assert hard.meta["routed_budget"] == 8 * 2 - 4 * 2
    assert hard.cost.generated_tokens == (4 + 8) * len(GOOD)  # probe + its routed budget; all 51 long


def test_candidates_prompt_golden():
    texts = [BAD, GOOD, "no answer here"]
    assert candidates_prompt("Q?", texts, "answers", 4) == "Q?\nCandidate answers: 24, 20"
    assert candidates_prompt("Q?", texts, "traces", 1) == f"Q?\nCandidate 1:\n{BAD}"


def _aggregator(prompt: str, i: int) -> str:
    return "<think>read them</think>\n<answer>20</answer>" if "Candidate" in prompt else BAD


def test_parallel_aggregate_returns_the_aggregators_answer():
    gen = FakeGenerator(_aggregator)
    (r,) = run_search("parallel_aggregate", [arithmetic_problem()], gen, budget=4, seed=0)
    assert r.answer == "20"  # every candidate said 24: the answer is the aggregator's
    prompts, params = gen.calls[-1]
    assert prompts == ["(2+3)*4=?\nCandidate answers: 24, 24, 24\n"] and params.temperature == 0
    assert r.cost.generated_tokens == 3 * len(BAD) + len("<think>read them</think>\n<answer>20</answer>")
    assert r.cost.prompt_tokens == len("(2+3)*4=?\n") + len(prompts[0])


def test_revise_bon_picks_the_best_attempt_over_all_chains():
    gen = FakeGenerator(lambda prompt, i: GOOD if "Candidate 1:" in prompt else BAD)
    (r,) = run_search("revise_bon", [arithmetic_problem()], gen, budget=8, scorer="check", seed=0, rounds=4)
    assert r.answer == "20" and r.meta["chains"] == 2 and r.meta["rounds"] == 4
    assert r.cost.generated_tokens == 8 * len(GOOD) and len(r.tree) == 1 + 8
    assert len(gen.calls) == 4  # one call per round
