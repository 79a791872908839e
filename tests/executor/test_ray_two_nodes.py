"""Two Ray nodes on loopback (ray.cluster_utils.Cluster: a head and one added node, each with its
own resource label): a labelling run is placed on both, the added node is killed mid-run, its
tasks are retried on the head, and the labels equal the local executor's. Everything is stopped
afterwards. Slow: two raylets and two tiny-model workers start (~40 s idle)."""

import os
from functools import partial

import pytest
from ray_fixtures import ray_or_skip

from ponder.executor import LocalExecutor
from ponder.models import TINY_DIR

ray = ray_or_skip()


def _labels_of_nodes():
    """node id -> its label resource (node_a / node_b), read while both are alive."""
    return {n["NodeID"]: next(k for k in n["Resources"] if k.startswith("node_")) for n in ray.nodes() if n["Alive"]}


@pytest.mark.slow
@pytest.mark.skipif(not (TINY_DIR / "config.json").is_file(), reason="tiny reasoner weights missing")
def test_two_nodes_share_a_labelling_run_and_survive_losing_one(tmp_path):
    import psutil
    import torch
    from ray.cluster_utils import Cluster

    from ponder.executor.ray_backend import RayExecutor
    from ponder.gen import load_generator
    from ponder.rm.cli import sample_traces
    from ponder.rm.mc import MCParams, label_traces
    from ponder.tasks import make_problems

    torch.set_num_threads(1)
    gen = load_generator("tiny")
    traces = sample_traces(gen, make_problems("arithmetic", 8, None, 3), 2, 0.8, 40, 3)
    params = MCParams(k=3, max_tokens=24, traces_per_call=1)
    local = label_traces(gen, traces, params, executor=LocalExecutor())

    head = {"num_cpus": 1, "resources": {"node_a": 1}, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        second = cluster.add_node(num_cpus=1, resources={"node_b": 1})
        ray.init(address=cluster.address, logging_level="WARNING")
        cluster.wait_for_nodes()
        labels = _labels_of_nodes()
        assert sorted(labels.values()) == ["node_a", "node_b"]
        _warm_both_nodes()  # else node_a's warm worker can finish every item before node_b's first
        ex, killed = RayExecutor(), []

        def kill_b_after_its_first(i, group):  # the added node goes once it has shown it works
            if not killed and labels[ex.placements[-1][1]] == "node_b":
                cluster.remove_node(second)
                killed.append(len(ex.placements))

        on_ray = label_traces(partial(load_generator, "tiny"), traces, params, out=tmp_path / "ray.jsonl",
                              progress=None, executor=_Reporting(ex, kill_b_after_its_first))  # fmt: skip
        placed = [labels[node] for _, node in ex.placements]
        assert killed and {"node_a", "node_b"} <= set(placed[: killed[0]]), placed
        assert killed[0] < len(traces), "the node was killed mid-run"
        assert set(placed[killed[0] :]) == {"node_a"}  # after the kill, all on the head
        assert [r.to_dict() for r in on_ray] == [r.to_dict() for r in local]
    finally:
        ray.shutdown()
        cluster.shutdown()
    leftover = [p.name() for p in psutil.Process(os.getpid()).children(recursive=True) if p.is_running()]
    assert not [n for n in leftover if "ray" in n or "gcs" in n], leftover


def _warm_both_nodes() -> None:
    """One task pinned to each node (by its label) that imports torch and ponder and loads the tiny
    model, so both nodes' workers start the run warm and node_b finishes items while some remain."""

    @ray.remote(num_cpus=1)
    def warm() -> str:
        from ponder.gen import load_generator
        from ponder.rm import mc  # noqa: F401 - the labelling code the run imports

        load_generator("tiny")
        return ray.get_runtime_context().get_node_id()

    ray.get([warm.options(resources={label: 1}).remote() for label in ("node_a", "node_b")], timeout=120)


class _Reporting:
    """The executor, with a hook called in the driver after each finished item."""

    def __init__(self, ex, hook):
        self.ex, self.hook, self.name = ex, hook, ex.name

    def map(self, fn, items, *, on_result=None, ordered=False):
        def both(i, r):
            self.hook(i, r)
            if on_result:
                on_result(i, r)

        return self.ex.map(fn, items, on_result=both, ordered=ordered)
