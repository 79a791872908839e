"""Task-checker verifiers (delegating to ponder.tasks) and Game of 24."""

from __future__ import annotations

import pytest

from ponder.tasks import make_problems
from ponder.types import Problem
from ponder.verify import VERIFIERS, get_verifier, verify
from ponder.verify.task_checkers import task_verifier

G24 = Problem(id="g", task="game24", question="Use 1 1 4 6 to make 24", meta={"numbers": [1, 1, 4, 6], "target": 24})


@pytest.mark.parametrize(
    ("response", "value"),
    [
        ("<answer>(1+1)*(6+4)+4</answer>", 0.0),  # uses 4 twice
        ("<answer>6/(1-1+1/4)</answer>", 0.0),  # uses 1 three times
        ("<answer>(1+1+4)*6 = 24</answer>", 0.0),  # 36
        ("<answer>6*4*1*1</answer>", 1.0),
        ("The answer is (1+1)*... no. The answer is 4*6*1*1.", 1.0),
        ("<answer>4*6</answer>", 0.0),  # not every number used
        ("<answer>__import__('os')</answer>", 0.0),
        ("", 0.0),
    ],
)
def test_game24(response, value):
    [score] = verify([G24], [response])
    assert score.value == value and score.reason


def test_game24_exact_rationals():
    p = Problem(id="g", task="game24", question="", meta={"numbers": [3, 3, 8, 8], "target": 24})
    assert get_verifier("game24")([p], ["<answer>8/(3-8/3)</answer>"])[0].value == 1.0


@pytest.mark.parametrize("task", ["arithmetic", "countdown", "equations", "knights"])
def test_task_verifiers_accept_reference_traces_and_reject_garbage(task):
    import random

    from ponder.tasks import get_task

    t = get_task(task)
    problems = make_problems(task, 5, seed=1)
    traces = [t.trace(p, random.Random(0)) for p in problems]
    assert all(s.correct for s in verify(problems, traces))
    garbage = ["", "<answer>", "∞" * 10_000, "<answer>" + "(" * 5000 + "</answer>"] + ["x"]
    assert not any(s.correct for s in verify(problems, garbage))
    assert task in VERIFIERS.names()


def test_checker_exceptions_become_scores(monkeypatch):
    from ponder import tasks

    class Broken:
        def check(self, problem, response):
            raise KeyError("numbers")

    monkeypatch.setattr(tasks, "get_task", lambda name: Broken())
    [score] = task_verifier("countdown")([Problem(id="c", task="countdown", question="")], ["<answer>1</answer>"])
    assert score.value == 0.0 and "KeyError" in score.reason


@pytest.mark.parametrize("task", ["arithmetic", "countdown", "equations", "knights", "game24"])
def test_task_verifiers_are_fast_on_hostile_tags(task):
    import time

    problems = make_problems(task, 1, seed=0) if task != "game24" else [G24]
    start = time.perf_counter()
    scores = verify(problems * 3, ["<answer>" * 30_000, "<think>" * 30_000, "<answer></answer>" * 20_000])
    assert time.perf_counter() - start < 5.0  # linear: ~0.05 s; the quadratic regex took ~100 s
    assert not any(s.correct for s in scores)
