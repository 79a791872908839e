"""The mix stage: earlier data files and fresh task problems in one shuffled file that the
trainers' `data.path` reads back as the same problems."""

from __future__ import annotations

import random

import pytest

from ponder.io import read_jsonl, write_jsonl
from ponder.pipeline.mix import MixConfig, run_mix
from ponder.records import problem_of
from ponder.tasks import get_task, make_problems
from ponder.train.rewards import accuracy
from ponder.types import PonderError


def test_mix_keeps_every_record_and_problems_read_back_checkable(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"question": f"q{i}", "response": "r"} for i in range(3)])
    cfg = MixConfig(
        inputs=[str(tmp_path / "a.jsonl")], tasks=["arithmetic", "countdown:3"], n=4, out=str(tmp_path / "m")
    )
    assert run_mix(cfg) == {"records": 11, "sources": {str(tmp_path / "a.jsonl"): 3, "arithmetic": 4, "countdown:3": 4}}
    recs = read_jsonl(tmp_path / "m" / "data.jsonl")
    assert sorted(r["question"] for r in recs if "task" not in r) == ["q0", "q1", "q2"]
    back = [problem_of(r, str(i)) for i, r in enumerate(recs) if "task" in r]
    originals = {p.id: p for t, lvl in (("arithmetic", None), ("countdown", 3)) for p in make_problems(t, 4, lvl, 0)}
    assert {p.id for p in back} == set(originals)
    # the checker data survives the file: each problem's own reference trace verifies
    traces = [get_task(p.task).trace(p, random.Random(0)) for p in back]
    assert all(accuracy(back, traces))
    assert [r["question"] for r in recs] != [r["question"] for r in sorted(recs, key=lambda r: r["question"])]


def test_mix_needs_something_and_existing_inputs(tmp_path):
    with pytest.raises(PonderError, match="needs inputs"):
        run_mix(MixConfig(out=str(tmp_path)))
    with pytest.raises(PonderError, match="mix input not found"):
        run_mix(MixConfig(inputs=[str(tmp_path / "nope.jsonl")], out=str(tmp_path)))
