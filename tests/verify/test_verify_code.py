"""The code verifier: HumanEval and MBPP forms, code extraction, statuses."""

from __future__ import annotations

import os

import pytest

from ponder.types import Problem
from ponder.verify import get_verifier, verify
from ponder.verify.code_verifier import build_job, extract_code, run_code_tests
from ponder.verify.sandbox import Limits

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")
FAST = Limits(cpu_seconds=2, wall_seconds=4, memory_mb=256, max_processes=4)

HE = Problem(
    id="he", task="humaneval", question="",
    info={
        "prompt": "from typing import List\n\ndef add(a: int, b: int) -> int:\n    \"\"\"Add.\"\"\"\n",
        "entry_point": "add",
        "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n",
    },
)  # fmt: skip
MBPP = Problem(
    id="mb",
    task="mbpp",
    question="",
    info={
        "test_list": ["assert sq(K) == 9", "assert sq(0) == 0"],
        "test_setup_code": "K = Three().value",
    },  # setup uses a class of the solution, as MBPP 367 does
)


def test_extract_code_prefers_answer_and_entry_point_block():
    resp = "<think>try\n```python\ndef other(): pass\n```\n</think>\n<answer>```python\ndef add(a, b):\n    return a + b\n```\n```python\nprint(1)\n```</answer>"
    assert extract_code(resp, "add").startswith("def add(a, b):")
    assert extract_code("```py\nx = 1\n```\ntext\n```python\ny = 2\n```") == "y = 2\n"
    assert extract_code("    return a + b") == "    return a + b"


def test_build_job_completion_vs_full_program_and_no_tests_in_the_program():
    completion, spec = build_job(HE, "    return a + b\n")
    assert completion.startswith("from typing import List") and "check" not in completion
    assert spec["form"] == "humaneval" and spec["entry_point"] == "add" and "check" in spec["test"]
    full, _ = build_job(HE, "def add(a, b):\n    return a + b\n")
    assert '"""Add."""' not in full and "from typing import List" in full
    program, spec = build_job(MBPP, "def sq(x):\n    return x * x")
    assert "assert" not in program and spec["test_list"] == MBPP.info["test_list"]
    assert build_job(Problem(id="x", task="mbpp", question=""), "x") is None


@needs_root
def test_statuses():
    responses = [
        "    return a + b\n",  # passed
        "    return a - b\n",  # failed (assertion)
        "    while True:\n        pass\n",  # timeout
        "    return (a +\n",  # error (does not compile)
        "    import sys\n    sys.exit(0)\n",  # exits before the tests finish: failed
        "    raise ValueError('boom')\n",  # failed with the exception as reason
        "",  # empty
    ]
    results = run_code_tests([HE] * len(responses), responses, limits=FAST, workers=2)
    assert [r.status for r in results] == ["passed", "failed", "timeout", "error", "failed", "failed", "error"]
    assert results[1].reason == "a test assertion failed"
    assert "ValueError" in results[5].reason and "ValueError" in results[5].stderr_excerpt
    assert results[6].reason == "empty response"


@needs_root
def test_mbpp_form_with_setup_code_and_verify_dispatch():
    good = "```python\nclass Three:\n    value = 3\ndef sq(x):\n    return x * x\n```"
    bad = "class Three:\n    value = 3\ndef sq(x):\n    return x + x"
    scores = verify([MBPP, MBPP, HE], [good, bad, "    return a + b"])
    assert [s.value for s in scores] == [1.0, 0.0, 1.0]
    assert [s.extracted for s in scores] == ["passed", "failed", "passed"]


@needs_root
def test_code_verifier_from_registry_with_limits():
    fn = get_verifier("code", limits=FAST, workers=1)
    [score] = fn([HE], ["    import time\n    time.sleep(30)\n"])
    assert score.value == 0.0 and score.extracted == "timeout"


@needs_root
def test_chatty_program_still_passes():
    [res] = run_code_tests([HE], ["    print('x' * 100_000)\n    return a + b\n"], limits=FAST, workers=1)
    assert res.status == "passed"


@needs_root
def test_unencodable_response_is_a_parse_failure_and_the_batch_goes_on():
    scores = get_verifier("code", limits=FAST, workers=2)(
        [HE, HE, HE], ["    return a + b\ud800\n", "    return a + b\n", ""]
    )
    assert [(s.value, s.parsed, s.extracted) for s in scores] == [
        (0.0, False, "error"),
        (1.0, True, "passed"),
        (0.0, False, "error"),
    ]


@needs_root
def test_judge_sees_only_plain_data():
    """An always-equal object fails where it would have passed a pasted-in test; a subclass of
    int is judged by its value; a tuple is not a list."""
    results = run_code_tests(
        [HE] * 3,
        ["    class A:\n        def __eq__(s, o): return True\n    return A()\n",
         "    class I(int):\n        def __eq__(s, o): return True\n    return I(a + b)\n",
         "    return (a + b,)[0]\n"],
        limits=FAST,
    )  # fmt: skip
    assert [r.status for r in results] == ["failed", "passed", "passed"]
