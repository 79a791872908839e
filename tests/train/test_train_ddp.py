"""Data parallelism: two gloo processes on loopback (torchrun) give the single-process SFT, GRPO,
DPO, base (tiny reasoner) and PRM curves of the same global batch, and a run saved at world size 2
resumes at world size 1. The two-process
runs take 20-40 s on a loaded 2-core machine, so they are marked slow; the sharding arithmetic is
tested fast."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.train.data import ProblemStream
from ponder.train.distributed import Dist, RankStream
from ponder.types import PonderError

WORKER = Path(__file__).parent / "ddp_worker.py"
ROOT = Path(__file__).parents[2]
REL = 1e-5  # float sums in another order: measured agreement ~1e-7 relative


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(method: str, out: Path, steps: int, procs: int, keys: list[str] = ()) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    cmd = [sys.executable, str(WORKER), method, str(out), str(steps), *keys]
    if procs > 1:
        launch = ["-m", "torch.distributed.run", f"--nproc_per_node={procs}", "--master_addr=127.0.0.1"]
        cmd = [sys.executable, *launch, f"--master_port={_free_port()}", *cmd[1:]]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _rows(out: Path) -> list[dict]:
    return [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "loss" in r]


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= REL * max(abs(x), 1e-3) for x, y in zip(a, b))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sft", "grpo", "dpo"])
def test_two_processes_match_one(tmp_path, method):
    steps = 3
    _run(method, tmp_path / "one", steps, 1)
    _run(method, tmp_path / "two", steps, 2)
    one, two = _rows(tmp_path / "one"), _rows(tmp_path / "two")
    assert [r["world_size"] for r in two] == [2] * steps and [r["world_size"] for r in one] == [1] * steps
    extra = {"grpo": ("kl", "entropy", "reward_mean", "reward_std"), "dpo": ("margin", "pref_acc"), "sft": ()}[method]
    for key in ("loss", "grad_norm", *extra):
        assert _close([r[key] for r in one], [r[key] for r in two]), (key, one, two)
    state = json.loads((tmp_path / "two" / f"ckpt-{steps:06d}" / "trainer_state.json").read_text())
    assert state["world_size"] == 2
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["world_size"] == 2


@pytest.mark.slow
def test_world_size_two_resumes_at_one(tmp_path):
    _run("sft", tmp_path / "unbroken", 4, 1)
    _run("sft", tmp_path / "moved", 2, 2)
    _run("sft", tmp_path / "moved", 4, 1)
    a, b = _rows(tmp_path / "unbroken"), _rows(tmp_path / "moved")
    assert [r["world_size"] for r in b] == [2, 2, 1, 1]
    assert _close([r["loss"] for r in a], [r["loss"] for r in b]), (a, b)
    assert [r["epoch"] for r in a] == [r["epoch"] for r in b]  # same data position after the move


@pytest.mark.slow
@pytest.mark.parametrize("method", ["base", "prm"])
def test_base_and_reward_model_training_split_over_ranks(tmp_path, method):
    """Tiny-reasoner pretraining and PRM training: every rank draws the global batch and trains
    on its rank-strided share; the PRM's traces carry different numbers of labelled steps, so a
    per-rank BCE mean would not match."""
    _run(method, tmp_path / "one", 3, 1)
    _run(method, tmp_path / "two", 3, 2)
    one, two = _rows(tmp_path / "one"), _rows(tmp_path / "two")
    assert [r["world_size"] for r in two] == [2] * 3
    for key in ("loss", *(("grad_norm",) if method == "prm" else ("tokens",))):
        assert _close([r[key] for r in one], [r[key] for r in two]), (key, one, two)
    if method == "prm":
        val = [json.loads(x) for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()]
        assert [r["eval/val_loss"] for r in val if "eval/val_loss" in r]  # rank 0 validates


@pytest.mark.slow
def test_base_training_saved_at_two_resumes_at_one(tmp_path):
    _run("base", tmp_path / "unbroken", 4, 1)
    _run("base", tmp_path / "moved", 2, 2)
    _run("base", tmp_path / "moved", 4, 1)
    a, b = _rows(tmp_path / "unbroken"), _rows(tmp_path / "moved")
    assert [r["world_size"] for r in b] == [2, 2, 1, 1]
    assert _close([r["loss"] for r in a], [r["loss"] for r in b]) and [r["tokens"] for r in a] == [
        r["tokens"] for r in b
    ], (a, b)


def test_rank_streams_partition_the_global_stream():
    inner = ProblemStream(list(range(10)), seed=3)
    ranks = [RankStream(inner, r, 3) for r in range(3)]
    local = [x for j in range(4) for s in ranks for x in s.take(j, 1)]
    assert local == inner.take(0, 12)
    d = Dist(rank=1, world=3)
    assert d.to_global(4) == 12 and d.to_local(12) == 4 and d.to_local(13) == 5  # rounds up: never repeats


def test_global_batch_must_split_evenly():
    with pytest.raises(PonderError, match="multiple of 2"):
        Dist(world=2).split(7, "batch_size")
    assert Dist(world=2).split(8, "batch_size") == 4 and Dist().split(7, "batch_size") == 7
