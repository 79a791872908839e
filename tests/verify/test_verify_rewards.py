"""Rewards: golden values, gating, specs, and the contract every registered reward meets."""

from __future__ import annotations

import math

import pytest

from ponder.types import PonderError, Problem
from ponder.verify.rewards import REWARDS, get_reward, reward_from_spec
from ponder.verify.rewards.combine import combine_values
from ponder.verify.rewards.format import is_r1_format, tag_count_value
from ponder.verify.rewards.language import language_share
from ponder.verify.rewards.length import cosine_scaled, overlong_penalty
from ponder.verify.rewards.repetition import repetition_value

ARITH = Problem(id="a", task="arithmetic", question="2+3", answer="5")
GOOD = "<think>2+3=5</think>\n<answer>5</answer>"
WRONG = "<think>2+3=6</think>\n<answer>6</answer>"
BARE = "the answer is 5 <answer>5</answer>"


def test_format():
    assert is_r1_format(GOOD) and is_r1_format("  <think>x</think><answer>y</answer>\n")
    assert not is_r1_format(BARE)
    assert not is_r1_format("<think>a</think><answer>1</answer><answer>2</answer>")
    assert not is_r1_format("<answer>1</answer><think>a</think>")
    assert not is_r1_format("<think>a</think>junk<answer>1</answer>")
    assert not is_r1_format("<think>a</think><answer> </answer>")
    assert is_r1_format("a</think>\n<answer>1</answer>", think_in_prompt=True)


def test_tag_count():
    assert tag_count_value(GOOD) == 1.0
    assert tag_count_value(BARE) == 0.5
    assert tag_count_value("<think><think></think>") == 0.25


def test_cosine_length_golden():
    assert cosine_scaled(0, 100, r_at_zero=1.0, r_at_max=0.5) == pytest.approx(1.0)
    assert cosine_scaled(50, 100, r_at_zero=1.0, r_at_max=0.5) == pytest.approx(0.75)
    assert cosine_scaled(100, 100, r_at_zero=1.0, r_at_max=0.5) == pytest.approx(0.5)
    assert cosine_scaled(500, 100, r_at_zero=-1.0, r_at_max=-0.5) == pytest.approx(-0.5)
    fn = get_reward("cosine_length", max_len=len(GOOD) * 2)
    right, wrong = fn([ARITH, ARITH], [GOOD, WRONG])
    assert right == pytest.approx(0.75) and wrong == pytest.approx(-0.75)


def test_overlong_golden():
    assert [overlong_penalty(n, max_len=100, cache_len=20) for n in (50, 80, 90, 100, 101)] == [
        0.0,
        0.0,
        -0.5,
        -1.0,
        -1.0,
    ]


def test_repetition_golden():
    assert repetition_value("a b c d", n=2, max_penalty=-1.0) == 0.0
    assert repetition_value("a b a b a b", n=2, max_penalty=-1.0) == pytest.approx(-(1 - 2 / 5))
    assert repetition_value("a", n=3, max_penalty=-1.0) == 0.0
    assert repetition_value("ababab", n=2, max_penalty=-0.5, unit="char") == pytest.approx(-0.5 * (1 - 2 / 5))


def test_language_share():
    assert language_share("we add the numbers", {"LATIN"}) == 1.0
    assert language_share("we add 数字", {"LATIN"}) == pytest.approx(2 / 4)
    assert language_share("12+7=19", {"LATIN"}) is None
    fn = get_reward("language", target="zh")
    assert fn([ARITH], ["<think>我们 add</think><answer>5</answer>"]) == [pytest.approx(2 / 3)]
    with pytest.raises(PonderError):
        get_reward("language", target="xx")


def test_combine_values_golden():
    terms = [[1.0, 1.0, 0.0, None], [0.5, None, 0.5, None]]
    gates = [[1.0, 0.0, 1.0, None]]
    assert combine_values(terms, [1.0, 2.0], gates, threshold=1.0, fail_value=-1.0) == [2.0, -1.0, 1.0, None]


def test_gating_is_the_safe_default():
    probs, resps = [ARITH] * 3, [GOOD, WRONG, BARE]
    assert get_reward("gated_format_accuracy")(probs, resps) == [1.0, 0.0, 0.0]
    assert get_reward("accuracy_plus_format")(probs, resps) == [pytest.approx(1.1), pytest.approx(0.1), 1.0]


def test_gate_skips_terms_for_failing_responses():
    calls = []

    def spy(problems, responses):
        calls.append(list(responses))
        return [1.0] * len(responses)

    from ponder.verify.rewards.combine import combine

    fn = combine([(spy, 1.0)], gates=[get_reward("format")])
    assert fn([ARITH] * 2, [GOOD, BARE]) == [1.0, 0.0]
    assert calls == [[GOOD]]


def test_spec_string_and_dict():
    fn = reward_from_spec("accuracy=1,repetition=0.5;gate=format;fail=-1")
    assert fn([ARITH] * 2, [GOOD, BARE]) == [1.0, -1.0]
    fn = reward_from_spec({"terms": [{"name": "cosine_length", "weight": 2.0, "kwargs": {"max_len": 10}}]})
    assert fn([ARITH], [GOOD]) == [pytest.approx(1.0)]
    with pytest.raises(PonderError, match="unknown reward"):
        reward_from_spec("acuracy=1")
    with pytest.raises(PonderError, match="bad reward spec"):
        reward_from_spec("accuracy=heavy")


def test_accuracy_is_none_for_tasks_without_a_verifier():
    other = Problem(id="o", task="poetry", question="", answer="x")
    assert get_reward("accuracy")([ARITH, other], [GOOD, GOOD]) == [1.0, None]


GARBAGE = [
    "",
    "<think>",
    "</answer><answer>",
    "∞" * 20_000,
    "\\boxed{" * 1000,
    "<think>a</think>\n<answer>5</answer>" * 50,
]


@pytest.mark.parametrize("name", REWARDS.names())
def test_every_reward_meets_the_contract(name):
    probs = [ARITH, Problem(id="g", task="gsm8k", question="", answer="18")] * (len(GARBAGE) // 2)
    values = get_reward(name)(probs, GARBAGE)
    assert len(values) == len(GARBAGE)
    assert all(v is None or (isinstance(v, float) and math.isfinite(v)) for v in values)
    assert get_reward(name)([], []) == []
