"""The ray executor gives the local executor's results for the same seeds: an eval grid on the
tiny reasoner, a Monte-Carlo labelling run and a verify run (one local Ray for the module)."""

import json

import pytest
from ray_fixtures import ray_executor, ray_or_skip, without_seconds  # noqa: F401

from ponder.executor import LocalExecutor
from ponder.models import TINY_DIR

ray_or_skip()
needs_tiny = pytest.mark.skipif(not (TINY_DIR / "config.json").is_file(), reason="tiny reasoner weights missing")


def _read(path):
    return [json.loads(line) for line in open(path)]


@pytest.mark.slow  # ~15 s idle, ~50 s at load 20
@needs_tiny
def test_eval_grid_same_on_ray_as_local(tmp_path, ray_executor):  # noqa: F811
    import torch

    from ponder.eval.grid import default_backends, run_grid
    from ponder.eval.grid_config import EvalConfig

    torch.set_num_threads(1)
    runs = {}
    for name, ex in (("local", LocalExecutor()), ("ray", ray_executor)):
        cfg = EvalConfig(tasks=["arithmetic:2"], strategies=["greedy", "majority", "beam"], budgets=[2],
                         n_problems=3, max_tokens=32, out=str(tmp_path / name))  # fmt: skip
        rows = run_grid(cfg, default_backends(), ex)
        assert all(r["status"] == "ok" for r in rows), rows
        records = sorted(_read(tmp_path / name / "results.jsonl"), key=lambda r: (r["cell"], r["problem_id"]))
        rows = sorted(rows, key=lambda r: (r["strategy"], r["budget"]))  # both: in the order cells finished
        runs[name] = (without_seconds(rows), without_seconds(records))
    assert runs["ray"] == runs["local"]
    assert len(ray_executor.placements) == 3  # the pool item and two search cells went out as tasks
    assert len(runs["ray"][0]) == 3


@needs_tiny
def test_mc_labels_same_on_ray_as_local(tmp_path, ray_executor):  # noqa: F811
    from functools import partial

    import torch

    from ponder.gen import load_generator
    from ponder.rm.cli import sample_traces
    from ponder.rm.mc import MCParams, label_traces
    from ponder.tasks import make_problems

    torch.set_num_threads(1)
    gen = load_generator("tiny")
    traces = sample_traces(gen, make_problems("arithmetic", 3, None, 0), 2, 0.8, 40, 0)
    params = MCParams(k=2, max_tokens=24, traces_per_call=2)
    local = label_traces(gen, traces, params, out=tmp_path / "local.jsonl", executor=LocalExecutor())
    on_ray = label_traces(partial(load_generator, "tiny"), traces, params, out=tmp_path / "ray.jsonl",
                          executor=ray_executor)  # fmt: skip
    assert [r.to_dict() for r in on_ray] == [r.to_dict() for r in local]
    assert len(ray_executor.placements) == 3  # 6 traces, 2 per task
    assert any(x is not None for r in local for x in r.meta["rollouts"])  # rollouts ran


def test_verify_file_same_on_ray_as_local(tmp_path, ray_executor, monkeypatch):  # noqa: F811
    from ponder.verify import cli

    monkeypatch.setattr(cli, "make_executor", lambda opts: ray_executor if opts.executor == "ray" else LocalExecutor())

    rows = [{"response": f"<answer>{i % 7}</answer>", "answer": str(i % 5)} for i in range(23)]
    rows[4]["response"] = "no answer here"
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name in ("local", "ray"):
        assert cli.main(["--verifier", "math", "--input", str(src), "--output", str(tmp_path / f"{name}.jsonl"),
                     "--batch", "5", "--executor", name]) == 0  # fmt: skip
    assert _read(tmp_path / "ray.jsonl") == _read(tmp_path / "local.jsonl")
    assert len(ray_executor.placements) == 5
    assert [r["correct"] for r in _read(tmp_path / "ray.jsonl")] == [i % 7 == i % 5 and i != 4 for i in range(23)]


def test_ray_listens_on_loopback_only(ray_executor):  # noqa: F811
    import os

    import psutil

    here = psutil.Process(os.getpid())
    listening = set()
    for proc in [here, *here.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        listening |= {(proc.name(), c.laddr.ip) for c in conns if c.status == psutil.CONN_LISTEN}
    assert {name for name, _ in listening} >= {"raylet", "gcs_server"}, listening  # Ray's processes were seen
    assert {ip for _, ip in listening} <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, listening


@needs_tiny
def test_ponder_data_same_on_ray_as_local(tmp_path, ray_executor):  # noqa: F811
    import torch

    from ponder.cli import main

    torch.set_num_threads(1)
    for name in ("local", "ray"):
        args = ["data", "--task=arithmetic", "--level=1", "--n=4", "--k=2", "--batch=2", "--max-tokens=40",
                "--max-pass-rate=1", "--quiet", f"--out={tmp_path / name}", f"--executor={name}"]  # fmt: skip
        assert main(args) == 0  # the ray run joins the module's Ray (already initialised)
    by_problem = lambda rows: sorted(rows, key=lambda r: r["problem_id"])  # noqa: E731 (stable: keeps each problem's k in order)
    for file in ("rollouts.jsonl", "data.jsonl"):  # rollouts.jsonl: problems in the order their chunks finished
        assert by_problem(_read(tmp_path / "ray" / file)) == by_problem(_read(tmp_path / "local" / file))
    assert _read(tmp_path / "ray" / "data.jsonl") == _read(tmp_path / "local" / "data.jsonl")
    assert len(_read(tmp_path / "ray" / "rollouts.jsonl")) == 8
