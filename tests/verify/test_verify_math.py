"""The math verifier (fast paths, math-verify behind the pool) and the pool's hard timeout."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.types import Problem
from ponder.verify import verify
from ponder.verify.math import fast_compare, math_scores
from ponder.verify.worker_pool import WorkerPool


def _p(answer: str | None, task: str = "math") -> Problem:
    return Problem(id="x", task=task, question="", answer=answer)


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [("18", "18", True), ("18", "18.0", True), ("0.5", "1/2", True), ("50", "50%", True), ("0.5", "50%", True),
     ("2125", "2125", True), ("3", "4", False), ("1/3", "2/6", True), ("x+1", "1+x", None), ("0.333", "1/3", None)],
)  # fmt: skip
def test_fast_compare(gold, pred, expected):
    assert fast_compare(gold, pred) is expected


def test_math_verify_path_and_reasons():
    problems = [_p("\\left( 3, \\frac{\\pi}{2} \\right)"), _p("\\frac{\\sqrt{3}}{2}"), _p("x+1"), _p("7", "gsm8k")]
    responses = ["\\boxed{(3, \\pi/2)}", "<answer>\\sqrt3/2</answer>", "\\boxed{x+2}", "#### 7"]
    scores = verify(problems, responses)
    assert [s.value for s in scores] == [1.0, 1.0, 0.0, 1.0]
    assert scores[0].reason == "equal (math-verify)" and scores[3].reason == "equal (gsm8k, exact)"


def test_no_answer_is_reported_apart_from_wrong():
    wrong, missing, no_ref = math_scores([_p("3"), _p("3"), _p(None)], ["\\boxed{4}", "I do not know", "\\boxed{4}"])
    assert (wrong.parsed, missing.parsed) == (True, False)
    assert missing.reason == "no answer found" and no_ref.reason == "problem has no reference answer"


def test_garbage_responses_are_false_and_bounded():
    garbage = ["", "\\boxed{", "∞" * 100_000, "\\boxed{" + "{" * 5000 + "}" * 5000 + "}", "\\boxed{\\frac{\\frac{\\frac{1}{}}}",
               "\\boxed{9^{9^{9^{9^{9^{9}}}}}}", "\\boxed{\\begin{matrix}" + "1&" * 500 + "\\end{matrix}}", None]  # fmt: skip
    start = time.perf_counter()
    scores = math_scores([_p("1")] * len(garbage), garbage, timeout=5.0)
    assert time.perf_counter() - start < 30
    assert all(s.value == 0.0 and s.reason for s in scores)


def test_pool_kills_and_replaces_a_hung_worker():
    pool = WorkerPool("time:sleep", workers=1, memory_mb=512)
    try:
        start = time.perf_counter()
        res = pool.map([0, 30, 0], timeout=1.0)
        assert [r.status for r in res] == ["ok", "timeout", "ok"]
        assert time.perf_counter() - start < 15
    finally:
        pool.close()


def test_pool_survives_a_crashing_worker_and_reports_errors():
    pool = WorkerPool("os:_exit", workers=1, memory_mb=512)
    try:
        res = pool.map([3], timeout=5.0)
        assert res[0].status == "error" and "crashed" in res[0].error
    finally:
        pool.close()
    pool = WorkerPool("math:sqrt", workers=2, memory_mb=512)
    try:
        assert [r.status for r in pool.map([4, -1, "x"], timeout=5.0)] == ["ok", "error", "error"]
    finally:
        pool.close()


def test_duplicate_pairs_are_judged_once(monkeypatch):
    import ponder.verify.math as vm

    sent = []
    real = vm.shared_pool

    class Spy:
        def map(self, items, timeout):
            sent.extend(items)
            return real().map(items, timeout)

    monkeypatch.setattr(vm, "shared_pool", lambda workers=2: Spy())
    monkeypatch.setattr(vm, "_CACHE", {})
    probs = [_p("x^2+1")] * 4
    scores = math_scores(probs, ["\\boxed{1+x^2}", "\\boxed{1+x^2}", "\\boxed{x^{2}+1}", "\\boxed{1+x^2}"])
    assert [s.value for s in scores] == [1.0] * 4
    assert sorted(map(tuple, sent)) == [("x^2+1", "1+x^2"), ("x^2+1", "x^{2}+1")]
    math_scores(probs[:1], ["\\boxed{1+x^2}"])
    assert len(sent) == 2  # served from the cache


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.,/-+%$\\frac{}text cm")), max_size=40), st.text(max_size=40))
def test_fast_compare_is_total_and_symmetric(a, b):
    assert fast_compare(a, b) == fast_compare(b, a)
    assert fast_compare(a, a) is True
