"""Local against Ray with 1 and 2 workers: an eval grid and a labelling run on the tiny reasoner.

    flock /tmp/ponder-bench.lock python benchmarks/ray_scale.py [--quick]

For each workload the same run three ways — the local executor in this process, a fresh local
Ray with 1 CPU slot, a fresh local Ray with 2 slots — with 1 torch thread everywhere. Per Ray:
the start-up (ray.init), the workers' warm-up (a first item per slot that imports torch and
loads the model), then the workload twice on the same executor: cold (each worker builds its
generator and imports the strategies) and warm (the steady state, the speed-up's basis); the
local executor runs it twice too. The per-task overhead
is a no-op item's round trip on a warm Ray (mean over 200). Every Ray run's results are checked
against the local run's. Writes benchmarks/results/ray_scale.json and prints a table; load
averages before and after are recorded (the speed-up needs an idle machine: 2 cores here).
Left out: a multi-machine cluster (one machine here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]


def _noop(item: int, cache: dict) -> int:
    return item


def _warm(item: int, cache: dict) -> int:
    import time as t

    from ponder.gen import load_generator

    load_generator("tiny")
    t.sleep(0.5)  # hold the slot so that the other warm item lands on the other worker
    return os.getpid()


def _grid(out: str, n: int, ex) -> tuple[list, list]:
    from ponder.eval.grid import default_backends, run_grid
    from ponder.eval.grid_config import EvalConfig

    cfg = EvalConfig(tasks=["arithmetic:2"], strategies=["greedy", "majority", "beam"], budgets=[2, 4],
                     seeds=[0, 1], n_problems=n, max_tokens=48, out=out)  # fmt: skip
    rows = run_grid(cfg, default_backends(), ex)
    recs = [json.loads(line) for line in (Path(out) / "results.jsonl").read_text().splitlines()]
    drop = lambda r: {k: v for k, v in r.items() if k != "seconds"}  # noqa: E731
    return sorted(map(drop, rows), key=str), sorted(map(drop, recs), key=lambda r: (r["cell"], r["problem_id"]))


_TRACES: dict[int, list] = {}


def _labels(out: str, n: int, ex) -> list:
    """Labels of 2 traces per problem (the traces are sampled once, outside the timing)."""
    from ponder.gen import load_generator
    from ponder.rm.cli import sample_traces
    from ponder.rm.mc import MCParams, label_traces
    from ponder.tasks import make_problems

    if n not in _TRACES:
        _TRACES[n] = sample_traces(load_generator("tiny"), make_problems("arithmetic", n, None, 0), 2, 0.8, 48, 0)
    policy = partial(load_generator, "tiny")  # local: built once in the executor's cache, as on Ray
    recs = label_traces(policy, _TRACES[n], MCParams(k=4, max_tokens=32, traces_per_call=2), out=out, executor=ex)
    return [r.to_dict() for r in recs]


WORKLOADS = {"eval_grid": _grid, "labels": _labels}


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def _ray_run(cpus: int, work: str, n: int, tmp: str) -> dict:
    import ray

    from ponder.executor.ray_backend import RayExecutor

    _, init_s = _timed(lambda: ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING"))
    try:
        ex = RayExecutor()
        pids, warm_s = _timed(ex.map, _warm, list(range(cpus)))
        _, cold = _timed(WORKLOADS[work], f"{tmp}/{work}-ray{cpus}-cold", n, ex)
        result, wall = _timed(WORKLOADS[work], f"{tmp}/{work}-ray{cpus}", n, ex)
        _, noop_s = _timed(ex.map, _noop, list(range(200)))
    finally:
        ray.shutdown()
    return {"result": result, "wall_s": wall, "cold_wall_s": cold, "init_s": init_s, "warm_s": warm_s, "workers": len(set(pids)),
            "per_task_overhead_ms": 1000 * noop_s / 200}  # fmt: skip


def main() -> int:
    import torch

    from ponder.executor import LocalExecutor

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small workloads (a smoke run, not the recorded numbers)")
    ap.add_argument(
        "--n",
        type=int,
        default=12,
        help="problems per grid cell and traces per labelling run (12: sized for a loaded machine)",
    )
    ap.add_argument("--out", default=None, help="results file (default benchmarks/results/ray_scale[_quick].json)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    sizes = {"eval_grid": 4 if args.quick else args.n, "labels": 4 if args.quick else args.n}
    load_before, report = os.getloadavg(), {}
    with tempfile.TemporaryDirectory() as tmp:
        for work, n in sizes.items():
            ex = LocalExecutor()  # a first (cold) run fills its cache and imports, as the Ray runs' first do
            _, local_cold = _timed(WORKLOADS[work], f"{tmp}/{work}-local-cold", n, ex)
            local, local_s = _timed(WORKLOADS[work], f"{tmp}/{work}-local", n, ex)
            row = {"n": n, "local_s": local_s, "local_cold_s": local_cold}
            for cpus in (1, 2):
                run = _ray_run(cpus, work, n, tmp)
                row[f"ray{cpus}"] = {k: v for k, v in run.items() if k != "result"}
                row[f"ray{cpus}"]["same_as_local"] = run["result"] == local
                row[f"ray{cpus}"]["speedup"] = local_s / run["wall_s"]
            report[work] = row
            print(work, json.dumps(row, indent=1))
    meta = {"load_before": load_before, "load_after": os.getloadavg(), "cores": os.cpu_count(),
            "machine": platform.platform(), "torch_threads": 1, "quick": args.quick,
            "ray": __import__("ray").__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    dest = (
        Path(args.out)
        if args.out
        else ROOT / "benchmarks" / "results" / ("ray_scale_quick.json" if args.quick else "ray_scale.json")
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps({"meta": meta, **report}, indent=1) + "\n")
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
