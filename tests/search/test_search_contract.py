"""Contract tests: every registered strategy goes through the same checks on the fake reasoner."""

from __future__ import annotations

import json

import pytest
from search_fakes import BAD, BAD2, GOOD, arithmetic_problem, scripted

from ponder.search import STRATEGIES, run_search
from ponder.search.calls import MAX_TOKENS

ALL = STRATEGIES.names()


def _problems(n: int = 3):
    return [arithmetic_problem(f"p{i}") for i in range(n)]


def test_every_issue_strategy_is_registered():
    want = {"greedy", "majority", "best_of_n", "weighted", "beam", "dvts", "mcts", "refine", "budget_forcing"}
    want |= {"deepconf", "esc", "adaptive_consistency", "particle_filter", "parallel_aggregate", "revise_bon", "route"}
    assert want <= set(ALL)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("budget", [1, 4])
def test_result_per_problem_tree_serialises_and_budget_respected(name, budget):
    gen = scripted([BAD, GOOD, BAD2])
    problems = _problems()
    results = run_search(name, problems, gen, budget=budget, scorer="check", seed=3)
    assert [r.problem_id for r in results] == [p.id for p in problems]
    for r in results:
        assert r.strategy == name and r.tree and r.tree[0].parent is None
        json.loads(json.dumps(r.to_dict()))
        # budget = samples' worth: never more than `budget` whole responses of tokens, plus the
        # re-read steps / forced text a step-level search adds (bounded here by one more response).
        assert r.cost.generated_tokens <= (budget + 1) * min(MAX_TOKENS, len(GOOD) + 80)
        assert r.cost.gen_calls >= 1 and r.cost.flops > 0 and r.cost.seconds >= 0
        if r.answer is not None:
            assert r.answer in r.response


@pytest.mark.parametrize("name", ALL)
def test_deterministic_with_a_seed(name):
    def run(seed):
        rs = run_search(name, _problems(2), scripted([BAD, GOOD, BAD2]), budget=4, scorer="confidence", seed=seed)
        return [(r.answer, r.response, r.cost.generated_tokens, len(r.tree)) for r in rs]

    assert run(7) == run(7)


@pytest.mark.parametrize("name", ALL)
def test_strategies_never_receive_the_reference_answer(name):
    seen_prompts, seen_problems = [], []

    class SpyScorer:
        def score_steps(self, problems, steps):
            seen_problems.extend(problems)
            return [[1.0] * len(s) for s in steps]

        def score(self, problems, responses):
            seen_problems.extend(problems)
            return [1.0] * len(responses)

    gen = scripted([GOOD, BAD])
    inner = gen.generate
    gen.generate = lambda prompts, params: (seen_prompts.extend(prompts), inner(prompts, params))[1]
    problems = [arithmetic_problem(f"p{i}", answer="SECRET-ANSWER") for i in range(2)]
    run_search(name, problems, gen, budget=4, scorer=SpyScorer(), seed=0)
    assert seen_prompts and not any("SECRET" in p for p in seen_prompts)
    assert all(p.answer is None and p.info == {} for p in seen_problems)


def test_run_search_hands_strategies_public_problems(tmp_path):
    spy = tmp_path / "spy.py"
    spy.write_text(
        "from ponder.types import Pick\n"
        "SEEN = []\n"
        "def spy(problems, ctx, *, budget, seed):\n"
        "    SEEN.extend(problems)\n"
        "    return [Pick(tree=[], chosen=None) for _ in problems]\n"
    )
    problems = [arithmetic_problem("p0", answer="SECRET")]
    run_search(f"{spy}:spy", problems, scripted([GOOD]), budget=1)
    import sys

    mod = next(m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == str(spy))
    assert [p.answer for p in mod.SEEN] == [None] and mod.SEEN[0].info == {}
    assert problems[0].answer == "SECRET"  # the caller's problems are untouched
