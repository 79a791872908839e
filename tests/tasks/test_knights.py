"""Knights-and-knaves: uniqueness, self-verifying traces, step checks, parsing, lenient answers."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.steps import split_steps
from ponder.tasks import get_task, make_problems
from ponder.tasks.knights import canonical, generate, parse_assignment, question_text, solutions
from ponder.types import PonderError

TASK = get_task("knights")
seeds = st.integers(0, 10**6)
levels = st.sampled_from(TASK.levels)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, level=levels)
def test_generated_puzzle_has_exactly_one_solution(seed, level):
    p = TASK.sample(random.Random(seed), level)
    found = solutions(p.meta["people"], p.meta["statements"])
    assert len(found) == 1
    assert canonical(found[0]) == p.answer
    assert p.meta["level"] == level == len(p.meta["people"])


@settings(max_examples=60, deadline=None)
@given(seed=seeds, level=levels)
def test_trace_verifies_and_every_step_passes_check_step(seed, level):
    p = TASK.sample(random.Random(seed), level)
    trace = TASK.trace(p, random.Random(seed + 1))
    assert TASK.check(p, trace).correct
    checked = [TASK.check_step(p, s) for s in split_steps(trace)]
    assert all(c is not False for c in checked)
    assert checked.count(True) >= level  # one line per person on the final branch, plus the answer


@settings(max_examples=40, deadline=None)
@given(seed=seeds, level=levels, who=st.integers(0, 5))
def test_corrupted_answer_fails_outcome_and_step_check(seed, level, who):
    p = TASK.sample(random.Random(seed), level)
    name = p.meta["people"][who % level]
    sol = dict(p.info["solution"])
    sol[name] = "knave" if sol[name] == "knight" else "knight"
    wrong = ",".join(f"{k}={v}" for k, v in sorted(sol.items()))
    response = f"<think>x</think>\n<answer>{wrong}</answer>"
    score = TASK.check(p, response)
    assert score.parsed and score.value == 0.0
    assert TASK.check_step(p, f"<answer>{wrong}</answer>") is False


@settings(max_examples=40, deadline=None)
@given(seed=seeds, level=levels)
def test_parse_round_trips_the_question(seed, level):
    p = TASK.sample(random.Random(seed), level)
    q = TASK.parse(p.question)
    assert (q.question, q.answer, q.meta, q.info, q.id) == (p.question, p.answer, p.meta, p.info, p.id)
    assert TASK.parse(p.question.lower()).answer == p.answer


def test_same_seed_same_problems_and_level_bounds():
    assert make_problems("knights", 5, 4, seed=7) == make_problems("knights", 5, 4, seed=7)
    assert make_problems("knights", 5, 4, seed=7) != make_problems("knights", 5, 4, seed=8)
    with pytest.raises(PonderError, match="levels"):
        TASK.sample(random.Random(0), 7)


GOLDEN = "Knights and knaves: A says A and B are knaves. B says A is a knave."


def test_golden_puzzle_trace_is_a_backtracking_search():
    p = TASK.parse(GOLDEN)
    assert p.answer == "A=knave,B=knight"
    assert p.meta["statements"][0] == {"speaker": "A", "kind": "both", "people": ["A", "B"], "role": "knave"}
    lines = ["A=K", "A=K B=N: A:F fail", "A=K B=K: A:F fail", "A=N", "A=N B=N: A:T fail", "A=N B=K: A:F ok, B:T ok"]
    expected = "<think>" + "\n".join(lines) + "</think>\n<answer>A=knave,B=knight</answer>"
    assert TASK.trace(p, random.Random(1)) == expected


@pytest.mark.parametrize(
    "step,ok",
    [
        ("A=K B=N: A:F fail", True),
        ("A=K B=N: A:T fail", False),  # wrong truth value
        ("A=K B=N: A:F ok", False),  # wrong verdict
        ("A=K B=N", False),  # claims consistency, but A's claim fails
        ("A=N B=K: B:T ok", True),
        ("A=N: B:T ok", False),  # B's claim is not decided without B
        ("A=N B=K C=K", False),  # no such person
        ("<answer>A=knave, B=knight</answer>", True),
        ("<answer>A=knight,B=knave</answer>", False),
        ("<answer>nobody</answer>", False),
        ("A=N", True),
        ("let me think", None),
        ("</think>\n", None),
    ],
)
def test_check_step_golden(step, ok):
    assert TASK.check_step(TASK.parse(GOLDEN).public(), step) is ok


@pytest.mark.parametrize(
    "answer,value,parsed",
    [
        ("A=knave,B=knight", 1.0, True),
        (" b : Knight ;  a is a KNAVE ", 1.0, True),
        ("A=N B=K", 1.0, True),
        ("A=knave", 0.0, True),
        ("A=knight,B=knave", 0.0, True),
        ("A=knave,A=knight,B=knight", 0.0, False),
        ("no idea", 0.0, False),
    ],
)
def test_check_is_lenient_about_format(answer, value, parsed):
    score = TASK.check(TASK.parse(GOLDEN), f"<think>...</think>\n<answer>{answer}</answer>")
    assert (score.value, score.parsed) == (value, parsed)
    assert not TASK.check(TASK.parse(GOLDEN), "A=knave,B=knight").parsed  # no answer tag


def test_parse_rejects_other_text_and_bad_puzzles():
    for text in ["12+7*(3-1)", "countdown 3 7 12 -> 57", "A says hello.", "", "Knights and knaves:"]:
        assert TASK.parse(text) is None
    with pytest.raises(PonderError, match="2 solutions"):
        TASK.parse("A says B is a knight. B says A is a knight.")
    with pytest.raises(PonderError, match="one claim"):
        TASK.parse("A says B is a knight. A says B is a knave.")


def test_parse_assignment_and_question_text():
    assert parse_assignment("A=knight, C: knave") == {"A": True, "C": False}
    assert isinstance(parse_assignment("yes"), str)
    stmts, hidden = generate(random.Random(3), 4)
    assert question_text(stmts).startswith("Knights and knaves: A says ")
    assert solutions(list("ABCD"), stmts) == [hidden]
