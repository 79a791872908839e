"""--top-p reaches every sampled call of any strategy (gen/nucleus.py via run_search)."""

from __future__ import annotations

import pytest

from ponder.gen.fake import FakeGenerator
from ponder.search import run_search
from ponder.tasks import make_problems
from ponder.types import PonderError


def Recording():
    return FakeGenerator(["<think>1+1=2</think>\n<answer>2</answer>"])


@pytest.mark.parametrize("strategy", ["majority", "beam", "mcts", "greedy"])
def test_top_p_reaches_sampled_calls_only(strategy):
    gen = Recording()
    run_search(strategy, make_problems("arithmetic", 2), gen, budget=2, top_p=0.7)
    seen = [(params.temperature, params.top_p) for _, params in gen.calls]
    sampled = [tp for t, tp in seen if t > 0]
    assert seen and all(tp == 0.7 for tp in sampled) and all(tp == 1.0 for t, tp in seen if t == 0)
    assert sampled or strategy == "greedy"


def test_bad_top_p_is_one_clear_error():
    with pytest.raises(PonderError, match="top-p must be in"):
        run_search("majority", make_problems("arithmetic", 1), Recording(), budget=2, top_p=1.5)
