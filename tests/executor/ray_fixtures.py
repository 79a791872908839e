"""One local Ray per test module that needs it: 2 CPU slots, no dashboard, loopback only."""

import os

import pytest


def ray_or_skip():
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    return pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_executor():
    ray = ray_or_skip()
    from ponder.executor.ray_backend import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield RayExecutor()
    finally:
        ray.shutdown()


def without_seconds(rows):
    """Records with the wall-clock fields (never equal between two runs) left out."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def record_live_generators(monkeypatch) -> list:
    """The samplers that training sessions build (sampler.live_generator), appended as built."""
    from ponder.train import sampler

    made, real = [], sampler.live_generator
    monkeypatch.setattr(sampler, "live_generator", lambda *a: made.append(real(*a)) or made[-1])
    return made
