"""The engine: bad input gives clear errors, costs are charged per problem, frontiers of all
problems advance in one generator call per depth / wave."""

from __future__ import annotations

import pytest
from search_fakes import BAD, BAD2, GOOD, arithmetic_problem, scripted

from ponder.gen.fake import FakeGenerator
from ponder.search import STRATEGIES, get_scorer, run_search
from ponder.types import PonderError


@pytest.mark.parametrize("budget", [0, -3, 10**6, 2.5, True])
def test_bad_budgets_are_clear_errors(budget):
    with pytest.raises(PonderError, match="budget"):
        run_search("majority", [arithmetic_problem()], scripted([GOOD]), budget=budget)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(PonderError, match="Known: .*beam"):
        run_search("beem", [arithmetic_problem()], scripted([GOOD]))
    with pytest.raises(PonderError, match="Known: .*check"):
        run_search("best_of_n", [arithmetic_problem()], scripted([GOOD]), scorer="chekc")
    with pytest.raises(PonderError, match="no option 'widht'.*width"):
        run_search("beam", [arithmetic_problem()], scripted([GOOD]), widht=3)
    with pytest.raises(PonderError, match="judge"):
        get_scorer("judge")


class WrongCount:
    def score_steps(self, problems, steps):
        return [[0.5] for _ in steps[:-1]]

    def score(self, problems, responses):
        return [0.5] * (len(responses) + 1)


class NotFinite:
    def score(self, problems, responses):
        return [float("nan")] * len(responses)


@pytest.mark.parametrize("name", ["best_of_n", "weighted", "beam", "dvts", "mcts", "refine"])
def test_scorer_with_wrong_number_of_scores_is_an_error(name):
    with pytest.raises(PonderError, match="WrongCount"):
        run_search(
            name, [arithmetic_problem(), arithmetic_problem("b")], scripted([GOOD, BAD]), budget=4, scorer=WrongCount()
        )


def test_non_finite_scores_are_an_error():
    with pytest.raises(PonderError, match="non-finite"):
        run_search("best_of_n", [arithmetic_problem()], scripted([GOOD]), budget=2, scorer=NotFinite())


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_generator_returning_empty_text_gives_sane_results(name):
    gen = FakeGenerator([""])
    results = run_search(name, [arithmetic_problem(), arithmetic_problem("b")], gen, budget=8, scorer="check")
    assert len(results) == 2 and all(r.answer is None for r in results)
    assert len(gen.calls) <= 50  # terminates quickly instead of looping on empty steps


def test_empty_problem_list():
    assert run_search("beam", [], scripted([GOOD]), budget=4) == []


def test_cost_is_charged_to_each_problem():
    gen = scripted([GOOD])
    short = arithmetic_problem("a")
    results = run_search("majority", [short, short], gen, budget=3)
    for r in results:
        assert r.cost.generated_tokens == 3 * len(GOOD)
        assert r.cost.prompt_tokens == len(gen.render(short.question))
        assert r.cost.gen_calls == 1
        assert r.cost.flops == 2.0 * gen.n_params * (r.cost.prompt_tokens + r.cost.generated_tokens)


@pytest.mark.parametrize("name", ["beam", "dvts", "mcts"])
def test_one_generator_call_per_depth_for_all_problems(name):
    gen = scripted([GOOD, BAD, BAD2])
    problems = [arithmetic_problem(f"p{i}") for i in range(5)]
    singles = [run_search(name, [p], scripted([GOOD, BAD, BAD2]), budget=4, scorer="check")[0] for p in problems]
    results = run_search(name, problems, gen, budget=4, scorer="check")
    assert len(gen.calls) == max(r.cost.gen_calls for r in singles)  # 5 problems cost no more calls than 1
    assert [r.cost.gen_calls for r in results] == [r.cost.gen_calls for r in singles]
    assert all(any(p.startswith(problems[0].question) for p in prompts) for prompts, _ in gen.calls)


def test_beam_with_the_step_checker_finds_the_valid_trace():
    results = run_search("beam", [arithmetic_problem()], scripted([BAD, BAD2, GOOD]), budget=8, scorer="check", width=2)
    assert results[0].answer == "20"
    chosen = [n for n in results[0].tree if n.chosen]
    assert chosen[-1].terminal and "".join(n.text for n in chosen[1:]) == GOOD


def test_best_of_n_and_weighted_pick_by_score():
    gen = scripted([BAD, BAD2, GOOD])
    assert run_search("best_of_n", [arithmetic_problem()], gen, budget=12, scorer="check", seed=1)[0].answer == "20"
    assert run_search("weighted", [arithmetic_problem()], gen, budget=12, scorer="check", seed=1)[0].answer == "20"


def test_majority_votes():
    gen = scripted([BAD])
    r = run_search("majority", [arithmetic_problem()], gen, budget=5)[0]
    assert r.answer == "24" and r.meta["votes"] == {"24": 5.0}


def test_mcts_finds_the_checked_trace_and_counts_visits():
    r = run_search("mcts", [arithmetic_problem()], scripted([BAD, BAD2, GOOD]), budget=8, scorer="check", seed=2)[0]
    assert r.answer == "20"
    assert r.tree[0].visits == sum(n.visits for n in r.tree if n.parent == 0 and not n.meta.get("rollout"))


def test_refine_with_the_checker_repairs_a_bad_step():
    gen = scripted([BAD, GOOD])  # greedy writes BAD; revisions sample among traces that fit
    r = run_search("refine", [arithmetic_problem()], gen, budget=6, scorer="check", seed=0)[0]
    assert r.answer == "20"


def test_budget_forcing_caps_thinking():
    r = run_search("budget_forcing", [arithmetic_problem()], scripted([GOOD]), budget=1, think_tokens=13)[0]
    assert r.response.startswith("<think>2+3=5,</think>")  # 13 tokens (chars) of thinking, then forced
    assert "</think>\n<answer>" in r.response and r.response.endswith("</answer>")
    assert r.cost.generated_tokens <= 13 + 32


def test_effort_presets_name_registered_strategies_and_valid_options():
    from ponder.search import EFFORT_PRESETS
    from ponder.search.engine import check_options

    assert set(EFFORT_PRESETS) == {"none", "minimal", "low", "medium", "high", "xhigh"}
    for strategy, budget, options in EFFORT_PRESETS.values():
        opts = {k: v for k, v in options.items() if k != "scorer"}
        check_options(strategy, STRATEGIES.get(strategy), opts)
        assert 1 <= budget <= 64


@pytest.mark.parametrize(
    "options",
    [
        {"action": "tokens", "chunk_tokens": 6},
        {"rule": "uct", "final": "value"},
        {"evaluate": "rollout", "final": "vote"},
    ],
)
def test_mcts_variants_run_and_stay_in_budget(options):
    gen = scripted([BAD, BAD2, GOOD])
    r = run_search("mcts", [arithmetic_problem()], gen, budget=4, scorer="check", seed=1, **options)[0]
    assert r.tree[0].visits >= 1 and r.cost.gen_calls <= 16
    if options.get("action") == "tokens":
        assert all(len(n.text) <= 6 for n in r.tree[1:] if not n.meta.get("completion"))
    assert r.answer is not None  # an unfinished chosen path is completed


def test_check_scorer_lookup_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys; from ponder.search import SCORERS; SCORERS.build('check');"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_scorer_is_built_once_with_its_options(tmp_path):
    from search_fakes import BAD, GOOD, arithmetic_problem, scripted

    f = tmp_path / "counting.py"
    f.write_text(
        "BUILT = []\n"
        "class Flat:\n"
        "    def __init__(self, level):\n"
        "        self.level = level\n"
        "    def score_steps(self, problems, steps):\n"
        "        return [[self.level] * len(s) for s in steps]\n"
        "def make(gen=None, level=0.5):\n"
        "    BUILT.append(level)\n"
        "    return Flat(level)\n"
    )
    problems = [arithmetic_problem(f"p{i}") for i in range(2)]
    results = run_search("beam", problems, scripted([BAD, GOOD]), budget=4, scorer=f"{f}:make",
                         scorer_options={"level": 0.25}, seed=0)  # fmt: skip
    import sys

    mod = next(m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == str(f))
    assert mod.BUILT == [0.25]  # once per run_search, with the options given
    assert {n.value for r in results for n in r.tree[1:]} == {0.25}  # every node scored by that scorer
    assert results[0].meta["scorer_options"] == {"level": 0.25}
