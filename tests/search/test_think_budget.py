"""The thinking-token budget: any strategy's traces stop thinking at the cap and still answer."""

from __future__ import annotations

import pytest

from ponder.gen.fake import FakeGenerator
from ponder.search import run_search
from ponder.search.effort import EFFORT_LEVELS, get_effort
from ponder.search.think_budget import ThinkBudget, forced_suffix, needs_answer, thinking_state
from ponder.types import PonderError, Problem, SamplingParams

LONG = "<think>1+1=2\n2+2=4\n4+4=8\n8+8=16</think>\n<answer>16</answer>"


def _script(prompt: str, i: int) -> str:
    """Continue LONG from wherever the prompt's trace is; after a forced `<answer>`, answer 7."""
    trace = prompt.partition("\n")[2]
    if trace.endswith("<answer>"):
        return "7</answer>"
    return LONG[len(trace) :] if LONG.startswith(trace) else "</think>\n<answer>0</answer>"


def _problem() -> Problem:
    return Problem(id="p", task="arithmetic", question="q", meta={"expression": "1+1"})


def test_thinking_state_and_suffix():
    assert thinking_state("q\n") == (False, False, "")
    assert thinking_state("q\n<think>ab") == (True, False, "ab")
    assert thinking_state("<think>a</think>\n<answer>") == (True, True, "a</think>\n<answer>")
    assert forced_suffix("q\n") == "<think></think>\n<answer>"
    assert forced_suffix("q\n<think>ab") == "</think>\n<answer>"
    assert needs_answer("<think>ab") and needs_answer("<think>ab</think>\n<answer>1")
    assert not needs_answer(LONG) and not needs_answer("plain text")


@pytest.mark.parametrize("cap", [0, 5, 13])
def test_greedy_trace_is_capped_and_answered(cap):
    gen = ThinkBudget(FakeGenerator(_script), cap, count_tokens=len)
    r = run_search("greedy", [_problem()], gen, budget=1)[0]
    think = thinking_state(r.response)[2].split("</think>")[0]
    assert len(think) <= cap  # one fake token per character
    assert r.response.endswith("<answer>7</answer>")
    assert r.answer == "7"
    assert gen.forced == 1


def test_uncapped_and_roomy_caps_change_nothing():
    for cap in (None, 1000):
        r = run_search("greedy", [_problem()], ThinkBudget(FakeGenerator(_script), cap, count_tokens=len), budget=1)[0]
        assert r.response == LONG


def test_step_level_search_is_capped_between_steps():
    gen = ThinkBudget(FakeGenerator(_script), 12, count_tokens=len)
    r = run_search("beam", [_problem()], gen, budget=2, scorer="check", width=2)[0]
    think = thinking_state(r.response)[2].split("</think>")[0]
    assert len(think) <= 12
    assert r.answer == "7"


def test_finish_answers_traces_cut_by_the_strategy():
    gen = ThinkBudget(FakeGenerator(_script), None, count_tokens=len)
    r = run_search("greedy", [_problem()], gen, budget=1, max_tokens=10)[0]
    assert needs_answer(r.response)
    done = gen.finish(["q\n"], [r.response])
    assert done[0].startswith(r.response) and done[0].endswith("</think>\n<answer>7</answer>")


def test_cap_counts_only_sampled_rows_once():
    fake = FakeGenerator(_script)
    gen = ThinkBudget(fake, 4, count_tokens=len)
    out = gen.generate(["q\n", "q\n<think>1+1=2\n"], SamplingParams(n=2, temperature=0.0, max_tokens=100))
    assert all(c.text.endswith("7</answer>") for group in out for c in group)
    assert out[1][0].text.startswith("</think>")  # room already spent: answered at once
    assert len(out[0][0].token_ids) == len(out[0][0].text)  # forced tokens are counted


def test_effort_table_is_complete_and_checked():
    assert list(EFFORT_LEVELS) == ["none", "minimal", "low", "medium", "high", "xhigh"]
    caps = [e.think_tokens for e in EFFORT_LEVELS.values()]
    assert caps == sorted(caps) and caps[0] == 0
    budgets = [e.budget for e in EFFORT_LEVELS.values()]
    assert budgets == sorted(budgets)
    with pytest.raises(PonderError, match="none, minimal, low"):
        get_effort("extreme")
    e = get_effort("medium")
    e.options["x"] = 1
    assert "x" not in EFFORT_LEVELS["medium"].options
