"""Each `ponder data` filter on hand-made records, the declared order with counts, the labels."""

import pytest

from ponder.data.filters import FILTERS, FilterContext, apply_filters, difficulty, jaccard, shingles
from ponder.types import PonderError

GOOD = "<think>2+3=5</think>\n<answer>5</answer>"


def rec(pid="p", response=GOOD, correct=True, rate=0.5, **meta):
    return {"problem_id": pid, "task": "arithmetic", "question": "2+3", "answer": "5", "prompt": "2+3\n",
            "response": response, "correct": correct, "score": float(correct), "cost": {},
            "meta": {"pass_rate": rate, **meta}}  # fmt: skip


def run(name, records, **ctx):
    return FILTERS.get(name)(records, FilterContext(**ctx))


def test_correct_keeps_verified_only():
    assert [r["correct"] for r in run("correct", [rec(), rec(correct=False)])] == [True]


def test_pass_rate_band_drops_too_easy_and_too_hard():
    recs = [rec("a", rate=0.0), rec("b", rate=0.25), rec("c", rate=0.75), rec("d", rate=1.0)]
    kept = run("pass_rate", recs, min_pass_rate=0.25, max_pass_rate=0.75)
    assert [r["problem_id"] for r in kept] == ["b", "c"]


def test_length_bounds_and_truncated():
    recs = [rec(response="x" * 5), rec(response="x" * 50), rec(finish_reason="length"), rec(finish_reason="eos")]
    assert run("length", recs, min_chars=10, max_chars=45) == [recs[3]]  # the cut-off one goes too
    assert len(run("length", recs, min_chars=1, max_chars=100)) == 3


def test_exact_duplicates_per_problem_whitespace_normalised():
    recs = [rec("a"), rec("a", response=GOOD.replace("\n", "  ")), rec("b")]
    assert [r["problem_id"] for r in run("exact_dup", recs)] == ["a", "b"]


def test_near_duplicates():
    near = GOOD.replace("5</answer>", "5 </answer>")
    far = "<think>3+2=5, so 5</think>\n<answer>5</answer>"
    assert jaccard(shingles(GOOD), shingles(near)) > 0.8 > jaccard(shingles(GOOD), shingles(far))
    assert [r["response"] for r in run("near_dup", [rec(), rec(response=near), rec(response=far)], near_dup=0.8)] == [
        GOOD,
        far,
    ]
    assert len(run("near_dup", [rec("a"), rec("b", response=near)], near_dup=0.8)) == 2  # other problem: kept


def test_format_needs_think_and_one_answer():
    bad = ["<answer>5</answer>", "<think>x</think>", "<think>x</think><answer> </answer>",
           "<think>x</think><answer>4</answer><answer>5</answer>"]  # fmt: skip
    assert [r["response"] for r in run("format", [rec()] + [rec(response=b) for b in bad])] == [GOOD]


def test_steps_drops_a_trace_with_a_wrong_step():
    scores = {GOOD: [1.0, 1.0], "wrong": [1.0, 0.0]}
    recs = [rec(), rec(response="wrong")]
    kept = run("steps", recs, score_steps=lambda rs: [scores[r["response"]] for r in rs])
    assert [r["response"] for r in kept] == [GOOD]
    assert len(run("steps", recs)) == 2  # no step scorer: nothing judged


def test_steps_with_the_real_step_checker():
    from ponder.search.scorers.check import StepChecker
    from ponder.steps import split_steps
    from ponder.types import Problem

    p = Problem("p", "arithmetic", "169+78=?", "247", meta={"expression": "169+78"})
    right = "<think>169+78=247</think>\n<answer>247</answer>"
    wrong = "<think>169+78=24\n169+78=247</think>\n<answer>247</answer>"
    checker = StepChecker()
    kept = run("steps", [rec(response=right), rec(response=wrong)],
               score_steps=lambda rs: checker.score_steps([p] * len(rs), [split_steps(r["response"]) for r in rs]))  # fmt: skip
    assert [r["response"] for r in kept] == [right]


def test_apply_filters_in_declared_order_with_counts():
    recs = [rec("a"), rec("a"), rec("a", correct=False), rec("b", rate=1.0)]
    kept, counts = apply_filters(recs, ["correct", "exact_dup", "pass_rate"], FilterContext(max_pass_rate=0.9))
    assert len(kept) == 1
    assert [(c["filter"], c["before"], c["removed"], c["after"]) for c in counts] == [
        ("correct", 4, 1, 3), ("exact_dup", 3, 1, 2), ("pass_rate", 2, 1, 1)]  # fmt: skip
    with pytest.raises(PonderError, match="unknown data filter"):
        apply_filters(recs, ["corect"], FilterContext())


def test_difficulty_labels():
    assert [difficulty(x) for x in (1.0, 0.5, 0.1, 0.0)] == ["easy", "medium", "hard", "unsolved"]


def test_language_keeps_one_script_drops_mixed_and_keeps_wordless():
    english = "<think>add the two numbers: two plus three is five</think>\n<answer>5</answer>"
    mixed = "<think>add the numbers 我们先把两个数相加 then five</think>\n<answer>5</answer>"
    recs = [rec("a", english), rec("b", mixed), rec("c", GOOD)]  # GOOD has no words: not applicable, kept
    assert [r["problem_id"] for r in run("language", recs)] == ["a", "c"]
    assert [r["problem_id"] for r in run("language", recs, language="zh", min_language=0.5)] == ["b", "c"]
    assert run("language", recs, min_language=0.0) == recs


def test_language_unknown_target_is_one_clear_error():
    with pytest.raises(PonderError, match="unknown target 'xx'"):
        run("language", [rec()], language="xx")
