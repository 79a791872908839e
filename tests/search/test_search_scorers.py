"""Scorers and the pure decision functions: golden numbers and slow reference loops."""

from __future__ import annotations

import math
import random

import pytest
from search_fakes import arithmetic_problem

from ponder.gen.fake import FakeGenerator
from ponder.search import get_scorer
from ponder.search.aggregate import aggregate, puct, softmax, uct, vote
from ponder.search.scorers.confidence import lowest_window_confidence, mean_confidence
from ponder.search.scorers.judge import p_yes
from ponder.steps import split_response
from ponder.types import PonderError, Problem, Step


def test_aggregations_golden():
    s = [0.9, 0.5, 0.8]
    assert aggregate(s, "last") == 0.8
    assert aggregate(s, "min") == 0.5
    assert aggregate(s, "product") == pytest.approx(0.36)
    assert aggregate(s, "mean") == pytest.approx(2.2 / 3)
    assert aggregate([], "min") == 0.0
    with pytest.raises(PonderError, match="aggregation"):
        aggregate(s, "max")


def test_vote_majority_weighted_and_ties():
    assert vote(["3", "4", "4", None]) == ("4", {"3": 1.0, "4": 2.0})
    assert vote(["3", "4", "4"], [0.9, 0.2, 0.3])[0] == "3"
    assert vote(["5", "6"])[0] == "5"  # tie: first seen
    assert vote([None, None]) == (None, {})


def test_uct_and_puct_golden():
    assert uct(0.0, 0, 10, 1.0) == math.inf
    assert uct(3.0, 4, 16, 1.4) == pytest.approx(0.75 + 1.4 * math.sqrt(math.log(16) / 4))
    assert puct(0.0, 0, 9, 0.5, 2.0) == pytest.approx(2.0 * 0.5 * 3 / 1)
    assert puct(2.0, 4, 9, 0.5, 2.0) == pytest.approx(0.5 + 2.0 * 0.5 * 3 / 5)
    assert sum(softmax([-1.0, -2.0, -3.0])) == pytest.approx(1.0)


def test_confidence_golden_and_window_against_slow_loop():
    assert mean_confidence([math.log(0.5)] * 4) == pytest.approx(0.5)
    rng = random.Random(0)
    for _ in range(50):
        lp = [math.log(rng.uniform(0.05, 1)) for _ in range(rng.randint(1, 30))]
        w = rng.randint(1, 10)
        windows = [sum(lp[i : i + w]) / w for i in range(len(lp) - w + 1)] or [sum(lp) / len(lp)]
        assert lowest_window_confidence(lp, w) == pytest.approx(math.exp(min(windows)))


def test_confidence_scorer_needs_logprobs():
    sc = get_scorer("confidence")
    assert sc.score_steps([arithmetic_problem()], [[Step("ab\n", [math.log(0.25)] * 3)]]) == [[pytest.approx(0.25)]]
    with pytest.raises(PonderError, match="logprobs"):
        sc.score([arithmetic_problem()], ["plain text"])


def test_split_response_shares_logprobs():
    s = Step("ab\ncd", [-1.0, -2.0, -3.0, -4.0, -5.0])
    parts = split_response(s)
    assert parts == ["ab\n", "cd"] and parts[0].logprobs == [-1.0, -2.0, -3.0] and parts[1].logprobs == [-4.0, -5.0]


def test_step_checker_scores_arithmetic_steps_without_the_answer():
    sc = get_scorer("check")
    p = arithmetic_problem(answer=None)
    steps = [["<think>2+3=5,5*4\n", "5*4=20</think>\n", "<answer>20</answer>"], ["<think>2+3=6,6*4\n"]]
    assert sc.score_steps([p, p], steps) == [[1.0, 1.0, 1.0], [0.0]]
    assert sc.score([p], ["<think>2+3=6,6*4\n6*4=24</think>\n<answer>24</answer>"]) == [0.0]
    unknown = Problem(id="x", task="no-such-task", question="?")
    assert sc.score_steps([unknown], [["anything\n"]]) == [[1.0]]


def test_step_checker_on_countdown():
    from ponder.tasks import make_problems

    p = make_problems("countdown", 1, level=3, seed=0)[0].public()
    a, b, c = p.meta["numbers"][:3]
    good = f"{a}+{b}={a + b},{a + b}+{c}={a + b + c} no"
    bad = f"{a}+{b}={a + b + 1},{a + b + 1}+{c}={a + b + c + 1} no"
    assert get_scorer("check").score_steps([p], [[good, bad]]) == [[1.0, 0.0]]


def test_judge_reads_yes_probability_and_counts_tokens():
    assert p_yes("yes", [math.log(0.9)]) == pytest.approx(0.9)
    assert p_yes(" No", [math.log(0.9)]) == pytest.approx(0.1)
    assert p_yes("yes", None) == 1.0 and p_yes("maybe", None) == 0.0
    gen = FakeGenerator(lambda prompt, i: "yes" if "2+3=5" in prompt else "no", logprob=math.log(0.8))
    judge = get_scorer("judge", gen)
    p = arithmetic_problem(answer="SECRET")
    scores = judge.score_steps(
        [p],
        [
            ["<think>2+3=5\n", "x\n"],
        ],
    )
    assert scores == [[pytest.approx(0.8), pytest.approx(0.8)]]
    assert judge.score([p], ["2+3=4"]) == [pytest.approx(0.2)]
    assert judge.tokens_scored > 0 and not any("SECRET" in pr for prompts, _ in gen.calls for pr in prompts)
