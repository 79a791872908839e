"""`ponder verify`: math and code files, summary, user errors."""

from __future__ import annotations

import json
import os

import pytest

from ponder.cli import main
from ponder.io import read_jsonl, write_jsonl
from ponder.types import PonderError, Problem
from ponder.verify import VERIFIERS, get_verifier


def test_cli_math(tmp_path, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, [
        {"response": "The answer is 18.", "answer": "18"},
        {"response": "\\boxed{", "answer": "1"},
        {"response": "<answer>\\frac{1}{2}</answer>", "answer": "0.5"},
        {"response": "#### 7", "answer": 8},
    ])  # fmt: skip
    assert main(["verify", "--verifier", "math", "--input", str(src), "--output", str(out)]) == 0
    recs = read_jsonl(out)
    assert [r["correct"] for r in recs] == [True, False, True, False]
    assert [r["parsed"] for r in recs] == ["18", None, "1/2", "7"]
    assert all(r["reason"] for r in recs)
    summary = capsys.readouterr().out
    assert "4 records" in summary and "no_answer 1" in summary and "correct 2" in summary


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")
def test_cli_code(tmp_path, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, [
        {"response": "def f(x):\n    return x + 1", "test_list": ["assert f(1) == 2"]},
        {"response": "    return a * b", "prompt": "def g(a, b):\n", "entry_point": "g",
         "test": "def check(c):\n    assert c(2, 3) == 5"},
    ])  # fmt: skip
    assert main(["verify", "--verifier", "code", "--input", str(src), "--output", str(out), "--timeout", "5"]) == 0
    recs = read_jsonl(out)
    assert [(r["correct"], r["status"]) for r in recs] == [(True, "passed"), (False, "failed")]
    assert "passed 1" in capsys.readouterr().out


def test_cli_user_errors(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"answer": "1"}) + "\n")
    assert main(["verify", "--verifier", "math", "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "no string `response`" in capsys.readouterr().err
    assert main(["verify", "--verifier", "mathh", "--input", str(src), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "Did you mean 'math'" in capsys.readouterr().err
    with pytest.raises(PonderError, match="no verifier for task"):
        from ponder.verify import verify

        verify([Problem(id="x", task="poetry", question="")], ["x"])


NASTY = ["", "\\boxed{", "∞" * 50_000, "{" * 3000, "<answer></answer>", "```python\nwhile True: pass\n```"]


@pytest.mark.parametrize("name", [n for n in VERIFIERS.names() if n != "code"])
def test_every_verifier_is_total_on_garbage(name):
    p = Problem(id="p", task=name, question="", answer="5", meta={"numbers": [1, 2, 3, 4], "target": 24})
    scores = get_verifier(name)([p] * len(NASTY), NASTY)
    assert len(scores) == len(NASTY) and all(s.value == 0.0 and s.reason for s in scores)


def test_cli_auto_picks_the_verifier_per_record(tmp_path, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, [
        {"task": "gsm8k", "response": "#### 1,000", "answer": "1000"},
        {"task": "game24", "response": "<answer>(1+1+1)*8</answer>", "meta": {"numbers": [1, 1, 1, 8], "target": 24}},
        {"problem": {"id": "a", "task": "arithmetic", "question": "2+3", "answer": "5"}, "response": "<answer>6</answer>"},
    ])  # fmt: skip
    assert main(["verify", "--input", str(src), "--output", str(out)]) == 0
    assert [r["correct"] for r in read_jsonl(out)] == [True, True, False]
