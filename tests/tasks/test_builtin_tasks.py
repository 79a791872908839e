"""Every built-in task's traces verify with its own checker, every trace step passes the
executable step checker, and corrupted answers / steps fail."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.steps import split_steps
from ponder.tasks import detect_task, get_task, make_problems
from ponder.tasks.countdown import check_expression
from ponder.tasks.expr import ExprError, evaluate
from ponder.types import PonderError

GENERATED = ["arithmetic", "countdown", "equations"]


@pytest.mark.parametrize("name", GENERATED)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), pick=st.integers(0, 10))
def test_traces_verify_with_own_checker(name, seed, pick):
    task = get_task(name)
    level = task.levels[pick % len(task.levels)]
    problem = make_problems(name, 1, level, seed)[0]
    trace = task.trace(problem, random.Random(seed))
    assert task.check(problem.public() if name == "countdown" else problem, trace).correct, trace
    for step in split_steps(trace):
        assert task.check_step(problem.public(), step) in (True, None), (step, trace)


@pytest.mark.parametrize("name", GENERATED)
def test_wrong_answer_fails_and_missing_answer_is_unparsed(name):
    task = get_task(name)
    problem = make_problems(name, 1, None, 3)[0]
    trace = task.trace(problem, random.Random(0))
    wrong = trace.replace("<answer>", "<answer>9").replace("</answer>", "9</answer>")
    assert not task.check(problem, wrong).correct
    score = task.check(problem, "I think it is 5")
    assert not score.correct and not score.parsed


def test_same_seed_same_problems_and_levels_validated():
    assert make_problems("countdown", 5, 4, 7) == make_problems("countdown", 5, 4, 7)
    assert make_problems("countdown", 5, 4, 7) != make_problems("countdown", 5, 4, 8)
    with pytest.raises(PonderError, match="difficulty levels"):
        make_problems("arithmetic", 1, 99)
    with pytest.raises(PonderError, match="unknown task 'arithmatic'"):
        make_problems("arithmatic", 1)


def test_step_checkers_catch_bad_steps():
    ar = make_problems("arithmetic", 1, 2, 0)[0]
    first = split_steps(get_task("arithmetic").trace(ar, random.Random(0)))[0]
    a, rest = first.split("=", 1)
    bad_value = a + "=" + str(int(rest.split(",")[0].strip("\n<think>/")) + 1)
    assert get_task("arithmetic").check_step(ar, "<think>" + bad_value) is False
    cd = detect_task("countdown 3 7 12 -> 45")
    task = get_task("countdown")
    assert task.check_step(cd, "3+12=15,15*3=45 yes") is False  # 3 used twice
    assert task.check_step(cd, "7+12=19,19*3=57 no") is True
    assert task.check_step(cd, "7+12=19,19*3=57 yes") is False  # claims a hit it did not make
    assert task.check_step(cd, "7+12=20 no") is False
    eq = detect_task("solve 3x+7=22")
    assert get_task("equations").check_step(eq, "3x=15") is True
    assert get_task("equations").check_step(eq, "3x=29") is False


def test_countdown_checker_is_safe_and_strict():
    assert check_expression("(3+12)*3", [3, 3, 12], 45, exact_use=False).correct
    assert not check_expression("(3+12)*3", [3, 12], 45, exact_use=False).correct
    assert not check_expression("__import__('os')", [1], 1, exact_use=False).parsed
    assert not check_expression("(" * 1000 + "1", [1], 1, exact_use=False).parsed
    assert not check_expression("6/(1-1)", [6, 1, 1], 24, exact_use=True).correct
    assert check_expression("(10-4)*(13-9)", [4, 9, 10, 13], 24, exact_use=True).correct
    assert not check_expression("(10-4)*4", [4, 9, 10, 13], 24, exact_use=True).correct


def test_expr_limits():
    assert evaluate("2*(3+4)-5/5").value == 13
    for bad in ["", "2+", "2**3", "1/0", "9" * 20, "(1", "1)", "a+1"]:
        with pytest.raises(ExprError):
            evaluate(bad)


def test_detect_task_free_text():
    assert detect_task("12 + 7*(30-4)").answer == "194"
    assert detect_task("Use 3 7 12 to make 57").meta == {"numbers": [3, 7, 12], "target": 57, "level": 3}
    assert detect_task("solve 2(x+3)=14").answer == "4"
    with pytest.raises(PonderError, match="could not read"):
        detect_task("what is the meaning of life")
