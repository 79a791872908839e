"""Seeded search samples per problem: on the tiny reasoner at T=0.8, beam search and best-of-N pick
the same responses (and grow the same trees) whether the problems are searched together, one at a
time, in another order, or in small chunks (`max_rows`); another seed samples otherwise."""

import pytest
import torch

from ponder.gen import load_generator
from ponder.models import TINY_DIR
from ponder.search import run_search
from ponder.tasks import make_problems

pytestmark = pytest.mark.skipif(not (TINY_DIR / "config.json").is_file(), reason="tiny reasoner weights absent")


def _picks(results):
    return [(r.response, sorted(n.text for n in r.tree)) for r in results]


@pytest.fixture(scope="module")
def gen():
    torch.set_num_threads(1)
    return load_generator("tiny", device="cpu")


@pytest.mark.parametrize(
    "strategy,options",
    [("beam", {"scorer": "check", "width": 2}), ("best_of_n", {"scorer": "confidence"})],
)
def test_batched_search_samples_what_one_problem_at_a_time_samples(gen, strategy, options):
    problems = make_problems("arithmetic", 3, seed=11) + make_problems("countdown", 3, seed=11)

    def run(ps, seed=3):
        return _picks(run_search(strategy, ps, gen, budget=4, temperature=0.8, seed=seed, **options))

    batched = run(problems)
    assert [run([p])[0] for p in problems] == batched
    assert run(problems[::-1]) == batched[::-1]
    rows, gen.max_rows = gen.max_rows, 4  # chunks of one or two prompts' samples
    try:
        assert run(problems) == batched
    finally:
        gen.max_rows = rows
    assert run(problems, seed=4) != batched
    assert any(len(set(texts)) > 2 for _, texts in batched)  # sampled: siblings differ
