"""Rewards: golden values, gating, specs, and the contract every registered reward meets."""

from __future__ import annotations

import math

import pytest

from ponder.types import PonderError, Problem
from ponder.verify.rewards import REWARDS, call_reward, get_reward, reward_from_spec
from ponder.verify.rewards.combine import combine_values
from ponder.verify.rewards.format import is_r1_format, tag_count_value
from ponder.verify.rewards.language import language_share
from ponder.verify.rewards.length import cosine_scaled, overlong_penalty
from ponder.verify.rewards.repetition import repetition_value

ARITH = Problem(id="a", task="arithmetic", question="2+3", answer="5")
GOOD = "<think>2+3=5</think>\n<answer>5</answer>"
WRONG = "<think>2+3=6</think>\n<answer>6</answer>"
BARE = "the answer is 5 <answer>5</answer>"


def R(fn, problems, responses):
    """Call a reward the way ponder and TRL do: prompts, completions and the problems' columns, by keyword."""
    return call_reward(fn, [p.question for p in problems], responses, problems)


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
    right, wrong = R(fn, [ARITH, ARITH], [GOOD, WRONG])
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
    assert R(fn, [ARITH], ["<think>我们 add</think><answer>5</answer>"]) == [pytest.approx(2 / 3)]
    with pytest.raises(PonderError):
        get_reward("language", target="xx")


def test_combine_values_golden():
    terms = [[1.0, 1.0, 0.0, None], [0.5, None, 0.5, None]]
    gates = [[1.0, 0.0, 1.0, None]]
    assert combine_values(terms, [1.0, 2.0], gates, threshold=1.0, fail_value=-1.0) == [2.0, -1.0, 1.0, None]


def test_gating_is_the_safe_default():
    probs, resps = [ARITH] * 3, [GOOD, WRONG, BARE]
    assert R(get_reward("gated_format_accuracy"), probs, resps) == [1.0, 0.0, 0.0]
    assert R(get_reward("accuracy_plus_format"), probs, resps) == [pytest.approx(1.1), pytest.approx(0.1), 1.0]


def test_gate_skips_terms_for_failing_responses():
    calls = []

    def spy(prompts, completions, **columns):
        calls.append((list(completions), columns["problem_id"]))
        return [1.0] * len(completions)

    from ponder.verify.rewards.combine import combine

    fn = combine([(spy, 1.0)], gates=[get_reward("format")])
    other = Problem(id="b", task="arithmetic", question="2+3", answer="5")
    assert R(fn, [ARITH, other], [BARE, GOOD]) == [0.0, 1.0]
    assert calls == [([GOOD], ["b"])]  # the term saw only the passing completion, with its own columns


def test_spec_string_and_dict():
    fn = reward_from_spec("accuracy=1,repetition=0.5;gate=format;fail=-1")
    assert R(fn, [ARITH] * 2, [GOOD, BARE]) == [1.0, -1.0]
    fn = reward_from_spec({"terms": [{"name": "cosine_length", "weight": 2.0, "kwargs": {"max_len": 10}}]})
    assert R(fn, [ARITH], [GOOD]) == [pytest.approx(1.0)]
    with pytest.raises(PonderError, match="unknown reward"):
        reward_from_spec("acuracy=1")
    with pytest.raises(PonderError, match="bad reward spec"):
        reward_from_spec("accuracy=heavy")


def test_accuracy_is_none_for_tasks_without_a_verifier():
    other = Problem(id="o", task="poetry", question="", answer="x")
    assert R(get_reward("accuracy"), [ARITH, other], [GOOD, GOOD]) == [1.0, None]


GARBAGE = [
    "",
    "<think>",
    "</answer><answer>",
    "∞" * 20_000,
    "\\boxed{" * 1000,
    "<think>a</think>\n<answer>5</answer>" * 50,
]


@pytest.fixture(scope="module")
def learned(tmp_path_factory) -> dict[str, dict]:
    """Options of the rewards that need a trained folder: a random PRM and ORM on a tiny backbone."""
    from ponder.models.tiny.build import build_model
    from ponder.rm.model import from_backbone

    tmp = tmp_path_factory.mktemp("rm")
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
    for kind in ("prm", "orm"):
        from_backbone(build_model(**small, num_attention_heads=2, num_key_value_heads=2), kind=kind).save(tmp / kind)
    return {kind: {"path": str(tmp / kind)} for kind in ("prm", "orm")}


@pytest.mark.parametrize("name", REWARDS.names())
def test_every_reward_meets_the_contract(name, learned):
    probs = [ARITH, Problem(id="g", task="gsm8k", question="", answer="18")] * (len(GARBAGE) // 2)
    build = lambda: get_reward(name, **learned.get(name, {}))  # noqa: E731
    values = R(build(), probs, GARBAGE)
    assert len(values) == len(GARBAGE)
    assert all(v is None or (isinstance(v, float) and math.isfinite(v)) for v in values)
    assert R(build(), [], []) == []
    # TRL's call: conversational completions, extra keywords, no ponder columns beyond the data set's
    chat = [[{"role": "assistant", "content": g}] for g in GARBAGE]
    extra = {"completion_ids": [[]] * len(GARBAGE), "trainer_state": object()}
    columns = {"task": [p.task for p in probs], "question": [p.question for p in probs],
               "answer": [p.answer for p in probs]}  # fmt: skip
    trl_values = build()(prompts=[""] * len(GARBAGE), completions=chat, **columns, **extra)
    assert trl_values == values


def test_a_wrong_signature_is_one_clear_error():
    def old_style(problems, responses):
        return [1.0] * len(responses)

    with pytest.raises(PonderError, match=r"old_style.*fn\(prompts, completions, \*\*columns\)"):
        R(old_style, [ARITH], [GOOD])

    def names_a_column(prompts, completions, answer):  # TRL would fail too: it passes every column
        return [1.0]

    with pytest.raises(PonderError, match="names_a_column"):
        R(names_a_column, [ARITH], [GOOD])


def test_bad_values_are_errors_that_name_the_reward():
    for bad, match in [(lambda prompts, completions, **kw: [1.0, 2.0], "2 values for 1"),
                       (lambda prompts, completions, **kw: [float("nan")], "nan.*problem 'a'"),
                       (lambda prompts, completions, **kw: ["1"], "'1'")]:  # fmt: skip
        with pytest.raises(PonderError, match=match):
            R(bad, [ARITH], [GOOD])
    assert R(lambda prompts, completions, **kw: [None], [ARITH], [GOOD]) == [None]


def test_columns_stored_as_json_strings_rebuild_problems():
    from ponder.verify.rewards.contract import problems_from_columns

    (p,) = problems_from_columns(1, {"task": ["countdown"], "answer": [None], "meta": ['{"target": 24}'], "info": [""]})
    assert p.task == "countdown" and p.meta == {"target": 24} and p.info == {} and p.answer is None
