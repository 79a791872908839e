"""The done-when checks on the shared data sets (skipped when ../shared/data is absent):
every GSM8K and MATH-500 gold solution verifies against its own reference answer; every
HumanEval canonical solution passes its tests and a deliberately broken variant fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ponder.tasks.loaders import load_dataset
from ponder.types import Problem
from ponder.verify import verify
from ponder.verify.code_verifier import broken_variant, run_code_tests
from ponder.verify.sandbox import Limits

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data not present")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")


@needs_data
@pytest.mark.parametrize("split", ["test", "train"])
def test_gsm8k_gold_solutions_verify(split):
    probs = load_dataset("gsm8k", path=DATA, split=split)
    resps = [p.info["solution"] for p in probs]
    bad = [(p.id, s.reason) for p, s in zip(probs, verify(probs, resps)) if not s.correct]
    assert bad == []


@needs_data
def test_math500_gold_solutions_verify():
    probs = load_dataset("math", path=DATA)
    scores = verify(probs, [p.info["solution"] for p in probs])
    assert [(p.id, s.reason) for p, s in zip(probs, scores) if not s.correct] == []


def _humaneval(limit: int | None) -> list[Problem]:
    return load_dataset("humaneval", path=DATA, limit=limit)


def _check_humaneval(limit: int | None) -> None:
    probs = _humaneval(limit)
    good = [p.info["canonical_solution"] for p in probs]
    broken = [broken_variant(p.info["canonical_solution"], p.info["entry_point"], p.info["prompt"]) for p in probs]
    limits = Limits(cpu_seconds=10, wall_seconds=30)
    res = run_code_tests(probs + probs, good + broken, limits=limits, workers=2)
    n = len(probs)
    assert [(p.id, r.reason) for p, r in zip(probs, res[:n]) if not r.passed] == []
    assert [p.id for p, r in zip(probs, res[n:]) if r.status != "failed"] == []  # ran and failed, not a crash


@needs_data
@needs_root
def test_humaneval_canonical_solutions_sample():
    _check_humaneval(limit=12)


@needs_data
@needs_root
@pytest.mark.slow
def test_humaneval_canonical_solutions_all():
    _check_humaneval(limit=None)
