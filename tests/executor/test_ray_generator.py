"""Generators as Ray actors (gen/ray_actor.py): two tiny-reasoner replicas give what one local
generator gives, call by call, in search, and split over both replicas for greedy decoding."""

import pytest
from ray_fixtures import ray_executor, ray_or_skip  # noqa: F401

from ponder.models import TINY_DIR

ray_or_skip()
needs_tiny = pytest.mark.skipif(not (TINY_DIR / "config.json").is_file(), reason="tiny reasoner weights missing")


@pytest.mark.slow  # ~30 s idle: two replicas load torch
@needs_tiny
def test_generator_replicas_as_ray_actors_give_the_local_generators_results(ray_executor):  # noqa: F811
    from functools import partial

    import torch

    from ponder.gen import load_generator
    from ponder.gen.ray_actor import RayGenerator
    from ponder.search import run_search
    from ponder.tasks import make_problems
    from ponder.types import SamplingParams

    torch.set_num_threads(1)
    gen = load_generator("tiny")
    problems = [p.public() for p in make_problems("arithmetic", 4, None, 0)]
    prompts = [gen.render(p.question) for p in problems]
    sampled, greedy = (
        SamplingParams(n=2, temperature=0.8, max_tokens=24, seed=5),
        SamplingParams(temperature=0, max_tokens=24),
    )

    def texts(out):
        return [[c.text for c in group] for group in out]

    with RayGenerator(partial(load_generator, "tiny"), replicas=2) as remote:
        assert (remote.name, remote.n_params) == (gen.name, gen.n_params)
        assert [remote.render(p.question) for p in problems] == prompts
        for _ in range(2):  # one call on each replica
            assert texts(remote.generate(prompts, sampled)) == texts(gen.generate(prompts, sampled))
        beam = partial(run_search, "beam", problems, budget=2, seed=0)
        assert [r.response for r in beam(remote)] == [r.response for r in beam(gen)]
        remote.shard = True  # one call split over both replicas: the same for greedy decoding
        assert texts(remote.generate(prompts, greedy)) == texts(gen.generate(prompts, greedy))
