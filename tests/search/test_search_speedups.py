"""What makes batched step-level search cheaper leaves its results alone: beam search on the tiny
reasoner finds the same beams (texts and values) with the prompt KV cache (kept rows included) and
the reused cache memory as without them, greedy and sampled with a seed; the step checker checks
each distinct step of a problem once and scores as before."""

import pytest
import torch
from search_fakes import arithmetic_problem

from ponder.gen import load_generator
from ponder.gen.prefix_cache import PrefixCache
from ponder.gen.workspace import Workspace
from ponder.models import TINY_DIR
from ponder.search import run_search
from ponder.search.scorers.check import StepChecker
from ponder.tasks import make_problems


def _beams(results):
    return [(r.response, [(n.text, n.value, n.terminal) for n in r.tree]) for r in results]


@pytest.mark.skipif(not (TINY_DIR / "config.json").is_file(), reason="tiny reasoner weights absent")
@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_beams_equal_with_and_without_the_speedups(temperature):
    torch.set_num_threads(1)
    gen = load_generator("tiny", device="cpu")
    problems = make_problems("arithmetic", 6, seed=5)

    def run():
        return _beams(run_search("beam", problems, gen, budget=4, scorer="check", width=2, temperature=temperature))

    gen.prefix_cache, gen.workspace = None, None
    plain = run()
    gen.prefix_cache, gen.workspace = PrefixCache(), Workspace()
    fast = run()
    assert gen.prefix_cache.hits > 0
    assert fast == plain
    assert run() == plain  # again, with the cache warm and the workspace's memory reused


def test_step_checker_checks_each_distinct_step_once(monkeypatch):
    checker, p = StepChecker(), arithmetic_problem()
    task = checker._task(p.task)
    calls = []
    original = task.check_step
    monkeypatch.setattr(task, "check_step", lambda prob, body: calls.append(body) or original(prob, body))
    steps = [["2+3=5\n"], ["2+3=5\n", "5*4=21\n"], ["2+3=5\n", "5*4=20\n"]]
    first = checker.score_steps([p] * 3, steps)
    assert len(calls) == 3
    assert checker.score_steps([p] * 3, steps) == first and len(calls) == 3
    other = arithmetic_problem("b")
    checker.score_steps([other], [["2+3=5\n"]])
    assert len(calls) == 4  # verdicts are per problem
