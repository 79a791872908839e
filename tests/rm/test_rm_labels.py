"""Step-label records, Monte-Carlo labels on a scripted generator, exact labels, importers."""

import json

import pytest

from ponder.gen.fake import FakeGenerator
from ponder.rm.exact import exact_labels
from ponder.rm.labels import (
    LabeledTrace,
    first_error,
    import_math_shepherd,
    import_prm800k,
    prefix_labels,
    read_labels,
)
from ponder.rm.mc import MCParams, Trace, label_traces
from ponder.tasks import get_task, make_problems
from ponder.types import PonderError, Problem, Score

P = Problem(id="p0", task="arithmetic", question="2+3*4=?", answer="14", meta={"expression": "2+3*4"})
GOOD = "<think>3*4=12,2+12\n2+12=14</think>\n<answer>14</answer>"
BAD = "<think>3*4=13,2+13\n2+13=15</think>\n<answer>15</answer>"


def check_verifier(problems, responses):
    return [Score(float(r.endswith(f"<answer>{p.answer}</answer>"))) for p, r in zip(problems, responses)]


def script(prompt: str, i: int) -> str:
    """After a wrong first step every rollout fails; after a right one, samples 0 and 1 of 4 succeed."""
    if "3*4=13" in prompt:
        return "2+13=15</think>\n<answer>15</answer>"
    if prompt.endswith("2+12=14</think>\n"):
        return "<answer>14</answer>"
    return "2+12=14</think>\n<answer>14</answer>" if i % 4 < 2 else "2+12=16</think>\n<answer>16</answer>"


def test_mc_labels_on_known_outcomes(tmp_path):
    gen = FakeGenerator(script)
    traces = [Trace("good", P, GOOD), Trace("bad", P, BAD)]
    soft = label_traces(gen, traces, MCParams(k=4), verifier=check_verifier)
    assert [r.labels for r in soft] == [[0.5, 1.0, 1.0], [0.0, 0.0, 0.0]]
    assert [r.outcome for r in soft] == [1.0, 0.0]
    assert soft[0].meta["rollouts"] == [[True, True, False, False], [True] * 4, None]
    assert len(gen.calls) == 1 and len(gen.calls[0][0]) == 4  # 2 traces x 2 prefixes, one call
    hard = label_traces(FakeGenerator(script), traces, MCParams(k=4, hard=True), verifier=check_verifier)
    assert hard[0].labels == [1.0, 1.0, 1.0] and hard[0].kind == "mc-hard"


def test_mc_labels_resume(tmp_path):
    out = tmp_path / "labels.jsonl"
    gen = FakeGenerator(script)
    label_traces(gen, [Trace("good", P, GOOD)], MCParams(k=4), out=out, verifier=check_verifier)
    with out.open("a") as f:
        f.write('{"id": "torn", "prob')  # a crash mid-line
    recs = label_traces(
        gen, [Trace("good", P, GOOD), Trace("bad", P, BAD)], MCParams(k=4), out=out, verifier=check_verifier
    )
    assert [r.id for r in recs] == ["good", "bad"]
    assert len(gen.calls) == 2 and len(gen.calls[1][0]) == 2  # only the new trace was rolled out
    assert [r.id for r in read_labels(out)] == ["good", "bad"]


def test_mc_rejects_empty_trace():
    with pytest.raises(PonderError, match="no steps"):
        label_traces(FakeGenerator(script), [Trace("e", P, "")], MCParams(k=2), verifier=check_verifier)


def test_exact_labels_from_step_checker():
    from ponder.steps import split_steps

    assert exact_labels(P, split_steps(GOOD), 1.0) == [1.0, 1.0, 1.0]
    assert exact_labels(P, split_steps(BAD), 0.0) == [0.0, 0.0, 0.0]
    half = "<think>3*4=12,2+12\n2+12=15</think>\n<answer>15</answer>"
    labels = exact_labels(P, split_steps(half), 0.0)
    assert labels == [1.0, 0.0, 0.0] and first_error(labels) == 1


def test_exact_labels_on_reference_traces_are_all_correct():
    import random

    for task in ("arithmetic", "countdown"):
        t = get_task(task)
        for p in make_problems(task, 5, seed=1):
            from ponder.steps import split_steps

            steps = split_steps(t.trace(p, random.Random(0)))
            assert all(v == 1.0 for v in exact_labels(p, steps, 1.0, task=t)), (task, steps)


def test_prefix_labels_and_first_error():
    assert prefix_labels([True, None, False, True]) == [1.0, None, 0.0, 0.0]
    assert first_error([1.0, None, 1.0]) == -1
    assert first_error([1.0, 0.2, 0.0]) == 1


def test_record_alignment_errors():
    with pytest.raises(PonderError, match="has 2 steps but 3 labels"):
        LabeledTrace("x", P, ["a\n", "b"], [1.0, 1.0, 0.0], "exact")
    with pytest.raises(PonderError, match="no steps"):
        LabeledTrace("x", P, [], [], "exact")
    with pytest.raises(PonderError, match="in \\[0, 1\\]"):
        LabeledTrace("x", P, ["a"], [2.0], "exact")
    rec = LabeledTrace("x", P, ["a\n", "b"], [1.0, None], "exact", outcome=1.0)
    assert LabeledTrace.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec


PRM800K = {
    "labeler": "x",
    "question": {"problem": "What is 1+1?", "ground_truth_answer": "2"},
    "label": {
        "steps": [
            {
                "completions": [{"text": "1+1 is\nan addition.", "rating": 1}],
                "human_completion": None,
                "chosen_completion": 0,
            },
            {
                "completions": [{"text": "It is 3.", "rating": -1}, {"text": "It is 2.", "rating": 1}],
                "human_completion": None,
                "chosen_completion": None,
            },
            {"completions": [{"text": "never reached", "rating": 1}], "chosen_completion": 0},
        ],
        "finish_reason": "found_error",
    },
}


def test_import_prm800k(tmp_path):
    f = tmp_path / "prm800k.jsonl"
    f.write_text(json.dumps(PRM800K) + "\n")
    (rec,) = import_prm800k(f)
    assert rec.steps == ["1+1 is an addition.\n", "It is 3.\n"]  # stops after the first -1
    assert rec.labels == [1.0, 0.0] and rec.kind == "prm800k" and rec.problem.answer == "2"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": {"problem": "q"}, "label": {"steps": []}}) + "\n")
    with pytest.raises(PonderError, match="no steps"):
        import_prm800k(bad)


def test_import_math_shepherd(tmp_path):
    f = tmp_path / "ms.jsonl"
    inp = "Tom has 2 apples. Step 1: 2+1=3 ки\nStep 2: The answer is 4 ки"
    f.write_text(
        json.dumps({"input": inp, "label": inp.replace("ки", "+", 1).replace("ки", "-"), "task": "GSM8K"}) + "\n"
    )
    (rec,) = import_math_shepherd(f)
    assert rec.problem.question == "Tom has 2 apples."
    assert rec.steps == ["Step 1: 2+1=3\n", "Step 2: The answer is 4\n"] and rec.labels == [1.0, 0.0]
